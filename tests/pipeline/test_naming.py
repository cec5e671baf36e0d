"""The naming contract (docs/transform.md, "The naming contract"), as properties over arbitrary Unicode.

Every name the pipeline writes is valid in Glue and Athena (lowercase [a-z0-9_], 1-255 characters:
https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html), deterministic, and never hidden
from Hive, Athena or the crawler (no file or folder name starting with `_` or `.`); top-level and child datasets
never share a name; data fields never take the partition key's or a pipeline column's name.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipeline import naming
from pipeline.schema import (
    CHILD_SYSTEM_COLUMNS,
    PARENT_SYSTEM_COLUMNS,
    RESERVED_COLUMNS,
    FileColumn,
    MemorySchemaStore,
    claim_dataset,
    merge_schema,
)
from pipeline.transform import output_name

# no timing assertion (deadline) and no example database left in the work tree: the tests never depend on speed
settings.register_profile("naming", deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("naming")

GLUE_NAME = re.compile(r"[a-z0-9_]{1,255}")
TOP_LEVEL = re.compile(r"[a-z0-9](?:[a-z0-9]|_(?!_))*")  # no '_' at either end, no '__'
# any Unicode text, lone surrogates included (they are valid JSON escapes: RFC 8259 section 8.2)
TEXT = st.text(st.characters(codec=None), max_size=300)
KEYS = st.one_of(
    TEXT,
    st.sampled_from(["dt", "DT", "_record_id", "_source_key", "_parent_record_id", "_position", "_", ".", " ", ""]),
)
PATHS = st.lists(KEYS, min_size=1, max_size=4).map(tuple)
FOLDERS = st.one_of(TEXT, st.sampled_from(["My-Data", "my_data", "MY DATA", "_staging", ".hidden", "2024-sales"]))


def visible(part: str) -> bool:
    return not part.startswith(("_", "."))


@given(PATHS)
@example(("Ünïcödé", "客户", "🎉"))
@example(("a" * 300,))
@example(("\ud83d",))  # a lone surrogate: hashed, not a UnicodeEncodeError
def test_column_names_are_valid_and_deterministic(path) -> None:
    name = naming.base_name(path)
    assert GLUE_NAME.fullmatch(name), name
    assert naming.base_name(list(path)) == name


@given(FOLDERS)
@example("2024-sales")
@example("_staging")
@example(".staging")
@example(" leading space")
@example("Überweisungen")
@example("日本語")
@example("x" * 500)
@example("\ud800")
def test_top_level_dataset_names_are_valid_visible_and_never_child_shaped(folder) -> None:
    name = naming.dataset_name(folder)
    assert TOP_LEVEL.fullmatch(name) and len(name) <= naming.MAX_DATASET, name
    assert naming.is_top_level_dataset(name)
    assert visible(name) and naming.CHILD_SEPARATOR not in name
    assert naming.dataset_name(folder) == name
    for candidate in naming.dataset_candidates(folder):
        assert naming.is_top_level_dataset(candidate), candidate


@pytest.mark.parametrize(
    ("folder", "dataset"),
    [
        ("2024-sales", "2024_sales"),
        ("_staging", "staging"),
        (".staging", "staging"),
        (" orders ", "orders"),
        ("Überweisungen", "uberweisungen"),
        ("My-Data", "my_data"),
        ("carts__items", "carts_items"),
        ("orders", "orders"),
    ],
)
def test_dataset_name_examples(folder, dataset) -> None:
    assert naming.dataset_name(folder) == dataset


@given(st.lists(PATHS, min_size=1, max_size=6), FOLDERS, FOLDERS)
def test_child_datasets_can_never_take_a_top_level_name(paths, parent_folder, other_folder) -> None:
    parent = naming.dataset_name(parent_folder)
    merged = merge_schema(None, parent, {}, paths)
    children = list(merged.child_datasets.values())
    assert len(set(children)) == len(set(paths))
    for child in children:
        assert GLUE_NAME.fullmatch(child) and visible(child), child
        assert naming.CHILD_SEPARATOR in child and not naming.is_top_level_dataset(child)
        assert child != naming.dataset_name(other_folder)
        grandchildren = merge_schema(None, child, {}, paths).child_datasets.values()
        for grandchild in grandchildren:
            assert GLUE_NAME.fullmatch(grandchild) and not naming.is_top_level_dataset(grandchild), grandchild
    assert merge_schema(None, parent, {}, list(reversed(paths))).child_datasets == merged.child_datasets


def test_carts_items_and_the_child_of_carts_items_are_two_datasets() -> None:
    child = merge_schema(None, "carts", {}, [("items",)]).child_datasets[("items",)]
    assert child == "carts__items"
    assert naming.dataset_name("carts_items") == "carts_items"
    assert naming.dataset_name("carts__items") == "carts_items"  # a folder cannot spell a child's name


@given(st.dictionaries(PATHS, st.sampled_from(["string", "bigint", "double"]), max_size=8), st.booleans())
@example({("dt",): "string", ("DT",): "string", ("_record_id",): "bigint"}, False)
@example({("_parent_record_id",): "string", ("_position",): "string", ("dt",): "bigint"}, True)
def test_data_fields_never_take_a_pipeline_name(columns, child_level) -> None:
    system = CHILD_SYSTEM_COLUMNS if child_level else PARENT_SYSTEM_COLUMNS
    file_columns = {path: FileColumn(kind) for path, kind in columns.items()}
    merged = merge_schema(None, "d", file_columns, (), system)
    names = [column["name"] for column in merged.record["columns"]]
    assert len(names) == len(set(names))
    for column in merged.record["columns"]:
        assert GLUE_NAME.fullmatch(column["name"])
        if column["path"] is None:
            continue
        assert column["name"] not in RESERVED_COLUMNS
        if column["name"] != naming.base_name(column["path"]):
            assert column["renamed_from"] == naming.base_name(column["path"]) and column["rename_reason"]
    again = merge_schema(None, "d", dict(reversed(list(file_columns.items()))), (), system)
    assert again.plan == merged.plan


def test_a_field_named_dt_is_renamed_and_the_mapping_recorded() -> None:
    merged = merge_schema(None, "sensor_readings", {("dt",): FileColumn("string"), ("value",): FileColumn("double")})
    entry = next(column for column in merged.record["columns"] if column["path"] == ["dt"])
    assert entry["name"] == f"dt_{naming.path_hash(['dt'])}"
    assert (entry["renamed_from"], entry["rename_reason"]) == ("dt", "partition key")
    assert merged.plan[("dt",)] == (entry["name"], "string")


@given(TEXT, FOLDERS, st.text(max_size=20))
@example("Überweisungen.json", "orders", "etag")
@example("_tmp.json", "_staging", "")
@example(".hidden.ndjson", "orders", "")
@example("   .json", "orders", "")
@example(" x.json", "orders", "")
@example("\ud800", "", "")  # hashed, not a UnicodeEncodeError
def test_output_object_keys_are_never_hidden(file_name, folder, etag) -> None:
    name = output_name(f"raw/{folder}/{file_name}", datetime(2024, 5, 1, 12, tzinfo=UTC), etag)
    key = name.key(naming.dataset_name(folder))
    assert all(visible(part) and part for part in key.split("/")), key
    assert key == output_name(f"raw/{folder}/{file_name}", datetime(2024, 5, 1, 12, tzinfo=UTC), etag).key(
        naming.dataset_name(folder)
    )
    assert len(key.encode()) <= 1024  # an S3 key's limit


def test_uberweisungen_becomes_a_visible_object() -> None:
    name = output_name("raw/orders/Überweisungen.json", datetime(2024, 5, 1, tzinfo=UTC), "e")
    assert name.stem == "Uberweisungen"


def test_folders_mapping_to_one_name_get_separate_datasets_and_keep_them() -> None:
    store = MemorySchemaStore()
    first = claim_dataset(store, "My-Data", "my_data")
    second = claim_dataset(store, "my_data", "my_data")
    third = claim_dataset(store, "MY DATA", "my_data")
    assert first == ("my_data", None)
    assert second == (f"my_data_{naming.path_hash(['my_data'], 8)}", "My-Data")
    assert third == (f"my_data_{naming.path_hash(['MY DATA'], 8)}", "My-Data")
    # a folder keeps its dataset whatever comes later
    assert claim_dataset(store, "MY DATA", "my_data") == third
    assert claim_dataset(store, "My-Data", "my_data") == first
    assert {store_record["folder"] for store_record in map(_record(store), ("my_data", second[0], third[0]))} == {
        "My-Data",
        "my_data",
        "MY DATA",
    }


@given(st.lists(FOLDERS, min_size=1, max_size=8))
@example(["\ud800", "\udc80"])  # lone surrogates: a CLI path's undecodable bytes arrive so (surrogateescape)
def test_claimed_datasets_are_distinct_per_folder_and_stable(folders) -> None:
    store = MemorySchemaStore()
    claimed = {folder: claim_dataset(store, folder)[0] for folder in folders}
    assert len(set(claimed.values())) == len(claimed)
    assert all(naming.is_top_level_dataset(dataset) for dataset in claimed.values())
    assert {folder: claim_dataset(store, folder)[0] for folder in reversed(folders)} == claimed


def test_a_record_written_before_claims_is_shared() -> None:
    store = MemorySchemaStore()
    legacy = merge_schema(None, "my_data", {("a",): FileColumn("string")}).record
    store.save("my_data", legacy, None)
    assert claim_dataset(store, "MY DATA", "my_data") == ("my_data", None)


def _record(store: MemorySchemaStore):
    return lambda dataset: store.load(dataset)[0]
