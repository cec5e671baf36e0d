"""How queries fail, as Athena fails them: FAILED with a StateChangeReason and an AthenaError, or CANCELLED.

HIVE_BAD_DATA: https://docs.aws.amazon.com/athena/latest/ug/troubleshooting-athena.html (Parquet type mismatches);
the per-query cutoff: https://docs.aws.amazon.com/athena/latest/ug/workgroups-setting-control-limits-cloudwatch.html
"""

from __future__ import annotations

import pyarrow as pa
import pytest
from athena_tables import Shop, result_rows, run_query, wait_for_query

pytestmark = pytest.mark.localaws


@pytest.fixture(scope="module")
def shop(localaws):
    return Shop(localaws.endpoint)


def _failed(execution: dict) -> str:
    assert execution["Status"]["State"] == "FAILED", execution["Status"]
    error = execution["Status"]["AthenaError"]
    assert error["ErrorMessage"] == execution["Status"]["StateChangeReason"]
    assert error["ErrorCategory"] in (1, 2, 3)
    return execution["Status"]["StateChangeReason"]


def test_syntax_error(shop: Shop) -> None:
    assert _failed(run_query(shop, "SELECT order_id FROM")).startswith("line 1:")


def test_missing_table(shop: Shop) -> None:
    reason = _failed(run_query(shop, "SELECT * FROM missing_table"))
    assert reason == f"TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.{shop.database}.missing_table' does not exist"


def test_missing_column(shop: Shop) -> None:
    reason = _failed(run_query(shop, "SELECT nope FROM orders"))
    assert reason.startswith("COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved")


def test_unknown_function(shop: Shop) -> None:
    assert "FUNCTION_NOT_FOUND" in _failed(run_query(shop, "SELECT no_such_fn(order_id) FROM orders"))


def _conflict_table(shop: Shop, name: str, file_type: pa.DataType, table_type: str, values: list) -> None:
    shop.put_parquet(
        f"processed/{name}/f.parquet", pa.table({"id": pa.array([1, 2]), "v": pa.array(values, file_type)})
    )
    shop.glue.create_table(
        DatabaseName=shop.database,
        TableInput={
            "Name": name,
            "StorageDescriptor": {
                "Columns": [{"Name": "id", "Type": "bigint"}, {"Name": "v", "Type": table_type}],
                "Location": f"s3://{shop.bucket}/processed/{name}/",
                "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            },
        },
    )


def test_conflicting_parquet_type_fails_with_hive_bad_data(shop: Shop) -> None:
    _conflict_table(shop, "drift_int_as_string", pa.int64(), "string", [1, 2])
    reason = _failed(run_query(shop, "SELECT v FROM drift_int_as_string"))
    assert reason == (
        "HIVE_BAD_DATA: Field v's type INT64 in parquet is incompatible with type varchar defined in table schema"
    )
    _conflict_table(shop, "drift_string_as_bigint", pa.string(), "bigint", ["1", "x"])
    assert _failed(run_query(shop, "SELECT v FROM drift_string_as_bigint")).startswith(
        "HIVE_BAD_DATA: Field v's type BINARY in parquet is incompatible with type bigint"
    )
    # A query that does not read the conflicting column succeeds, as in Athena.
    assert run_query(shop, "SELECT id FROM drift_int_as_string")["Status"]["State"] == "SUCCEEDED"


def test_allowed_widening_reads(shop: Shop) -> None:
    _conflict_table(shop, "widen_int32", pa.int32(), "bigint", [7, 8])
    execution = run_query(shop, "SELECT sum(v) FROM widen_int32")
    assert execution["Status"]["State"] == "SUCCEEDED"
    assert result_rows(shop.athena, execution["QueryExecutionId"])[1][1] == ["15"]


def test_partitions_not_in_the_catalog_are_invisible(shop: Shop) -> None:
    frame = shop.frames["orders"].head(4).assign(dt="2024-04-01")
    from athena_tables import ORDERS_SCHEMA

    table = pa.Table.from_pandas(frame.drop(columns="dt"), schema=ORDERS_SCHEMA, preserve_index=False)
    shop.put_parquet("processed/orders/dt=2024-04-01/part-0.parquet", table)
    execution = run_query(shop, "SELECT count(*) FROM orders WHERE dt = '2024-04-01'")
    assert result_rows(shop.athena, execution["QueryExecutionId"])[1][1] == ["0"]


def test_bytes_scanned_cutoff(shop: Shop) -> None:
    name = f"{shop.work_group}-capped"
    shop.athena.create_work_group(
        Name=name,
        Configuration={
            "ResultConfiguration": {"OutputLocation": shop.output},
            "BytesScannedCutoffPerQuery": 10_000_000,
        },
    )
    big = pa.table({"id": pa.array(range(3_000_000), pa.int64())})
    shop.put_parquet("processed/big/f.parquet", big)
    shop.glue.create_table(
        DatabaseName=shop.database,
        TableInput={
            "Name": "big",
            "StorageDescriptor": {
                "Columns": [{"Name": "id", "Type": "bigint"}],
                "Location": f"s3://{shop.bucket}/processed/big/",
                "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            },
        },
    )
    query_id = shop.athena.start_query_execution(
        QueryString="SELECT sum(id) FROM big", WorkGroup=name, QueryExecutionContext={"Database": shop.database}
    )["QueryExecutionId"]
    assert _failed(wait_for_query(shop.athena, query_id)) == "Query cancelled! : Bytes scanned limit was exceeded"
    small = shop.athena.start_query_execution(
        QueryString="SELECT count(*) FROM orders", WorkGroup=name, QueryExecutionContext={"Database": shop.database}
    )["QueryExecutionId"]
    assert wait_for_query(shop.athena, small)["Status"]["State"] == "SUCCEEDED"


def test_stop_query_execution_cancels_a_running_query(shop: Shop) -> None:
    endless = (
        "SELECT count(*) FROM UNNEST(sequence(1, 10000)) a(x) CROSS JOIN UNNEST(sequence(1, 10000)) b(y) "
        "CROSS JOIN UNNEST(sequence(1, 10000)) c(z)"
    )
    query_id = shop.athena.start_query_execution(QueryString=endless, WorkGroup=shop.work_group)["QueryExecutionId"]
    assert shop.athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]["State"] in (
        "QUEUED",
        "RUNNING",
    )
    shop.athena.stop_query_execution(QueryExecutionId=query_id)
    assert wait_for_query(shop.athena, query_id)["Status"]["State"] == "CANCELLED"
