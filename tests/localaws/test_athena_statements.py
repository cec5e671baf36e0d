"""SHOW, DESCRIBE, MSCK REPAIR TABLE, views, CTAS, DROP and EXPLAIN; and what a query is billed for.

https://docs.aws.amazon.com/athena/latest/ug/ddl-reference.html, .../create-table-as.html, .../views.html
"""

from __future__ import annotations

import base64
import json

import pyarrow as pa
import pytest
from athena_tables import ORDERS_SCHEMA, Shop, result_rows, run_query

pytestmark = pytest.mark.localaws


@pytest.fixture(scope="module")
def shop(localaws):
    return Shop(localaws.endpoint)


def values(shop: Shop, sql: str) -> list[list[str | None]]:
    execution = run_query(shop, sql)
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    rows = result_rows(shop.athena, execution["QueryExecutionId"])[1]
    return rows[1:] if execution["StatementType"] == "DML" else rows  # a SELECT's first row is its header


def test_show_tables_databases_columns(shop: Shop) -> None:
    assert values(shop, "SHOW TABLES") == [["clickstream"], ["orders"], ["orders_items"]]
    assert values(shop, f"SHOW TABLES IN {shop.database} 'orders*'") == [["orders"], ["orders_items"]]
    assert [shop.database] in values(shop, "SHOW DATABASES")
    assert values(shop, "SHOW COLUMNS IN orders_items") == [
        ["_parent_record_id"],
        ["_position"],
        ["sku"],
        ["price"],
        ["qty"],
        ["tags"],
        ["dt"],
    ]
    execution = run_query(shop, "SHOW TABLES")
    assert execution["StatementType"] == "UTILITY"
    assert execution["ResultConfiguration"]["OutputLocation"].endswith(".txt")


def test_describe(shop: Shop) -> None:
    lines = [row[0] for row in values(shop, "DESCRIBE orders_items")]
    assert lines[0].split("\t")[0].strip() == "_parent_record_id"
    assert any(line.split("\t")[:2] == ["tags".ljust(20), "array<string>".ljust(20)] for line in lines)
    assert "# Partition Information" in lines


def test_msck_repair_adds_unregistered_partitions(shop: Shop) -> None:
    frame = shop.frames["orders"].head(3)
    table = pa.Table.from_pandas(frame.drop(columns="dt"), schema=ORDERS_SCHEMA, preserve_index=False)
    shop.put_parquet("processed/orders/dt=2024-05-01/part-0.parquet", table)
    assert ["dt=2024-05-01"] not in values(shop, "SHOW PARTITIONS orders")
    assert values(shop, "SELECT count(*) FROM orders WHERE dt = '2024-05-01'") == [["0"]]
    repaired = [row[0] for row in values(shop, "MSCK REPAIR TABLE orders")]
    assert "Repair: Added partition to metastore orders:dt=2024-05-01" in repaired
    assert ["dt=2024-05-01"] in values(shop, "SHOW PARTITIONS orders")
    assert values(shop, "SELECT count(*) FROM orders WHERE dt = '2024-05-01'") == [["3"]]


def test_views_are_stored_in_glue_and_survive(shop: Shop) -> None:
    values(
        shop, "CREATE VIEW paid AS SELECT order_id, amount, dt FROM orders WHERE status = 'paid' AND dt < '2024-04-01'"
    )
    stored = shop.glue.get_table(DatabaseName=shop.database, Name="paid")["Table"]
    assert stored["TableType"] == "VIRTUAL_VIEW"
    text = stored["ViewOriginalText"]
    assert text.startswith("/* Presto View: ") and text.endswith(" */")
    document = json.loads(base64.b64decode(text[len("/* Presto View: ") : -3]))
    assert document["originalSql"].startswith("SELECT order_id")
    paid = int((shop.frames["orders"].status == "paid").sum())
    assert values(shop, "SELECT count(*) FROM paid") == [[str(paid)]]
    values(
        shop,
        "CREATE OR REPLACE VIEW paid AS SELECT order_id FROM orders WHERE status = 'shipped' AND dt < '2024-04-01'",
    )
    shipped = int((shop.frames["orders"].status == "shipped").sum())
    assert values(shop, "SELECT count(*) FROM paid") == [[str(shipped)]]
    assert run_query(shop, "CREATE VIEW paid AS SELECT 1")["Status"]["State"] == "FAILED"
    values(shop, "DROP VIEW paid")
    assert run_query(shop, "SELECT * FROM paid")["Status"]["State"] == "FAILED"


def test_ctas_writes_parquet_and_registers_the_table(shop: Shop) -> None:
    location = f"s3://{shop.bucket}/ctas/city_totals/"
    rows = values(
        shop,
        f"CREATE TABLE city_totals WITH (format = 'PARQUET', external_location = '{location}', "
        "partitioned_by = ARRAY['dt']) AS SELECT customer_address_city AS city, sum(amount) AS total, dt "
        "FROM orders WHERE dt < '2024-04-01' GROUP BY customer_address_city, dt",
    )
    table = shop.glue.get_table(DatabaseName=shop.database, Name="city_totals")["Table"]
    assert table["StorageDescriptor"]["Location"] == location
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    keys = [o["Key"] for o in shop.s3.list_objects_v2(Bucket=shop.bucket, Prefix="ctas/city_totals/")["Contents"]]
    assert keys and all(k.endswith(".parquet") and "/dt=2024-03-0" in k for k in keys), keys
    assert int(rows[0][0]) == len(values(shop, "SELECT * FROM city_totals"))
    orders = shop.frames["orders"]
    expected = orders[orders.dt == "2024-03-02"].amount.sum()
    total = values(shop, "SELECT sum(total) FROM city_totals WHERE dt = '2024-03-02'")[0][0]
    assert float(total) == pytest.approx(expected)
    values(shop, "DROP TABLE city_totals")
    assert shop.s3.list_objects_v2(Bucket=shop.bucket, Prefix="ctas/city_totals/")["KeyCount"] > 0  # data stays
    assert values(shop, "DROP TABLE IF EXISTS city_totals") == []


def test_explain(shop: Shop) -> None:
    plan = [row[0] for row in values(shop, "EXPLAIN SELECT status, count(*) FROM orders GROUP BY status")]
    assert any("group by" in line.lower() for line in plan), plan
    assert run_query(shop, "EXPLAIN SELECT 1")["StatementType"] == "UTILITY"


def test_data_scanned_shrinks_with_partition_filter_and_fewer_columns(shop: Shop) -> None:
    def scanned(sql: str) -> int:
        return run_query(shop, sql)["Statistics"]["DataScannedInBytes"]

    everything = scanned("SELECT * FROM orders WHERE dt < '2024-04-01'")
    one_day = scanned("SELECT * FROM orders WHERE dt = '2024-03-01'")
    one_column = scanned("SELECT amount FROM orders WHERE dt < '2024-04-01'")
    assert 0 < one_day < everything
    assert 0 < one_column < everything
    assert scanned("SELECT amount FROM orders WHERE dt = '2024-03-01'") < one_column
