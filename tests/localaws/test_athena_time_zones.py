"""TIMESTAMP WITH TIME ZONE through subqueries and CTEs: the zone follows a column read by name, and whatever would
show or read the value without its zone is refused (NOT_SUPPORTED), never answered in UTC.

https://trino.io/docs/current/language/types.html#timestamp-with-time-zone: a value keeps its zone wherever it goes.
The single-expression cases are in trino_conformance/timezone.tsv; these need a FROM clause.
"""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

import boto3
import pytest
from athena_tables import result_rows, wait_for_query

pytestmark = pytest.mark.localaws

TOKYO = "SELECT from_unixtime(y, 'Asia/Tokyo') AS x FROM (VALUES 0, 90000) v(y)"
ANSWERS = [
    (f"SELECT hour(x) AS h FROM ({TOKYO}) ORDER BY 1", [["9"], ["10"]], "bigint"),
    (f"WITH t AS ({TOKYO}) SELECT x FROM t ORDER BY x DESC",
     [["1970-01-02 10:00:00.000 Asia/Tokyo"], ["1970-01-01 09:00:00.000 Asia/Tokyo"]], "timestamp with time zone"),
    (f"WITH t AS ({TOKYO}) SELECT date_trunc('day', t.x) AS d FROM t ORDER BY 1",
     [["1970-01-01 00:00:00.000 Asia/Tokyo"], ["1970-01-02 00:00:00.000 Asia/Tokyo"]], "timestamp with time zone"),
    (f"SELECT x FROM (SELECT x FROM ({TOKYO})) WHERE x > from_unixtime(10)",
     [["1970-01-02 10:00:00.000 Asia/Tokyo"]], "timestamp with time zone"),
    (f"SELECT count(*) AS n FROM ({TOKYO}) WHERE x = TIMESTAMP '1970-01-01 00:00:00 UTC'", [["1"]], "bigint"),
    # 01:30 daylight time comes before 01:10 standard time on the night clocks go back: results sort by instant.
    ("SELECT from_unixtime(t, 'America/New_York') AS x FROM (VALUES 1636265400, 1636263000) v(t) ORDER BY 1",
     [["2021-11-07 01:30:00.000 America/New_York"], ["2021-11-07 01:10:00.000 America/New_York"]],
     "timestamp with time zone"),
    ("SELECT from_unixtime(0) IN (SELECT from_unixtime(0, 'Asia/Tokyo')) AS b", [["true"]], "boolean"),
    ("SELECT (SELECT from_unixtime(0, 'Asia/Tokyo')) < from_unixtime(5) AS b", [["true"]], "boolean"),
    # a text's own offset does not matter where only its instant is used
    ("SELECT to_unixtime(from_iso8601_timestamp(s)) AS u FROM (VALUES '1970-01-01T09:00:00+09:00') t(s)",
     [["0.0"]], "double"),
    ("SELECT at_timezone(from_iso8601_timestamp(s), 'America/New_York') AS u "
     "FROM (VALUES '1970-01-01T09:00+09:00') t(s)",
     [["1969-12-31 19:00:00.000 America/New_York"]], "timestamp with time zone"),
    ("SELECT count(*) AS n FROM (VALUES '1970-01-01T09:00:00+09:00') t(s) "
     "WHERE from_iso8601_timestamp(s) < from_unixtime(1)",
     [["1"]], "bigint"),
    ("SELECT CAST(x AS VARCHAR) AS s FROM (SELECT from_unixtime(0) AS x)",
     [["1970-01-01 00:00:00.000 UTC"]], "varchar"),
]  # fmt: skip
REFUSED = [
    f"SELECT * FROM ({TOKYO})",
    f"SELECT t.* FROM ({TOKYO}) t",
    f"SELECT z FROM ({TOKYO}) t(z)",
    f"WITH t(z) AS ({TOKYO}) SELECT z FROM t",
    "SELECT (SELECT from_unixtime(0, 'Asia/Tokyo'))",
    f"SELECT x FROM ({TOKYO} UNION ALL {TOKYO})",
    "SELECT with_timezone(TIMESTAMP '2024-01-01 00:00:00', z) FROM (VALUES 'Asia/Tokyo') t(z)",
    "SELECT hour(from_iso8601_timestamp(s)) FROM (VALUES '2024-01-01T00:00:00+09:00') t(s)",
    "SELECT CAST(s AS TIMESTAMP WITH TIME ZONE) FROM (VALUES '2024-01-01 00:00:00+09:00') t(s)",
    "SELECT from_unixtime(0, 'Asia/Tokyo') + i FROM (VALUES INTERVAL '1' MONTH) t(i)",
]


@pytest.fixture(scope="module")
def athena(localaws):
    options = {"endpoint_url": localaws.endpoint, "region_name": "us-east-1"}
    options |= {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    client, s3 = boto3.client("athena", **options), boto3.client("s3", **options)
    s3.create_bucket(Bucket="time-zones")
    client.create_work_group(
        Name="time-zones", Configuration={"ResultConfiguration": {"OutputLocation": "s3://time-zones/results/"}}
    )
    return client


def _run(athena, sql: str) -> dict:
    query_id = athena.start_query_execution(QueryString=sql, WorkGroup="time-zones")["QueryExecutionId"]
    return wait_for_query(athena, query_id)


@pytest.mark.parametrize(("sql", "rows", "type_name"), ANSWERS)
def test_zone_follows_a_column_read_by_name(athena, sql, rows, type_name) -> None:
    execution = _run(athena, sql)
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"].get("StateChangeReason")
    columns, got = result_rows(athena, execution["QueryExecutionId"])
    assert (got[1:], columns[0]["Type"]) == (rows, type_name)


@pytest.mark.parametrize("sql", REFUSED)
def test_what_would_lose_the_zone_is_refused(athena, sql) -> None:
    execution = _run(athena, sql)
    assert execution["Status"]["State"] == "FAILED"
    assert execution["Status"]["StateChangeReason"].startswith("NOT_SUPPORTED"), execution["Status"]


# Zones with daylight saving (some at midnight, some by 30 minutes), half-hour offsets and southern summers.
ZONES = ("America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata", "America/Sao_Paulo",
         "Pacific/Chatham", "Europe/London", "America/St_Johns")  # fmt: skip
_DRAW = random.Random(11)
SAMPLE = [(_DRAW.randrange(315532800, 1577836800), zone) for zone in ZONES for _ in range(5)] + [
    (1541340000, "America/Sao_Paulo"),  # 2018-11-04 12:00: that day began at 01:00 (clocks moved at midnight)
    (1615703400, "America/New_York"),  # 2021-03-14 01:30 EST, an hour before clocks go forward
    (1636263000, "America/New_York"),  # 2021-11-07 01:30 EDT, the first of two 01:30s
    (1635636600, "Europe/London"),  # 2021-10-31 00:30 BST, hours before clocks go back
    (1617462000, "Australia/Lord_Howe"),  # 2021-04-04 01:30 +10:30, the second 01:30 (clocks went back half an hour)
]


def _shown(instant: dt.datetime, zone: str) -> str:
    return f"{instant.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M:%S}.000 {zone}"


def _instant(local: dt.datetime, zone: str) -> dt.datetime:
    return local.replace(tzinfo=ZoneInfo(zone)).astimezone(dt.UTC)  # the earlier instant of a repeated local time


def _expected(seconds: int, zone: str) -> list[str]:
    instant = dt.datetime.fromtimestamp(seconds, dt.UTC)
    local = instant.astimezone(ZoneInfo(zone)).replace(tzinfo=None, fold=0)
    midnight = local.replace(hour=0, minute=0, second=0)
    return [
        _shown(instant, zone),
        _shown(_instant(local + dt.timedelta(days=1), zone), zone),
        _shown(instant + dt.timedelta(hours=5), zone),
        _shown(_instant(midnight, zone), zone),
        str(local.hour),
        f"{int(_instant(local, zone).timestamp())}",
    ]


def _expressions(seconds: int, zone: str) -> list[str]:
    value = f"from_unixtime({seconds}, '{zone}')"
    return [
        f"CAST({value} AS VARCHAR)",
        f"CAST(date_add('day', 1, {value}) AS VARCHAR)",
        f"CAST(date_add('hour', 5, {value}) AS VARCHAR)",
        f"CAST(date_trunc('day', {value}) AS VARCHAR)",
        f"CAST(hour({value}) AS VARCHAR)",
        f"CAST(CAST(to_unixtime(with_timezone(CAST({value} AS TIMESTAMP), '{zone}')) AS BIGINT) AS VARCHAR)",
    ]


def test_zoned_values_agree_with_the_zone_database(athena) -> None:
    """Local times, day arithmetic across daylight-saving changes, truncation to a local midnight that may not exist
    (Sao Paulo moved clocks at midnight) and local-to-instant, against Python's zoneinfo (the IANA database)."""
    columns = [e for seconds, zone in SAMPLE for e in _expressions(seconds, zone)]
    execution = _run(athena, "SELECT " + ", ".join(columns))
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"].get("StateChangeReason")
    _, rows = result_rows(athena, execution["QueryExecutionId"])
    width = len(_expressions(0, "UTC"))
    for index, (seconds, zone) in enumerate(SAMPLE):
        got = rows[1][index * width : (index + 1) * width]
        assert got == _expected(seconds, zone), (seconds, zone)
