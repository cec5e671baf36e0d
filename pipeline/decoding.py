"""From an uploaded object's bytes to UTF-8 JSON text: decompression and text encodings, by content, never by name.

- Compression is recognised by its magic bytes: gzip, bzip2 and xz (Python's standard library), zstd where this
  runtime has a decoder (Python 3.14's `compression.zstd`, else pyarrow's codec when it was built with zstd; the AWS
  SDK for pandas layer's pyarrow is not). ZIP, LZ4, Snappy and zstd without a decoder are bad input, and so are
  formats that are not JSON (Parquet, Avro, ORC): each is quarantined with a reason naming it and what is supported.
- Text: UTF-8 with or without a BOM; UTF-16 and UTF-32 with a BOM (PowerShell's `Out-File` writes UTF-16 LE with
  one) or without one (recognised by the NUL bytes around the first ASCII characters, as RFC 4627 §3 describes)
  are transcoded to UTF-8 as they stream.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import io
import lzma
import zlib
from pathlib import Path
from typing import IO, Any, BinaryIO

from pipeline.input_base import InputFormatError, RawStream, peek_input

_BUFFER = 1 << 20
UTF8_BOM = b"\xef\xbb\xbf"
# (magic, codec): what the standard library decompresses
_STDLIB_CODECS = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"))


def _decompressed(source: io.BufferedReader, codec: str) -> IO[bytes]:
    if codec == "gzip":
        return gzip.GzipFile(fileobj=source, mode="rb")
    if codec == "bzip2":
        return bz2.BZ2File(source, mode="rb")
    return lzma.LZMAFile(source, mode="rb")


ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# (magic, what it is): recognised so the quarantine reason can name it
_UNSUPPORTED = (
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x04\x22\x4d\x18", "LZ4-compressed data"),
    (b"\xff\x06\x00\x00sNaPpY", "Snappy-compressed data"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"PAR1", "a Parquet file"),
    (b"Obj\x01", "an Avro file"),
    (b"ORC", "an ORC file"),
)
# BOMs, longest first: UTF-32 LE's BOM starts with UTF-16 LE's
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def _zstd_reader(source: IO[bytes]) -> IO[bytes] | None:
    """A zstd decompressing reader, or None where this runtime has no zstd decoder."""
    try:
        from compression import zstd  # type: ignore[import-not-found]  # Python 3.14+
    except ImportError:
        pass
    else:
        return zstd.ZstdFile(source)
    import pyarrow as pa

    if not pa.Codec.is_available("zstd"):
        return None
    return pa.CompressedInputStream(pa.PythonFile(source, mode="r"), "zstd")


def zstd_available() -> bool:
    return _zstd_reader(io.BytesIO()) is not None


def compressions() -> list[str]:
    """The compressions this runtime reads."""
    return ["gzip", "bzip2", "xz", *(["zstd"] if zstd_available() else [])]


def supported() -> str:
    """What the transform reads, for quarantine reasons."""
    return (
        "JSON: an array of objects, one object per line (NDJSON / JSON Lines), or objects back to back "
        "(concatenated, e.g. Kinesis Data Firehose, or pretty-printed); in UTF-8, UTF-16 or UTF-32; "
        f"uncompressed or {', '.join(compressions())}"
    )


class _Checked(io.RawIOBase):
    """Turns a decompressor's or decoder's errors into InputFormatError naming the codec."""

    def __init__(self, source: Any, codec: str) -> None:
        self._source = source
        self._codec = codec

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._source.read(len(buffer))
        except (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError) as error:
            raise InputFormatError(
                f"corrupt {self._codec} data ({error})", expected=f"a valid {self._codec} stream"
            ) from error
        buffer[: len(data)] = data
        return len(data)


class _Transcoded(io.RawIOBase):
    """UTF-16/UTF-32 text read as UTF-8 bytes."""

    def __init__(self, source: io.BufferedReader, encoding: str) -> None:
        self._source = source
        self._encoding = encoding
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        self._pending = b""
        self._consumed = 0  # encoded bytes decoded so far
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending and not self._eof:
            raw = self._source.read(len(buffer))
            self._eof = not raw
            try:
                self._pending = self._decoder.decode(raw, final=self._eof).encode("utf-8")
            except UnicodeDecodeError as error:
                name = self._encoding[:6].upper()
                raise InputFormatError(
                    f"invalid {name} ({error.reason})",
                    expected=f"{name} text (it starts like {name})",
                    byte_offset=self._consumed + error.start,
                ) from error
            self._consumed += len(raw)
        data, self._pending = self._pending[: len(buffer)], self._pending[len(buffer) :]
        buffer[: len(data)] = data
        return len(data)


def open_input(source: str | Path | BinaryIO | IO[bytes]) -> io.BufferedReader:
    """A buffered binary stream of the input as UTF-8 (decompressed, transcoded, BOM-less).

    Raises InputFormatError for a compression or format it does not read (the reason names it and lists what is
    supported); corrupt compressed data and invalid UTF-16/32 raise it when read.
    """
    raw = open(source, "rb") if isinstance(source, str | Path) else source  # noqa: SIM115 - caller closes
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(RawStream(raw), _BUFFER)
    head = peek_input(buffered, 16)[:16]
    for magic, codec in _STDLIB_CODECS:
        if head.startswith(magic):
            buffered = io.BufferedReader(_Checked(_decompressed(buffered, codec), codec), _BUFFER)
            break
    else:
        if head.startswith(ZSTD_MAGIC):
            reader = _zstd_reader(buffered)
            if reader is None:
                raise unsupported("zstd-compressed data (this runtime has no zstd decoder)", head)
            buffered = io.BufferedReader(_Checked(reader, "zstd"), _BUFFER)
        else:
            for magic, what in _UNSUPPORTED:
                if head.startswith(magic):
                    raise unsupported(what, head)
    head = peek_input(buffered, 4)[:4]
    if head.startswith(UTF8_BOM):
        buffered.read(3)
        return buffered
    encoding = next((name for bom, name in _BOMS if head.startswith(bom)), None) or _unmarked_encoding(head)
    if encoding is None:
        return buffered
    return io.BufferedReader(_Transcoded(buffered, encoding), _BUFFER)


def _unmarked_encoding(head: bytes) -> str | None:
    """UTF-16/32 without a BOM, from where the NUL bytes are around the first (ASCII) characters (RFC 4627 §3)."""
    if len(head) < 4 or 0 not in head:
        return None
    nul = [byte == 0 for byte in head]
    return {
        (True, True, True, False): "utf-32-be",
        (False, True, True, True): "utf-32-le",
        (True, False, True, False): "utf-16-be",
        (False, True, False, True): "utf-16-le",
    }.get(tuple(nul))  # type: ignore[arg-type]


def unsupported(what: str, head: bytes) -> InputFormatError:
    return InputFormatError(
        f"{what}, which the transform does not read",
        expected=supported(),
        byte_offset=0,
        snippet=head.decode("latin-1")[:16],
    )
