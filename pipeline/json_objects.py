"""JSON objects back to back: one (pretty-printed) object, or many with only whitespace or nothing between them.

Kinesis Data Firehose writes its records this way (`{...}{...}`, no separator), and a pretty-printed export is the
one-object case. The stream is scanned in bulk (depth.py): every `}` that brings the depth back to 0 ends an
object, so each window's complete objects become one NDJSON line each (their own newlines turned into spaces, which
valid JSON allows only between tokens) and take the same fast path as NDJSON. The scan never decides validity:
pyarrow or `json` parses every object, and on any error the exact parser (`raw_decode` over the original bytes)
says where.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import numpy as np

from pipeline import config
from pipeline.depth import DepthScanner, too_deep
from pipeline.input_base import (
    WHITESPACE,
    Block,
    InputFormatError,
    decode_error,
    decode_utf8,
    read_input,
    snippet_of,
)
from pipeline.tolerant import raw_decode_tolerant

_NEWLINES_TO_SPACES = bytes.maketrans(b"\r\n", b"  ")
EXPECTED = "JSON objects, one after another (NDJSON, concatenated or pretty-printed)"


def object_blocks(stream: io.BufferedReader, block_bytes: int) -> Iterator[Block]:
    """The objects of `stream` (positioned at its first `{`), as blocks of NDJSON bytes."""
    scanner = DepthScanner(track_ends=True)
    parts: list[bytes] = []  # the bytes after the last complete object, joined only once another one ends
    size = 0
    window_offset, line = 0, 1  # stream offset and line number of the first byte in `parts`
    while True:
        chunk = read_input(stream, block_bytes)
        if chunk:
            at = scanner.feed(chunk)
            if at >= 0:
                before = b"".join(parts) + chunk[:at]
                raise too_deep(line + before.count(b"\n"), window_offset + len(before), chunk[at : at + 80])
            parts.append(chunk)
            size += len(chunk)
        if scanner.ends:
            window = b"".join(parts)
            ends = [end - window_offset for end in scanner.ends]
            scanner.ends.clear()
            cut = ends[-1]
            region = window[:cut]
            ndjson = np.insert(
                np.frombuffer(region.translate(_NEWLINES_TO_SPACES), dtype=np.uint8), ends[:-1], ord("\n")
            ).tobytes()
            yield Block(first_line=line, byte_offset=window_offset, data=ndjson, object_source=region)
            line += region.count(b"\n")
            window_offset += cut
            parts = [window[cut:]]
            size = len(parts[0])
        if not chunk:
            rest = b"".join(parts)
            if rest.strip(WHITESPACE):
                _raise_exact(rest, line, window_offset)
            return
        if size > config.MAX_RECORD_BYTES:
            raise InputFormatError(
                "object longer than the record limit",
                expected=f"objects under {config.MAX_RECORD_BYTES} bytes",
                line=line,
                byte_offset=window_offset,
                snippet=snippet_of(parts[0][:200]),
            )


def parse_object_source(block: Block) -> list[dict[str, Any]]:
    """The records of an object block, exactly; the first bad one raises InputFormatError saying where."""
    assert block.object_source is not None
    return list(objects_in(block.object_source, block.first_line, block.byte_offset))


def _raise_exact(data: bytes, line: int, offset: int) -> None:
    for _record in objects_in(data, line, offset):
        pass
    raise InputFormatError(  # the exact parser accepted what the scan could not end: an unfinished object
        "unexpected end of input inside an object", expected=EXPECTED, line=line, byte_offset=offset
    )


def objects_in(data: bytes, line: int, offset: int) -> Iterator[dict[str, Any]]:
    """The objects in `data` (at `line`, `offset` of the input), parsed exactly; the first bad one raises
    InputFormatError saying where."""
    text = decode_utf8(data, offset)
    position = 0
    while True:
        while position < len(text) and text[position] in " \t\r\n":
            position += 1
        if position >= len(text):
            return
        try:
            value, end, text = raw_decode_tolerant(text, position)
        except json.JSONDecodeError as error:
            raise decode_error(error, line, offset, EXPECTED) from error
        if not isinstance(value, dict):
            raise InputFormatError(
                f"top-level JSON {type(value).__name__}, not an object",
                expected=EXPECTED,
                line=line + text.count("\n", 0, position),
                byte_offset=offset + len(text[:position].encode("utf-8")),
                snippet=snippet_of(text, position),
            )
        yield value
        position = end
