"""Bad bytes are bad input, and valid bytes land: issue 9 points 7, 8, 9 (what the transform reads) and 10.

Every failure the input's bytes cause is an InputFormatError (quarantined on the first attempt, never retried):
nesting depth, encodings, compressions and formats the transform does not read. Valid JSON that Python's parser
chokes on (lone surrogates, `-NaN`, Kinesis Firehose's `{...}{...}`, UTF-16 with a BOM) lands. Cases run on both parse
paths (`parse_path`): the pyarrow fast path and the exact Python path must agree.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import io
import json
import lzma
import math
import zipfile
from pathlib import Path

import pytest
from pipeline_helpers import read_outputs

from pipeline import config, decoding
from pipeline.formats import InputFormatError

pytestmark = pytest.mark.layer
CASES = Path(__file__).resolve().parent / "cases"
LIMIT = config.MAX_NESTING_DEPTH


def rows(result, dataset: str = "orders") -> list[dict]:
    system = {"_record_id", "_source_key", "_parent_record_id", "_position"}
    return [{k: v for k, v in row.items() if k not in system} for row in read_outputs(result)[dataset]]


def nested(depth: int, kind: str) -> str:
    """A record nested `depth` levels deep (the record itself is level 1), by objects or by arrays."""
    if kind == "objects":
        return '{"a":' * (depth - 1) + "{}" + "}" * (depth - 1) if depth > 1 else "{}"
    return '{"a":' + "[" * (depth - 1) + "1" + "]" * (depth - 1) + "}"


def shaped(record: str, shape: str) -> bytes:
    """One deep record between two flat ones, laid out as `shape`."""
    flat = '{"b": 1}'
    if shape == "ndjson":
        return f"{flat}\n{record}\n{flat}\n".encode()
    if shape == "array":
        return f"[{flat},\n{record},\n{flat}]".encode()
    if shape == "concatenated":
        return f"{flat}{record}{flat}".encode()
    return ("{\n  " + record[1:-1] + ',\n  "b": 1\n}').encode()  # one pretty-printed object (depth > 1)


SHAPES = ["ndjson", "array", "concatenated", "pretty"]


@pytest.mark.parametrize("kind", ["objects", "arrays"])
@pytest.mark.parametrize("shape", SHAPES)
def test_records_at_the_depth_limit_land(parse_path, transform, shape, kind) -> None:
    result = transform(shaped(nested(LIMIT, kind), shape))
    assert result.rows == (1 if shape == "pretty" else 3)


@pytest.mark.parametrize("depth", [LIMIT + 1, 1_000, 20_000])
@pytest.mark.parametrize("kind", ["objects", "arrays"])
@pytest.mark.parametrize("shape", SHAPES)
def test_records_deeper_than_the_limit_are_bad_input(parse_path, transform, shape, kind, depth) -> None:
    # before the fix: RecursionError (a retried "transient" failure) or, at 20,000, a segfault in pyarrow
    with pytest.raises(InputFormatError) as caught:
        transform(shaped(nested(depth, kind), shape))
    assert f"nested more than {LIMIT} levels" in caught.value.reason
    assert caught.value.line == (1 if shape == "concatenated" else 2)
    assert caught.value.byte_offset is not None


def test_depth_is_counted_outside_strings_only(transform) -> None:
    brackets = "{[" * 5_000
    result = transform(json.dumps({"s": brackets, "t": "\\" + '"' + brackets}).encode() + b"\n")
    assert rows(result) == [{"s": brackets, "t": "\\" + '"' + brackets}]


def test_a_parser_failure_on_the_bytes_is_bad_input(monkeypatch, transform) -> None:
    # with the depth check out of the way, Python's own recursion limit is what a deep record hits
    monkeypatch.setattr(config, "MAX_NESTING_DEPTH", 4_000)
    with pytest.raises(InputFormatError) as caught:
        transform(shaped(nested(3_000, "objects"), "ndjson"))
    assert "nested too deeply" in caught.value.reason


def test_lone_surrogates_land_as_the_replacement_character(parse_path, transform) -> None:
    # lone-surrogate.jsonl: RFC 8259 §8.2 allows "\ud83d"; Parquet strings must be valid UTF-8, so it becomes U+FFFD
    result = transform((CASES / "lone-surrogate.jsonl").read_bytes(), dataset="tweets")
    texts = [row["text"] for row in rows(result, "tweets")]
    assert texts == ["Sunset at the pier \U0001f305", "Best day ever \ufffd"]  # a valid pair stays the emoji


def test_lone_surrogates_in_keys_and_arrays(parse_path, transform) -> None:
    data = b'[{"k\\udc00": "x", "tags": ["\\udfff", "ok"], "deep": {"v": "\\ud800\\ud800"}}]'
    row = rows(transform(data))[0]
    assert row["tags"] == ["\ufffd", "ok"] and row["deep_v"] == "\ufffd\ufffd"
    assert "x" in row.values()


@pytest.mark.parametrize("case", ["minus-nan.json", "minus-nan.ndjson"])
def test_minus_nan_lands_on_both_shapes(parse_path, transform, case) -> None:
    result = transform((CASES / case).read_bytes(), dataset="numbers")
    values = rows(result, "numbers")
    assert math.isnan(values[0]["k"]) and values[1] == {"k": 2.5, "i": 2}


LITERALS = {"NaN": math.nan, "-NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf, "Inf": math.inf}
LITERALS["-Inf"] = -math.inf


@pytest.mark.parametrize("shape", ["ndjson", "array"])
@pytest.mark.parametrize("literal", sorted(LITERALS))
def test_one_policy_for_nan_and_infinity(parse_path, transform, literal, shape) -> None:
    records = [f'{{"k": {literal}, "n": [1.5, {literal}]}}', '{"k": 2.5, "n": []}']
    data = ("\n".join(records) if shape == "ndjson" else "[" + ",".join(records) + "]").encode()
    values = rows(transform(data))
    expected = LITERALS[literal]
    for got in (values[0]["k"], values[0]["n"][1]):
        assert (math.isnan(got) and math.isnan(expected)) or got == expected


@pytest.mark.parametrize("shape", ["ndjson", "array"])
@pytest.mark.parametrize("literal", ["nan", "+Infinity", "NAN", "inf", "+NaN"])
def test_other_spellings_are_invalid_on_both_paths(parse_path, transform, literal, shape) -> None:
    records = [f'{{"k": {literal}}}', '{"k": 2.5}']
    data = ("\n".join(records) if shape == "ndjson" else "[" + ",".join(records) + "]").encode()
    with pytest.raises(InputFormatError, match="invalid JSON"):
        transform(data)


@pytest.mark.parametrize(
    "data",
    [
        b'{"id": 1, "v": "a"}{"id": 2, "v": "}{"}{"id": 3, "v": null}',
        b'{"id": 1,\n "v": "a"}{"id": 2,\n "v": "}{"}  {"id": 3,\r\n"v": null}\n',
        b'{\n  "id": 1,\n  "v": "a"\n}\n{\n  "id": 2,\n  "v": "}{"\n}\n{"id": 3, "v": null}',
    ],
    ids=["firehose", "mixed", "pretty"],
)
@pytest.mark.parametrize("block_bytes", [5, 1 << 20])
def test_concatenated_objects_land(parse_path, transform, data, block_bytes) -> None:
    result = transform(data, block_bytes=block_bytes)
    assert rows(result) == [{"id": 1, "v": "a"}, {"id": 2, "v": "}{"}, {"id": 3, "v": None}]


@pytest.mark.parametrize(
    ("data", "reason", "line"),
    [
        (b'{"a": 1}{"a": 2} x {"a": 3}', "invalid JSON", 1),
        (b'{"a": 1}{"a": 2}\n[1]', "not an object", 2),
        (b'{"a": 1}\n{"a": \n', "invalid JSON", 2),
        (b'{"a": 1}{"a": 2,,}', "invalid JSON", 1),
    ],
)
def test_bad_concatenated_objects_say_where(transform, data, reason, line) -> None:
    with pytest.raises(InputFormatError) as caught:
        transform(data)
    assert reason in caught.value.reason
    assert caught.value.line == line


RECORDS = [{"id": 1, "name": "Bø 🙂"}, {"id": 2, "name": "ü"}]
TEXT = "\r\n".join(json.dumps(record, ensure_ascii=False) for record in RECORDS) + "\r\n"


@pytest.mark.parametrize(
    "encoded",
    [
        codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"),  # PowerShell 5 `Out-File`
        codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
        codecs.BOM_UTF32_LE + TEXT.encode("utf-32-le"),
        codecs.BOM_UTF32_BE + TEXT.encode("utf-32-be"),
        TEXT.encode("utf-16-le"),
        TEXT.encode("utf-32-be"),
        codecs.BOM_UTF8 + TEXT.encode(),
        gzip.compress(codecs.BOM_UTF16_LE + json.dumps(RECORDS, ensure_ascii=False).encode("utf-16-le")),
    ],
    ids=["utf16le-bom", "utf16be-bom", "utf32le-bom", "utf32be-bom", "utf16le", "utf32be", "utf8-bom", "gz-utf16"],
)
def test_utf16_and_utf32_land(transform, encoded) -> None:
    assert rows(transform(encoded, block_bytes=7)) == RECORDS


def test_invalid_utf16_names_the_encoding(transform) -> None:
    data = codecs.BOM_UTF16_LE + '{"a": "x'.encode("utf-16-le") + b"\x00\xd8" + '"}'.encode("utf-16-le")
    with pytest.raises(InputFormatError) as caught:
        transform(data)
    assert "UTF-16" in caught.value.reason


NDJSON = b'{"id": 1}\n{"id": 2}\n'


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress], ids=["gzip", "bzip2", "xz"])
def test_standard_library_compressions_land(transform, compress) -> None:
    assert rows(transform(compress(NDJSON))) == [{"id": 1}, {"id": 2}]


def test_zstd_lands_where_the_runtime_has_a_decoder(transform) -> None:
    import pyarrow as pa

    if not decoding.zstd_available():
        pytest.skip("no zstd decoder here; test_zstd_without_a_decoder_is_bad_input covers this runtime")
    data = pa.compress(NDJSON, codec="zstd", asbytes=True)
    assert rows(transform(data)) == [{"id": 1}, {"id": 2}]


def test_zstd_without_a_decoder_is_bad_input(monkeypatch, transform) -> None:
    monkeypatch.setattr(decoding, "_zstd_reader", lambda source: None)  # the AWS SDK for pandas layer's pyarrow
    with pytest.raises(InputFormatError) as caught:
        transform(b"\x28\xb5\x2f\xfd" + b"\x00" * 20)
    assert "zstd" in caught.value.reason and "gzip, bzip2, xz" in caught.value.expected
    assert "zstd" not in caught.value.expected


def zipped(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data.json", data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (b"id,name\n1,Ann\n", "CSV"),
        (b"id\tname\n1\tAnn\n", "CSV"),
        (zipped(NDJSON), "ZIP"),
        (b"PAR1\x15\x04", "Parquet"),
        (b"\x04\x22\x4d\x18\x64\x40", "LZ4"),
        (b"<?xml version='1.0'?><a/>", "XML"),
    ],
    ids=["csv", "tsv", "zip", "parquet", "lz4", "xml"],
)
def test_what_the_transform_cannot_read_is_named_with_what_it_can(transform, data, named) -> None:
    with pytest.raises(InputFormatError) as caught:
        transform(data)
    assert named in caught.value.reason
    for supported in ("NDJSON", "array of objects", "UTF-16", "gzip", "bzip2", "xz"):
        assert supported in caught.value.expected


@pytest.mark.parametrize("codec", ["gzip", "bzip2", "xz"])
def test_corrupt_compressed_data_names_the_codec(transform, codec) -> None:
    compress = {"gzip": gzip.compress, "bzip2": bz2.compress, "xz": lzma.compress}[codec]
    data = compress(NDJSON * 100)
    with pytest.raises(InputFormatError) as caught:
        transform(data[: len(data) // 2] + b"\x00" * 64 + data[len(data) // 2 :])
    assert f"corrupt {codec}" in caught.value.reason


@pytest.mark.parametrize("key", ["raw/orders/Data.JSON.BZ2", "raw/orders/Data.ndjson.zst", "raw/orders/Data.Json.XZ"])
def test_compression_suffixes_in_any_case_leave_the_output_stem(key) -> None:
    from datetime import UTC, datetime

    from pipeline.transform import output_name

    assert output_name(key, datetime(2024, 5, 1, tzinfo=UTC), "etag").stem == "Data"


def test_objects_back_to_back_on_an_ndjson_line_land_on_both_paths(parse_path, transform) -> None:
    # pyarrow (the fast path) reads `{...}{...}` on one line as two records; the exact path must agree
    result = transform(b'{"id": 1}\n{"id": 2}{"id": 3} {"id": 4}\n{"id": 5}\n')
    assert rows(result) == [{"id": n} for n in range(1, 6)]


def test_an_object_over_the_record_limit_is_bad_input(monkeypatch, transform) -> None:
    monkeypatch.setattr(config, "MAX_RECORD_BYTES", 1_000)
    with pytest.raises(InputFormatError, match="longer than the record limit"):
        transform(b'{"a": 1}{"b": "' + b"x" * 5_000 + b'"}', block_bytes=100)


def test_invalid_utf8_is_bad_input_and_valid_non_ascii_lands(parse_path, transform) -> None:
    # pyarrow.json does not check UTF-8: the fast path validates every block that is not pure ASCII
    good = '{"name": "Zoë", "city": "Kraków"}\n{"name": "Ann", "city": "Oslo"}\n'.encode()
    assert rows(transform(good)) == [{"name": "Zoë", "city": "Kraków"}, {"name": "Ann", "city": "Oslo"}]
    for bad in (b'{"name": "Zo\xeb"}\n', b'{"name": "ok"}\n{"na\xc3me": "x"}\n'):
        with pytest.raises(InputFormatError, match="invalid UTF-8") as caught:
            transform(good + bad)
        assert caught.value.line == 2 + bad.count(b"\n")  # a bad key too: the exact path says which line
