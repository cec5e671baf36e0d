"""Input decoding: shapes, gzip by magic bytes, BOM, blank lines, and errors that say where and what was expected."""

from __future__ import annotations

import gzip
import io
import json

import pytest

from pipeline.formats import InputFormatError, iter_blocks, open_input, parse_ndjson_block

pytestmark = pytest.mark.layer

RECORDS = [{"id": 1, "name": "Ann"}, {"id": 2, "name": "Bø", "tags": ["x"]}]


def records_of(data: bytes, block_bytes: int = 1 << 20) -> list[dict]:
    out = []
    for block in iter_blocks(open_input(io.BytesIO(data)), block_bytes):
        out.extend(block.records if block.records is not None else parse_ndjson_block(block))
    return out


NDJSON = b"".join(json.dumps(r).encode() + b"\n" for r in RECORDS)
ARRAY = json.dumps(RECORDS, indent=2).encode()


@pytest.mark.parametrize(
    ("label", "data", "expected"),
    [
        ("ndjson", NDJSON, RECORDS),
        ("ndjson without final newline", NDJSON.rstrip(), RECORDS),
        ("ndjson with blank lines and CRLF", b"\r\n\n" + NDJSON.replace(b"\n", b"\r\n\n  \n"), RECORDS),
        ("array", ARRAY, RECORDS),
        ("compact array", json.dumps(RECORDS).encode(), RECORDS),
        ("empty array", b" [ ] ", []),
        ("single object on one line", json.dumps(RECORDS[0]).encode(), RECORDS[:1]),
        ("pretty-printed single object", json.dumps(RECORDS[1], indent=2).encode(), RECORDS[1:]),
        ("BOM + ndjson", b"\xef\xbb\xbf" + NDJSON, RECORDS),
        ("BOM + array", b"\xef\xbb\xbf" + ARRAY, RECORDS),
        ("gzip ndjson", gzip.compress(NDJSON), RECORDS),
        ("gzip BOM array", gzip.compress(b"\xef\xbb\xbf" + ARRAY), RECORDS),
    ],
)
def test_accepted_shapes(label: str, data: bytes, expected: list[dict]) -> None:
    assert records_of(data) == expected


@pytest.mark.parametrize("block_bytes", [1, 7, 64, 1 << 20])
def test_streaming_is_independent_of_block_size(block_bytes: int) -> None:
    records = [{"i": i, "text": "é" * (i % 5), "n": [i, i * 1.5]} for i in range(200)]
    ndjson = b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in records)
    array = json.dumps(records, ensure_ascii=False).encode()
    assert records_of(ndjson, block_bytes) == records
    assert records_of(array, block_bytes) == records


@pytest.mark.parametrize("block_bytes", [1, 10, 100, 1000, 3000])
def test_ndjson_blocks_are_whole_lines_that_know_where_they_start(block_bytes: int) -> None:
    lines = [json.dumps({"i": i, "pad": "x" * (i * 7 % 50)}).encode() for i in range(100)]
    data = b"\n".join(lines[:50]) + b"\n\n  \n" + b"\n".join(lines[50:])  # blank lines, no final newline
    blocks = list(iter_blocks(open_input(io.BytesIO(data)), block_bytes))
    covered = 0
    for block in blocks:
        assert not data[covered : block.byte_offset].strip()  # only a block of blank lines is left out
        assert data[block.byte_offset :].startswith(block.data)
        assert block.first_line == data[: block.byte_offset].count(b"\n") + 1
        assert block.data.endswith(b"\n") or block is blocks[-1]
        # at most block_bytes (what bounds memory), unless it is one line longer than that
        assert len(block.data) <= block_bytes or block.data.rstrip(b"\n").count(b"\n") == 0
        covered = block.byte_offset + len(block.data)
    assert covered == len(data)


@pytest.mark.parametrize("block_bytes", [16, 50])  # the limit bounds a line read across blocks
def test_an_ndjson_line_over_the_record_limit_is_bad_input(monkeypatch, block_bytes: int) -> None:
    from pipeline import config

    monkeypatch.setattr(config, "MAX_RECORD_BYTES", 100)
    data = b'{"a": 1}\n{"a": 2}\n{"a": "' + b"x" * 200 + b'"}\n{"a": 4}\n'
    with pytest.raises(InputFormatError, match="longer than the record limit") as caught:
        records_of(data, block_bytes)
    assert (caught.value.line, caught.value.byte_offset) == (3, 18)
    assert records_of(data.replace(b"x" * 200, b"x" * 80), block_bytes)[2] == {"a": "x" * 80}


@pytest.mark.parametrize(
    ("label", "data", "reason", "line", "byte_offset"),
    [
        ("empty", b"", "empty input", None, 0),
        ("only whitespace", b"  \n ", "empty input", None, 0),
        ("not json", b"hello world", "does not start with", 1, None),
        ("csv", b"id,name\n1,Ann\n", "does not start with", 1, None),
        ("bad second line", b'{"a": 1}\n{"a": 2,,}\n', "invalid JSON", 2, 17),
        ("scalar line", b'{"a": 1}\n\n42\n', "not an object", 3, 10),
        ("array of scalars", b"[1, 2]", "not an object", 1, None),
        ("truncated array", b'[{"a": 1}, {"a": ', "invalid JSON", 1, None),
        ("missing comma", b'[{"a": 1} {"a": 2}]', "between array elements", 1, 10),
        ("trailing garbage", b'[{"a": 1}] x', "after the end", 1, None),
        ("bad utf-8", b'{"a": "ok"}\n{"a": "\xff"}\n', "invalid UTF-8", 2, None),
        ("bad pretty object", b'{\n  "a": 1,\n  "b": \n}', "invalid JSON", 4, None),
        ("corrupt gzip", b"\x1f\x8b\x08\x00garbage", "corrupt gzip", None, None),
    ],
)
def test_errors_say_where(label: str, data: bytes, reason: str, line: int | None, byte_offset: int | None) -> None:
    with pytest.raises(InputFormatError) as caught:
        records_of(data, block_bytes=8)
    error = caught.value
    assert reason in error.reason
    assert error.expected
    if line is not None:
        assert error.line == line
    if byte_offset is not None:
        assert error.byte_offset == byte_offset
    assert set(error.as_dict()) == {"reason", "expected", "line", "byte_offset", "snippet"}


def test_gzip_is_detected_by_magic_bytes_not_name(tmp_path) -> None:
    path = tmp_path / "data.json"  # no .gz in the name
    path.write_bytes(gzip.compress(NDJSON))
    assert records_of(path.read_bytes()) == RECORDS
    stream = open_input(str(path))
    assert stream.read(1) == b"{"
