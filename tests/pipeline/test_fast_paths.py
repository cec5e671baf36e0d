"""The performance paths give the same Parquet as the plain ones.

- JSON arrays: the numpy scan (pipeline/array_scan.py) hands the elements to pyarrow.json as NDJSON; an array must
  give exactly the Parquet the same records give as NDJSON, whatever the strings hold, the layout and where the
  block boundaries fall. Malformed arrays still fail with their line and byte.
- Early write (pipeline/early_write.py): the Parquet written while parsing, on a guessed schema, must equal the
  Parquet written after the parse, whether the guess holds or the schema changes late.
"""

from __future__ import annotations

import io
import json
import random
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pipeline_helpers import EVENT_TIME, ndjson

from pipeline import config, early_write, parse_ahead, writer
from pipeline import transform as transform_module
from pipeline.early_write import EarlyWriter
from pipeline.formats import InputFormatError, iter_blocks, open_input
from pipeline.schema import MemorySchemaStore, SchemaStore
from pipeline.transform import TransformResult, transform_file

pytestmark = pytest.mark.layer

SOURCE_KEY = "raw/orders/batch.json"  # both sides use the same key and identity: the same lineage ids and names


def run(
    data: bytes,
    out_dir: Path,
    block_bytes: int = config.BLOCK_BYTES,
    store: SchemaStore | None = None,
    row_group_bytes: int = config.ROW_GROUP_BYTES,
) -> TransformResult:
    return transform_file(
        io.BytesIO(data),
        dataset="orders",
        out_dir=out_dir,
        source_key=SOURCE_KEY,
        schema_store=store if store is not None else MemorySchemaStore(),
        event_time=EVENT_TIME,
        identity="etag",
        settings=config.Settings(block_bytes=block_bytes, row_group_bytes=row_group_bytes),
    )


def parquet_of(result: TransformResult) -> dict[str, pa.Table]:
    """Relative output key -> its table (ParquetFile, not read_table: that would add `dt` from the folder)."""
    return {output.key: pq.ParquetFile(output.path).read() for output in result.outputs}


def assert_same_parquet(actual: TransformResult, expected: TransformResult, *, ordered: bool = True) -> None:
    """Same files, types, rows and values; `ordered`: the columns in the same order too.

    Column order is the order of first appearance, which depends on the blocking when a nested field only appears
    in a later block (one block lists `o.k` where `o` first appeared): inputs split into different blocks are
    compared by column name.
    """
    actual_tables, expected_tables = parquet_of(actual), parquet_of(expected)
    assert actual_tables.keys() == expected_tables.keys()
    for key, table in expected_tables.items():
        if ordered:
            assert actual_tables[key].schema.equals(table.schema, check_metadata=False), key
        else:
            assert dict(zip(actual_tables[key].schema.names, actual_tables[key].schema.types, strict=True)) == dict(
                zip(table.schema.names, table.schema.types, strict=True)
            ), key
        assert actual_tables[key].to_pylist() == table.to_pylist(), key
    outputs = [(o.dataset, o.rows, o.columns if ordered else sorted(o.columns.items())) for o in actual.outputs]
    assert outputs == [
        (o.dataset, o.rows, o.columns if ordered else sorted(o.columns.items())) for o in expected.outputs
    ]


def assert_scanned(data: bytes, block_bytes: int) -> None:
    """Every block of the array came from the scan (NDJSON bytes), not from the element-by-element fallback."""
    blocks = list(iter_blocks(open_input(io.BytesIO(data)), block_bytes))
    assert blocks
    assert all(block.records is None and block.array_source is not None for block in blocks)


def assert_array_matches_ndjson(tmp_path: Path, records: list[dict[str, Any]], array: bytes, block_bytes: int) -> None:
    assert_scanned(array, block_bytes)
    from_array = run(array, tmp_path / "array", block_bytes)
    from_ndjson = run(ndjson(records), tmp_path / "ndjson")  # one block
    assert from_array.rows == len(records)
    assert from_array.fast_blocks > 0
    assert_same_parquet(from_array, from_ndjson, ordered=block_count(array, block_bytes) == 1)


TRICKY: dict[str, list[dict[str, Any]]] = {
    "quotes": [{"id": 1, "s": 'he said "hi"'}, {"id": 2, "s": '"'}, {"id": 3, "s": '""quoted""'}],
    "backslashes": [
        {"id": 1, "s": "C:\\dir\\"},  # a string ending in a backslash: the quote after it is not escaped
        {"id": 2, "s": "\\\\"},
        {"id": 3, "s": '\\"'},  # an escaped backslash then an escaped quote
        {"id": 4, "s": "\\\\\\"},
    ],
    "structural characters in strings": [
        {"id": 1, "s": "{", "t": "}"},
        {"id": 2, "s": "[", "t": "]"},
        {"id": 3, "s": "},{", "t": "],["},
        {"id": 4, "s": ", ,", "t": '{"id": 5}'},
        {"id": 5, "s": "]", "t": "[{"},
    ],
    "escaped newlines and controls": [
        {"id": 1, "s": "line\nbreak", "t": "tab\there"},
        {"id": 2, "s": "\r\n},\n{", "t": "\u0001"},
    ],
    "unicode": [
        {"id": 1, "s": "héllo wörld", "t": "☃"},
        {"id": 2, "s": "😀 emoji", "t": "中文, {字}"},
        {"id": 3, "s": "\u2028\u2029", "t": "é" * 40},
    ],
    "nested": [
        {"id": 1, "customer": {"name": "A", "address": {"city": "X, {y}"}}, "items": [{"sku": "a", "tags": ["x"]}]},
        {"id": 2, "customer": {"name": "B]", "address": {"city": "Z"}}, "items": [{"sku": "b", "tags": ["]", "["]}]},
        {"id": 3, "matrix": [[1, 2], [3]], "items": []},
    ],
    "empty objects and arrays": [
        {"id": 1, "o": {}, "a": []},
        {"id": 2, "o": {"k": 1}, "a": [1]},
        {"id": 3, "o": {}, "a": []},
    ],
}


def layouts(records: list[dict[str, Any]]) -> dict[str, bytes]:
    return {
        "compact": json.dumps(records, separators=(",", ":")).encode(),
        "spaced": json.dumps(records).encode(),
        "one per line": b"[\n" + b",\n".join(json.dumps(r).encode() for r in records) + b"\n]\n",
        "comma first": b"[ " + b"\n, ".join(json.dumps(r).encode() for r in records) + b" ]",
        "pretty": json.dumps(records, indent=2).encode(),
        "pretty unicode": json.dumps(records, indent=4, ensure_ascii=False).encode(),
        "crlf pretty": json.dumps(records, indent=1, ensure_ascii=False).replace("\n", "\r\n").encode(),
    }


@pytest.mark.parametrize("block_bytes", [13, 97, config.BLOCK_BYTES])
@pytest.mark.parametrize("layout", list(layouts([])))
@pytest.mark.parametrize("case", list(TRICKY))
def test_array_gives_the_parquet_of_ndjson(tmp_path: Path, case: str, layout: str, block_bytes: int) -> None:
    records = TRICKY[case] * 4  # several elements per window, so boundaries fall between and inside them
    assert_array_matches_ndjson(tmp_path, records, layouts(records)[layout], block_bytes)


@pytest.mark.parametrize("block_bytes", [13, 97, config.BLOCK_BYTES])
def test_objects_split_over_lines_inside_an_element_are_not_taken_for_elements(
    tmp_path: Path, block_bytes: int
) -> None:
    # every newline sits in `},\n{`, as in one element per line, but the first two lines are one element
    records = [{"a": [{"x": 1}, {"y": 2}], "n": i} for i in range(3)] + [{"b": 1}]
    array = b"[\n" + b",\n".join(json.dumps(r).replace("}, {", "},\n{").encode() for r in records) + b"\n]\n"
    assert array.count(b"},\n{") == array.count(b"\n") - 3 and json.loads(array) == records
    assert_array_matches_ndjson(tmp_path, records, array, block_bytes)


@pytest.mark.parametrize("block_bytes", [13, 97, config.BLOCK_BYTES])
def test_brackets_in_strings_do_not_hide_an_element_split_over_lines(tmp_path: Path, block_bytes: int) -> None:
    # each line holds as many bracket bytes opening as closing, but only because of the strings: the first two
    # lines are still one element, and a window ending after the first must carry it over whole
    records = [{"a": [{"x": "]}"}, {"y": "[{"}], "n": i} for i in range(3)] + [{"b": "}]"}]
    array = b"[\n" + b",\n".join(json.dumps(r).replace("}, {", "},\n{").encode() for r in records) + b"\n]\n"
    assert json.loads(array) == records
    assert_array_matches_ndjson(tmp_path, records, array, block_bytes)


@pytest.mark.parametrize(
    ("later", "kind"), [([1, 2], "array<bigint>"), ([1.5], "array<double>"), ("text", "string"), (5, "string")]
)
def test_a_block_of_empty_arrays_does_not_decide_the_element_type(tmp_path: Path, later: Any, kind: str) -> None:
    """Blocks holding only `[]` type the column array<string>; a later block's elements decide, as in one block."""
    records = [{"id": 1, "a": []}, {"id": 2, "a": None}, {"id": 3, "a": later}, {"id": 4, "a": []}]
    split = run(ndjson(records), tmp_path / "split", block_bytes=13)
    whole = run(ndjson(records), tmp_path / "whole")
    assert split.outputs[0].columns["a"] == kind
    assert_same_parquet(split, whole)


def random_string(rng: random.Random) -> str:
    alphabet = ['"', "\\", "{", "}", "[", "]", ",", ":", "\n", "\t", " ", "a", "z", "0", "é", "☃", "😀", "\u0000"]
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))


def random_record(rng: random.Random, index: int) -> dict[str, Any]:
    record: dict[str, Any] = {"id": index, "name": random_string(rng)}
    if rng.random() < 0.7:
        record["customer"] = {"note": random_string(rng), "address": {"city": random_string(rng)}}
    if rng.random() < 0.8:
        record["items"] = [
            {"sku": random_string(rng), "qty": rng.randint(0, 9), "tags": [random_string(rng)] * rng.randint(0, 3)}
            for _ in range(rng.randint(0, 3))
        ]
    if rng.random() < 0.3:
        record["extra"] = {}
    if rng.random() < 0.5:
        record["price"] = rng.randint(0, 10_000) / 100
    return record


@pytest.mark.parametrize(("seed", "block_bytes", "indent"), [(1, 300, None), (2, 700, 2), (3, 4096, None)])
def test_random_nested_array_gives_the_parquet_of_ndjson(
    tmp_path: Path, seed: int, block_bytes: int, indent: int | None
) -> None:
    rng = random.Random(seed)
    records = [random_record(rng, index) for index in range(300)]
    array = json.dumps(records, indent=indent, ensure_ascii=rng.random() < 0.5).encode()
    assert_array_matches_ndjson(tmp_path, records, array, block_bytes)


GOOD = [{"id": i, "s": f"row {i}, {{x}}"} for i in range(40)]
GOOD_LINES = [json.dumps(r) for r in GOOD]


@pytest.mark.parametrize(
    ("label", "data", "reason", "line", "byte_offset"),
    [
        (
            "invalid literal inside an element the scan accepts",
            ("[\n" + ",\n".join(GOOD_LINES) + ',\n{"id": tru}\n]').encode(),
            "invalid JSON",
            42,
            len(("[\n" + ",\n".join(GOOD_LINES) + ',\n{"id": ').encode()),
        ),
        (
            "missing comma between elements",
            ("[\n" + ",\n".join(GOOD_LINES) + '\n{"id": 99}\n]').encode(),
            "unexpected '{' between array elements",
            42,
            len(("[\n" + ",\n".join(GOOD_LINES) + "\n").encode()),
        ),
        (
            "trailing comma",
            ("[" + ",".join(GOOD_LINES) + ",]").encode(),
            "invalid JSON",
            1,
            len(("[" + ",".join(GOOD_LINES) + ",").encode()),
        ),
        (
            "data after the closing bracket",
            ("[" + ",".join(GOOD_LINES) + '] {"id": 1}').encode(),
            "data after the end of the top-level array",
            1,
            len(("[" + ",".join(GOOD_LINES) + "]").encode()),
        ),
        (
            "unclosed array",
            ("[\n" + ",\n".join(GOOD_LINES) + "\n").encode(),
            "unexpected end of input inside the array",
            42,
            len(("[\n" + ",\n".join(GOOD_LINES) + "\n").encode()),
        ),
    ],
)
@pytest.mark.parametrize("block_bytes", [64, config.BLOCK_BYTES])
def test_malformed_array_reports_line_and_byte(
    tmp_path: Path, label: str, data: bytes, reason: str, line: int, byte_offset: int, block_bytes: int
) -> None:
    with pytest.raises(InputFormatError) as caught:
        run(data, tmp_path / "out", block_bytes)
    error = caught.value
    assert error.reason.startswith(reason), error
    assert (error.line, error.byte_offset) == (line, byte_offset), error
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("*.parquet"))


def test_cli_quarantines_a_malformed_array_with_line_and_byte(tmp_path: Path) -> None:
    source = tmp_path / "in" / "orders" / "broken.json"
    source.parent.mkdir(parents=True)
    prefix = "[\n" + ",\n".join(GOOD_LINES * 50) + ',\n{"id": '
    source.write_bytes((prefix + 'nul, "s": "x"}\n]').encode())
    out = tmp_path / "out"
    assert transform_module.main([str(source), "--out", str(out), "--strict"]) == 1
    report = json.loads((out / config.QUARANTINE_PREFIX / "orders" / "broken.json.error.json").read_text())
    assert report["error"] == "InputFormatError"
    assert report["reason"].startswith("invalid JSON")
    assert (report["line"], report["byte_offset"]) == (2002, len(prefix.encode()))
    assert not list(out.rglob("*.parquet"))


# ---- early write ----


@pytest.fixture
def early_outcomes(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Records, per transform, whether the early files were kept (True) or dropped for the late write (False)."""
    outcomes: list[bool] = []
    finish = EarlyWriter.finish

    def recording(self: EarlyWriter, final: Any) -> Any:
        written = finish(self, final)
        outcomes.append(written is not None)
        return written

    monkeypatch.setattr(EarlyWriter, "finish", recording)
    return outcomes


def run_late_only(monkeypatch: pytest.MonkeyPatch, data: bytes, out_dir: Path, **kwargs: Any) -> TransformResult:
    """The transform with the early write off: offered no block, the writer has no guess and `finish` declines."""
    with monkeypatch.context() as patch:
        patch.setattr(EarlyWriter, "offer", lambda self, schemas, spilled: None)
        return run(data, out_dir, **kwargs)


def assert_same_files(early: TransformResult, late: TransformResult) -> None:
    """Byte for byte: the early files are only kept when they are what the late write would produce."""
    assert_same_parquet(early, late)
    assert [Path(o.path).read_bytes() for o in early.outputs] == [Path(o.path).read_bytes() for o in late.outputs]


def block_count(data: bytes, block_bytes: int) -> int:
    return len(list(iter_blocks(open_input(io.BytesIO(data)), block_bytes)))


STABLE = [
    {"id": i, "price": i / 4, "customer": {"name": f"c{i}"}, "items": [{"sku": f"s{i}", "qty": i % 3}]}
    for i in range(200)
]


def late_change(name: str) -> list[dict[str, Any]]:
    records = [dict(record) for record in STABLE]
    if name == "int becomes string":
        records[180]["qty_total"] = "many"
        for record in records[:180]:
            record["qty_total"] = record["id"] * 2
    elif name == "late field":
        records[190]["coupon"] = "SAVE10"
    elif name == "int widens to double":
        records[199]["id"] = 199.5
    elif name == "late child dataset":
        records[185]["refunds"] = [{"amount": 3}]
    elif name == "child column changes type":
        records[195]["items"] = [{"sku": "s195", "qty": "two"}]
    return records


@pytest.mark.parametrize("shape", ["ndjson", "array"])
@pytest.mark.parametrize(
    "change",
    ["int becomes string", "late field", "int widens to double", "late child dataset", "child column changes type"],
)
def test_early_write_with_a_late_schema_change_equals_the_late_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, early_outcomes: list[bool], shape: str, change: str
) -> None:
    records = late_change(change)
    data = ndjson(records) if shape == "ndjson" else json.dumps(records).encode()
    block_bytes = 1024
    assert block_count(data, block_bytes) >= 10
    early = run(data, tmp_path / "early", block_bytes)
    assert early_outcomes == [False]  # the guess from the first blocks did not hold: rewritten from the spill
    late = run_late_only(monkeypatch, data, tmp_path / "late", block_bytes=block_bytes)
    assert_same_files(early, late)
    assert early.rows == len(records)


@pytest.mark.parametrize("shape", ["ndjson", "array"])
def test_early_write_with_a_stable_schema_equals_the_late_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, early_outcomes: list[bool], shape: str
) -> None:
    data = ndjson(STABLE) if shape == "ndjson" else json.dumps(STABLE, indent=2).encode()
    block_bytes = 1024
    assert block_count(data, block_bytes) >= 10
    early = run(data, tmp_path / "early", block_bytes)
    assert early_outcomes == [True]  # the early files were kept
    late = run_late_only(monkeypatch, data, tmp_path / "late", block_bytes=block_bytes)
    assert_same_files(early, late)
    assert {o.dataset for o in early.outputs} == {o.dataset for o in late.outputs} and len(early.outputs) == 2
    assert not list((tmp_path / "early").rglob("early-*"))  # the early files were moved to their final keys


def test_early_write_against_an_existing_record_equals_the_late_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, early_outcomes: list[bool]
) -> None:
    """The guess starts from the stored record: a column it already widened, and one only it knows, still match."""
    first = [{"id": 0.5, "only_in_record": "x", "customer": {"name": "c"}, "items": [{"sku": "a", "qty": 1}]}]
    data = ndjson(STABLE)
    early_store, late_store = MemorySchemaStore(), MemorySchemaStore()
    run(ndjson(first), tmp_path / "seed-early", store=early_store)
    run(ndjson(first), tmp_path / "seed-late", store=late_store)
    early = run(data, tmp_path / "early", 1024, store=early_store)
    assert early_outcomes[-1] is True  # the guess included the stored record, and it held
    late = run_late_only(monkeypatch, data, tmp_path / "late", block_bytes=1024, store=late_store)
    assert_same_files(early, late)
    assert early.outputs[0].columns["id"] == "double"
    assert "only_in_record" in early.outputs[0].columns


@pytest.fixture
def spill_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Per block and level: "write" (spilled to Arrow IPC) or "hold" (left in the early Parquet file)."""
    calls: list[str] = []
    write, hold = writer.Spill.write, writer.Spill.hold

    def recording_write(self: writer.Spill, table: pa.Table, **kwargs: Any) -> None:
        calls.append("write")
        write(self, table, **kwargs)

    def recording_hold(self: writer.Spill, table: pa.Table) -> None:
        calls.append("hold")
        hold(self, table)

    monkeypatch.setattr(writer.Spill, "write", recording_write)
    monkeypatch.setattr(writer.Spill, "hold", recording_hold)
    return calls


def read_back_case(name: str) -> list[dict[str, Any]]:
    """Blocks the early file holds, then a change at the end that sends them back through the late write."""
    records = [dict(record) for record in STABLE]
    for index, record in enumerate(records):
        record["note"] = None if index < 60 else f"n{index}"  # null-typed in the first blocks, strings later
        record["tags"] = [] if index < 40 else ["a", None][: index % 3]  # empty lists, then strings and nulls
        if 20 <= index < 50:
            record["items"] = []  # blocks whose child table has no rows
        if index % 7 == 0:
            record["customer"] = None  # an object elsewhere: a null that adds no column
    if name == "late field":
        records[199]["coupon"] = "SAVE10"
    elif name == "int widens to double":
        records[199]["id"] = 199.5
    elif name == "child column becomes string":
        records[198]["items"] = [{"sku": "s", "qty": "two"}]
    return records


@pytest.mark.parametrize("row_groups", ["one per block", "a few blocks each", "7 rows each", "default"])
@pytest.mark.parametrize("change", ["late field", "int widens to double", "child column becomes string", "none"])
def test_blocks_held_by_the_early_file_are_read_back_for_the_late_write(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    early_outcomes: list[bool],
    spill_calls: list[str],
    change: str,
    row_groups: str,
) -> None:
    row_group_bytes = {"one per block": 1, "a few blocks each": 2_000}.get(row_groups, config.ROW_GROUP_BYTES)
    if row_groups == "7 rows each":  # blocks span row groups
        monkeypatch.setattr(config, "ROW_GROUP_MAX_ROWS", 7)
    data = ndjson(read_back_case(change))
    early = run(data, tmp_path / "early", 1024, row_group_bytes=row_group_bytes)
    assert early_outcomes == [change == "none"]
    assert spill_calls.count("hold") >= 10  # most blocks never went to Arrow IPC
    if change == "none":
        assert "write" not in spill_calls
    spill_calls.clear()
    late = run_late_only(monkeypatch, data, tmp_path / "late", block_bytes=1024, row_group_bytes=row_group_bytes)
    assert "hold" not in spill_calls
    assert_same_files(early, late)


def test_a_file_is_closed_while_another_file_is_still_being_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, early_outcomes: list[bool]
) -> None:
    """At the end of the parse each early file's close waits for that file's own queued blocks only: the parent's
    last row group is encoded while the child dataset's writer is still busy, instead of after it."""
    monkeypatch.setattr(early_write, "MAX_QUEUED_BLOCKS", 10_000)  # nothing waits on the held-up writer meanwhile
    release, parent_closed = threading.Event(), threading.Event()
    add, close = writer.ParquetOutput.add, writer.ParquetOutput.close

    def held_up_child_add(self: writer.ParquetOutput, block: pa.Table, nbytes: int) -> None:
        if self.destination.name == "early-001.parquet":  # the child dataset's file (the parent's is opened first)
            release.wait(60)
        add(self, block, nbytes)

    def recording_close(self: writer.ParquetOutput) -> int:
        size = close(self)
        if self.destination.name == "early-000.parquet":
            parent_closed.set()
        return size

    monkeypatch.setattr(writer.ParquetOutput, "add", held_up_child_add)
    monkeypatch.setattr(writer.ParquetOutput, "close", recording_close)
    data = ndjson(STABLE)
    assert block_count(data, 1024) >= 10
    results: list[TransformResult] = []
    transform = threading.Thread(target=lambda: results.append(run(data, tmp_path / "early", 1024)))
    transform.start()
    try:
        closed_first = parent_closed.wait(30)
    finally:
        release.set()
        transform.join()
    assert closed_first, "the parent's file was closed only after the child's writer had finished"
    assert early_outcomes == [True] and results[0].rows == len(STABLE)


def test_a_failed_early_write_drops_its_files_only_after_their_closes_ended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Disk full while the child dataset's blocks are still queued at the end of the parse: the transform fails,
    and no early file is dropped (`abort`) while its writer thread is still closing it."""
    monkeypatch.setattr(early_write, "MAX_QUEUED_BLOCKS", 10_000)  # the failure surfaces in finish(), not before
    aborting = threading.Event()
    closing: set[str] = set()
    overlaps: list[str] = []
    add, close, abort = writer.ParquetOutput.add, writer.ParquetOutput.close, writer.ParquetOutput.abort

    def full_disk_for_the_child(self: writer.ParquetOutput, block: pa.Table, nbytes: int) -> None:
        if self.destination.name == "early-001.parquet":
            raise OSError(28, "No space left on device")
        add(self, block, nbytes)

    def slow_close(self: writer.ParquetOutput) -> int:
        closing.add(self.destination.name)
        aborting.wait(2)  # an abort() that does not wait for this close comes in meanwhile
        try:
            return close(self)
        finally:
            closing.discard(self.destination.name)

    def recording_abort(self: writer.ParquetOutput) -> None:
        aborting.set()
        if self.destination.name in closing:
            overlaps.append(self.destination.name)
        abort(self)

    monkeypatch.setattr(writer.ParquetOutput, "add", full_disk_for_the_child)
    monkeypatch.setattr(writer.ParquetOutput, "close", slow_close)
    monkeypatch.setattr(writer.ParquetOutput, "abort", recording_abort)
    data = ndjson(STABLE)
    assert block_count(data, 1024) >= 10
    with pytest.raises(OSError, match="No space left"):
        run(data, tmp_path / "out", 1024)
    assert overlaps == []
    assert not list(tmp_path.rglob("*.parquet"))


def no_threads(*_args: Any, **_kwargs: Any) -> Any:
    raise AssertionError("a thread was started for a one-block input")


@pytest.mark.parametrize("shape", ["ndjson", "array"])
@pytest.mark.parametrize("change", ["none", "a field in the last record"])
def test_a_one_block_file_is_written_in_the_callers_thread_as_the_late_write_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, early_outcomes: list[bool], shape: str, change: str
) -> None:
    """A small file (a burst's 10 rows): parsed and written with no thread started, the same bytes as the late write
    (and as a many-block run of the same records, by value)."""
    records = STABLE[:10] if change == "none" else [*STABLE[:9], {**STABLE[9], "coupon": "SAVE10"}]
    data = ndjson(records) if shape == "ndjson" else json.dumps(records).encode()
    assert block_count(data, config.BLOCK_BYTES) == 1
    with monkeypatch.context() as patch:
        patch.setattr(early_write, "ThreadPoolExecutor", no_threads)
        patch.setattr(parse_ahead, "ThreadPoolExecutor", no_threads)
        patch.setattr(transform_module, "ThreadPoolExecutor", no_threads)
        small = run(data, tmp_path / "small")
    assert early_outcomes == [True]  # one block: the guess is the final plan
    late = run_late_only(monkeypatch, data, tmp_path / "late")
    assert_same_files(small, late)
    many = run(data, tmp_path / "many", block_bytes=256)
    assert block_count(data, 256) > 3
    assert_same_parquet(small, many, ordered=False)
    assert small.rows == len(records) and len(small.outputs) == 2
