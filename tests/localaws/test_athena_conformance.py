"""Athena answers as Trino documents: a table of cases per function family, run on one localaws server.

Each file in trino_conformance/ is one family of Trino's function reference (its first line cites the page). A case
is one line, `SQL <TAB> expected text <TAB> expected type`:
- the expected text is the cell GetQueryResults returns; NULL means SQL NULL (no VarCharValue);
- `!NAME` instead means the query must fail and its StateChangeReason start with NAME (an Athena error name such as
  INVALID_FUNCTION_ARGUMENT, or NOT_SUPPORTED for what localaws deliberately refuses);
- the type is ResultSetMetadata's ColumnInfo.Type (`-` for an error case).
The cases are written from the documentation (https://trino.io/docs/current/functions.html), Athena engine v3's SQL.
Value cases run in batches (one SELECT with up to BATCH columns), error cases one query each, all started before any
is awaited, so the whole table costs a few dozen queries.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from athena_tables import PARQUET, result_rows, wait_for_query

pytestmark = pytest.mark.localaws

TABLES = Path(__file__).parent / "trino_conformance"
BATCH = 40


@dataclass(frozen=True)
class Case:
    family: str
    line: int
    sql: str
    expected: str | None
    type: str

    @property
    def error(self) -> str | None:
        return self.expected[1:] if self.expected and self.expected.startswith("!") else None

    @property
    def expression(self) -> str:
        assert self.sql.upper().startswith("SELECT "), self.sql
        return self.sql[len("SELECT ") :]


def load_cases() -> list[Case]:
    cases = []
    for path in sorted(TABLES.glob("*.tsv")):
        lines = path.read_text(encoding="utf-8").splitlines()
        assert lines[0].startswith("# https://trino.io/docs/current/"), f"{path.name} must cite Trino's page first"
        for number, line in enumerate(lines, 1):
            if not line.strip() or line.startswith("#"):
                continue
            sql, expected, type_name = line.split("\t")
            cases.append(Case(path.stem, number, sql, None if expected == "NULL" else expected, type_name))
    return cases


CASES = load_cases()


@pytest.fixture(scope="module")
def answers(localaws) -> dict[Case, tuple[str | None, str | None, str | None]]:
    """(text, type, failure reason) of every case."""
    options = {"endpoint_url": localaws.endpoint, "region_name": "us-east-1"}
    options |= {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    athena, s3 = boto3.client("athena", **options), boto3.client("s3", **options)
    bucket = "trino-conformance"
    s3.create_bucket(Bucket=bucket)
    athena.create_work_group(
        Name=bucket, Configuration={"ResultConfiguration": {"OutputLocation": f"s3://{bucket}/results/"}}
    )

    def start(sql: str) -> str:
        return athena.start_query_execution(QueryString=sql, WorkGroup=bucket)["QueryExecutionId"]

    values = [case for case in CASES if case.error is None]
    batches = [values[i : i + BATCH] for i in range(0, len(values), BATCH)]
    started = [
        (batch, start("SELECT " + ", ".join(f"{c.expression} AS c{i}" for i, c in enumerate(batch))))
        for batch in batches
    ]
    started += [([case], start(case.sql)) for case in CASES if case.error is not None]
    found = {}
    for batch, query_id in started:
        execution = wait_for_query(athena, query_id)
        if execution["Status"]["State"] != "SUCCEEDED":
            if len(batch) > 1:  # one failing expression fails its batch: ask each alone
                for case in batch:
                    found |= _alone(athena, start, case)
                continue
            found[batch[0]] = (None, None, execution["Status"].get("StateChangeReason", ""))
            continue
        columns, rows = result_rows(athena, query_id)
        for index, case in enumerate(batch):
            found[case] = (rows[1][index], columns[index]["Type"], None)
    return found


def _alone(athena, start, case: Case) -> dict:
    query_id = start(case.sql)
    execution = wait_for_query(athena, query_id)
    if execution["Status"]["State"] != "SUCCEEDED":
        return {case: (None, None, execution["Status"].get("StateChangeReason", ""))}
    columns, rows = result_rows(athena, query_id)
    return {case: (rows[1][0], columns[0]["Type"], None)}


@pytest.mark.parametrize("case", CASES, ids=[f"{c.family}:{c.line}" for c in CASES])
def test_case(case: Case, answers) -> None:
    text, type_name, failure = answers[case]
    if case.error is not None:
        assert failure is not None, f"{case.sql} answered {text!r}, Trino fails with {case.error}"
        assert failure.startswith(case.error), f"{case.sql} failed with {failure!r}, Trino with {case.error}"
        return
    assert failure is None, f"{case.sql} failed: {failure}"
    assert (text, type_name) == (case.expected, case.type), case.sql


def test_table_columns_follow_trino_types(localaws) -> None:
    """Decimal, double and date columns read from Parquet obey the same rules as literals
    (https://trino.io/docs/current/functions/decimal.html): price / 3 stays DECIMAL(10,2) rounded half up,
    avg(decimal) is a decimal, a DATE column plus a month is a DATE."""
    options = {"endpoint_url": localaws.endpoint, "region_name": "us-east-1"}
    options |= {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    athena, s3, glue = (boto3.client(name, **options) for name in ("athena", "s3", "glue"))
    bucket = "trino-conformance-columns"
    s3.create_bucket(Bucket=bucket)
    athena.create_work_group(
        Name=bucket, Configuration={"ResultConfiguration": {"OutputLocation": f"s3://{bucket}/results/"}}
    )
    table = pa.table(
        {
            "price": pa.array([Decimal("10.00"), Decimal("2.50")], pa.decimal128(10, 2)),
            "ratio": pa.array([float("nan"), 1.0]),
            "day": pa.array([dt.date(2024, 1, 31)] * 2, pa.date32()),
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    s3.put_object(Bucket=bucket, Key="t/part-0.parquet", Body=buffer.getvalue())
    glue.create_database(DatabaseInput={"Name": "conformance"})
    columns = [{"Name": "price", "Type": "decimal(10,2)"}, {"Name": "ratio", "Type": "double"}]
    columns.append({"Name": "day", "Type": "date"})
    descriptor = {**PARQUET, "Columns": columns, "Location": f"s3://{bucket}/t/"}
    glue.create_table(DatabaseName="conformance", TableInput={"Name": "t", "StorageDescriptor": descriptor})
    sql = "SELECT sum(price / 3), avg(price), count_if(ratio = ratio), max(day + INTERVAL '1' MONTH) FROM conformance.t"
    query_id = athena.start_query_execution(QueryString=sql, WorkGroup=bucket)["QueryExecutionId"]
    execution = wait_for_query(athena, query_id)
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    columns, rows = result_rows(athena, query_id)
    assert rows[1] == ["4.16", "6.25", "1", "2024-02-29"]  # 3.33 + 0.83; 6.25; NaN <> NaN; a DATE
    assert [c["Type"] for c in columns] == ["decimal", "decimal", "bigint", "date"]
