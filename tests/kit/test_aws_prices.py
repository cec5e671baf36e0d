"""One price for an Athena query, shared by kit/ (what queries print) and localaws's console: $5 per TB, rounded up
to whole MB, 10 MB minimum per query; DDL and failed queries are free (https://aws.amazon.com/athena/pricing/)."""

from __future__ import annotations

import pandas as pd
import pytest

from aws_prices import athena_billed_bytes, athena_query_cost_usd
from kit.queries import QueryRun

MB = 1024**2
TEN_MB_USD = 10 * MB / 1024**4 * 5.0


@pytest.mark.parametrize(
    ("scanned", "billed"),
    [(0, 10 * MB), (1, 10 * MB), (10 * MB, 10 * MB), (10 * MB + 1, 11 * MB), (25 * MB - 7, 25 * MB)],
)
def test_a_query_is_billed_whole_megabytes_and_at_least_ten(scanned, billed):
    assert athena_billed_bytes(scanned) == billed
    assert athena_query_cost_usd(scanned) == billed / 1024**4 * 5.0


def test_a_query_that_scanned_nothing_costs_the_ten_mb_minimum_in_kit_and_in_the_console_alike():
    run = QueryRun("SELECT 1", "q", pd.DataFrame({"one": [1]}), 0, 0, 0, 0.0)
    assert run.cost_usd == athena_query_cost_usd(0) == TEN_MB_USD


@pytest.mark.parametrize(
    ("statement", "substatement", "state", "usd"),
    [
        ("DDL", "CREATE_TABLE", "SUCCEEDED", 0.0),
        ("DDL", "ALTER_TABLE_ADD_PARTITION", "SUCCEEDED", 0.0),
        ("UTILITY", "SHOW_TABLES", "SUCCEEDED", 0.0),
        ("DML", "SELECT", "FAILED", 0.0),
        ("DML", "SELECT", "CANCELLED", TEN_MB_USD),
        ("DDL", "CREATE_TABLE_AS_SELECT", "SUCCEEDED", TEN_MB_USD),  # a CTAS scans like a SELECT
    ],
)
def test_ddl_and_failed_queries_are_free(statement, substatement, state, usd):
    assert athena_query_cost_usd(0, statement_type=statement, substatement_type=substatement, state=state) == usd
    run = QueryRun("x", "q", pd.DataFrame(), 0, 0, 0, 0.0, statement_type=statement, substatement_type=substatement)
    if state == "SUCCEEDED":
        assert run.cost_usd == usd
