"""Athena SQL cannot reach the host: DuckDB-only functions, table functions and settings fail as Athena fails them.

Before the sandbox each escape below answered with host data: `read_blob('/proc/self/environ')` returned the localaws
process environment. Athena has none of these functions (https://docs.aws.amazon.com/athena/latest/ug/functions-env3.html),
so each fails with FUNCTION_NOT_FOUND (or TABLE_NOT_FOUND / NOT_SUPPORTED / a syntax error where Trino would).
DuckDB's own guard: https://duckdb.org/docs/stable/operations_manual/securing_duckdb/overview
"""

from __future__ import annotations

import duckdb
import pytest
from athena_tables import Shop, run_query

from localaws.athena import dialect
from localaws.athena.catalog import view_original_text

pytestmark = pytest.mark.localaws


@pytest.fixture(scope="module")
def shop(localaws):
    return Shop(localaws.endpoint)


def _reason(execution: dict) -> str:
    assert execution["Status"]["State"] == "FAILED", execution["Status"]
    return execution["Status"]["StateChangeReason"]


ESCAPES = [
    ("read_text", "SELECT * FROM read_text('/etc/hostname')", "FUNCTION_NOT_FOUND: line 1:15: Table function"),
    ("read_csv", "SELECT * FROM read_csv('/etc/passwd')", "FUNCTION_NOT_FOUND"),
    ("read_blob_environ", "SELECT content FROM read_blob('/proc/self/environ')", "FUNCTION_NOT_FOUND"),
    ("sniff_csv", "SELECT * FROM sniff_csv('/etc/passwd')", "FUNCTION_NOT_FOUND"),
    ("duckdb_settings", "SELECT * FROM duckdb_settings()", "FUNCTION_NOT_FOUND"),
    ("current_setting", "SELECT current_setting('TimeZone')", "FUNCTION_NOT_FOUND: line 1:8: Function"),
    ("getenv", "SELECT getenv('HOME')", "FUNCTION_NOT_FOUND"),
    ("table_wrapper", "SELECT * FROM TABLE(read_text('/etc/hostname'))", "FUNCTION_NOT_FOUND"),
    ("in_cte", "WITH f AS (SELECT * FROM read_text('/etc/hostname')) SELECT * FROM f", "FUNCTION_NOT_FOUND"),
    (
        "scalar_in_partition_filter",
        "SELECT count(*) FROM orders WHERE dt = (SELECT content FROM read_text('/etc/hostname'))",
        "FUNCTION_NOT_FOUND",
    ),
    ("in_lambda", "SELECT transform(ARRAY['/etc/hostname'], x -> read_text(x))", "FUNCTION_NOT_FOUND"),
    ("read_parquet_s3", "SELECT * FROM read_parquet('s3://any-bucket/x.parquet')", "FUNCTION_NOT_FOUND"),
    ("read_json_auto", "SELECT * FROM read_json_auto('/etc/os-release')", "FUNCTION_NOT_FOUND"),
    ("internal_macro", "SELECT trino_json_extract_scalar('{\"a\": 1}', '$.a')", "FUNCTION_NOT_FOUND"),
    ("pragma_table_function", "SELECT * FROM pragma_version()", "FUNCTION_NOT_FOUND"),
    ("path_as_table", 'SELECT * FROM "/etc/passwd"', "TABLE_NOT_FOUND"),
    ("set_setting", "SET enable_external_access = true", "NOT_SUPPORTED"),
    ("ctas_body", "CREATE TABLE leak AS SELECT * FROM read_text('/etc/hostname')", "FUNCTION_NOT_FOUND"),
    ("explain", "EXPLAIN SELECT * FROM read_text('/etc/hostname')", "FUNCTION_NOT_FOUND"),
    ("view_body", "CREATE VIEW leak AS SELECT * FROM read_text('/etc/hostname')", "FUNCTION_NOT_FOUND"),
]


@pytest.mark.parametrize(("sql", "expected"), [case[1:] for case in ESCAPES], ids=[case[0] for case in ESCAPES])
def test_sql_escape_is_refused(shop: Shop, sql: str, expected: str) -> None:
    assert _reason(run_query(shop, sql)).startswith(expected)


def test_glob_is_refused(shop: Shop) -> None:
    # sqlglot reads glob(...) as the GLOB operator and Trino has neither: a syntax error, never a directory listing.
    reason = _reason(run_query(shop, "SELECT * FROM glob('/*')"))
    assert reason.startswith("line 1:") or reason.startswith("FUNCTION_NOT_FOUND")


def test_a_refused_view_is_not_stored(shop: Shop) -> None:
    run_query(shop, "CREATE VIEW leak_stored AS SELECT * FROM read_text('/etc/hostname')")
    names = {t["Name"] for t in shop.glue.get_tables(DatabaseName=shop.database)["TableList"]}
    assert "leak_stored" not in names


def test_a_view_stored_in_glue_is_checked_at_use(shop: Shop) -> None:
    """A view written to Glue directly (or before the sandbox existed) cannot run a DuckDB function either."""
    body = "SELECT content FROM read_blob('/proc/self/environ')"
    shop.glue.create_table(
        DatabaseName=shop.database,
        TableInput={
            "Name": "environ",
            "TableType": "VIRTUAL_VIEW",
            "Parameters": {"presto_view": "true"},
            "ViewOriginalText": view_original_text(body, shop.database, [("content", "varbinary")]),
            "ViewExpandedText": "/* Presto View */",
            "StorageDescriptor": {"Columns": [{"Name": "content", "Type": "binary"}], "Location": ""},
        },
    )
    assert _reason(run_query(shop, "SELECT * FROM environ")).startswith("FUNCTION_NOT_FOUND")


def test_athena_functions_still_run(shop: Shop) -> None:
    sql = (
        "SELECT count(*), max_by(order_id, amount) IS NOT NULL, lower(CAST(json_extract_scalar('{\"a\": 1}', '$.a') "
        "AS varchar)), cardinality(filter(ARRAY[1, 2, 3], x -> x > 1)), date_trunc('day', now()) <= now() FROM orders"
    )
    assert run_query(shop, sql)["Status"]["State"] == "SUCCEEDED"


def test_duckdb_refuses_files_and_settings_even_without_the_check() -> None:
    """Defence in depth: the engine's database itself has no file access and a locked configuration."""
    cursor = dialect.connect().cursor()
    with pytest.raises(duckdb.PermissionException):
        cursor.execute("SELECT * FROM read_text('/etc/hostname')")
    with pytest.raises(duckdb.InvalidInputException, match="locked"):
        cursor.execute("SET enable_external_access = true")
    assert cursor.execute("SELECT 5 / 2, current_setting('TimeZone')").fetchall() == [(2, "UTC")]


def test_prepared_statements_are_checked_too(shop: Shop) -> None:
    """PREPARE stores the statement; EXECUTE parses it again, so a DuckDB function fails either way."""
    prepared = run_query(shop, "PREPARE leak FROM SELECT * FROM read_text('/etc/hostname')")
    if prepared["Status"]["State"] == "SUCCEEDED":
        assert _reason(run_query(shop, "EXECUTE leak")).startswith("FUNCTION_NOT_FOUND")
    else:
        assert _reason(prepared).startswith("FUNCTION_NOT_FOUND")
    # A parameter value is one literal, and the query it completes is parsed and checked again.
    _reason(run_query(shop, "SELECT ?", ExecutionParameters=["read_text('/etc/hostname')"]))
