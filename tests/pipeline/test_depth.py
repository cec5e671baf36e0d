"""The depth scan (pipeline/depth.py) against the depth of the parsed value, for any JSON and any chunking."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline import config, depth
from pipeline.depth import DepthScanner, check_lines, check_long_lines
from pipeline.input_base import InputFormatError

pytest.importorskip("hypothesis", reason="a dev dependency, not in the layer's environment (make test-layer)")
from hypothesis import given, settings
from hypothesis import strategies as st

TRICKY = st.sampled_from(['"', "\\", "\\\\", "{", "[", "}", "]", '\\"', "{[", "}]", "\\u005c"]) | st.text(max_size=4)
VALUES = st.recursive(
    st.none() | st.integers() | st.lists(TRICKY, max_size=3).map("".join),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TRICKY, inner, max_size=3),
    max_leaves=30,
)


def depth_of(value) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(value=VALUES, chunk=st.integers(min_value=1, max_value=64), ascii_only=st.booleans())
def test_the_scan_finds_the_parsed_depth_whatever_the_chunks(value, chunk, ascii_only) -> None:
    data = json.dumps(value, ensure_ascii=ascii_only).encode()
    depth = depth_of(value)
    pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    exact = DepthScanner(limit=depth)
    assert all(exact.feed(piece) < 0 for piece in pieces)
    assert (exact.depth, exact.in_string, exact.escaped) == (0, False, False)
    if depth:
        below = DepthScanner(limit=depth - 1)
        assert any(below.feed(piece) >= 0 for piece in pieces)


@settings(max_examples=100, deadline=None)
@given(values=st.lists(VALUES.filter(lambda v: isinstance(v, dict)), min_size=1, max_size=5))
def test_the_line_check_agrees_with_the_parsed_depth(values) -> None:
    data = b"".join(json.dumps(v).encode() + b"\n" for v in values)
    deepest = max(map(depth_of, values))
    check_lines(data, 1, 0, limit=deepest)
    with pytest.raises(InputFormatError) as caught:
        check_lines(data, 1, 0, limit=deepest - 1)
    assert caught.value.line == 1 + [depth_of(v) for v in values].index(deepest)


def _long_lines_by_offsets(data: bytes, first_line: int, byte_offset: int) -> int:
    """check_long_lines as it was: every line's bounds from the newlines' offsets (numpy), the long ones checked."""
    newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n"))
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(data)]))
    for index in np.flatnonzero(ends - starts > depth.SAFE_LINE_BYTES).tolist():
        start, end = int(starts[index]), int(ends[index])
        check_lines(data[start:end], first_line + index, byte_offset + start)
    return len(newlines)


def _outcome(check, data: bytes) -> tuple:
    try:
        return ("newlines", check(data, 7, 100))
    except InputFormatError as error:
        return ("error", error.line, error.byte_offset)


LINES = st.tuples(st.integers(min_value=0, max_value=6), st.integers(min_value=0, max_value=40)).map(
    lambda shape: "[" * shape[0] + " " * shape[1] + "]" * shape[0]
)


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(LINES, max_size=12), last_newline=st.booleans())
def test_the_long_line_check_finds_what_every_line_s_bounds_find(lines, last_newline) -> None:
    # a small line limit and depth limit, so that short examples have long and too-deep lines on both sides of them
    data = ("\n".join(lines) + ("\n" if last_newline else "")).encode()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(depth, "SAFE_LINE_BYTES", 16)
        patch.setattr(config, "MAX_NESTING_DEPTH", 3)
        assert _outcome(check_long_lines, data) == _outcome(_long_lines_by_offsets, data)
