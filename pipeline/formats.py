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
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO

from pipeline import config
from pipeline.array_scan import scan_array

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\n"
_SNIPPET_CHARS = 120


class InputFormatError(ValueError):
    """The input is not one of the accepted JSON shapes; says where and what was expected."""

    def __init__(
        self,
        reason: str,
        *,
        expected: str,
        line: int | None = None,
        byte_offset: int | None = None,
        snippet: str = "",
    ) -> None:
        self.reason = reason
        self.expected = expected
        self.line = line
        self.byte_offset = byte_offset
        self.snippet = snippet
        where = []
        if line is not None:
            where.append(f"line {line}")
        if byte_offset is not None:
            where.append(f"byte {byte_offset}")
        place = f" at {', '.join(where)}" if where else ""
        super().__init__(f"{reason}{place}; expected {expected}; near: {snippet!r}")

    def __reduce__(self) -> tuple[Any, ...]:  # crosses process boundaries (the exact path's workers)
        return (_rebuild_input_format_error, (self.as_dict(),))

    def as_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "expected": self.expected,
            "line": self.line,
            "byte_offset": self.byte_offset,
            "snippet": self.snippet,
        }


def _rebuild_input_format_error(fields: dict[str, Any]) -> InputFormatError:
    return InputFormatError(fields.pop("reason"), **fields)


@dataclass
class Block:
    """A slice of the input: raw NDJSON bytes (`data`) or parsed records (`records`), never both."""

    first_line: int  # 1-based line number of the block's first line (NDJSON), or of the first record
    byte_offset: int  # offset of the block in the decompressed input
    data: bytes = b""
    records: list[dict[str, Any]] | None = None
    array_source: bytes | None = None  # an array block's original bytes (`data` is them as NDJSON)
    first_index: int = 0  # index of the block's first record in the whole input (set by iter_blocks)
    record_count: int = field(default=0)


class _RawStream(io.RawIOBase):
    """Adapts anything with read(n) (e.g. botocore's StreamingBody) to a RawIOBase for buffering."""

    def __init__(self, source: IO[bytes]) -> None:
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._source.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def open_input(source: str | Path | BinaryIO | IO[bytes]) -> io.BufferedReader:
    """A buffered binary stream of the decompressed, BOM-less input."""
    raw = open(source, "rb") if isinstance(source, str | Path) else source  # noqa: SIM115 - caller closes
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(_RawStream(raw), 1 << 20)
    if buffered.peek(2)[:2] == GZIP_MAGIC:
        buffered = io.BufferedReader(gzip.GzipFile(fileobj=buffered, mode="rb"), 1 << 20)  # type: ignore[arg-type]
    if _peek(buffered, 3)[:3] == UTF8_BOM:
        buffered.read(3)
    return buffered


def _peek(stream: io.BufferedReader, size: int) -> bytes:
    try:
        return stream.peek(size)
    except (OSError, EOFError, zlib.error) as error:
        raise InputFormatError(f"corrupt gzip data ({error})", expected="a valid gzip stream") from error


def _read(stream: io.BufferedReader, size: int) -> bytes:
    try:
        return stream.read(size)
    except (OSError, EOFError, zlib.error) as error:
        raise InputFormatError(f"corrupt gzip data ({error})", expected="a valid gzip stream") from error


def snippet_of(text: bytes | str, position: int = 0) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    start = max(0, position - _SNIPPET_CHARS // 2)
    return text[start : start + _SNIPPET_CHARS].replace("\n", "\\n")


def detect_shape(stream: io.BufferedReader) -> str:
    """'array', 'ndjson' or 'object', from the first non-blank byte (consumes leading whitespace only)."""
    while True:
        head = _peek(stream, 1)
        if not head:
            raise InputFormatError("empty input", expected="a JSON array, a JSON object or NDJSON", byte_offset=0)
        stripped = head.lstrip(_WHITESPACE)
        if stripped:
            break
        _read(stream, len(head))
    _read(stream, len(head) - len(stripped))
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
        snippet=snippet_of(stream.peek(_SNIPPET_CHARS)),
    )


def iter_blocks(stream: io.BufferedReader, block_bytes: int = config.BLOCK_BYTES) -> Iterator[Block]:
    """The input's records, block by block; see the module docstring."""
    shape = detect_shape(stream)
    if shape == "ndjson":
        yield from _ndjson_blocks(stream, block_bytes)
    elif shape == "array":
        yield from _array_blocks(stream, block_bytes)
    else:
        yield _single_object(stream)


def _ndjson_blocks(stream: io.BufferedReader, block_bytes: int) -> Iterator[Block]:
    carry = b""
    line = 1
    offset = 0
    while True:
        chunk = _read(stream, block_bytes)
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
                    snippet=snippet_of(data[:_SNIPPET_CHARS]),
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
        return _parse_array_source(block)
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


def _decode_error(error: json.JSONDecodeError, base_line: int, base_offset: int, expected: str) -> InputFormatError:
    return InputFormatError(
        f"invalid JSON: {error.msg}",
        expected=expected,
        line=base_line + error.lineno - 1,
        byte_offset=base_offset + len(error.doc[: error.pos].encode("utf-8")),
        snippet=snippet_of(error.doc, error.pos),
    )


def _single_object(stream: io.BufferedReader) -> Block:
    raw = _read(stream, -1)
    text = _decode_utf8(raw, 0)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise _decode_error(error, 1, 0, "a single JSON object, or NDJSON with one object per line") from error
    return Block(first_line=1, byte_offset=0, records=[value])


def _decode_utf8(raw: bytes, base_offset: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputFormatError(
            f"invalid UTF-8 ({error.reason})",
            expected="UTF-8 text",
            line=raw[: error.start].count(b"\n") + 1,
            byte_offset=base_offset + error.start,
            snippet=snippet_of(raw, error.start),
        ) from error


def _array_blocks(stream: io.BufferedReader, block_bytes: int) -> Iterator[Block]:
    """Streams a top-level array as blocks of NDJSON bytes (array_scan.py finds the elements in bulk); from the
    first window the scan does not recognise, the exact element-by-element parser takes over."""
    _read(stream, 1)  # the '['
    window = b""
    offset, line = 1, 1  # byte offset and line number of window[0]
    first, eof = True, False
    while True:
        if not eof:
            chunk = _read(stream, block_bytes)
            eof = not chunk
            window += chunk
        scan = scan_array(window, first) if window else None
        if scan is not None and scan.closed and not eof:
            rest = _read(stream, -1)
            eof = True
            if rest.strip(_WHITESPACE):
                window += rest
                scan = None  # data after the closing ']': the exact parser reports it
        if scan is None or (not scan.count and not scan.closed and (eof or len(window) > config.MAX_RECORD_BYTES)):
            rest = _Prefixed(window, stream)
            yield from _array_blocks_exact(
                io.BufferedReader(_RawStream(rest), 1 << 20), block_bytes, first=first, offset=offset, line=line
            )
            return
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
        line += window.count(b"\n", 0, scan.cut)
        offset += scan.cut
        window = window[scan.cut :]
        first = first and not scan.count


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


def _parse_array_source(block: Block) -> list[dict[str, Any]]:
    """The records of an array block, parsed by `json` in one call; on any error the exact parser says where."""
    assert block.array_source is not None
    try:
        records = json.loads("[" + block.array_source.decode("utf-8") + "]")
    except (ValueError, RecursionError):
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
    decoder = json.JSONDecoder()
    text = ""
    position = 0  # index into text
    consumed_bytes = offset  # bytes of input before text[0]
    consumed_lines = line
    eof = False
    expect_value = first  # right after '[' or ',' (but ']' allowed right after '[')
    records: list[dict[str, Any]] = []
    block_line, block_offset = 1, 1

    def more() -> bool:
        nonlocal text, position, consumed_bytes, consumed_lines, eof
        chunk = _read(stream, block_bytes)
        if not chunk:
            eof = True
            return False
        # a chunk may end inside a multi-byte character: keep the incomplete tail for the next read
        tail = _incomplete_utf8_tail(chunk)
        if tail:
            chunk += _read(stream, tail)
        done = text[:position]
        consumed_bytes += len(done.encode("utf-8"))
        consumed_lines += done.count("\n")
        text = text[position:] + _decode_utf8(chunk, consumed_bytes)
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
            rest = text[position:] + (_read(stream, -1).decode("utf-8", errors="replace") if not eof else "")
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
                value, end = decoder.raw_decode(text, position)
                # a number or literal cut at the window's end would parse short: make sure something follows
                if end == len(text) and not eof and more():
                    continue
                break
            except json.JSONDecodeError as error:
                if eof or len(text) - position > config.MAX_RECORD_BYTES or not more():
                    raise _decode_error(
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
