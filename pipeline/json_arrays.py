"""JSON arrays: a top-level array streamed as blocks of its elements.

The fast route finds the elements in bulk (array_scan.py) and yields them as NDJSON bytes for pyarrow.json; from the
first window the scan does not recognise, the exact element-by-element parser (`raw_decode`) takes over, and it is
also what reports every error, with its line and byte.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

from pipeline import config
from pipeline.array_scan import scan_array
from pipeline.depth import DepthScanner, too_deep
from pipeline.input_base import WHITESPACE as _WHITESPACE
from pipeline.input_base import Block, InputFormatError, RawStream, decode_error, decode_utf8, read_input, snippet_of
from pipeline.tolerant import raw_decode_tolerant


def array_blocks(stream: io.BufferedReader, block_bytes: int) -> Iterator[Block]:
    """Streams a top-level array as blocks of NDJSON bytes (array_scan.py finds the elements in bulk); from the
    first window the scan does not recognise, the exact element-by-element parser takes over."""
    read_input(stream, 1)  # the '['
    window = b""
    offset, line = 1, 1  # byte offset and line number of window[0]
    first, eof = True, False
    while True:
        if not eof:
            chunk = read_input(stream, block_bytes)
            eof = not chunk
            window += chunk
        scan = scan_array(window, first) if window else None
        if scan is not None and scan.closed and not eof:
            rest = read_input(stream, -1)
            eof = True
            if rest.strip(_WHITESPACE):
                window += rest
                scan = None  # data after the closing ']': the exact parser reports it
        if scan is None or (not scan.count and not scan.closed and (eof or len(window) > config.MAX_RECORD_BYTES)):
            rest = _Prefixed(window, stream)
            yield from _array_blocks_exact(
                io.BufferedReader(RawStream(rest), 1 << 20), block_bytes, first=first, offset=offset, line=line
            )
            return
        if scan.depth > config.MAX_NESTING_DEPTH:
            _raise_too_deep(window, offset, line)
        if scan.count:
            yield Block(
                first_line=line + window.count(b"\n", 0, scan.start),
                byte_offset=offset + scan.start,
                data=scan.ndjson,
                array_source=window[scan.start : scan.cut],
                record_count=scan.count,
            )
        if scan.closed:
            return
        line += window.count(b"\n", 0, scan.cut) if scan.newlines is None else scan.newlines
        offset += scan.cut
        window = window[scan.cut :]
        first = first and not scan.count


def _raise_too_deep(window: bytes, offset: int, line: int) -> None:
    """Says where the window (inside the array: depth 1) first gets too deep."""
    at = DepthScanner(config.MAX_NESTING_DEPTH + 1, depth=1).feed(window)
    at = max(at, 0)
    raise too_deep(line + window.count(b"\n", 0, at), offset + at, window[at : at + 80])


class _Prefixed:
    """Bytes already read, then the rest of the stream."""

    def __init__(self, prefix: bytes, source: io.BufferedReader) -> None:
        self.prefix = prefix
        self.source = source

    def read(self, size: int = -1) -> bytes:
        if not self.prefix:
            return self.source.read(size)
        if size < 0:
            data, self.prefix = self.prefix + self.source.read(), b""
        else:
            data, self.prefix = self.prefix[:size], self.prefix[size:]
        return data


def parse_array_source(block: Block) -> list[dict[str, Any]]:
    """The records of an array block, parsed by `json` in one call; on any error the exact parser says where."""
    assert block.array_source is not None
    try:
        records = json.loads("[" + block.array_source.decode("utf-8") + "]")
    except ValueError:
        records = None
    if records is not None and len(records) == block.record_count and all(type(r) is dict for r in records):
        return records
    source = io.BufferedReader(io.BytesIO(block.array_source + b"]"))
    exact = _array_blocks_exact(source, len(block.array_source) + 1, offset=block.byte_offset, line=block.first_line)
    return [record for part in exact for record in part.records or ()]


def _array_blocks_exact(
    stream: io.BufferedReader, block_bytes: int, *, first: bool = True, offset: int = 1, line: int = 1
) -> Iterator[Block]:
    """Streams the elements of a top-level array with raw_decode over a sliding text window.

    `stream` starts right after the '[' (`first`) or at the ',' before the next element, at byte `offset`, `line`.
    """
    text = ""
    position = 0  # index into text
    consumed_bytes = offset  # bytes of input before text[0]
    consumed_lines = line
    eof = False
    expect_value = first  # right after '[' or ',' (but ']' allowed right after '[')
    records: list[dict[str, Any]] = []
    block_line, block_offset = 1, 1
    depth = DepthScanner(config.MAX_NESTING_DEPTH + 1, depth=1)  # inside the array
    read_lines = line

    def more() -> bool:
        nonlocal text, position, consumed_bytes, consumed_lines, eof, read_lines
        chunk = read_input(stream, block_bytes)
        if not chunk:
            eof = True
            return False
        # a chunk may end inside a multi-byte character: keep the incomplete tail for the next read
        tail = _incomplete_utf8_tail(chunk)
        if tail:
            chunk += read_input(stream, tail)
        at = depth.feed(chunk)
        if at >= 0:
            raise too_deep(read_lines + chunk.count(b"\n", 0, at), offset + depth.offset - len(chunk) + at, chunk[at:])
        read_lines += chunk.count(b"\n")
        done = text[:position]
        consumed_bytes += len(done.encode("utf-8"))
        consumed_lines += done.count("\n")
        text = text[position:] + decode_utf8(chunk, consumed_bytes)
        position = 0
        return True

    def fail(reason: str, expected: str) -> InputFormatError:
        return InputFormatError(
            reason,
            expected=expected,
            line=consumed_lines + text[:position].count("\n"),
            byte_offset=consumed_bytes + len(text[:position].encode("utf-8")),
            snippet=snippet_of(text, position),
        )

    while True:
        while position < len(text) and text[position] in " \t\r\n":
            position += 1
        if position >= len(text):
            if not more():
                raise fail("unexpected end of input inside the array", "']' to close the top-level array")
            continue
        char = text[position]
        if char == "]" and (first or not expect_value):
            position += 1
            if records:
                yield Block(first_line=block_line, byte_offset=block_offset, records=records)
            rest = text[position:] + (read_input(stream, -1).decode("utf-8", errors="replace") if not eof else "")
            if rest.strip():
                raise fail("data after the end of the top-level array", "nothing after the closing ']'")
            return
        if not expect_value:
            if char != ",":
                raise fail(f"unexpected {char!r} between array elements", "',' or ']'")
            position += 1
            expect_value = True
            continue
        while True:
            try:
                value, end, text = raw_decode_tolerant(text, position)
                # a number or literal cut at the window's end would parse short: make sure something follows
                if end == len(text) and not eof and more():
                    continue
                break
            except json.JSONDecodeError as error:
                if eof or len(text) - position > config.MAX_RECORD_BYTES or not more():
                    raise decode_error(
                        json.JSONDecodeError(error.msg, text, error.pos),
                        consumed_lines,
                        consumed_bytes,
                        "a JSON array of objects",
                    ) from error
        if not isinstance(value, dict):
            raise fail(f"array element is a JSON {type(value).__name__}, not an object", "an array of JSON objects")
        if not records:
            block_line = consumed_lines + text[:position].count("\n")
            block_offset = consumed_bytes + position
        records.append(value)
        position = end
        expect_value = False
        first = False
        if len(records) >= config.ARRAY_BLOCK_RECORDS:
            yield Block(first_line=block_line, byte_offset=block_offset, records=records)
            records = []


def _incomplete_utf8_tail(chunk: bytes) -> int:
    """How many more bytes complete the UTF-8 character the chunk ends inside (0 if none)."""
    for back in range(1, min(4, len(chunk)) + 1):
        byte = chunk[-back]
        if byte & 0xC0 != 0x80:  # a lead byte (or ASCII)
            need = 1 if byte < 0x80 else 2 if byte >> 5 == 0b110 else 3 if byte >> 4 == 0b1110 else 4
            return max(0, need - back)
    return 0
