"""The Athena API shapes localaws answers, and the result files it writes.

https://docs.aws.amazon.com/athena/latest/APIReference/API_QueryExecution.html,
.../API_GetQueryResults.html, .../API_ColumnInfo.html; result files: https://docs.aws.amazon.com/athena/latest/ug/querying.html
"""

from __future__ import annotations

import json

import boto3
import pytest
from athena_tables import Shop, result_rows, run_query, wait_for_query
from botocore.exceptions import ClientError

pytestmark = pytest.mark.localaws


@pytest.fixture(scope="module")
def shop(localaws):
    return Shop(localaws.endpoint)


def test_query_execution_shape(shop: Shop) -> None:
    execution = run_query(shop, "SELECT order_id FROM orders WHERE dt = '2024-03-01'")
    assert execution["Status"]["State"] == "SUCCEEDED"
    assert execution["StatementType"] == "DML"
    assert execution["WorkGroup"] == shop.work_group
    assert execution["QueryExecutionContext"]["Database"] == shop.database
    assert execution["EngineVersion"]["EffectiveEngineVersion"] == "Athena engine version 3"
    location = execution["ResultConfiguration"]["OutputLocation"]
    assert location == f"{shop.output}{execution['QueryExecutionId']}.csv"
    statistics = execution["Statistics"]
    for key in ("EngineExecutionTimeInMillis", "TotalExecutionTimeInMillis", "QueryQueueTimeInMillis"):
        assert statistics[key] >= 0
    assert statistics["DataScannedInBytes"] > 0
    assert execution["Status"]["CompletionDateTime"] >= execution["Status"]["SubmissionDateTime"]


def test_request_output_location_unless_workgroup_enforces(shop: Shop) -> None:
    asked = f"s3://{shop.bucket}/asked/"
    shop.athena.create_work_group(
        Name=f"{shop.work_group}-open",
        Configuration={
            "ResultConfiguration": {"OutputLocation": shop.output},
            "EnforceWorkGroupConfiguration": False,
        },
    )
    query_id = shop.athena.start_query_execution(
        QueryString="SELECT 1", WorkGroup=f"{shop.work_group}-open", ResultConfiguration={"OutputLocation": asked}
    )["QueryExecutionId"]
    assert wait_for_query(shop.athena, query_id)["ResultConfiguration"]["OutputLocation"].startswith(asked)
    shop.athena.create_work_group(
        Name=f"{shop.work_group}-enforced",
        Configuration={
            "ResultConfiguration": {"OutputLocation": f"s3://{shop.bucket}/enforced/"},
            "EnforceWorkGroupConfiguration": True,
        },
    )
    query_id = shop.athena.start_query_execution(
        QueryString="SELECT 1", WorkGroup=f"{shop.work_group}-enforced", ResultConfiguration={"OutputLocation": asked}
    )["QueryExecutionId"]
    execution = wait_for_query(shop.athena, query_id)
    assert execution["ResultConfiguration"]["OutputLocation"].startswith(f"s3://{shop.bucket}/enforced/")


def test_missing_output_location_is_rejected(shop: Shop) -> None:
    """Pitfall P14: a workgroup without a result location and no location in the request."""
    shop.athena.create_work_group(Name=f"{shop.work_group}-bare")
    with pytest.raises(ClientError) as raised:
        shop.athena.start_query_execution(QueryString="SELECT 1", WorkGroup=f"{shop.work_group}-bare")
    assert raised.value.response["Error"]["Code"] == "InvalidRequestException"
    assert raised.value.response["Error"]["Message"] == (
        "No output location provided. An output location is required either through the Workgroup result "
        "configuration setting or as an API input."
    )


def test_get_query_results_pages_with_header_and_typed_columns(shop: Shop) -> None:
    execution = run_query(shop, "SELECT order_id, quantity, amount, created_at, dt FROM orders ORDER BY order_id")
    query_id = execution["QueryExecutionId"]
    columns, rows = result_rows(shop.athena, query_id, page_size=7)
    assert rows[0] == ["order_id", "quantity", "amount", "created_at", "dt"]
    assert len(rows) == 1 + len(shop.frames["orders"])
    assert [(c["Name"], c["Type"]) for c in columns] == [
        ("order_id", "varchar"),
        ("quantity", "bigint"),
        ("amount", "double"),
        ("created_at", "timestamp"),
        ("dt", "varchar"),
    ]
    assert set(columns[0]) >= {
        "CatalogName",
        "SchemaName",
        "TableName",
        "Name",
        "Label",
        "Type",
        "Precision",
        "Scale",
        "Nullable",
        "CaseSensitive",
    }
    first = shop.frames["orders"].sort_values("order_id").iloc[0]
    assert rows[1][3] == first.created_at.strftime("%Y-%m-%d %H:%M:%S.000")
    with pytest.raises(ClientError, match="MaxResults"):
        shop.athena.get_query_results(QueryExecutionId=query_id, MaxResults=1001)


def test_result_csv_format(shop: Shop) -> None:
    """Header row, every value quoted, NULL as an empty unquoted field, arrays as [a, b], maps and rows in braces."""
    execution = run_query(
        shop,
        "SELECT 'a\"b' AS q, CAST(NULL AS varchar) AS n, ARRAY['x', 'y'] AS arr, 1.5 AS d, true AS b, "
        "MAP(ARRAY['k'], ARRAY[1]) AS m, CAST(ROW(1, 'z') AS ROW(a integer, b varchar)) AS r, "
        "TIMESTAMP '2024-03-01 10:00:00.123' AS ts, DATE '2024-03-01' AS day",
    )
    bucket, key = execution["ResultConfiguration"]["OutputLocation"][5:].split("/", 1)
    body = shop.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    assert body == (
        '"q","n","arr","d","b","m","r","ts","day"\n'
        '"a""b",,"[x, y]","1.5","true","{k=1}","{a=1, b=z}","2024-03-01 10:00:00.123","2024-03-01"\n'
    )
    metadata = json.loads(shop.s3.get_object(Bucket=bucket, Key=f"{key}.metadata")["Body"].read())
    assert [c["Type"] for c in metadata["ColumnInfo"]] == [
        "varchar",
        "varchar",
        "array",
        "decimal",
        "boolean",
        "map",
        "row",
        "timestamp",
        "date",
    ]


def test_unnamed_columns_are_named_by_position(shop: Shop) -> None:
    execution = run_query(shop, "SELECT count(*), max(amount) AS top FROM orders")
    _, rows = result_rows(shop.athena, execution["QueryExecutionId"])
    assert rows[0] == ["_col0", "top"]


def test_batch_get_and_list_query_executions(shop: Shop) -> None:
    first = run_query(shop, "SELECT 1")["QueryExecutionId"]
    second = run_query(shop, "SELECT 2")["QueryExecutionId"]
    batch = shop.athena.batch_get_query_execution(QueryExecutionIds=[first, second, "missing-id"])
    assert {e["QueryExecutionId"] for e in batch["QueryExecutions"]} == {first, second}
    assert [u["QueryExecutionId"] for u in batch["UnprocessedQueryExecutionIds"]] == ["missing-id"]
    listed = shop.athena.list_query_executions(WorkGroup=shop.work_group)["QueryExecutionIds"]
    assert listed.index(second) < listed.index(first)  # newest first
    with pytest.raises(ClientError, match="was not found"):
        shop.athena.get_query_execution(QueryExecutionId="no-such-query")


def test_catalog_operations_read_glue(shop: Shop) -> None:
    catalogs = shop.athena.list_data_catalogs()["DataCatalogsSummary"]
    assert catalogs == [{"CatalogName": "AwsDataCatalog", "Type": "GLUE"}]
    names = [d["Name"] for d in shop.athena.list_databases(CatalogName="AwsDataCatalog", MaxResults=50)["DatabaseList"]]
    assert shop.database in names or "NextToken" in shop.athena.list_databases(CatalogName="AwsDataCatalog")
    assert shop.athena.get_database(CatalogName="AwsDataCatalog", DatabaseName=shop.database)["Database"]["Name"] == (
        shop.database
    )
    tables = shop.athena.list_table_metadata(CatalogName="AwsDataCatalog", DatabaseName=shop.database)
    assert sorted(t["Name"] for t in tables["TableMetadataList"]) == ["clickstream", "orders", "orders_items"]
    items = shop.athena.get_table_metadata(
        CatalogName="AwsDataCatalog", DatabaseName=shop.database, TableName="orders_items"
    )["TableMetadata"]
    assert {"Name": "tags", "Type": "array<string>"} in items["Columns"]
    assert items["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    with pytest.raises(ClientError) as raised:
        shop.athena.get_table_metadata(CatalogName="AwsDataCatalog", DatabaseName=shop.database, TableName="nope")
    assert raised.value.response["Error"]["Code"] == "MetadataException"


def test_get_work_group_of_a_missing_workgroup_is_an_invalid_request(localaws_env):
    # https://docs.aws.amazon.com/athena/latest/APIReference/API_GetWorkGroup.html (moto alone answers 200 with null)
    athena = boto3.client("athena")
    with pytest.raises(ClientError) as missing:
        athena.get_work_group(WorkGroup="no-such-workgroup")
    assert missing.value.response["Error"]["Code"] == "InvalidRequestException"
    assert athena.get_work_group(WorkGroup="primary")["WorkGroup"]["Name"] == "primary"
