"""Drift across files: the merge table, and whole files of one dataset sharing one schema record."""

from __future__ import annotations

import itertools

import pyarrow.parquet as pq
import pytest
from pipeline_helpers import ndjson, read_outputs

from pipeline.schema import (
    PARENT_SYSTEM_COLUMNS,
    DirectorySchemaStore,
    FileColumn,
    MemorySchemaStore,
    ReadOnceSchemaStore,
    SchemaConflict,
    commit_schema,
    merge_schema,
)

pytestmark = pytest.mark.layer


def record_with(columns: dict[str, str]) -> dict:
    return merge_schema(None, "t", {(name,): FileColumn(kind) for name, kind in columns.items()}).record


MERGE = [
    # recorded, file type (max |int|), expected target column, new columns
    ("bigint", FileColumn("bigint", 5), ("p", "bigint"), []),
    ("double", FileColumn("bigint", 5), ("p", "double"), []),
    ("double", FileColumn("bigint", 2**60), ("p__bigint", "bigint"), ["p__bigint"]),
    ("decimal(38,0)", FileColumn("bigint", 2**62), ("p", "decimal(38,0)"), []),
    ("bigint", FileColumn("double"), ("p__double", "double"), ["p__double"]),
    ("bigint", FileColumn("string"), ("p__string", "string"), ["p__string"]),
    ("bigint", FileColumn("decimal(38,0)"), ("p__decimal_38_0", "decimal(38,0)"), ["p__decimal_38_0"]),
    ("string", FileColumn("bigint", 1), ("p", "string"), []),
    ("string", FileColumn("array<bigint>"), ("p", "string"), []),
    ("boolean", FileColumn("bigint", 1), ("p__bigint", "bigint"), ["p__bigint"]),
    ("bigint", FileColumn("null"), ("p", "bigint"), []),
    ("array<string>", FileColumn("array<bigint>"), ("p", "array<string>"), []),
    ("array<bigint>", FileColumn("array<string>"), ("p__array_string", "array<string>"), ["p__array_string"]),
    ("array<bigint>", FileColumn("bigint"), ("p__bigint", "bigint"), ["p__bigint"]),
]


@pytest.mark.parametrize(("recorded", "file_column", "target", "added"), MERGE)
def test_merge_table(recorded, file_column, target, added) -> None:
    record = record_with({"p": recorded})
    result = merge_schema(record, "t", {("p",): file_column})
    assert result.plan[("p",)] == target
    new_names = [c["name"] for c in result.record["columns"][len(record["columns"]) :]]
    assert new_names == added
    assert result.changed == bool(added)
    assert [c["type"] for c in result.record["columns"] if c["name"] == "p"] == [recorded]  # never changes


def test_merge_appends_new_columns_and_keeps_absent_ones() -> None:
    record = record_with({"a": "bigint", "b": "string"})
    result = merge_schema(record, "t", {("c",): FileColumn("double"), ("a",): FileColumn("bigint", 1)})
    names = [name for name, _kind in result.columns]
    assert names == [name for name, _ in PARENT_SYSTEM_COLUMNS] + ["a", "b", "c"]
    assert result.plan == {("a",): ("a", "bigint"), ("c",): ("c", "double")}


def test_variants_are_reused_not_duplicated() -> None:
    record = record_with({"p": "bigint"})
    once = merge_schema(record, "t", {("p",): FileColumn("string")}).record
    twice = merge_schema(once, "t", {("p",): FileColumn("string")})
    assert not twice.changed
    assert twice.plan[("p",)] == ("p__string", "string")
    third = merge_schema(once, "t", {("p",): FileColumn("boolean")})
    assert third.plan[("p",)] == ("p__string", "string")  # a variant that holds it losslessly is reused


def test_merge_does_not_mutate_the_record() -> None:
    record = record_with({"p": "bigint"})
    before = repr(record)
    merge_schema(record, "t", {("p",): FileColumn("string"), ("q",): FileColumn("bigint")})
    assert repr(record) == before


def test_commit_retries_on_a_lost_race() -> None:
    store = MemorySchemaStore()
    calls = []

    def merge(record):
        calls.append(record)
        if len(calls) == 1:  # someone else writes between our load and our save
            store.save("t", record_with({"other": "string"}), None)
        return merge_schema(record, "t", {("mine",): FileColumn("bigint")})

    result = commit_schema(store, "t", merge)
    assert [c["name"] for c in result.record["columns"]][-2:] == ["other", "mine"]
    assert store.load("t")[0] == result.record


class CountingStore(MemorySchemaStore):
    def __init__(self) -> None:
        super().__init__()
        self.loads = 0

    def load(self, dataset: str):
        self.loads += 1
        return super().load(dataset)


def test_read_once_store_reads_a_record_once_and_knows_what_it_wrote() -> None:
    inner = CountingStore()
    inner.save("t", record_with({"a": "bigint"}), None)
    store = ReadOnceSchemaStore(inner)
    record, token = store.load("t")
    assert store.load("t") == (record, token) and inner.loads == 1
    merged = merge_schema(record, "t", {("b",): FileColumn("bigint")}).record
    new_token = store.save("t", merged, token)
    assert store.load("t") == (merged, new_token) == inner.load("t")  # served as a load would give it back
    assert inner.loads == 2  # the check above; the view did not read


def test_read_once_store_reads_again_after_a_lost_race() -> None:
    """A commit on an earlier read loses to a newer record (the conditional write) and merges into the new one."""
    inner = CountingStore()
    inner.save("t", record_with({"a": "bigint"}), None)
    store = ReadOnceSchemaStore(inner)
    store.load("t")
    other = merge_schema(inner.load("t")[0], "t", {("other",): FileColumn("string")}).record
    inner.save("t", other, inner.load("t")[1])  # another writer, after our read
    result = commit_schema(store, "t", lambda record: merge_schema(record, "t", {("mine",): FileColumn("bigint")}))
    assert [c["name"] for c in result.record["columns"]][-3:] == ["a", "other", "mine"]
    assert inner.load("t")[0] == result.record == store.load("t")[0]


def test_directory_store_rejects_stale_tokens(tmp_path) -> None:
    store = DirectorySchemaStore(tmp_path)
    store.save("t", record_with({"a": "bigint"}), None)
    with pytest.raises(SchemaConflict):
        store.save("t", record_with({"b": "bigint"}), None)
    _record, token = store.load("t")
    store.save("t", record_with({"b": "bigint"}), token)


def test_files_of_one_dataset_share_one_parquet_schema(parse_path, transform) -> None:
    store = MemorySchemaStore()
    first = transform(ndjson([{"id": 1, "price": 10, "tags": ["a"]}]), store=store)
    second = transform(ndjson([{"id": "x-2", "price": 10.5, "extra": True}]), store=store)
    third = transform(ndjson([{"id": 3, "items": [{"sku": "A"}]}]), store=store)
    rows = read_outputs(second)["orders"][0]
    assert rows["id"] is None and rows["id__string"] == "x-2"
    assert rows["price"] is None and rows["price__double"] == 10.5
    assert rows["extra"] is True and rows["tags"] is None
    schemas = [pq.read_schema(result.outputs[0].path) for result in (first, second, third)]
    # each later file has a superset of the earlier columns, with identical types for the shared ones
    for earlier, later in itertools.pairwise(schemas):
        for field in earlier:
            assert later.field(field.name).type == field.type
    assert read_outputs(third)["orders__items"][0]["sku"] == "A"
