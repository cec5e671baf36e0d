"""Typical Athena (Trino) queries on the tables the pipeline builds from sample_data/, each checked against pandas.

The stack 'sqlsuite' is provisioned on the session's localaws, every sample file goes through the real pipeline
(transform Lambda -> Parquet -> crawler -> Glue), and the queries run through pyathena. The expected answers are
computed here from the raw sample JSON alone (json/gzip and pandas, flattened by hand), never with pipeline/ code.

The messy files are uploaded one at a time, in sample_files() order, waiting for the pipeline between them: which
file is merged first decides which columns get a variant (docs/transform.md, "Drift across files"). In that order
(export 2024-06-02.jsonl, part-0001.json, single_record.json) the schema record holds `id string` (string IDs first;
later int IDs cast losslessly to string), `id_6bd2b4 bigint` (the lowercase `id` key that collides with `ID`),
`zip_code bigint` plus the variant `zip_code__string`, `price double`, `quantity string`, `account_number
decimal(38,0)`. Functions: https://docs.aws.amazon.com/athena/latest/ug/functions-env3.html
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path

import boto3
import pandas as pd
import pytest
from pyathena.cursor import Cursor
from result_rows import rows, sorted_rows

from kit.athena_client import connect
from kit.local_endpoint import wait_idle
from kit.uploads import sample_files, upload_file
from tests.conftest import provision_stack

pytestmark = [pytest.mark.localaws, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_data"
STACK = "sqlsuite"


# --- the raw samples, read and flattened by hand -----------------------------------------------------------------


def read_records(path: Path) -> list[dict]:
    """A JSON array, one object, or NDJSON; gzip by magic bytes; UTF-8 with or without a BOM. Malformed -> []."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    text = data.decode("utf-8-sig").strip()
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        try:
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError:
            return []  # the truncated upload: quarantined by the pipeline, so in no table
    return value if isinstance(value, list) else [value]


def records_of(dataset: str) -> list[tuple[str, dict]]:
    return [(f"raw/{dataset}/{p.name}", r) for p in sorted((SAMPLES / dataset).iterdir()) for r in read_records(p)]


def ts(text: str | None) -> pd.Timestamp | None:
    return None if text is None else pd.Timestamp(text).tz_convert(None)


@dataclass
class Samples:
    orders: pd.DataFrame
    items: pd.DataFrame
    clicks: pd.DataFrame
    purchase_items: pd.DataFrame
    messy: pd.DataFrame
    messy_lines: pd.DataFrame


def load_samples() -> Samples:
    orders, items = [], []
    for key, order in records_of("orders"):
        customer, address, payment = order["customer"], order["customer"]["address"], order["payment"]
        orders.append(
            {
                "order_id": order["order_id"],
                "order_ts": order["order_ts"],
                "t": ts(order["order_ts"]),
                "status": order["status"],
                "customer_id": customer["customer_id"],
                "customer_name": customer["name"],
                "email": customer.get("email"),
                "city": address["city"],
                "country": address["country"],
                "postcode": address["postcode"],
                "method": payment["method"],
                "amount": payment["amount"],
                "currency": payment["currency"],
                "shipped_at": order.get("shipped_at"),
                "shipped": ts(order.get("shipped_at")),
                "coupon_code": order.get("coupon_code"),
                "gift_message": order.get("gift_message"),
                "source_key": key,
            }
        )
        for position, item in enumerate(order["items"]):
            items.append({"order_id": order["order_id"], "position": position, **item})
    clicks, purchase_items = [], []
    for key, event in records_of("clickstream"):
        device, payload = event["device"], event["payload"]
        clicks.append(
            {
                "event_id": event["event_id"],
                "event_type": event["event_type"],
                "ts": event["ts"],
                "t": ts(event["ts"]),
                "user_id": event["user_id"],
                "session_id": event["session_id"],
                "device_type": device["type"],
                "os": device["os"],
                "browser": device["browser"],
                "width": device["screen"]["width"],
                "experiments": event["experiments"],
                "url": payload.get("url"),
                "referrer": payload.get("referrer"),
                "query": payload.get("query"),
                "results": payload.get("results"),
                "filters": payload.get("filters"),
                "purchase_order_id": payload.get("order_id"),
                "purchase_amount": payload.get("amount"),
                "source_key": key,
            }
        )
        for position, item in enumerate(payload.get("items", [])):
            purchase_items.append({"event_id": event["event_id"], "position": position, **item})
    messy, messy_lines = [], []
    for key, record in records_of("messy"):
        any_id = str(record.get("ID", record.get("id")))  # "ID" and "id" are one column name once lowercased
        messy.append({"source_key": key, "any_id": any_id, **record})
        for position, line in enumerate(record.get("Line Items", [])):
            messy_lines.append({"source_key": key, "any_id": any_id, "pos": position, **line})
    return Samples(
        pd.DataFrame(orders),
        pd.DataFrame(items),
        pd.DataFrame(clicks),
        pd.DataFrame(purchase_items),
        pd.DataFrame(messy),
        pd.DataFrame(messy_lines),
    )


# --- the stack ---------------------------------------------------------------------------------------------------


@dataclass
class Suite:
    cursor: Cursor
    dt: str
    data: Samples


@pytest.fixture(scope="module")
def suite(localaws, tmp_path_factory: pytest.TempPathFactory):
    """Provision 'sqlsuite', upload every sample file one at a time (see the module docstring), wait, connect."""
    stacks_dir = tmp_path_factory.mktemp("sqlsuite-stacks")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in localaws.env().items():
            patch.setenv(name, value)
        outputs = provision_stack(STACK, stacks_dir)
        s3 = boto3.client("s3")
        for path in sample_files(SAMPLES):
            upload_file(s3, outputs["bucket"], path)
            assert wait_idle(localaws.endpoint, timeout=180), f"localaws still busy after uploading {path.name}"
        partitions = boto3.client("glue").get_partitions(DatabaseName=outputs["glue_database"], TableName="orders")
        (partition,) = partitions["Partitions"]
        cursor = connect(work_group=outputs["workgroup"], schema_name=outputs["glue_database"]).cursor()
        yield Suite(cursor, partition["Values"][0], load_samples())


# --- comparison --------------------------------------------------------------------------------------------------


def by(frame: pd.DataFrame, keys, **aggregations) -> pd.DataFrame:
    """GROUP BY that keeps the NULL group, as SQL does."""
    return frame.groupby(keys, dropna=False).agg(**aggregations).reset_index()


def counts(values) -> list[tuple]:
    """(value, count) pairs as GROUP BY gives them: NULL is a group of its own."""
    return list(pd.Series(list(values), dtype=object).value_counts(dropna=False).items())


def order_lines(d: Samples) -> pd.DataFrame:
    return d.orders.merge(d.items, on="order_id")


def tag_rows(d: Samples) -> pd.DataFrame:
    rows = [(r.order_id, r.sku, n, tag) for r in d.items.itertuples() for n, tag in enumerate(r.tags, start=1)]
    return pd.DataFrame(rows, columns=["order_id", "sku", "n", "tag"])


def trunc_seconds(delta: pd.Timedelta) -> int:
    return int(delta / pd.Timedelta(seconds=1))  # date_diff truncates toward zero


def top_per_country(d: Samples) -> list[tuple]:
    ranked = d.orders.sort_values(["country", "amount", "order_id"], ascending=[True, False, True])
    return [(r.country, r.order_id, r.amount) for r in ranked.groupby("country").head(1).itertuples()]


def running_totals(d: Samples) -> list[tuple]:
    frame = d.orders.sort_values(["customer_id", "order_ts", "order_id"])
    frame = frame.assign(running=frame.groupby("customer_id").amount.cumsum())
    return [(r.order_id, r.running) for r in frame.itertuples()]


def click_gaps(d: Samples) -> list[tuple]:
    frame = d.clicks.sort_values(["session_id", "t"])
    previous = frame.groupby("session_id").t.shift()
    return [
        (e, None if pd.isna(p) else trunc_seconds(t - p))
        for e, t, p in zip(frame.event_id, frame.t, previous, strict=True)
    ]


def landing_pages(d: Samples) -> list[tuple]:
    views = d.clicks[d.clicks.event_type == "page_view"].sort_values(["session_id", "t"])
    return [(s, g.url.iloc[0]) for s, g in views.groupby("session_id")]


def bucket(amount: float) -> str:
    return "zero" if amount == 0 else "small" if amount < 100 else "medium" if amount < 300 else "large"


def messy_zip(value) -> str | None:
    if isinstance(value, str):
        return value
    return None if pd.isna(value) else str(int(value))


def as_list(value) -> list:
    return value if isinstance(value, list) else []


ORDER_LINES_JOIN = "FROM orders o JOIN orders__items i ON i._parent_record_id = o._record_id"
TS = "from_iso8601_timestamp(order_ts)"

# (id, SQL with {dt} for the partition value, expected(samples, dt) -> DataFrame or rows, ordered)
CASES = [
    # aggregates, GROUP BY, HAVING
    ("count_orders", "SELECT count(*) FROM orders", lambda d, p: [(len(d.orders),)], True),
    (
        "status_counts_ordered",
        "SELECT status, count(*) AS n FROM orders GROUP BY status ORDER BY n DESC, status",
        lambda d, p: by(d.orders, "status", n=("order_id", "size")).sort_values(["n", "status"], ascending=[0, 1]),
        True,
    ),
    (
        "revenue_by_currency_without_cancelled",
        "SELECT payment_currency, round(sum(payment_amount), 2) FROM orders WHERE status <> 'cancelled' GROUP BY 1",
        lambda d, p: by(d.orders[d.orders.status != "cancelled"], "currency", s=("amount", "sum")).round(2),
        False,
    ),
    (
        "having_cities_with_four_orders",
        "SELECT customer_address_city, count(*) FROM orders GROUP BY 1 HAVING count(*) >= 4",
        lambda d, p: [(c, n) for c, n in counts(d.orders.city) if n >= 4],
        False,
    ),
    (
        "min_max_avg_by_country",
        "SELECT customer_address_country, min(payment_amount), max(payment_amount), avg(payment_amount) "
        "FROM orders GROUP BY customer_address_country",
        lambda d, p: by(d.orders, "country", lo=("amount", "min"), hi=("amount", "max"), av=("amount", "mean")),
        False,
    ),
    (
        "count_column_skips_nulls",
        "SELECT count(*), count(customer_email), count(coupon_code), count(gift_message), count(shipped_at) "
        "FROM orders",
        lambda d, p: [
            (
                len(d.orders),
                *(int(d.orders[c].notna().sum()) for c in ("email", "coupon_code", "gift_message", "shipped_at")),
            )
        ],
        True,
    ),
    (
        "count_distinct_customers_per_country",
        "SELECT customer_address_country, count(DISTINCT customer_customer_id) FROM orders GROUP BY 1",
        lambda d, p: by(d.orders, "country", n=("customer_id", "nunique")),
        False,
    ),
    (
        "sum_of_lines_equals_payment",
        f"SELECT o.order_id, o.payment_amount, round(sum(i.qty * i.unit_price), 2) {ORDER_LINES_JOIN} "
        "GROUP BY o.order_id, o.payment_amount",
        lambda d, p: [
            (o, a, round(s, 2))
            for (o, a), s in order_lines(d)
            .assign(v=lambda f: f.qty * f.unit_price)
            .groupby(["order_id", "amount"])
            .v.sum()
            .items()
        ],
        False,
    ),
    (
        "left_join_orders_without_lines",
        "SELECT o.order_id, o.status FROM orders o LEFT JOIN orders__items i ON i._parent_record_id = o._record_id "
        "WHERE i._record_id IS NULL",
        lambda d, p: d.orders[~d.orders.order_id.isin(d.items.order_id)][["order_id", "status"]],
        False,
    ),
    (
        "join_units_by_status",
        f"SELECT o.status, sum(i.qty), count(*) {ORDER_LINES_JOIN} GROUP BY o.status",
        lambda d, p: by(order_lines(d), "status", q=("qty", "sum"), n=("sku", "size")),
        False,
    ),
    # date and time functions on ISO-8601 strings
    (
        "date_trunc_day_as_date",
        f"SELECT CAST(date_trunc('day', {TS}) AS date) AS d, count(*) FROM orders GROUP BY 1",
        lambda d, p: counts(d.orders.t.dt.date),
        False,
    ),
    (
        "date_trunc_hour_timestamp",
        "SELECT CAST(date_trunc('hour', from_iso8601_timestamp(ts)) AS timestamp), count(*) FROM clickstream "
        "GROUP BY 1",
        lambda d, p: counts(t.to_pydatetime() for t in d.clicks.t.dt.floor("h")),
        False,
    ),
    (
        "date_format_hour_bucket",
        f"SELECT date_format({TS}, '%Y-%m-%d %H:00') AS h, count(*) FROM orders GROUP BY 1",
        lambda d, p: counts(d.orders.t.dt.strftime("%Y-%m-%d %H:00")),
        False,
    ),
    (
        "hour_function",
        f"SELECT hour({TS}) AS h, count(*) FROM orders GROUP BY 1",
        lambda d, p: counts(d.orders.t.dt.hour),
        False,
    ),
    (
        "day_of_week",
        f"SELECT day_of_week({TS}), count(*) FROM orders GROUP BY 1",
        lambda d, p: counts(d.orders.t.dt.day_of_week + 1),
        False,
    ),
    (
        "date_diff_hours_to_ship",
        f"SELECT order_id, date_diff('hour', {TS}, from_iso8601_timestamp(shipped_at)) FROM orders "
        "WHERE shipped_at IS NOT NULL",
        lambda d, p: [
            (r.order_id, trunc_seconds(r.shipped - r.t) // 3600) for r in d.orders.dropna(subset="shipped").itertuples()
        ],
        False,
    ),
    (
        "avg_minutes_to_ship_by_status",
        f"SELECT status, avg(date_diff('minute', {TS}, from_iso8601_timestamp(shipped_at))) FROM orders "
        "WHERE shipped_at IS NOT NULL GROUP BY status",
        lambda d, p: by(
            d.orders.dropna(subset="shipped").assign(m=lambda f: [trunc_seconds(x) // 60 for x in f.shipped - f.t]),
            "status",
            m=("m", "mean"),
        ),
        False,
    ),
    (
        "session_duration_seconds_with_millis",
        "SELECT session_id, date_diff('second', min(from_iso8601_timestamp(ts)), max(from_iso8601_timestamp(ts))) "
        "FROM clickstream GROUP BY session_id",
        lambda d, p: [(s, trunc_seconds(g.t.max() - g.t.min())) for s, g in d.clicks.groupby("session_id")],
        False,
    ),
    (
        "timestamp_range_filter",
        f"SELECT count(*) FROM orders WHERE {TS} >= from_iso8601_timestamp('2024-06-02T00:00:00Z') "
        f"AND {TS} < from_iso8601_timestamp('2024-06-03T00:00:00Z')",
        lambda d, p: [(int(((d.orders.t >= "2024-06-02") & (d.orders.t < "2024-06-03")).sum()),)],
        True,
    ),
    (
        "date_add_and_format",
        f"SELECT order_id, date_format(date_add('day', 7, {TS}), '%Y-%m-%d') FROM orders",
        lambda d, p: [(r.order_id, (r.t + pd.Timedelta(days=7)).strftime("%Y-%m-%d")) for r in d.orders.itertuples()],
        False,
    ),
    # UNNEST with CROSS JOIN
    (
        "unnest_tag_uses",
        "SELECT tag, count(*) FROM orders__items CROSS JOIN UNNEST(tags) AS t(tag) GROUP BY tag",
        lambda d, p: counts(tag_rows(d).tag),
        False,
    ),
    (
        "unnest_with_ordinality_first_tag",
        "SELECT sku, tag FROM orders__items CROSS JOIN UNNEST(tags) WITH ORDINALITY AS t(tag, n) WHERE n = 1",
        lambda d, p: (lambda f: f[f.n == 1][["sku", "tag"]])(tag_rows(d)),
        False,
    ),
    (
        "unnest_experiments_distinct_sessions",
        "SELECT e, count(DISTINCT session_id) FROM clickstream CROSS JOIN UNNEST(experiments) AS x(e) GROUP BY e",
        lambda d, p: by(
            d.clicks.explode("experiments").dropna(subset="experiments"), "experiments", n=("session_id", "nunique")
        ),
        False,
    ),
    (
        "unnest_joined_with_orders_revenue_per_tag",
        "SELECT t.tag, o.customer_address_country, round(sum(i.qty * i.unit_price), 2) "
        f"{ORDER_LINES_JOIN} CROSS JOIN UNNEST(i.tags) AS t(tag) GROUP BY 1, 2",
        lambda d, p: [
            (t, c, round(v, 2))
            for (t, c), v in tag_rows(d)
            .merge(d.items[["order_id", "sku", "qty", "unit_price"]], on=["order_id", "sku"])
            .merge(d.orders[["order_id", "country"]], on="order_id")
            .assign(v=lambda f: f.qty * f.unit_price)
            .groupby(["tag", "country"])
            .v.sum()
            .items()
        ],
        False,
    ),
    (
        "unnest_search_filters",
        "SELECT f, count(*) FROM clickstream CROSS JOIN UNNEST(payload_filters) AS t(f) WHERE event_type = 'search' "
        "GROUP BY f",
        lambda d, p: counts(f for fs in d.clicks.filters for f in as_list(fs)),
        False,
    ),
    # JSON functions
    (
        "json_extract_scalar_on_literal",
        """SELECT json_extract_scalar('{"a": {"b": [10, 20]}}', '$.a.b[1]')""",
        lambda d, p: [("20",)],
        True,
    ),
    (
        "json_parse_built_from_columns",
        "SELECT order_id, json_extract_scalar(json_parse('{\"city\": \"' || customer_address_city || '\"}'), "
        "'$.city') FROM orders",
        lambda d, p: d.orders[["order_id", "city"]],
        False,
    ),
    (
        "json_cast_array_first_element",
        "SELECT o.order_id, i._position, json_extract_scalar(json_format(CAST(i.tags AS JSON)), '$[0]') "
        f"{ORDER_LINES_JOIN}",
        lambda d, p: [(r.order_id, r.position, r.tags[0] if r.tags else None) for r in d.items.itertuples()],
        False,
    ),
    (
        "json_array_length_of_cast",
        "SELECT json_array_length(CAST(tags AS JSON)), count(*) FROM orders__items GROUP BY 1",
        lambda d, p: counts(d.items.tags.map(len)),
        False,
    ),
    (
        "json_cast_map_extract",
        "SELECT sku, json_extract_scalar(CAST(MAP(ARRAY['sku', 'name'], ARRAY[sku, name]) AS JSON), '$.name') "
        "FROM orders__items GROUP BY 1, 2",
        lambda d, p: d.items[["sku", "name"]].drop_duplicates(),
        False,
    ),
    # window functions and CTEs
    (
        "row_number_top_order_per_country",
        "WITH ranked AS (SELECT customer_address_country AS c, order_id, payment_amount, row_number() OVER "
        "(PARTITION BY customer_address_country ORDER BY payment_amount DESC, order_id) AS rn FROM orders) "
        "SELECT c, order_id, payment_amount FROM ranked WHERE rn = 1",
        lambda d, p: top_per_country(d),
        False,
    ),
    (
        "running_total_per_customer",
        "SELECT order_id, sum(payment_amount) OVER (PARTITION BY customer_customer_id ORDER BY order_ts, order_id "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) FROM orders",
        lambda d, p: running_totals(d),
        False,
    ),
    (
        "lag_seconds_between_events",
        "SELECT event_id, date_diff('second', lag(from_iso8601_timestamp(ts)) OVER (PARTITION BY session_id "
        "ORDER BY ts), from_iso8601_timestamp(ts)) FROM clickstream",
        lambda d, p: click_gaps(d),
        False,
    ),
    (
        "share_of_revenue_window_over_group",
        "SELECT status, round(sum(payment_amount) / sum(sum(payment_amount)) OVER (), 6) FROM orders GROUP BY status",
        lambda d, p: [
            (s, round(v / d.orders.amount.sum(), 6)) for s, v in d.orders.groupby("status").amount.sum().items()
        ],
        False,
    ),
    (
        "dense_rank_of_tag_counts",
        "WITH tag_counts AS (SELECT tag, count(*) AS n FROM orders__items CROSS JOIN UNNEST(tags) AS t(tag) "
        "GROUP BY tag) SELECT tag, n, dense_rank() OVER (ORDER BY n DESC) FROM tag_counts",
        lambda d, p: (lambda f: f.assign(r=f.n.rank(method="dense", ascending=False).astype(int)))(
            pd.DataFrame(counts(tag_rows(d).tag), columns=["tag", "n"])
        ),
        False,
    ),
    (
        "cte_repeat_customers",
        "WITH per_customer AS (SELECT customer_customer_id, count(*) AS n FROM orders GROUP BY 1) "
        "SELECT count(*), max(n) FROM per_customer WHERE n >= 2",
        lambda d, p: (lambda s: [(int((s >= 2).sum()), int(s.max()))])(d.orders.customer_id.value_counts()),
        True,
    ),
    (
        "first_value_landing_page",
        "SELECT DISTINCT session_id, first_value(payload_url) OVER (PARTITION BY session_id ORDER BY ts) "
        "FROM clickstream WHERE event_type = 'page_view'",
        lambda d, p: landing_pages(d),
        False,
    ),
    # approx_distinct, regexp, CASE, LIKE
    (
        "approx_distinct_equals_exact_on_small_data",
        "SELECT approx_distinct(customer_customer_id), approx_distinct(customer_address_city) FROM orders",
        lambda d, p: [(d.orders.customer_id.nunique(), d.orders.city.nunique())],
        True,
    ),
    (
        "approx_distinct_sessions_users",
        "SELECT approx_distinct(session_id), approx_distinct(user_id) FROM clickstream",
        lambda d, p: [(d.clicks.session_id.nunique(), d.clicks.user_id.nunique())],
        True,
    ),
    (
        "regexp_like_email_domain",
        r"SELECT count(*) FROM orders WHERE regexp_like(customer_email, '^[a-z]+@example\.com$')",
        lambda d, p: [(sum(bool(re.match(r"^[a-z]+@example\.com$", e)) for e in d.orders.email.dropna()),)],
        True,
    ),
    (
        "regexp_extract_product_from_url",
        "SELECT regexp_extract(payload_url, '/products/([A-Z0-9-]+)', 1) AS sku, count(*) FROM clickstream "
        "WHERE event_type = 'page_view' GROUP BY 1",
        lambda d, p: counts(
            (m.group(1) if (m := re.search(r"/products/([A-Z0-9-]+)", u)) else None)
            for u in d.clicks[d.clicks.event_type == "page_view"].url
        ),
        False,
    ),
    (
        "regexp_extract_where_it_matches",
        "SELECT regexp_extract(payload_url, '/products/([A-Z0-9-]+)', 1) AS sku, count(*) FROM clickstream "
        "WHERE regexp_like(payload_url, '/products/[A-Z0-9-]+') GROUP BY 1",
        lambda d, p: counts(
            m.group(1) for u in d.clicks.url.dropna() if (m := re.search(r"/products/([A-Z0-9-]+)", u))
        ),
        False,
    ),
    (
        "regexp_extract_postcode_digits",
        "SELECT customer_address_postcode, regexp_extract(customer_address_postcode, '^[0-9]+') FROM orders "
        "GROUP BY 1, 2",
        lambda d, p: [
            (c, m.group(0) if (m := re.match("^[0-9]+", c)) else None) for c in d.orders.postcode.drop_duplicates()
        ],
        False,
    ),
    (
        "case_amount_buckets",
        "SELECT CASE WHEN payment_amount = 0 THEN 'zero' WHEN payment_amount < 100 THEN 'small' "
        "WHEN payment_amount < 300 THEN 'medium' ELSE 'large' END AS b, count(*) FROM orders GROUP BY 1",
        lambda d, p: counts(d.orders.amount.map(bucket)),
        False,
    ),
    (
        "like_and_coalesce",
        "SELECT coalesce(coupon_code, 'none'), count(*) FROM orders WHERE customer_name LIKE '%a%' GROUP BY 1",
        lambda d, p: counts(
            c if isinstance(c, str) else "none" for c in d.orders[d.orders.customer_name.str.contains("a")].coupon_code
        ),
        False,
    ),
    (
        "like_referrer_search_engines",
        "SELECT count(*) FROM clickstream WHERE payload_referrer LIKE '%google%' OR payload_referrer LIKE '%bing%'",
        lambda d, p: [(int(d.clicks.referrer.fillna("").str.contains("google|bing").sum()),)],
        True,
    ),
    # element_at and cardinality
    (
        "cardinality_of_tags",
        "SELECT cardinality(tags), count(*) FROM orders__items GROUP BY 1",
        lambda d, p: counts(d.items.tags.map(len)),
        False,
    ),
    (
        "element_at_first_and_last",
        f"SELECT o.order_id, i._position, element_at(i.tags, 1), element_at(i.tags, -1) {ORDER_LINES_JOIN}",
        lambda d, p: [
            (r.order_id, r.position, *((r.tags[0], r.tags[-1]) if r.tags else (None, None)))
            for r in d.items.itertuples()
        ],
        False,
    ),
    (
        "contains_and_cardinality_experiments",
        "SELECT cardinality(experiments), contains(experiments, 'free_shipping_banner'), count(*) FROM clickstream "
        "GROUP BY 1, 2",
        lambda d, p: [(*k, n) for k, n in counts((len(e), "free_shipping_banner" in e) for e in d.clicks.experiments)],
        False,
    ),
    # ORDER BY / LIMIT
    (
        "top_five_orders",
        "SELECT order_id, payment_amount FROM orders ORDER BY payment_amount DESC, order_id LIMIT 5",
        lambda d, p: d.orders.sort_values(["amount", "order_id"], ascending=[0, 1])[["order_id", "amount"]].head(5),
        True,
    ),
    (
        "top_three_skus_by_units",
        "SELECT sku, sum(qty) AS units FROM orders__items GROUP BY sku ORDER BY units DESC, sku LIMIT 3",
        lambda d, p: by(d.items, "sku", u=("qty", "sum")).sort_values(["u", "sku"], ascending=[0, 1]).head(3),
        True,
    ),
    (
        "purchase_lines_match_amount",
        "SELECT c.event_id, c.payload_amount, round(sum(p.qty * p.price), 2) FROM clickstream c "
        "JOIN clickstream__payload_items p ON p._parent_record_id = c._record_id GROUP BY 1, 2 ORDER BY 1",
        lambda d, p: [
            (e, d.clicks.set_index("event_id").purchase_amount[e], round(v, 2))
            for e, v in d.purchase_items.assign(v=lambda f: f.qty * f.price).groupby("event_id").v.sum().items()
        ],
        True,
    ),
    # partition filters on dt
    (
        "partition_filter_equals_upload_date",
        "SELECT count(*) FROM orders WHERE dt = '{dt}'",
        lambda d, p: [(len(d.orders),)],
        True,
    ),
    (
        "partition_filter_excludes_other_days",
        "SELECT count(*) FROM orders__items WHERE dt < '{dt}'",
        lambda d, p: [(0,)],
        True,
    ),
    (
        "partition_column_in_group_by",
        "SELECT dt, count(*) FROM clickstream WHERE dt >= '{dt}' GROUP BY dt",
        lambda d, p: [(p, len(d.clicks))],
        True,
    ),
    # the messy table: drifted columns and variants
    (
        "messy_ids_across_collided_columns",
        "SELECT coalesce(id, CAST(id_6bd2b4 AS varchar)), user_name FROM messy",
        lambda d, p: list(zip(d.messy.any_id, d.messy["User.Name"], strict=True)),
        False,
    ),
    (
        "messy_zip_code_and_its_variant",
        "SELECT coalesce(id, CAST(id_6bd2b4 AS varchar)), coalesce(CAST(zip_code AS varchar), zip_code__string) "
        "FROM messy",
        lambda d, p: list(zip(d.messy.any_id, d.messy["Zip Code"].map(messy_zip), strict=True)),
        False,
    ),
    (
        "messy_price_and_quantity_by_file",
        "SELECT regexp_extract(_source_key, '[^/]+$'), sum(price), sum(try_cast(quantity AS bigint)) FROM messy "
        "GROUP BY 1",
        lambda d, p: [
            (k.rsplit("/", 1)[1], g.price.sum(), int(pd.to_numeric(g.quantity).sum()))
            for k, g in d.messy.groupby("source_key")
        ],
        False,
    ),
    (
        "messy_decimal_beyond_int64",
        "SELECT CAST(account_number AS varchar) FROM messy WHERE account_number IS NOT NULL",
        lambda d, p: [(str(int(a)),) for a in d.messy.account_number.dropna()],
        True,
    ),
    (
        "messy_all_null_column_and_booleans",
        "SELECT count(legacy_flag), count_if(camelcasekey), count(groe), count(discount) FROM messy",
        lambda d, p: [(0, 1, 1, 1)],
        True,
    ),
    (
        "messy_tags_element_at",
        "SELECT user_name, element_at(tags, 1), cardinality(tags) FROM messy WHERE tags IS NOT NULL",
        lambda d, p: [
            (r["User.Name"], r.Tags[0] if r.Tags else None, len(r.Tags))
            for _, r in d.messy.iterrows()
            if isinstance(r.Tags, list)
        ],
        False,
    ),
    (
        "messy__line_items_join",
        "SELECT coalesce(m.id, CAST(m.id_6bd2b4 AS varchar)), count(*), sum(l.qty), count(l.note) FROM messy m "
        "JOIN messy__line_items l ON l._parent_record_id = m._record_id GROUP BY 1",
        lambda d, p: [
            (str(i), len(g), int(g.Qty.sum()), int(g.Note.notna().sum())) for i, g in d.messy_lines.groupby("any_id")
        ],
        False,
    ),
]


PARAMS = [pytest.param(sql, expected, ordered, id=name) for name, sql, expected, ordered in CASES]


@pytest.mark.parametrize(("sql", "expected", "ordered"), PARAMS)
def test_query_matches_pandas(suite: Suite, sql: str, expected, ordered: bool) -> None:
    suite.cursor.execute(sql.replace("{dt}", suite.dt))
    actual = rows(suite.cursor.fetchall())
    wanted = rows(expected(suite.data, suite.dt))
    if not ordered:
        actual, wanted = sorted_rows(actual), sorted_rows(wanted)
    assert actual == wanted


def test_suite_has_at_least_forty_distinct_queries() -> None:
    assert len(CASES) >= 40
    assert len({c[0] for c in CASES}) == len({re.sub(r"\s+", " ", c[1]) for c in CASES}) == len(CASES)


def test_the_partition_is_the_upload_day(suite: Suite) -> None:
    today = dt.datetime.now(dt.UTC).date()
    assert dt.date.fromisoformat(suite.dt) in {today, today - dt.timedelta(days=1)}
