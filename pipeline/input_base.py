"""What the input readers share: the Block they yield, the InputFormatError they raise, and reading helpers that
turn low-level failures (corrupt gzip, invalid UTF-8, a JSON decode error) into errors that say where and what was
expected.
"""

from __future__ import annotations

import io
import json
import zlib
from dataclasses import dataclass, field
from typing import IO, Any

WHITESPACE = b" \t\r\n"
SNIPPET_CHARS = 120


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
    object_source: bytes | None = None  # a block of back-to-back objects' original bytes (ditto)
    first_index: int = 0  # index of the block's first record in the whole input (set by iter_blocks)
    record_count: int = field(default=0)


class RawStream(io.RawIOBase):
    """Adapts anything with read(n) (e.g. botocore's StreamingBody) to a RawIOBase for buffering."""

    def __init__(self, source: IO[bytes]) -> None:
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        readinto = getattr(self._source, "readinto", None)
        if readinto is not None:  # straight into the buffer: no intermediate copy, no large allocation to free
            return readinto(buffer) or 0
        data = self._source.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def peek_input(stream: io.BufferedReader, size: int) -> bytes:
    try:
        return stream.peek(size)
    except (OSError, EOFError, zlib.error) as error:
        raise InputFormatError(f"corrupt gzip data ({error})", expected="a valid gzip stream") from error


def read_input(stream: io.BufferedReader, size: int) -> bytes:
    try:
        return stream.read(size)
    except (OSError, EOFError, zlib.error) as error:
        raise InputFormatError(f"corrupt gzip data ({error})", expected="a valid gzip stream") from error


def readinto_input(stream: io.BufferedReader, buffer: memoryview) -> int:
    """Fills `buffer` from `stream`; fewer bytes than it holds only at the end of the input."""
    try:
        return stream.readinto(buffer)
    except (OSError, EOFError, zlib.error) as error:
        raise InputFormatError(f"corrupt gzip data ({error})", expected="a valid gzip stream") from error


def snippet_of(text: bytes | str, position: int = 0) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    start = max(0, position - SNIPPET_CHARS // 2)
    return text[start : start + SNIPPET_CHARS].replace("\n", "\\n")


def decode_error(error: json.JSONDecodeError, base_line: int, base_offset: int, expected: str) -> InputFormatError:
    return InputFormatError(
        f"invalid JSON: {error.msg}",
        expected=expected,
        line=base_line + error.lineno - 1,
        byte_offset=base_offset + len(error.doc[: error.pos].encode("utf-8")),
        snippet=snippet_of(error.doc, error.pos),
    )


def decode_utf8(raw: bytes, base_offset: int) -> str:
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
