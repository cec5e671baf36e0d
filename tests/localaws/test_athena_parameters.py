"""ExecutionParameters, PREPARE/EXECUTE and the prepared-statement API; Glue SearchTables; and operations localaws
lacks answering in AWS's error shape at once, not an HTML 500 that botocore retries.

https://docs.aws.amazon.com/athena/latest/ug/querying-with-prepared-statements.html,
https://docs.aws.amazon.com/glue/latest/webapi/API_SearchTables.html,
https://docs.aws.amazon.com/athena/latest/APIReference/CommonErrors.html (InvalidAction)
"""

from __future__ import annotations

import uuid

import boto3
import pytest
from athena_tables import Shop, result_rows, run_query
from botocore.config import Config
from botocore.exceptions import ClientError

pytestmark = pytest.mark.localaws


@pytest.fixture(scope="module")
def shop(localaws):
    return Shop(localaws.endpoint)


def rows(shop: Shop, sql: str, **extra) -> list[list[str | None]]:
    execution = run_query(shop, sql, **extra)
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    return result_rows(shop.athena, execution["QueryExecutionId"])[1][1:]


def failure(shop: Shop, sql: str, **extra) -> str:
    execution = run_query(shop, sql, **extra)
    assert execution["Status"]["State"] == "FAILED"
    return execution["Status"]["StateChangeReason"]


def paid_count(shop: Shop, day: str) -> str:
    orders = shop.frames["orders"]
    return str(int(((orders.status == "paid") & (orders.dt == day)).sum()))


def test_execution_parameters_fill_each_question_mark_in_order(shop: Shop) -> None:
    sql = "SELECT count(*) FROM orders WHERE status = ? AND dt = ? AND '?' = '?'"
    assert rows(shop, sql, ExecutionParameters=["'paid'", "'2024-03-02'"]) == [[paid_count(shop, "2024-03-02")]]
    execution = run_query(shop, sql, ExecutionParameters=["'paid'", "'2024-03-02'"])
    assert execution["ExecutionParameters"] == ["'paid'", "'2024-03-02'"]
    assert "Incorrect number of parameters: expected 2 but found 1" in failure(
        shop, sql, ExecutionParameters=["'paid'"]
    )
    assert "Incorrect number of parameters: expected 0 but found 1" in failure(
        shop, "SELECT 1", ExecutionParameters=["1"]
    )
    # a value is one literal: it cannot smuggle syntax into the query
    assert "INVALID_PARAMETER_USAGE" in failure(shop, "SELECT ?", ExecutionParameters=["1 FROM orders --"])


def test_prepare_execute_deallocate(shop: Shop) -> None:
    name = f"paid_{uuid.uuid4().hex[:6]}"
    rows(shop, f"PREPARE {name} FROM SELECT count(*) FROM orders WHERE status = ? AND dt = ?")
    stored = shop.athena.get_prepared_statement(StatementName=name, WorkGroup=shop.work_group)["PreparedStatement"]
    assert stored["QueryStatement"] == "SELECT count(*) FROM orders WHERE status = ? AND dt = ?"
    assert rows(shop, f"EXECUTE {name} USING 'paid', '2024-03-01'") == [[paid_count(shop, "2024-03-01")]]
    assert rows(shop, f"EXECUTE {name}", ExecutionParameters=["'paid'", "'2024-03-03'"]) == [
        [paid_count(shop, "2024-03-03")]
    ]
    rows(shop, f"DEALLOCATE PREPARE {name}")
    assert "Prepared statement not found" in failure(shop, f"EXECUTE {name} USING 'paid', '2024-03-01'")


def test_prepared_statement_api(shop: Shop) -> None:
    athena, group = shop.athena, shop.work_group
    athena.create_prepared_statement(
        StatementName="by_status", WorkGroup=group, QueryStatement="SELECT count(*) FROM orders WHERE status = ?"
    )
    with pytest.raises(ClientError) as raised:
        athena.create_prepared_statement(StatementName="by_status", WorkGroup=group, QueryStatement="SELECT 1")
    assert raised.value.response["Error"]["Code"] == "InvalidRequestException"
    listed = athena.list_prepared_statements(WorkGroup=group)["PreparedStatements"]
    assert [s["StatementName"] for s in listed] == ["by_status"]
    athena.update_prepared_statement(
        StatementName="by_status", WorkGroup=group, QueryStatement="SELECT count(*) FROM orders WHERE dt = ?"
    )
    assert rows(shop, "EXECUTE by_status USING '2024-03-01'") == [
        [str(int((shop.frames["orders"].dt == "2024-03-01").sum()))]
    ]
    athena.delete_prepared_statement(StatementName="by_status", WorkGroup=group)
    for call in (athena.get_prepared_statement, athena.delete_prepared_statement):
        with pytest.raises(ClientError) as raised:
            call(StatementName="by_status", WorkGroup=group)
        assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as raised:
        athena.list_prepared_statements(WorkGroup="no-such-group")
    assert raised.value.response["Error"]["Code"] == "InvalidRequestException"


def test_glue_search_tables(shop: Shop) -> None:
    found = shop.glue.search_tables(SearchText="orders")["TableList"]
    assert {(t["DatabaseName"], t["Name"]) for t in found} >= {
        (shop.database, "orders"),
        (shop.database, "orders_items"),
    }
    only = shop.glue.search_tables(
        SearchText="orders",
        Filters=[{"Key": "DatabaseName", "Value": shop.database, "Comparator": "EQUALS"}],
        SortCriteria=[{"FieldName": "Name", "Sort": "DESC"}],
        MaxResults=1,
    )
    assert [t["Name"] for t in only["TableList"]] == ["orders_items"]
    after = shop.glue.search_tables(
        SearchText="orders",
        Filters=[{"Key": "DatabaseName", "Value": shop.database, "Comparator": "EQUALS"}],
        SortCriteria=[{"FieldName": "Name", "Sort": "DESC"}],
        MaxResults=1,
        NextToken=only["NextToken"],
    )
    assert [t["Name"] for t in after["TableList"]] == ["orders"]
    assert shop.glue.search_tables(SearchText="no_such_words_anywhere")["TableList"] == []


def test_an_operation_localaws_lacks_answers_invalid_action_once(shop: Shop) -> None:
    attempts = []
    glue = boto3.client(
        "glue",
        endpoint_url=shop.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"mode": "standard", "max_attempts": 5}),
    )
    glue.meta.events.register("before-send.glue.*", lambda **kwargs: attempts.append(1))
    with pytest.raises(ClientError) as raised:
        glue.get_column_statistics_for_table(DatabaseName=shop.database, TableName="orders", ColumnNames=["amount"])
    assert raised.value.response["Error"]["Code"] == "InvalidAction"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert len(attempts) == 1
