"""CTAS, INSERT INTO, UNLOAD and ALTER TABLE as the Athena clients (awswrangler, dbt-athena) use them.

https://docs.aws.amazon.com/athena/latest/ug/create-table-as.html, .../insert-into.html, .../unload.html,
.../alter-table-set-tblproperties.html, .../alter-table-add-columns.html; the data manifest:
https://docs.aws.amazon.com/athena/latest/ug/querying.html#querying-identifying-output-files
"""

from __future__ import annotations

import io
import uuid

import pyarrow.parquet as pq
import pytest
from athena_tables import Shop, result_rows, run_query, wait_for_query

pytestmark = pytest.mark.localaws


@pytest.fixture(scope="module")
def shop(localaws):
    return Shop(localaws.endpoint)


def succeeded(shop: Shop, sql: str, **extra) -> dict:
    execution = run_query(shop, sql, **extra)
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    return execution


def values(shop: Shop, sql: str) -> list[list[str | None]]:
    execution = succeeded(shop, sql)
    rows = result_rows(shop.athena, execution["QueryExecutionId"])[1]
    return rows[1:] if execution["StatementType"] == "DML" else rows


def keys(shop: Shop, prefix: str) -> list[str]:
    pages = shop.s3.get_paginator("list_objects_v2").paginate(Bucket=shop.bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def manifest(shop: Shop, execution: dict) -> list[str]:
    location = execution["Statistics"]["DataManifestLocation"]
    assert location == f"{shop.output}{execution['QueryExecutionId']}-manifest.csv"
    bucket, key = location.removeprefix("s3://").split("/", 1)
    return shop.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()


def name() -> str:
    return f"t_{uuid.uuid4().hex[:8]}"


def test_ctas_writes_a_data_manifest_and_reports_rows_and_bytes(shop: Shop) -> None:
    """awswrangler's read_sql_query(ctas_approach=True) reads the files the manifest lists; without it, nothing."""
    table = name()
    execution = succeeded(
        shop,
        f'CREATE TABLE "{shop.database}"."{table}"\nWITH(\n    external_location = '
        f"'s3://{shop.bucket}/wr/{table}',\n    format = 'PARQUET'\n)\nAS SELECT order_id, amount FROM orders",
    )
    files = manifest(shop, execution)
    assert files == [f"s3://{shop.bucket}/{k}" for k in keys(shop, f"wr/{table}/")]
    assert sum(pq.read_table(io.BytesIO(shop.s3.get_object(Bucket=shop.bucket, Key=k)["Body"].read())).num_rows
               for k in keys(shop, f"wr/{table}/")) == len(shop.frames["orders"])  # fmt: skip
    assert execution["Statistics"]["DataScannedInBytes"] > 0
    page = shop.athena.get_query_results(QueryExecutionId=execution["QueryExecutionId"])
    assert page["UpdateCount"] == len(shop.frames["orders"])
    assert execution["StatementType"] == "DDL"


def test_ctas_without_location_writes_under_the_output_tables_folder(shop: Shop) -> None:
    table = name()
    execution = succeeded(shop, f"CREATE TABLE {table} AS SELECT order_id FROM orders WHERE dt = '2024-03-01'")
    location = shop.glue.get_table(DatabaseName=shop.database, Name=table)["Table"]["StorageDescriptor"]["Location"]
    assert location == f"{shop.output}tables/{execution['QueryExecutionId']}/"
    assert all(url.startswith(location) for url in manifest(shop, execution))


def test_ctas_buckets_compression_and_three_part_names(shop: Shop) -> None:
    table = name()
    succeeded(
        shop,
        f'CREATE TABLE "awsdatacatalog"."{shop.database}"."{table}" WITH (format = \'parquet\', '
        f"external_location = 's3://{shop.bucket}/bucketed/{table}/', partitioned_by = ARRAY['dt'], "
        "bucketed_by = ARRAY['customer_id'], bucket_count = 3, write_compression = 'SNAPPY') "
        "AS SELECT order_id, customer_id, amount, dt FROM orders",
    )
    stored = shop.glue.get_table(DatabaseName=shop.database, Name=table)["Table"]
    assert stored["StorageDescriptor"]["BucketColumns"] == ["customer_id"]
    assert stored["StorageDescriptor"]["NumberOfBuckets"] == 3
    written = keys(shop, f"bucketed/{table}/")
    for day in ("2024-03-01", "2024-03-02", "2024-03-03"):
        in_day = [k for k in written if f"/dt={day}/" in k]
        assert 1 <= len(in_day) <= 3 and all("_bucket-0000" in k for k in in_day), written
    body = shop.s3.get_object(Bucket=shop.bucket, Key=written[0])["Body"].read()
    assert pq.ParquetFile(io.BytesIO(body)).metadata.row_group(0).column(0).compression == "SNAPPY"
    assert values(shop, f'SELECT count(*) FROM "awsdatacatalog"."{shop.database}"."{table}"') == [
        [str(len(shop.frames["orders"]))]
    ]
    succeeded(shop, f'DROP TABLE "awsdatacatalog"."{shop.database}"."{table}"')


def test_ctas_with_no_data_registers_an_empty_table(shop: Shop) -> None:
    table = name()
    execution = succeeded(
        shop, f"CREATE TABLE {table} WITH (external_location = 's3://{shop.bucket}/nodata/{table}/') "
        "AS SELECT order_id, amount FROM orders WITH NO DATA",
    )  # fmt: skip
    assert manifest(shop, execution) == []
    assert values(shop, f"SELECT count(*) FROM {table}") == [["0"]]


def test_quoted_database_in_the_execution_context(shop: Shop) -> None:
    """awswrangler sends Database='`db`' for describe_table, show_create_table and repair_table."""
    for quoted in (f"`{shop.database}`", f'"{shop.database}"'):
        for sql in ("DESCRIBE orders", "SELECT count(*) FROM orders", "SHOW CREATE TABLE orders"):
            query_id = shop.athena.start_query_execution(
                QueryString=sql, QueryExecutionContext={"Database": quoted}, WorkGroup=shop.work_group
            )["QueryExecutionId"]
            execution = wait_for_query(shop.athena, query_id)
            assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]


def test_three_part_names_in_ddl(shop: Shop) -> None:
    """dbt-athena names every relation "awsdatacatalog"."schema"."name"."""
    view = name()
    qualified = f'"awsdatacatalog"."{shop.database}"."{view}"'
    succeeded(shop, f"create or replace view {qualified} as select order_id, amount from orders")
    succeeded(shop, f"create or replace view {qualified} as select order_id from orders")
    assert values(shop, f"select count(*) from {qualified}") == [[str(len(shop.frames["orders"]))]]
    assert [r[0].split("\t")[0].strip() for r in values(shop, f"DESCRIBE `{shop.database}`.`{view}`")] == ["order_id"]
    succeeded(shop, f"drop view if exists {qualified}")
    failed = run_query(shop, f'DROP TABLE "othercatalog"."{shop.database}"."{view}"')
    assert failed["Status"]["State"] == "FAILED"
    assert "CATALOG_NOT_FOUND" in failed["Status"]["StateChangeReason"]


def test_insert_into_adds_files_and_registers_partitions(shop: Shop) -> None:
    table = name()
    location = f"s3://{shop.bucket}/insert/{table}/"
    succeeded(
        shop,
        f"CREATE TABLE {table} WITH (external_location = '{location}', partitioned_by = ARRAY['dt']) "
        "AS SELECT order_id, amount, dt FROM orders WHERE dt = '2024-03-01'",
    )
    before = int(values(shop, f"SELECT count(*) FROM {table}")[0][0])
    execution = succeeded(
        shop, f'insert into "awsdatacatalog"."{shop.database}"."{table}" '
        "SELECT order_id, amount, dt FROM orders WHERE dt IN ('2024-03-01', '2024-03-02')",
    )  # fmt: skip
    orders = shop.frames["orders"]
    added = int(orders.dt.isin(["2024-03-01", "2024-03-02"]).sum())
    assert shop.athena.get_query_results(QueryExecutionId=execution["QueryExecutionId"])["UpdateCount"] == added
    assert execution["StatementType"] == "DML"
    assert int(values(shop, f"SELECT count(*) FROM {table}")[0][0]) == before + added
    assert values(shop, f"SHOW PARTITIONS {table}") == [["dt=2024-03-01"], ["dt=2024-03-02"]]
    assert sorted(manifest(shop, execution)) == sorted(
        f"s3://{shop.bucket}/{k}" for k in keys(shop, f"insert/{table}/") if execution["QueryExecutionId"] in k
    )
    succeeded(shop, f"INSERT INTO {table} (order_id, dt) VALUES ('x-1', '2024-03-09')")
    assert values(shop, f"SELECT order_id, amount FROM {table} WHERE dt = '2024-03-09'") == [["x-1", None]]


def test_a_failed_insert_leaves_the_table_as_it_was(shop: Shop) -> None:
    table = name()
    succeeded(
        shop,
        f"CREATE TABLE {table} WITH (external_location = 's3://{shop.bucket}/failed/{table}/', "
        "partitioned_by = ARRAY['dt']) AS SELECT order_id, quantity, dt FROM orders",
    )
    files = keys(shop, f"failed/{table}/")
    count = values(shop, f"SELECT count(*) FROM {table}")
    for bad in (
        f"INSERT INTO {table} SELECT order_id, customer_name, dt FROM orders",  # varchar into bigint
        f"INSERT INTO {table} SELECT order_id, dt FROM orders",  # too few columns
        f"INSERT INTO {table} SELECT order_id, quantity, nope FROM orders",
    ):
        execution = run_query(shop, bad)
        assert execution["Status"]["State"] == "FAILED", bad
        assert "DataManifestLocation" not in execution["Statistics"]
    assert keys(shop, f"failed/{table}/") == files
    assert values(shop, f"SELECT count(*) FROM {table}") == count


def test_unload_writes_parquet_with_partitions_and_a_manifest(shop: Shop) -> None:
    prefix = f"unload/{uuid.uuid4().hex[:8]}/"
    execution = succeeded(
        shop,
        f"UNLOAD (SELECT order_id, amount, dt FROM orders) TO 's3://{shop.bucket}/{prefix}' "
        "WITH (format = 'PARQUET', compression = 'SNAPPY', partitioned_by = ARRAY['dt'])",
    )
    written = keys(shop, prefix)
    assert {k.split("/")[2] for k in written} == {"dt=2024-03-01", "dt=2024-03-02", "dt=2024-03-03"}
    assert manifest(shop, execution) == [f"s3://{shop.bucket}/{k}" for k in written]
    table = pq.read_table(io.BytesIO(shop.s3.get_object(Bucket=shop.bucket, Key=written[0])["Body"].read()))
    assert table.column_names == ["order_id", "amount"]
    page = shop.athena.get_query_results(QueryExecutionId=execution["QueryExecutionId"])
    assert page["UpdateCount"] == len(shop.frames["orders"])
    again = run_query(shop, f"UNLOAD (SELECT 1 AS x) TO 's3://{shop.bucket}/{prefix}' WITH (format = 'PARQUET')")
    assert again["Status"]["State"] == "FAILED"
    assert "HIVE_PATH_ALREADY_EXISTS" in again["Status"]["StateChangeReason"]


def test_alter_table_set_tblproperties_and_add_columns(shop: Shop) -> None:
    table = name()
    succeeded(shop, f"CREATE TABLE {table} AS SELECT order_id FROM orders WHERE dt = '2024-03-01'")
    succeeded(
        shop, f"alter table `{shop.database}`.`{table}` set tblproperties ('classification' = 'parquet', 'x'='1')"
    )
    stored = shop.glue.get_table(DatabaseName=shop.database, Name=table)["Table"]
    assert stored["Parameters"]["x"] == "1"
    succeeded(shop, f"ALTER TABLE {table} ADD COLUMNS (note string COMMENT 'free text', qty bigint)")
    columns = shop.glue.get_table(DatabaseName=shop.database, Name=table)["Table"]["StorageDescriptor"]["Columns"]
    assert [c["Name"] for c in columns] == ["order_id", "note", "qty"]
    assert values(shop, f"SELECT count(*) FROM {table} WHERE note IS NULL")[0][0] != "0"
    failed = run_query(shop, f"ALTER TABLE {table} ADD COLUMNS (note string)")
    assert "COLUMN_ALREADY_EXISTS" in failed["Status"]["StateChangeReason"]


def test_create_external_table_as_sqlalchemy_emits_it(shop: Shop) -> None:
    """pyathena's SQLAlchemy dialect: metadata.create_all, then INSERT ... VALUES, then SELECT."""
    table = name()
    location = f"s3://{shop.bucket}/external/{table}/"
    succeeded(
        shop,
        f"\nCREATE EXTERNAL TABLE {shop.database}.{table} (\n\tid INT, \n\tname STRING COMMENT 'who', \n"
        f"\ttags ARRAY<STRING>\n) COMMENT 'made by SQLAlchemy' PARTITIONED BY (day STRING) STORED AS PARQUET "
        f"LOCATION '{location}' TBLPROPERTIES ('parquet.compress'='SNAPPY')\n\n",
    )
    stored = shop.glue.get_table(DatabaseName=shop.database, Name=table)["Table"]
    assert [(c["Name"], c["Type"]) for c in stored["StorageDescriptor"]["Columns"]] == [
        ("id", "int"),
        ("name", "string"),
        ("tags", "array<string>"),
    ]
    assert stored["StorageDescriptor"]["Columns"][1]["Comment"] == "who"
    assert stored["PartitionKeys"] == [{"Name": "day", "Type": "string"}]
    assert stored["StorageDescriptor"]["Location"] == location
    assert stored["Parameters"]["classification"] == "parquet"
    assert stored["Description"] == "made by SQLAlchemy"
    succeeded(shop, f"INSERT INTO {shop.database}.{table} (id, name, day) VALUES (1, 'a', 'x'), (2, 'b', 'y')")
    assert values(shop, f"SELECT id, name, day FROM {table} ORDER BY id") == [["1", "a", "x"], ["2", "b", "y"]]
    again = run_query(shop, f"CREATE EXTERNAL TABLE {table} (id int) LOCATION '{location}'")
    assert "ALREADY_EXISTS" in again["Status"]["StateChangeReason"]
    succeeded(shop, f"CREATE EXTERNAL TABLE IF NOT EXISTS {table} (id int) LOCATION '{location}'")
    text = name()
    succeeded(
        shop,
        f"CREATE EXTERNAL TABLE `{text}` (`a` string) ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' "
        f"LOCATION 's3://{shop.bucket}/text/{text}/'",
    )
    stored = shop.glue.get_table(DatabaseName=shop.database, Name=text)["Table"]["StorageDescriptor"]
    assert stored["SerdeInfo"]["Parameters"]["field.delim"] == ","
    assert values(shop, f"SELECT count(*) FROM {text}") == [["0"]]


def test_delimited_text_tables_are_read(shop: Shop) -> None:
    """awswrangler's s3.to_csv(dataset=True) and dbt-athena's seeds register LazySimpleSerDe / OpenCSVSerde tables."""
    table = name()
    shop.s3.put_object(Bucket=shop.bucket, Key=f"text/{table}/day=x/a.csv", Body=b"1,alpha,2.5\n2,,\\N\nnope,c,1\n")
    succeeded(
        shop,
        f"CREATE EXTERNAL TABLE {table} (id int, name string, score double) PARTITIONED BY (day string) "
        f"ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' LOCATION 's3://{shop.bucket}/text/{table}/'",
    )
    succeeded(shop, f"MSCK REPAIR TABLE {table}")
    assert values(shop, f"SELECT id, name, score, day FROM {table} ORDER BY id NULLS LAST") == [
        ["1", "alpha", "2.5", "x"],
        ["2", "", None, "x"],
        [None, "c", "1.0", "x"],
    ]
    execution = run_query(shop, f"SELECT count(*) FROM {table}")
    assert execution["Statistics"]["DataScannedInBytes"] == len(b"1,alpha,2.5\n2,,\\N\nnope,c,1\n")
    quoted = name()
    shop.s3.put_object(Bucket=shop.bucket, Key=f"csv/{quoted}/a.csv", Body=b'"id","note"\n"1","a, b"\n"2","c"\n')
    succeeded(
        shop,
        f"CREATE EXTERNAL TABLE {quoted} (id string, note string) ROW FORMAT SERDE "
        "'org.apache.hadoop.hive.serde2.OpenCSVSerde' WITH SERDEPROPERTIES ('separatorChar' = ',') "
        f"LOCATION 's3://{shop.bucket}/csv/{quoted}/' TBLPROPERTIES ('skip.header.line.count'='1')",
    )
    assert values(shop, f"SELECT id, note FROM {quoted} ORDER BY id") == [["1", "a, b"], ["2", "c"]]
