"""The depth scan (pipeline/depth.py) against the depth of the parsed value, for any JSON and any chunking."""

from __future__ import annotations

import json

import pytest

from pipeline.depth import DepthScanner, check_lines
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
