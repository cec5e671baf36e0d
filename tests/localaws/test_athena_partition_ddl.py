"""ALTER TABLE ADD/DROP PARTITION, PARTITION ... SET LOCATION and partition projection, on localaws.

- https://docs.aws.amazon.com/athena/latest/ug/alter-table-add-partition.html
- https://docs.aws.amazon.com/athena/latest/ug/alter-table-drop-partition.html
- https://docs.aws.amazon.com/athena/latest/ug/partition-projection.html and
  https://docs.aws.amazon.com/athena/latest/ug/partition-projection-supported-types.html
"""

from __future__ import annotations

import datetime as dt

import pytest
from athena_tables import OPENX, Shop, result_rows, succeeded
from athena_tables import failed as failure
from athena_tables import put_object as put
from athena_tables import unique_table_name as name

from localaws.athena import projection
from localaws.athena.catalog import Table


def values(shop: Shop, sql: str) -> list[list[str | None]]:
    execution = succeeded(shop, sql)
    rows = result_rows(shop.athena, execution["QueryExecutionId"])[1]
    return rows[1:] if execution["StatementType"] == "DML" else rows


def glue_partitions(shop: Shop, table: str) -> dict[tuple[str, ...], str]:
    pages = shop.glue.get_paginator("get_partitions").paginate(DatabaseName=shop.database, TableName=table)
    return {tuple(p["Values"]): p["StorageDescriptor"]["Location"] for page in pages for p in page["Partitions"]}


@pytest.mark.localaws
def test_alter_table_add_and_drop_partition(shop: Shop) -> None:
    table = name()
    base = f"s3://{shop.bucket}/json/{table}/"
    put(shop, f"json/{table}/day=1/region=eu/a.json", b'{"id": "a"}\n')
    put(shop, f"elsewhere/{table}/b.json", b'{"id": "b"}\n{"id": "c"}\n')
    succeeded(
        shop,
        f"CREATE EXTERNAL TABLE {table} (id string) PARTITIONED BY (day int, region string) "
        f"ROW FORMAT SERDE '{OPENX}' LOCATION '{base}'",
    )
    assert values(shop, f"SELECT count(*) FROM {table}") == [["0"]]  # nothing registered, nothing read
    succeeded(
        shop,
        f"ALTER TABLE {table} ADD PARTITION (day=1, region='eu') "
        f"PARTITION (region = 'us', day = 2) LOCATION 's3://{shop.bucket}/elsewhere/{table}/'",
    )
    assert glue_partitions(shop, table) == {
        ("1", "eu"): f"{base}day=1/region=eu/",
        ("2", "us"): f"s3://{shop.bucket}/elsewhere/{table}/",
    }
    assert values(shop, f"SELECT day, region, count(*) FROM {table} GROUP BY 1, 2 ORDER BY 1") == [
        ["1", "eu", "1"],
        ["2", "us", "2"],
    ]
    assert values(shop, f"SHOW PARTITIONS {table}") == [["day=1/region=eu"], ["day=2/region=us"]]
    again = f"ALTER TABLE {table} ADD PARTITION (day=1, region='eu')"
    assert failure(shop, again).startswith("ALREADY_EXISTS")
    succeeded(shop, f"ALTER TABLE {table} ADD IF NOT EXISTS PARTITION (day=1, region='eu')")
    assert "INVALID_PARTITION_SPEC" in failure(shop, f"ALTER TABLE {table} ADD PARTITION (day=3)")
    succeeded(shop, f"ALTER TABLE {table} DROP PARTITION (day=2, region='us')")
    assert values(shop, f"SELECT id FROM {table}") == [["a"]]
    assert failure(shop, f"ALTER TABLE {table} DROP PARTITION (day=2, region='us')").startswith("PARTITION_NOT_FOUND")
    succeeded(shop, f"ALTER TABLE {table} DROP IF EXISTS PARTITION (day=2, region='us')")
    succeeded(
        shop, f"ALTER TABLE {table} PARTITION (day=1, region='eu') SET LOCATION 's3://{shop.bucket}/elsewhere/{table}/'"
    )
    assert sorted(values(shop, f"SELECT id FROM {table}")) == [["b"], ["c"]]
    assert shop.s3.list_objects_v2(Bucket=shop.bucket, Prefix=f"json/{table}/")["KeyCount"] == 1  # data stays


@pytest.mark.localaws
def test_partition_projection_ignores_glue_and_prunes_by_projected_values(shop: Shop) -> None:
    table = name()
    for day in ("2024-06-01", "2024-06-02", "2024-06-03", "2024-07-01"):
        put(shop, f"logs/{table}/{day.replace('-', '/')}/a.json", f'{{"id": "{day}"}}\n'.encode())
    succeeded(
        shop,
        f"CREATE EXTERNAL TABLE {table} (id string) PARTITIONED BY (dt string) ROW FORMAT SERDE '{OPENX}' "
        f"LOCATION 's3://{shop.bucket}/logs/{table}/' TBLPROPERTIES ("
        "'projection.enabled'='true', 'projection.dt.type'='date', 'projection.dt.range'='2024/06/01,2024/06/30', "
        "'projection.dt.format'='yyyy/MM/dd', 'projection.dt.interval'='1', 'projection.dt.interval.unit'='DAYS', "
        f"'storage.location.template'='s3://{shop.bucket}/logs/{table}/${{dt}}/')",
    )
    # a partition registered in Glue is ignored once projection is on
    succeeded(
        shop,
        f"ALTER TABLE {table} ADD PARTITION (dt='2024/07/01') LOCATION 's3://{shop.bucket}/logs/{table}/2024/07/01/'",
    )
    assert values(shop, f"SELECT id FROM {table} ORDER BY id") == [["2024-06-01"], ["2024-06-02"], ["2024-06-03"]]
    one = succeeded(shop, f"SELECT id FROM {table} WHERE dt = '2024/06/02'")
    assert result_rows(shop.athena, one["QueryExecutionId"])[1][1:] == [["2024-06-02"]]
    assert one["Statistics"]["DataScannedInBytes"] == len(b'{"id": "2024-06-02"}\n')  # one file read
    assert values(shop, f"SELECT count(*) FROM {table} WHERE dt >= '2024/06/02'") == [["2"]]


@pytest.mark.localaws
def test_integer_enum_and_injected_projection(shop: Shop) -> None:
    table = name()
    for region, hour in (("eu", "07"), ("us", "08"), ("ap", "07")):
        put(shop, f"p/{table}/region={region}/hour={hour}/device=d1/a.json", f'{{"id": "{region}{hour}"}}\n'.encode())
    succeeded(
        shop,
        f"CREATE EXTERNAL TABLE {table} (id string) PARTITIONED BY (region string, hour int, device string) "
        f"ROW FORMAT SERDE '{OPENX}' LOCATION 's3://{shop.bucket}/p/{table}/' TBLPROPERTIES ("
        "'projection.enabled'='true', 'projection.region.type'='enum', 'projection.region.values'='eu,us', "
        "'projection.hour.type'='integer', 'projection.hour.range'='0,23', 'projection.hour.digits'='2', "
        "'projection.device.type'='injected')",
    )
    assert values(shop, f"SELECT id, hour FROM {table} WHERE device = 'd1' ORDER BY id") == [
        ["eu07", "7"],
        ["us08", "8"],
    ]
    reason = failure(shop, f"SELECT id FROM {table}")
    assert reason.startswith("CONSTRAINT_VIOLATION: For the injected projected partition column device")
    assert values(shop, f"SELECT id FROM {table} WHERE device IN ('d1', 'd2') AND hour = 8") == [["us08"]]


def test_projected_dates_relative_to_now_and_java_formats() -> None:
    raw = {
        "Parameters": {
            "projection.enabled": "true",
            "projection.dt.type": "date",
            "projection.dt.range": "NOW-2DAYS,NOW",
            "projection.dt.format": "yyyy-MM-dd'T'HH",
            "projection.dt.interval": "12",
            "projection.dt.interval.unit": "HOURS",
        },
        "PartitionKeys": [{"Name": "dt", "Type": "string"}],
        "StorageDescriptor": {"Location": "s3://b/t/"},
    }
    now = dt.datetime(2024, 3, 1, 6, 30)
    found = projection.partitions(Table("d", "t", raw), [None], now=now)
    assert [values["dt"] for values, _ in found] == [
        "2024-02-28T06", "2024-02-28T18", "2024-02-29T06", "2024-02-29T18", "2024-03-01T06",
    ]  # fmt: skip
    assert found[0][1] == "s3://b/t/dt=2024-02-28T06/"
    raw["Parameters"] |= {"projection.dt.range": "NOW-1MONTHS,NOW", "projection.dt.format": "yyyy-MM",
                          "projection.dt.interval": "1", "projection.dt.interval.unit": "MONTHS"}  # fmt: skip
    found = projection.partitions(Table("d", "t", raw), [None], now=dt.datetime(2024, 3, 31))
    assert [values["dt"] for values, _ in found] == ["2024-02", "2024-03"]


@pytest.mark.localaws
def test_rename_partition_set_location_and_serde_properties(shop: Shop) -> None:
    table = name()
    put(shop, f"r/{table}/dt=a/x.json", b'{"id": "1"}\n')
    put(shop, f"moved/{table}/x.json", b'{"id": "2"}\nnot json\n')
    succeeded(
        shop,
        f"CREATE EXTERNAL TABLE {table} (id string) PARTITIONED BY (dt string) ROW FORMAT SERDE '{OPENX}' "
        f"LOCATION 's3://{shop.bucket}/r/{table}/'",
    )
    succeeded(shop, f"MSCK REPAIR TABLE {table}")
    succeeded(shop, f"ALTER TABLE {table} PARTITION (dt='a') RENAME TO PARTITION (dt='b')")
    assert glue_partitions(shop, table) == {("b",): f"s3://{shop.bucket}/r/{table}/dt=a/"}  # the folder stays
    assert values(shop, f"SELECT id, dt FROM {table}") == [["1", "b"]]
    unpartitioned = name()
    succeeded(
        shop,
        f"CREATE EXTERNAL TABLE {unpartitioned} (id string) ROW FORMAT SERDE '{OPENX}' "
        f"LOCATION 's3://{shop.bucket}/r/{unpartitioned}/'",
    )
    succeeded(shop, f"ALTER TABLE {unpartitioned} SET LOCATION 's3://{shop.bucket}/moved/{table}/'")
    assert failure(shop, f"SELECT id FROM {unpartitioned}").startswith("HIVE_CURSOR_ERROR")
    succeeded(shop, f"ALTER TABLE {unpartitioned} SET SERDEPROPERTIES ('ignore.malformed.json' = 'true')")
    assert values(shop, f"SELECT id FROM {unpartitioned} ORDER BY id") == [["2"], [None]]


@pytest.mark.localaws
def test_show_create_table_prints_serde_and_table_properties(shop: Shop) -> None:
    table = name()
    succeeded(
        shop,
        f"CREATE EXTERNAL TABLE {table} (id string) ROW FORMAT SERDE '{OPENX}' "
        "WITH SERDEPROPERTIES ('ignore.malformed.json'='true') "
        f"LOCATION 's3://{shop.bucket}/r/{table}/' TBLPROPERTIES ('projection.enabled'='false')",
    )
    text = "\n".join(row[0] for row in values(shop, f"SHOW CREATE TABLE {table}"))
    assert f"  '{OPENX}'\nWITH SERDEPROPERTIES (\n  'ignore.malformed.json'='true',\n" in text
    assert text.endswith(
        "TBLPROPERTIES (\n  'EXTERNAL'='TRUE',\n  'classification'='json',\n  'projection.enabled'='false')"
    )
