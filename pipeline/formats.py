"""Input decoding: one uploaded object's bytes -> blocks of JSON records, streamed.

1. `open_input` (decoding.py) wraps a path or binary stream, undoes gzip, bzip2, xz or zstd (detected by magic
   bytes) and turns UTF-16/32 into UTF-8 (skipping any BOM).
2. `detect_shape` peeks at the first non-blank byte: `[` is a JSON array; `{` is NDJSON when the first line is one
   whole object, else objects back to back (one pretty-printed object, or Firehose's `{...}{...}`).
3. `iter_blocks` yields `Block`s: NDJSON as raw bytes of whole lines (the fast path parses them into Arrow directly),
   arrays as their complete elements turned into NDJSON bytes (array_scan.py; unusual arrays as parsed records),
   back-to-back objects as NDJSON bytes too (json_objects.py). Every record's nesting depth is checked on the bytes
   before a parser sees it (depth.py).
4. `parse_ndjson_block` is the exact, pure-Python parser of a block, used when the fast path declines a block.

Every malformed input raises `InputFormatError` with the reason, line, byte offset, a snippet and what was expected.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

from pipeline import config
from pipeline.decoding import open_input, supported
from pipeline.depth import DepthScanner, check_long_lines
from pipeline.input_base import (
    SNIPPET_CHARS,
    Block,
    InputFormatError,
    peek_input,
    read_input,
    readinto_input,
    snippet_of,
)
from pipeline.input_base import WHITESPACE as _WHITESPACE
from pipeline.json_arrays import array_blocks, parse_array_source
from pipeline.json_objects import object_blocks, objects_in, parse_object_source
from pipeline.tolerant import loads_tolerant

__all__ = ["Block", "InputFormatError", "detect_shape", "iter_blocks", "open_input", "parse_ndjson_block", "snippet_of"]


def detect_shape(stream: io.BufferedReader) -> str:
    """'array', 'ndjson' or 'object', from the first non-blank byte (consumes leading whitespace only)."""
    while True:
        head = peek_input(stream, 1)
        if not head:
            raise InputFormatError("empty input", expected="a JSON array, a JSON object or NDJSON", byte_offset=0)
        stripped = head.lstrip(_WHITESPACE)
        if stripped:
            break
        read_input(stream, len(head))
    read_input(stream, len(head) - len(stripped))
    first = stripped[:1]
    if first == b"[":
        return "array"
    if first == b"{":
        return "ndjson" if _one_object_per_line(stream.peek(1 << 16)) else "object"
    head = stream.peek(SNIPPET_CHARS)
    raise InputFormatError(
        f"{_looks_like(head)}, not JSON (it does not start with '[' or '{{')",
        expected=supported(),
        line=1,
        snippet=snippet_of(head),
    )


def _one_object_per_line(head: bytes) -> bool:
    """Whether the first line holds exactly one object (NDJSON), judged by the depth scan, not by a parse: a
    literal like `-NaN` or a deep record must not send NDJSON down the back-to-back objects reader."""
    newline = head.find(b"\n")
    if newline < 0:
        return False  # a first line over 64 KB: the objects reader takes any layout, NDJSON included
    line = head[:newline].rstrip(_WHITESPACE)
    scanner = DepthScanner(limit=1 << 30, track_ends=True)
    scanner.feed(line)
    return scanner.ends == [len(line)]


def _looks_like(head: bytes) -> str:
    text = head.decode("utf-8", errors="replace")
    first_line = text.split("\n", 1)[0]
    if first_line.count(",") or first_line.count(";") or first_line.count("\t"):
        return "the input looks like CSV or other delimited text"
    if text.lstrip().startswith("<"):
        return "the input looks like XML or HTML"
    return "the input is not JSON"


def iter_blocks(stream: io.BufferedReader, block_bytes: int = config.BLOCK_BYTES) -> Iterator[Block]:
    """The input's records, block by block; see the module docstring."""
    shape = detect_shape(stream)
    if shape == "ndjson":
        yield from _ndjson_blocks(stream, block_bytes)
    elif shape == "array":
        yield from array_blocks(stream, block_bytes)
    else:
        yield from object_blocks(stream, block_bytes)


def _ndjson_blocks(stream: io.BufferedReader, block_bytes: int) -> Iterator[Block]:
    """Blocks of whole lines, each at most `block_bytes` unless its one line is longer (up to the record limit).

    The input is read into one buffer, reused for every block: each block is copied out of it once, and the line
    its end cuts in two is moved to the buffer's start, to be completed by the next read. (Reading each block and
    then the rest of its last line, and joining the two, copied every block twice, into fresh memory.) Long lines
    are depth-checked here; short ones in blocks.py."""
    buffer = bytearray(block_bytes)
    held = 0  # bytes at the buffer's start not yet in a block: whole lines, then the start of one
    at_end = False
    line = 1
    offset = 0
    while True:
        if not at_end and held < len(buffer):
            with memoryview(buffer) as view:
                wanted = len(buffer) - held
                got = readinto_input(stream, view[held:])
            held += got
            at_end = got < wanted
        if not held:
            return
        last_start = buffer.rfind(b"\n", 0, held) + 1  # of the last line, complete only at the end
        if held - last_start > config.MAX_RECORD_BYTES:
            raise InputFormatError(
                "line longer than the record limit",
                expected=f"NDJSON lines under {config.MAX_RECORD_BYTES} bytes",
                line=line + buffer.count(b"\n", 0, last_start),
                byte_offset=offset + last_start,
                snippet=snippet_of(bytes(buffer[last_start : last_start + SNIPPET_CHARS])),
            )
        if at_end and held <= block_bytes:
            cut = held
        else:  # the whole lines within block_bytes, else the first line alone
            cut = buffer.rfind(b"\n", 0, min(held, block_bytes)) + 1 or buffer.find(b"\n", 0, held) + 1
            if not cut and at_end:
                cut = held
            elif not cut:  # one line fills the buffer: read on, in a buffer twice the size
                buffer.extend(bytes(min(len(buffer), config.MAX_RECORD_BYTES + 1 - len(buffer))))
                continue
        with memoryview(buffer) as view:
            data = bytes(view[:cut])
            rest = bytes(view[cut:held])
        if len(buffer) > block_bytes and len(rest) <= block_bytes:  # done with a long line: back to a block's size
            buffer = bytearray(block_bytes)
        buffer[: len(rest)] = rest
        held = len(rest)
        newlines = check_long_lines(data, line, offset)  # short lines: blocks.py checks
        if not (data.isspace() and not data.translate(None, _WHITESPACE)):  # only blank lines: no record
            yield Block(first_line=line, byte_offset=offset, data=data)
        line += newlines
        offset += len(data)


def parse_ndjson_block(block: Block) -> list[dict[str, Any]]:
    """Every non-blank line of an NDJSON block as a dict; the first bad line raises InputFormatError."""
    if block.array_source is not None:
        return parse_array_source(block)
    data = block.data.rstrip(b"\r\n")
    try:
        # one C-level parse of the block as an array is ~2x faster than a call per line; it is only trusted when
        # it yields exactly one object per line (no blank lines, no `{..},{..}` on one line)
        records = json.loads(b"[" + data.replace(b"\n", b",") + b"]")
    except ValueError:  # UnicodeDecodeError and JSONDecodeError both are
        records = None
    if records is not None and len(records) == data.count(b"\n") + 1 and all(type(r) is dict for r in records):
        return records
    if block.object_source is not None:
        return parse_object_source(block)
    return _parse_lines(block)


def _parse_lines(block: Block) -> list[dict[str, Any]]:
    records = []
    append = records.append
    loads = loads_tolerant
    offset = block.byte_offset
    for number, raw_line in enumerate(block.data.split(b"\n"), start=block.first_line):
        if raw_line.strip():
            try:
                value = loads(raw_line.decode("utf-8"))  # NaN and infinities as on the fast path (tolerant.py)
            except UnicodeDecodeError as error:
                raise InputFormatError(
                    f"invalid UTF-8 ({error.reason})",
                    expected="UTF-8 text",
                    line=number,
                    byte_offset=offset + error.start,
                    snippet=snippet_of(raw_line, error.start),
                ) from error
            except json.JSONDecodeError as error:
                if error.msg == "Extra data":  # objects back to back on one line, which pyarrow (the fast path) reads
                    records.extend(objects_in(raw_line, number, offset))
                    offset += len(raw_line) + 1
                    continue
                raise InputFormatError(
                    f"invalid JSON: {error.msg}",
                    expected="one JSON object per line",
                    line=number,
                    byte_offset=offset + error.pos,
                    snippet=snippet_of(raw_line, error.pos),
                ) from error
            if not isinstance(value, dict):
                raise InputFormatError(
                    f"line holds a JSON {type(value).__name__}, not an object",
                    expected="one JSON object per line",
                    line=number,
                    byte_offset=offset,
                    snippet=snippet_of(raw_line),
                )
            append(value)
        offset += len(raw_line) + 1
    return records
