"""The SQL suite: typical Athena (Trino) queries on pipeline-shaped tables, each checked against pandas.

Tables (see athena_tables.py): orders (flattened customer_address_*, JSON text, dt partitions), orders_items (child
rows with _parent_record_id/_position and tags array<string>), clickstream (ISO 8601 text timestamps, URLs).
Functions: https://docs.aws.amazon.com/athena/latest/ug/functions-env3.html
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pandas as pd
import pytest
from athena_tables import Shop
from pyathena.cursor import Cursor
from result_rows import rows, sorted_rows

from kit.athena_client import connect

pytestmark = pytest.mark.localaws


@pytest.fixture(scope="module")
def shop(localaws):
    return Shop(localaws.endpoint)


@pytest.fixture(scope="module")
def cursor(shop: Shop, localaws) -> Cursor:
    """One connection for the suite, made with only the environment pointing at localaws."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in localaws.env().items():
            patch.setenv(name, value)
        return connect(work_group=shop.work_group, schema_name=shop.database).cursor()


def _json(text: str, *path: str):
    value = json.loads(text)
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def by(frame: pd.DataFrame, keys, **aggregations) -> pd.DataFrame:
    """GROUP BY that keeps the NULL group, as SQL does."""
    return frame.groupby(keys, dropna=False).agg(**aggregations).reset_index()


ORD, ITM, CLK = "orders", "orders_items", "clickstream"


def orders_items(f):
    return f[ORD].merge(f[ITM], left_on="_record_id", right_on="_parent_record_id", suffixes=("", "_item"))


def clicks_time(f):
    return pd.to_datetime(f[CLK]["event_time"], utc=True).dt.tz_localize(None)


# (id, SQL, expected(frames) -> DataFrame or rows, ordered)
CASES = [
    ("count", "SELECT count(*) FROM orders", lambda f: [(len(f[ORD]),)], True),
    (
        "group_by_status",
        "SELECT status, count(*) AS n FROM orders GROUP BY status ORDER BY status",
        lambda f: by(f[ORD], "status", n=("order_id", "size")).sort_values("status"),
        True,
    ),
    (
        "sum_avg_by_city_with_null_group",
        "SELECT customer_address_city, sum(amount), avg(amount) FROM orders GROUP BY customer_address_city",
        lambda f: by(f[ORD], "customer_address_city", s=("amount", "sum"), a=("amount", "mean")),
        False,
    ),
    (
        "having",
        "SELECT customer_id, count(*) FROM orders GROUP BY customer_id HAVING count(*) > 3",
        lambda f: (lambda g: g[g.n > 3])(by(f[ORD], "customer_id", n=("order_id", "size"))),
        False,
    ),
    (
        "min_max_timestamp_by_partition",
        "SELECT dt, min(created_at), max(created_at) FROM orders GROUP BY dt",
        lambda f: by(f[ORD], "dt", lo=("created_at", "min"), hi=("created_at", "max")),
        False,
    ),
    (
        "date_trunc_day",
        "SELECT date_trunc('day', created_at) AS d, count(*) FROM orders GROUP BY 1",
        lambda f: by(f[ORD].assign(d=f[ORD].created_at.dt.floor("D")), "d", n=("order_id", "size")),
        False,
    ),
    (
        "date_trunc_month",
        "SELECT date_trunc('month', created_at), sum(quantity) FROM orders GROUP BY 1",
        lambda f: [(dt.datetime(2024, 3, 1), int(f[ORD].quantity.sum()))],
        False,
    ),
    (
        "date_format",
        "SELECT date_format(created_at, '%Y-%m-%d %H:00') AS h, count(*) FROM orders GROUP BY 1",
        lambda f: by(f[ORD].assign(h=f[ORD].created_at.dt.strftime("%Y-%m-%d %H:00")), "h", n=("order_id", "size")),
        False,
    ),
    (
        "format_datetime_joda",
        "SELECT format_datetime(created_at, 'yyyy/MM/dd') AS d, count(*) FROM orders GROUP BY 1",
        lambda f: by(f[ORD].assign(d=f[ORD].created_at.dt.strftime("%Y/%m/%d")), "d", n=("order_id", "size")),
        False,
    ),
    (
        "from_iso8601_timestamp_hour",
        "SELECT hour(from_iso8601_timestamp(event_time)) AS h, count(*) FROM clickstream GROUP BY 1",
        lambda f: by(f[CLK].assign(h=clicks_time(f).dt.hour), "h", n=("event_id", "size")),
        False,
    ),
    (
        "date_diff_minutes",
        "SELECT dt, date_diff('minute', min(from_iso8601_timestamp(event_time)), "
        "max(from_iso8601_timestamp(event_time))) FROM clickstream GROUP BY dt",
        lambda f: by(f[CLK].assign(t=clicks_time(f)), "dt", lo=("t", "min"), hi=("t", "max")).assign(
            m=lambda g: ((g.hi - g.lo).dt.total_seconds() // 60).astype(int)
        )[["dt", "m"]],
        False,
    ),
    (
        "date_diff_days",
        "SELECT order_id, date_diff('day', DATE '2024-01-01', CAST(created_at AS date)) FROM orders "
        "ORDER BY order_id LIMIT 5",
        lambda f: [
            (r.order_id, (r.created_at.date() - dt.date(2024, 1, 1)).days)
            for r in f[ORD].sort_values("order_id").head(5).itertuples()
        ],
        True,
    ),
    (
        "unnest_cross_join",
        "SELECT tag, count(*) FROM orders_items CROSS JOIN UNNEST(tags) AS t(tag) GROUP BY tag",
        lambda f: by(f[ITM].explode("tags").dropna(subset=["tags"]), "tags", n=("sku", "size")),
        False,
    ),
    (
        "join_parent_child",
        "SELECT o.customer_address_city, sum(i.price * i.qty) FROM orders o "
        "JOIN orders_items i ON i._parent_record_id = o._record_id GROUP BY 1",
        lambda f: by(orders_items(f).assign(v=lambda g: g.price * g.qty), "customer_address_city", v=("v", "sum")),
        False,
    ),
    (
        "left_join_orders_without_items",
        "SELECT count(*) FROM orders o LEFT JOIN orders_items i ON i._parent_record_id = o._record_id "
        "WHERE i._parent_record_id IS NULL",
        lambda f: [(int((~f[ORD]._record_id.isin(f[ITM]._parent_record_id)).sum()),)],
        True,
    ),
    (
        "json_extract_scalar",
        "SELECT json_extract_scalar(attributes, '$.channel') AS ch, count(*) FROM orders GROUP BY 1",
        lambda f: by(
            f[ORD].assign(ch=f[ORD].attributes.map(lambda a: _json(a, "channel"))), "ch", n=("order_id", "size")
        ),
        False,
    ),
    (
        "json_extract_scalar_nested",
        "SELECT json_extract_scalar(attributes, '$.device.os') AS os, count(*) FROM orders GROUP BY 1",
        lambda f: by(
            f[ORD].assign(os=f[ORD].attributes.map(lambda a: _json(a, "device", "os"))), "os", n=("order_id", "size")
        ),
        False,
    ),
    (
        "json_extract_scalar_of_object_is_null",
        "SELECT count(json_extract_scalar(attributes, '$.device')), count(json_extract(attributes, '$.device')) "
        "FROM orders",
        lambda f: [(0, int(f[ORD].attributes.map(lambda a: "device" in json.loads(a)).sum()))],
        True,
    ),
    (
        "json_parse_null_member",
        "SELECT count(*) FROM orders WHERE json_extract_scalar(json_parse(attributes), '$.coupon') IS NULL",
        lambda f: [(int(f[ORD].attributes.map(lambda a: _json(a, "coupon") is None).sum()),)],
        True,
    ),
    (
        "row_number_first_order",
        "SELECT customer_id, order_id FROM (SELECT customer_id, order_id, row_number() OVER "
        "(PARTITION BY customer_id ORDER BY created_at, order_id) AS rn FROM orders) WHERE rn = 1",
        lambda f: (
            f[ORD].sort_values(["created_at", "order_id"]).groupby("customer_id").head(1)[["customer_id", "order_id"]]
        ),
        False,
    ),
    (
        "window_share_of_partition",
        "SELECT order_id, amount / sum(amount) OVER (PARTITION BY dt) FROM orders",
        lambda f: f[ORD].assign(s=f[ORD].amount / f[ORD].groupby("dt").amount.transform("sum"))[["order_id", "s"]],
        False,
    ),
    (
        "rank_top5",
        "SELECT order_id, rank() OVER (ORDER BY amount DESC) AS r FROM orders ORDER BY r LIMIT 5",
        lambda f: [
            (r.order_id, k + 1)
            for k, r in enumerate(f[ORD].sort_values("amount", ascending=False).head(5).itertuples())
        ],
        True,
    ),
    (
        "lag",
        "SELECT order_id, lag(amount) OVER (PARTITION BY customer_id ORDER BY created_at, order_id) FROM orders",
        lambda f: (lambda s: s.assign(p=s.groupby("customer_id").amount.shift(1))[["order_id", "p"]])(
            f[ORD].sort_values(["created_at", "order_id"])
        ),
        False,
    ),
    (
        "cte",
        "WITH big AS (SELECT * FROM orders WHERE amount > 250) SELECT count(*), sum(quantity) FROM big",
        lambda f: [(int((f[ORD].amount > 250).sum()), int(f[ORD][f[ORD].amount > 250].quantity.sum()))],
        True,
    ),
    (
        "cte_join",
        "WITH spend AS (SELECT customer_id, sum(amount) AS s FROM orders GROUP BY customer_id), "
        "best AS (SELECT max(s) AS m FROM spend) SELECT customer_id FROM spend JOIN best ON spend.s = best.m",
        lambda f: (lambda s: s[s.amount == s.amount.max()][["customer_id"]])(
            by(f[ORD], "customer_id", amount=("amount", "sum"))
        ),
        False,
    ),
    (
        "approx_distinct",
        "SELECT approx_distinct(customer_id) FROM orders",
        lambda f: [(f[ORD].customer_id.nunique(),)],
        True,
    ),
    (
        "count_distinct_by_partition",
        "SELECT dt, count(DISTINCT customer_id) FROM orders GROUP BY dt",
        lambda f: by(f[ORD], "dt", n=("customer_id", "nunique")),
        False,
    ),
    (
        "regexp_like",
        r"SELECT count(*) FROM orders WHERE regexp_like(customer_email, '@mail\.org$')",
        lambda f: [(int(f[ORD].customer_email.str.endswith("@mail.org").sum()),)],
        True,
    ),
    (
        "regexp_extract_group",
        "SELECT regexp_extract(url, '/(p|c|cart)/', 1) AS kind, count(*) FROM clickstream GROUP BY 1",
        lambda f: by(f[CLK].assign(k=f[CLK].url.str.extract(r"/(p|c|cart)/")[0]), "k", n=("event_id", "size")),
        False,
    ),
    (
        "regexp_extract_whole_match",
        "SELECT DISTINCT regexp_extract(customer_email, '[a-z]+\\.[a-z]+$') FROM orders",
        lambda f: [(d,) for d in f[ORD].customer_email.str.extract(r"([a-z]+\.[a-z]+)$")[0].unique()],
        False,
    ),
    (
        "case_buckets",
        "SELECT CASE WHEN amount >= 300 THEN 'high' WHEN amount >= 100 THEN 'mid' ELSE 'low' END AS b, count(*) "
        "FROM orders GROUP BY 1",
        lambda f: by(
            f[ORD].assign(b=f[ORD].amount.map(lambda a: "high" if a >= 300 else "mid" if a >= 100 else "low")),
            "b",
            n=("order_id", "size"),
        ),
        False,
    ),
    (
        "like",
        "SELECT count(*) FROM orders WHERE customer_name LIKE 'Customer 1%'",
        lambda f: [(int(f[ORD].customer_name.fillna("").str.startswith("Customer 1").sum()),)],
        True,
    ),
    (
        "element_at_first_tag",
        "SELECT element_at(tags, 1) AS first, count(*) FROM orders_items GROUP BY 1",
        lambda f: by(
            f[ITM].assign(first=f[ITM].tags.map(lambda t: t[0] if len(t) else None)), "first", n=("sku", "size")
        ),
        False,
    ),
    (
        "cardinality",
        "SELECT sku, sum(cardinality(tags)) FROM orders_items GROUP BY sku",
        lambda f: by(f[ITM].assign(c=f[ITM].tags.map(len)), "sku", c=("c", "sum")),
        False,
    ),
    (
        "contains",
        "SELECT count(DISTINCT _parent_record_id) FROM orders_items WHERE contains(tags, 'eco')",
        lambda f: [(f[ITM][f[ITM].tags.map(lambda t: "eco" in t)]._parent_record_id.nunique(),)],
        True,
    ),
    (
        "array_join",
        "SELECT _parent_record_id, _position, array_join(tags, '|') FROM orders_items "
        "ORDER BY _parent_record_id, _position LIMIT 8",
        lambda f: [
            (r["_parent_record_id"], r["_position"], "|".join(r["tags"]))
            for r in f[ITM].sort_values(["_parent_record_id", "_position"]).head(8).to_dict("records")
        ],
        True,
    ),
    (
        "order_by_limit",
        "SELECT order_id, amount FROM orders ORDER BY amount DESC LIMIT 5",
        lambda f: f[ORD].sort_values("amount", ascending=False).head(5)[["order_id", "amount"]],
        True,
    ),
    (
        "partition_filter_equals",
        "SELECT count(*), sum(amount) FROM orders WHERE dt = '2024-03-02'",
        lambda f: [(int((f[ORD].dt == "2024-03-02").sum()), f[ORD][f[ORD].dt == "2024-03-02"].amount.sum())],
        True,
    ),
    (
        "partition_filter_in",
        "SELECT dt, count(*) FROM orders WHERE dt IN ('2024-03-01', '2024-03-03') GROUP BY dt",
        lambda f: by(f[ORD][f[ORD].dt.isin(["2024-03-01", "2024-03-03"])], "dt", n=("order_id", "size")),
        False,
    ),
    (
        "partition_range_and_column_filter",
        "SELECT count(*) FROM orders WHERE dt >= '2024-03-02' AND status = 'paid'",
        lambda f: [(int(((f[ORD].dt >= "2024-03-02") & (f[ORD].status == "paid")).sum()),)],
        True,
    ),
    (
        "coalesce",
        "SELECT coalesce(customer_address_city, 'unknown') AS c, count(*) FROM orders GROUP BY 1",
        lambda f: by(f[ORD].assign(c=f[ORD].customer_address_city.fillna("unknown")), "c", n=("order_id", "size")),
        False,
    ),
    (
        "integer_division",
        "SELECT dt, sum(quantity) / count(*) FROM orders GROUP BY dt",
        lambda f: by(f[ORD], "dt", s=("quantity", "sum"), n=("order_id", "size")).assign(q=lambda g: g.s // g.n)[
            ["dt", "q"]
        ],
        False,
    ),
    (
        "round_avg",
        "SELECT status, round(avg(amount), 2) FROM orders GROUP BY status",
        lambda f: by(f[ORD], "status", a=("amount", "mean")).assign(a=lambda g: g.a.round(2)),
        False,
    ),
    (
        "split_part_lower_length",
        "SELECT split_part(customer_email, '@', 2) AS d, upper(d), length(d) FROM (SELECT DISTINCT customer_email "
        "FROM orders) AS e(customer_email)",
        lambda f: [
            (e.split("@")[1], e.split("@")[1].upper(), len(e.split("@")[1])) for e in f[ORD].customer_email.unique()
        ],
        False,
    ),
    (
        "url_extract_host",
        "SELECT DISTINCT url_extract_host(url) FROM clickstream",
        lambda f: [("shop.example.com",)],
        True,
    ),
    (
        "in_subquery",
        "SELECT count(*) FROM orders WHERE _record_id IN (SELECT _parent_record_id FROM orders_items "
        "WHERE contains(tags, 'gift'))",
        lambda f: [
            (int(f[ORD]._record_id.isin(f[ITM][f[ITM].tags.map(lambda t: "gift" in t)]._parent_record_id).sum()),)
        ],
        True,
    ),
    (
        "union_all",
        "SELECT 'orders' AS t, count(*) FROM orders UNION ALL SELECT 'items', count(*) FROM orders_items",
        lambda f: [("orders", len(f[ORD])), ("items", len(f[ITM]))],
        False,
    ),
    (
        "day_of_week_month_year",
        "SELECT day_of_week(created_at) AS d, month(created_at), year(created_at), count(*) FROM orders "
        "GROUP BY 1, 2, 3",
        lambda f: by(
            f[ORD].assign(
                d=f[ORD].created_at.dt.day_of_week + 1, m=f[ORD].created_at.dt.month, y=f[ORD].created_at.dt.year
            ),
            ["d", "m", "y"],
            n=("order_id", "size"),
        ),
        False,
    ),
    (
        "max_by",
        "SELECT dt, max_by(order_id, amount) FROM orders GROUP BY dt",
        lambda f: f[ORD].sort_values("amount").groupby("dt").tail(1)[["dt", "order_id"]],
        False,
    ),
    (
        "count_if",
        "SELECT customer_address_country, count_if(status = 'paid') FROM orders GROUP BY 1",
        lambda f: by(f[ORD].assign(p=f[ORD].status == "paid"), "customer_address_country", p=("p", "sum")),
        False,
    ),
    (
        "date_add_hours",
        "SELECT order_id, date_add('hour', 2, created_at) FROM orders ORDER BY order_id LIMIT 3",
        lambda f: [
            (r.order_id, r.created_at + pd.Timedelta(hours=2))
            for r in f[ORD].sort_values("order_id").head(3).itertuples()
        ],
        True,
    ),
    (
        "three_way_join_with_unnest",
        "SELECT o.dt, t.tag, count(*) FROM orders o JOIN orders_items i ON i._parent_record_id = o._record_id "
        "CROSS JOIN UNNEST(i.tags) AS t(tag) WHERE o.dt = '2024-03-01' GROUP BY 1, 2",
        lambda f: by(
            orders_items(f)[lambda g: g.dt == "2024-03-01"].explode("tags").dropna(subset=["tags"]),
            ["dt", "tags"],
            n=("sku", "size"),
        ),
        False,
    ),
]


@pytest.mark.parametrize(("sql", "expected", "ordered"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_query_matches_pandas(shop: Shop, cursor: Cursor, sql: str, expected, ordered: bool) -> None:
    cursor.execute(sql)
    actual = rows(cursor.fetchall())
    wanted = rows(expected(shop.frames))
    if not ordered:
        actual, wanted = sorted_rows(actual), sorted_rows(wanted)
    assert actual == wanted


def test_suite_has_at_least_forty_queries() -> None:
    assert len(CASES) >= 40
    assert len({re.sub(r"\s+", " ", c[1]) for c in CASES}) == len(CASES)
