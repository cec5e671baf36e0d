"""What Athena clients parse: the shape of a missing table's error, and SQL as SQLAlchemy's Athena dialect renders it.

pyathena's SQLAlchemy dialect (has_table, reflection) recognises a missing table by the AmazonDataCatalog suffix of
Athena's MetadataException (pyathena.util.PATTERN_METADATA_SERVICE_ERROR); a reflected Table(..., schema=db) renders
its columns as db.table.column, which Trino resolves.
"""

from __future__ import annotations

import pytest
from athena_tables import Shop, result_rows, run_query
from botocore.exceptions import ClientError
from pyathena.error import OperationalError
from pyathena.util import PATTERN_METADATA_SERVICE_ERROR

from kit.athena_client import connect

pytestmark = pytest.mark.localaws


@pytest.fixture(scope="module")
def shop(localaws):
    return Shop(localaws.endpoint)


@pytest.mark.parametrize(
    ("operation", "arguments"),
    [
        ("get_table_metadata", {"TableName": "nope"}),
        ("get_table_metadata", {"TableName": "orders", "DatabaseName": "no_such_db"}),
        ("get_database", {"DatabaseName": "no_such_db"}),
        ("list_table_metadata", {"DatabaseName": "no_such_db"}),
    ],
)
def test_missing_catalog_entities_carry_glues_error_code(shop: Shop, operation: str, arguments: dict) -> None:
    arguments = {"CatalogName": "AwsDataCatalog", "DatabaseName": shop.database, **arguments}
    with pytest.raises(ClientError) as raised:
        getattr(shop.athena, operation)(**arguments)
    error = raised.value.response["Error"]
    assert error["Code"] == "MetadataException"
    assert error["Message"].startswith("Entity Not Found (Service: AmazonDataCatalog; Status Code: 400; ")
    match = PATTERN_METADATA_SERVICE_ERROR.search(error["Message"])
    assert match is not None and match.group(1) == "EntityNotFoundException"


def test_pyathena_sees_a_missing_table_as_entity_not_found(shop: Shop, localaws_env: str) -> None:
    cursor = connect(work_group=shop.work_group, schema_name=shop.database).cursor()
    with pytest.raises(OperationalError) as raised:
        cursor.get_table_metadata("nope", schema_name=shop.database)
    message = raised.value.__cause__.response["Error"]["Message"]
    assert PATTERN_METADATA_SERVICE_ERROR.search(message).group(1) == "EntityNotFoundException"
    assert cursor.get_table_metadata("orders", schema_name=shop.database).name == "orders"


def test_columns_qualified_by_database_and_table(shop: Shop) -> None:
    """SQLAlchemy renders select(Table("orders", metadata, schema=db, autoload_with=engine)) so."""
    sql = (
        f'SELECT "{shop.database}".orders.order_id, {shop.database}."orders".amount FROM "{shop.database}".orders '
        f"WHERE {shop.database}.orders.dt = '2024-03-01' ORDER BY {shop.database}.orders.order_id LIMIT 2"
    )
    execution = run_query(shop, sql)
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    rows = result_rows(shop.athena, execution["QueryExecutionId"])[1]
    frame = shop.frames["orders"]
    expected = frame[frame.dt == "2024-03-01"].sort_values("order_id").head(2)
    assert [r[0] for r in rows[1:]] == list(expected.order_id)


def test_describe_declares_athenas_three_columns(shop: Shop) -> None:
    """awswrangler's describe_table reads DESCRIBE's .txt file with the column names in ResultSetMetadata."""
    execution = run_query(shop, "DESCRIBE orders")
    columns, rows = result_rows(shop.athena, execution["QueryExecutionId"])
    assert [c["Name"] for c in columns] == ["col_name", "data_type", "comment"]
    assert [cell.strip() for cell in rows[0][0].split("\t")] == ["order_id", "string", ""]
