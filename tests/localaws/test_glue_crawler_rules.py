"""Pure rules of the local Glue crawler: Arrow -> Hive types, exclusion globs, and table/partition grouping.

Each rule cites the AWS document it follows; no server, no I/O.
"""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from localaws.glue_crawler.catalog import next_columns
from localaws.glue_crawler.hive_types import columns_from_metadata, hive_type
from localaws.glue_crawler.layout import (
    CrawledFile,
    CrawlerSettings,
    IncludePath,
    is_excluded,
    plan_tables,
    skip_reason,
    table_name,
)

# Athena's Hive DDL types (https://docs.aws.amazon.com/athena/latest/ug/data-types.html) for what a Glue crawler records
# from a Parquet footer (https://docs.aws.amazon.com/glue/latest/dg/add-classifier.html).
HIVE_TYPES = [
    (pa.int64(), "bigint"),
    (pa.int32(), "int"),
    (pa.int16(), "smallint"),
    (pa.int8(), "tinyint"),
    (pa.uint8(), "smallint"),
    (pa.uint16(), "int"),
    (pa.uint32(), "bigint"),
    (pa.uint64(), "bigint"),
    (pa.float64(), "double"),
    (pa.float32(), "float"),
    (pa.bool_(), "boolean"),
    (pa.string(), "string"),
    (pa.large_string(), "string"),
    (pa.binary(), "binary"),
    (pa.timestamp("ms"), "timestamp"),
    (pa.timestamp("us"), "timestamp"),
    (pa.timestamp("us", tz="UTC"), "timestamp"),
    (pa.timestamp("ns"), "bigint"),  # TIMESTAMP(NANOS): Glue falls back to INT64 (pitfall P10)
    (pa.date32(), "date"),
    (pa.decimal128(10, 2), "decimal(10,2)"),
    (pa.decimal128(38, 9), "decimal(38,9)"),
    (pa.list_(pa.int64()), "array<bigint>"),
    (pa.list_(pa.string()), "array<string>"),
    (pa.struct([("a", pa.int32()), ("b", pa.string())]), "struct<a:int,b:string>"),
    (pa.map_(pa.string(), pa.float64()), "map<string,double>"),
    (pa.dictionary(pa.int32(), pa.string()), "string"),
    (pa.list_(pa.struct([("x", pa.list_(pa.date32()))])), "array<struct<x:array<date>>>"),
]


@pytest.mark.parametrize(("arrow_type", "expected"), HIVE_TYPES, ids=[str(t) for t, _ in HIVE_TYPES])
def test_hive_type_of_arrow_type(arrow_type: pa.DataType, expected: str) -> None:
    assert hive_type(arrow_type) == expected


@pytest.mark.parametrize(("arrow_type", "expected"), HIVE_TYPES, ids=[str(t) for t, _ in HIVE_TYPES])
def test_hive_type_survives_a_parquet_round_trip(arrow_type: pa.DataType, expected: str) -> None:
    """What pyarrow reads back from a real footer maps to the same Hive type."""
    table = pa.table({"Col": pa.array([None], pa.null()).cast(arrow_type) if not pa.types.is_dictionary(arrow_type)
                      else pa.array(["a"]).dictionary_encode()})  # fmt: skip
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    buffer.seek(0)
    assert columns_from_metadata(pq.read_metadata(buffer)) == [("col", expected)]


def test_int96_timestamps_stay_timestamps() -> None:
    """INT96 is the legacy Hive/Impala timestamp; pyarrow reads it as timestamp[ns] but Glue types it timestamp."""
    buffer = io.BytesIO()
    pq.write_table(pa.table({"ts": pa.array([1], pa.timestamp("ns"))}), buffer, use_deprecated_int96_timestamps=True)
    buffer.seek(0)
    assert columns_from_metadata(pq.read_metadata(buffer)) == [("ts", "timestamp")]


# Include/exclude patterns: https://docs.aws.amazon.com/glue/latest/dg/define-crawler-choose-data-sources.html
@pytest.mark.parametrize(
    ("key", "pattern", "excluded"),
    [
        ("a.json", "*.json", True),
        ("orders/dt=1/a.json", "*.json", False),  # '*' does not cross a folder boundary
        ("orders/dt=1/a.json", "**.json", True),  # '**' does
        ("orders/dt=1/a.parquet", "**.json", False),
        ("tmp/x/y.parquet", "tmp/**", True),
        ("tmp/x/y.parquet", "tmp", True),  # a matching folder excludes what is below it
        ("orders/a.csv", "**.{csv,json}", True),
        ("orders/a1.parquet", "orders/a?.parquet", True),
        ("orders/ab.parquet", "orders/a[!b].parquet", False),
        ("orders/ac.parquet", "orders/a[!b].parquet", True),
    ],
)
def test_exclusion_globs(key: str, pattern: str, excluded: bool) -> None:
    assert is_excluded(key, pattern) is excluded


@pytest.mark.parametrize(
    ("key", "size", "reason"),
    [
        ("orders/", 0, "folder marker"),
        ("orders/_SUCCESS", 0, "hidden or marker name"),
        ("orders/.part-0.crc", 12, "hidden or marker name"),
        ("orders/_tmp/part-0.parquet", 100, "hidden or marker name"),
        ("orders/dt=1/part-0.parquet", 100, None),
    ],
)
def test_skipped_objects(key: str, size: int, reason: str | None) -> None:
    assert skip_reason(key, size, []) == reason


def _file(key: str, columns: dict[str, str], modified: float = 0.0, rows: int = 1) -> CrawledFile:
    return CrawledFile(key, 100, modified, tuple(columns.items()), rows)


ORDERS = {"order_id": "bigint", "amount": "double", "customer": "string", "ts": "timestamp"}
CLICKS = {"url": "string", "session": "string", "clicked_at": "timestamp"}
TWO_DATASETS = [
    _file("processed/orders/dt=2024-01-01/a.parquet", ORDERS),
    _file("processed/orders/dt=2024-01-02/b.parquet", ORDERS),
    _file("processed/clicks/dt=2024-01-01/c.parquet", CLICKS),
]


def _layout(plans) -> dict[str, tuple[str, list[str], list[tuple[str, ...]]]]:
    return {p.name: (p.location, p.partition_keys, sorted(x.values for x in p.partitions)) for p in plans}


def test_dissimilar_dataset_folders_become_separate_tables() -> None:
    """Default policy: schemas that are not similar at a folder level give one table per folder
    (https://docs.aws.amazon.com/glue/latest/dg/crawler-s3-folder-table-partition.html)."""
    plans = plan_tables(IncludePath.parse("s3://bkt/processed/"), TWO_DATASETS, CrawlerSettings())
    assert _layout(plans) == {
        "orders": ("s3://bkt/processed/orders/", ["dt"], [("2024-01-01",), ("2024-01-02",)]),
        "clicks": ("s3://bkt/processed/clicks/", ["dt"], [("2024-01-01",)]),
    }


def test_similar_folders_become_partitions_named_partition_n() -> None:
    """The doc's bucket01/folder1/table1|table2 example: similar schemas -> one table, partition_0 and partition_1."""
    files = [_file(f"folder1/{t}/{p}/file.parquet", ORDERS) for t, p in
             [("table1", "partition1"), ("table1", "partition2"), ("table2", "partition4")]]  # fmt: skip
    plans = plan_tables(IncludePath.parse("s3://bucket01/folder1/"), files, CrawlerSettings())
    assert _layout(plans) == {
        "folder1": (
            "s3://bucket01/folder1/",
            ["partition_0", "partition_1"],
            [("table1", "partition1"), ("table1", "partition2"), ("table2", "partition4")],
        )
    }


def test_sales_example_gives_one_table_with_three_hive_keys() -> None:
    """The doc's sales/year=2019/month=Jan/day=1 example: one table, partition keys year, month, day."""
    files = [_file(f"sales/year=2019/month={m}/day={d}/f.parquet", ORDERS) for m in ("Jan", "Feb") for d in (1, 2)]
    plans = plan_tables(IncludePath.parse("s3://bkt/sales/"), files, CrawlerSettings())
    assert _layout(plans)["sales"][1:] == (["year", "month", "day"], sorted(
        [("2019", m, str(d)) for m in ("Jan", "Feb") for d in (1, 2)]))  # fmt: skip


def test_grouping_policy_example_default_and_combined() -> None:
    """https://docs.aws.amazon.com/glue/latest/dg/crawler-grouping-policy.html: A,B vs C,D under year=2017|2018 gives
    tables year_2017 and year_2018 by default, and one table A,B,C,D keyed by year with CombineCompatibleSchemas."""
    files = [
        _file("table1/year=2017/data1.parquet", {"a": "int", "b": "int"}),
        _file("table1/year=2018/data2.parquet", {"c": "int", "d": "int"}),
    ]
    include = IncludePath.parse("s3://bkt/table1/")
    assert sorted(p.name for p in plan_tables(include, files, CrawlerSettings())) == ["year_2017", "year_2018"]
    (combined,) = plan_tables(include, files, CrawlerSettings(combine_compatible_schemas=True))
    assert (combined.name, combined.partition_keys) == ("table1", ["year"])
    assert combined.columns == [("a", "int"), ("b", "int"), ("c", "int"), ("d", "int")]


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (3, {"orders": ["dt"], "clicks": ["dt"]}),  # bucket = 1, processed = 2, <dataset> = 3
        (2, {"processed": ["partition_0", "dt"]}),
    ],
)
def test_table_level_configuration_sets_the_table_root(level: int, expected: dict[str, list[str]]) -> None:
    """https://docs.aws.amazon.com/glue/latest/dg/crawler-configuration.html (TableLevelConfiguration, absolute)."""
    settings = CrawlerSettings(table_level=level, combine_compatible_schemas=True)
    plans = plan_tables(IncludePath.parse("s3://bkt/processed/"), TWO_DATASETS, settings)
    assert {p.name: p.partition_keys for p in plans} == expected


def test_columns_first_seen_order_and_newest_type_wins() -> None:
    files = [
        _file("t/dt=1/a.parquet", {"id": "int", "x": "string"}, modified=1),
        _file("t/dt=2/b.parquet", {"id": "bigint", "y": "double"}, modified=2),
    ]
    (plan,) = plan_tables(IncludePath.parse("s3://bkt/t/"), files, CrawlerSettings(combine_compatible_schemas=True))
    assert plan.columns == [("id", "bigint"), ("x", "string"), ("y", "double")]


def test_table_names_are_sanitised_and_prefixed() -> None:
    assert table_name("processed/Web-Clicks.v2/", "bkt", "raw_") == "raw_web_clicks_v2"
    assert table_name("", "my-bucket") == "my_bucket"


@pytest.mark.parametrize(
    ("policy", "merge", "expected"),
    [
        ("UPDATE_IN_DATABASE", False, [("id", "bigint"), ("new", "string")]),  # replaced by the crawled schema
        ("UPDATE_IN_DATABASE", True, [("id", "int"), ("gone", "string"), ("new", "string")]),  # add new columns only
        ("LOG", False, [("id", "int"), ("gone", "string")]),  # ignore the change
    ],
)
def test_schema_change_policy(policy: str, merge: bool, expected: list[tuple[str, str]]) -> None:
    """https://docs.aws.amazon.com/glue/latest/dg/crawler-configuration.html (schema change policy, MergeNewColumns)."""
    settings = CrawlerSettings(update_behavior=policy, merge_new_columns=merge)
    columns, changes = next_columns(
        [("id", "int"), ("gone", "string")], [("id", "bigint"), ("new", "string")], settings
    )
    assert columns == expected
    assert "column id type int -> bigint" in changes


def test_settings_from_crawler_configuration() -> None:
    crawler = {
        "Configuration": json.dumps(
            {
                "Version": 1.0,
                "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas", "TableLevelConfiguration": 3},
                "CrawlerOutput": {
                    "Partitions": {"AddOrUpdateBehavior": "InheritFromTable"},
                    "Tables": {"AddOrUpdateBehavior": "MergeNewColumns", "TableThreshold": 5},
                },
            }
        ),
        "SchemaChangePolicy": {"UpdateBehavior": "LOG", "DeleteBehavior": "DELETE_FROM_DATABASE"},
        "TablePrefix": "etl_",
    }
    assert CrawlerSettings.from_crawler(crawler) == CrawlerSettings(
        table_level=3,
        combine_compatible_schemas=True,
        partitions_inherit_from_table=True,
        merge_new_columns=True,
        update_behavior="LOG",
        delete_behavior="DELETE_FROM_DATABASE",
        table_prefix="etl_",
        table_threshold=5,
    )
