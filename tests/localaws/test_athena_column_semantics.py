"""Table columns obey the rules literals do (test_athena_conformance_columns.py measures the whole table of cases):
a map subscript on a MAP column read from Parquet fails for a missing key
(https://trino.io/docs/current/functions/map.html#subscript-operator), and an unqualified column two tables share is
ambiguous in Trino's words (AMBIGUOUS_NAME, "Column 'x' is ambiguous": io.trino.sql.analyzer.SemanticExceptions,
https://github.com/trinodb/trino/blob/master/core/trino-main/src/main/java/io/trino/sql/analyzer/SemanticExceptions.java)."""

from __future__ import annotations

import pyarrow as pa
import pytest
from athena_tables import PARQUET, Shop, result_rows, run_query

pytestmark = pytest.mark.localaws


@pytest.fixture(scope="module")
def shop(localaws):
    shop = Shop(localaws.endpoint)
    for name in ("maps", "maps2"):
        table = pa.table(
            {
                "id": pa.array([1], pa.int64()),
                "m": pa.array([[("a", 1), ("b", 2)]], pa.map_(pa.string(), pa.int32())),
                "k": pa.array(["missing"]),
            }
        )
        shop.put_parquet(f"processed/{name}/f.parquet", table)
        columns = [{"Name": "id", "Type": "bigint"}, {"Name": "m", "Type": "map<string,int>"}]
        columns.append({"Name": "k", "Type": "string"})
        descriptor = {**PARQUET, "Columns": columns, "Location": f"s3://{shop.bucket}/processed/{name}/"}
        shop.glue.create_table(DatabaseName=shop.database, TableInput={"Name": name, "StorageDescriptor": descriptor})
    return shop


def _answer(shop: Shop, sql: str) -> list | str:
    execution = run_query(shop, sql)
    if execution["Status"]["State"] != "SUCCEEDED":
        return execution["Status"]["StateChangeReason"]
    return result_rows(shop.athena, execution["QueryExecutionId"])[1][1]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT m['missing'] FROM maps",
        "SELECT m[k] FROM maps",
        "SELECT maps.m['missing'] FROM maps",
        "SELECT t.m['missing'] FROM maps AS t",
        "SELECT x FROM (SELECT m['missing'] AS x FROM maps)",
        "SELECT m['missing'] FROM maps WHERE id = 1 ORDER BY id",
        "SELECT a.m['missing'] FROM maps a JOIN maps2 b ON a.id = b.id",
        "SELECT v FROM (SELECT m AS mm FROM maps) CROSS JOIN UNNEST(ARRAY[mm['missing']]) AS u(v)",
        "WITH w AS (SELECT m FROM maps) SELECT m['missing'] FROM w",
        "SELECT m['missing'] AS x FROM maps ORDER BY x",
        "SELECT m['missing'] FROM maps CROSS JOIN UNNEST(ARRAY[1]) AS u(x)",
        "SELECT m['missing'] FROM maps GROUP BY m['missing']",
        "SELECT max(m['missing']) FROM maps HAVING count(*) > 0",
        "SELECT m['missing'] FROM maps ORDER BY 1",
        "SELECT row_number() OVER (ORDER BY id), m['missing'] FROM maps",
        "SELECT m['missing'] FROM maps WHERE id IN (SELECT id FROM maps2)",
        "SELECT maps.m['missing'] FROM maps JOIN maps2 USING (id)",
        "SELECT * FROM (SELECT m['missing'] AS x FROM maps) ORDER BY x",
        "SELECT transform(ARRAY[1], e -> m['missing']) FROM maps",
        "SELECT m[k] AS v FROM maps ORDER BY v DESC",
        "SELECT m['missing'] FROM maps LIMIT 1",
        "SELECT DISTINCT m['missing'] FROM maps",
        "SELECT m['missing'] AS x FROM maps ORDER BY x NULLS FIRST, id",
        "SELECT m['missing'] AS x, count(*) FROM maps GROUP BY 1",
        "SELECT m['missing'], \"$path\" FROM maps",
        "SELECT element_at(m, 'a'), m['missing'] FROM maps",
        "SELECT m['missing'] FROM maps UNION ALL SELECT m['b'] FROM maps2",
    ],
)
def test_map_subscript_of_a_column_fails_for_a_missing_key(shop: Shop, sql: str) -> None:
    answer = _answer(shop, sql)
    assert isinstance(answer, str) and answer.startswith("INVALID_FUNCTION_ARGUMENT: Key not present in map"), answer


@pytest.mark.parametrize(
    ("sql", "name", "at"),
    [
        ('SELECT "$path" FROM maps JOIN maps2 ON maps.id = maps2.id', "$path", "1:8"),
        ("SELECT k FROM maps JOIN maps2 ON maps.id = maps2.id", "k", "1:8"),
        ("SELECT maps.id FROM maps, maps2 WHERE id = 1", "id", "1:39"),
    ],
)
def test_an_unqualified_column_of_two_tables_is_ambiguous(shop: Shop, sql: str, name: str, at: str) -> None:
    assert _answer(shop, sql) == f"AMBIGUOUS_NAME: line {at}: Column '{name}' is ambiguous"


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT array_join(ARRAY['a', NULL, 'b'], k) FROM maps", "amissingb"),
        ("SELECT array_join(ARRAY[1, 2], k, 'n') FROM maps", "1missing2"),
        ("SELECT concat_ws(k, ARRAY['a', NULL, 'b']) FROM maps", "amissingb"),
        ("SELECT array_join(ARRAY['a'], CAST(NULL AS VARCHAR)) FROM maps", None),
        ("SELECT date_trunc(element_at(ARRAY['month'], id), DATE '2024-02-15') FROM maps", "2024-02-01"),
        ("SELECT CAST(k || '2020-05-01 12:34:56.5555555' AS TIMESTAMP(6)) FROM maps WHERE id = 0", []),
        (
            "SELECT CAST(substr(k, 8) || '2020-05-01 12:34:56.5555555' AS TIMESTAMP(6)) FROM maps",
            "2020-05-01 12:34:56.555556",
        ),
        (
            "SELECT date_trunc(k, DATE '2024-02-15') FROM maps",
            "INVALID_FUNCTION_ARGUMENT: 'missing' is not a valid DATE field",
        ),
        ("SELECT round(DECIMAL '3.456', id) FROM maps", "NOT_SUPPORTED: "),
    ],
)
def test_functions_take_arguments_from_columns(shop: Shop, sql: str, expected) -> None:
    """A separator, a unit or a timestamp text read from a column, as a literal one would be
    (https://trino.io/docs/current/functions/array.html#array_join, .../datetime.html#date_trunc); a decimal's
    digits from a column are refused (DuckDB rounds to constant digits only)."""
    execution = run_query(shop, sql)
    if execution["Status"]["State"] != "SUCCEEDED":
        assert isinstance(expected, str) and execution["Status"]["StateChangeReason"].startswith(expected)
        return
    rows = result_rows(shop.athena, execution["QueryExecutionId"])[1]
    assert rows[1:] == expected if isinstance(expected, list) else rows[1] == [expected]


def test_json_table_decimals_hold_38_digits_rounded_half_up(shop: Shop) -> None:
    """A JSON table's decimal(38,18) reads all 38 digits, and a value with more scale than its column rounds half up,
    as Hive's HiveDecimal does (https://docs.aws.amazon.com/athena/latest/ug/data-types.html: DECIMAL up to 38)."""
    body = b'{"d": 12345678901234567890.123456789012345678, "h": 0.25}\n'
    shop.s3.put_object(Bucket=shop.bucket, Key="json/decimals/a.json", Body=body)
    create = (
        "CREATE EXTERNAL TABLE decimals (d decimal(38,18), h decimal(2,1)) ROW FORMAT SERDE "
        f"'org.openx.data.jsonserde.JsonSerDe' LOCATION 's3://{shop.bucket}/json/decimals/'"
    )
    assert run_query(shop, create)["Status"]["State"] == "SUCCEEDED"
    assert _answer(shop, "SELECT d, h FROM decimals") == ["12345678901234567890.123456789012345678", "0.3"]
