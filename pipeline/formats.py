"""Input decoding: one uploaded object's bytes -> blocks of JSON records, streamed.

1. `open_input` wraps a path or binary stream, undoes gzip (detected by its magic bytes) and skips a UTF-8 BOM.
2. `detect_shape` peeks at the first non-blank byte: `[` is a JSON array, `{` is NDJSON or one (pretty-printed) object.
3. `iter_blocks` yields `Block`s: NDJSON as raw bytes of whole lines (the fast path parses them into Arrow directly),
   arrays as their complete elements turned into NDJSON bytes (array_scan.py; unusual arrays as parsed records),
   single objects as a parsed record. Nothing reads a whole large object into memory except a single
   pretty-printed object, which is one record by definition.
4. `parse_ndjson_block` is the exact, pure-Python parser of an NDJSON block, used when the fast path declines a block.

Every malformed input raises `InputFormatError` with the reason, line, byte offset, a snippet and what was expected.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO

from pipeline import config
from pipeline.input_base import (
    SNIPPET_CHARS,
    Block,
    InputFormatError,
    RawStream,
    decode_error,
    decode_utf8,
    peek_input,
    read_input,
    snippet_of,
)
from pipeline.input_base import WHITESPACE as _WHITESPACE
from pipeline.json_arrays import array_blocks, parse_array_source

__all__ = ["Block", "InputFormatError", "detect_shape", "iter_blocks", "open_input", "parse_ndjson_block", "snippet_of"]

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"


def open_input(source: str | Path | BinaryIO | IO[bytes]) -> io.BufferedReader:
    """A buffered binary stream of the decompressed, BOM-less input."""
    raw = open(source, "rb") if isinstance(source, str | Path) else source  # noqa: SIM115 - caller closes
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(RawStream(raw), 1 << 20)
    if buffered.peek(2)[:2] == GZIP_MAGIC:
        buffered = io.BufferedReader(gzip.GzipFile(fileobj=buffered, mode="rb"), 1 << 20)  # type: ignore[arg-type]
    if peek_input(buffered, 3)[:3] == UTF8_BOM:
        buffered.read(3)
    return buffered


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
        first_line = stream.peek(1 << 16).split(b"\n", 1)[0]
        try:
            return "ndjson" if isinstance(json.loads(first_line), dict) else "object"
        except (ValueError, UnicodeDecodeError):
            return "object"  # the first line is not a whole object: a pretty-printed document (or malformed)
    raise InputFormatError(
        "input does not start with '[' or '{'",
        expected="a JSON array of objects, a JSON object or NDJSON (one object per line)",
        line=1,
        snippet=snippet_of(stream.peek(SNIPPET_CHARS)),
    )


def iter_blocks(stream: io.BufferedReader, block_bytes: int = config.BLOCK_BYTES) -> Iterator[Block]:
    """The input's records, block by block; see the module docstring."""
    shape = detect_shape(stream)
    if shape == "ndjson":
        yield from _ndjson_blocks(stream, block_bytes)
    elif shape == "array":
        yield from array_blocks(stream, block_bytes)
    else:
        yield _single_object(stream)


def _ndjson_blocks(stream: io.BufferedReader, block_bytes: int) -> Iterator[Block]:
    carry = b""
    line = 1
    offset = 0
    while True:
        chunk = read_input(stream, block_bytes)
        if not chunk:
            if carry.strip():
                yield Block(first_line=line, byte_offset=offset, data=carry)
            return
        data = carry + chunk
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            if len(data) > config.MAX_RECORD_BYTES:
                raise InputFormatError(
                    "line longer than the record limit",
                    expected=f"NDJSON lines under {config.MAX_RECORD_BYTES} bytes",
                    line=line,
                    byte_offset=offset,
                    snippet=snippet_of(data[:SNIPPET_CHARS]),
                )
            carry = data
            continue
        block, carry = data[:cut], data[cut:]
        yield Block(first_line=line, byte_offset=offset, data=block)
        line += block.count(b"\n")
        offset += cut


def parse_ndjson_block(block: Block) -> list[dict[str, Any]]:
    """Every non-blank line of an NDJSON block as a dict; the first bad line raises InputFormatError."""
    if block.array_source is not None:
        return parse_array_source(block)
    data = block.data.rstrip(b"\r\n")
    try:
        # one C-level parse of the block as an array is ~2x faster than a call per line; it is only trusted when
        # it yields exactly one object per line (no blank lines, no `{..},{..}` on one line)
        records = json.loads(b"[" + data.replace(b"\n", b",") + b"]")
    except (ValueError, UnicodeDecodeError, RecursionError):
        return _parse_lines(block)
    if len(records) == data.count(b"\n") + 1 and all(type(record) is dict for record in records):
        return records
    return _parse_lines(block)


def _parse_lines(block: Block) -> list[dict[str, Any]]:
    records = []
    append = records.append
    loads = json.loads
    offset = block.byte_offset
    for number, raw_line in enumerate(block.data.split(b"\n"), start=block.first_line):
        if raw_line.strip():
            try:
                value = loads(raw_line.decode("utf-8"))
            except UnicodeDecodeError as error:
                raise InputFormatError(
                    f"invalid UTF-8 ({error.reason})",
                    expected="UTF-8 text",
                    line=number,
                    byte_offset=offset + error.start,
                    snippet=snippet_of(raw_line, error.start),
                ) from error
            except json.JSONDecodeError as error:
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


def _single_object(stream: io.BufferedReader) -> Block:
    raw = read_input(stream, -1)
    text = decode_utf8(raw, 0)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise decode_error(error, 1, 0, "a single JSON object, or NDJSON with one object per line") from error
    return Block(first_line=1, byte_offset=0, records=[value])
