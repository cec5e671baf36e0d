"""Athena test tables shaped like the pipeline's output, written with pyarrow and registered in Glue with boto3.

- orders: one row per order, nested JSON flattened to customer_address_city etc., a JSON text column, dt partitions;
- orders_items: the child table of orders' items (_parent_record_id, _position), tags array<string>;
- clickstream: events with ISO 8601 timestamps as text and URLs.
Each frame is returned as pandas too, so tests compute their expected answers independently of SQL.
"""

from __future__ import annotations

import io
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import boto3
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

PARQUET = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
}
OPENX = "org.openx.data.jsonserde.JsonSerDe"  # the OpenX JSON SerDe's class, as DDL names it
DAYS = ("2024-03-01", "2024-03-02", "2024-03-03")
CITIES = ("Berlin", "Paris", "Lisbon", "Oslo", None)
COUNTRIES = {"Berlin": "DE", "Paris": "FR", "Lisbon": "PT", "Oslo": "NO", None: None}
STATUSES = ("paid", "shipped", "cancelled", "refunded")
TAGS = ("sale", "new", "eco", "gift")
EVENTS = ("view", "click", "purchase")

ORDERS_SCHEMA = pa.schema(
    [
        ("order_id", pa.string()),
        ("customer_id", pa.string()),
        ("customer_name", pa.string()),
        ("customer_email", pa.string()),
        ("customer_address_city", pa.string()),
        ("customer_address_country", pa.string()),
        ("status", pa.string()),
        ("amount", pa.float64()),
        ("quantity", pa.int64()),
        ("created_at", pa.timestamp("ms")),
        ("attributes", pa.string()),
        ("_record_id", pa.string()),
    ]
)
ITEMS_SCHEMA = pa.schema(
    [
        ("_parent_record_id", pa.string()),
        ("_position", pa.int64()),
        ("sku", pa.string()),
        ("price", pa.float64()),
        ("qty", pa.int64()),
        ("tags", pa.list_(pa.string())),
    ]
)
CLICKS_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("user_id", pa.string()),
        ("event_type", pa.string()),
        ("url", pa.string()),
        ("event_time", pa.string()),
        ("duration_ms", pa.int64()),
    ]
)


def glue_type(dtype: pa.DataType) -> str:
    if pa.types.is_list(dtype):
        return f"array<{glue_type(dtype.value_type)}>"
    return {
        pa.string(): "string",
        pa.float64(): "double",
        pa.int64(): "bigint",
        pa.int32(): "int",
        pa.bool_(): "boolean",
        pa.timestamp("ms"): "timestamp",
    }[dtype]


def make_frames(seed: int = 7) -> dict[str, pd.DataFrame]:
    """The three tables as pandas frames (with their dt), deterministic for a seed."""
    rng = random.Random(seed)
    orders, items, clicks = [], [], []
    start = datetime(2024, 3, 1, 8, 0, 0)
    for index in range(60):
        day = DAYS[index % 3]
        city = CITIES[index % 5]
        record = f"rec-{index:03d}"
        created = datetime.fromisoformat(day) + timedelta(hours=rng.randint(0, 23), minutes=rng.randint(0, 59))
        attributes = {"channel": rng.choice(["web", "app"]), "coupon": rng.choice([None, "SPRING", "VIP"])}
        if index % 4 == 0:
            attributes["device"] = {"os": rng.choice(["ios", "android"])}
        orders.append(
            {
                "order_id": f"o-{index:03d}",
                "customer_id": f"c-{index % 17:02d}",
                "customer_name": None if index % 11 == 0 else f"Customer {index % 17}",
                "customer_email": f"user{index % 17}@{'example.com' if index % 3 else 'mail.org'}",
                "customer_address_city": city,
                "customer_address_country": COUNTRIES[city],
                "status": STATUSES[rng.randint(0, 3)],
                "amount": round(rng.uniform(5, 500), 2),
                "quantity": rng.randint(1, 9),
                "created_at": created,
                "attributes": json.dumps(attributes),
                "_record_id": record,
                "dt": day,
            }
        )
        for position in range(rng.randint(0, 4)):
            items.append(
                {
                    "_parent_record_id": record,
                    "_position": position,
                    "sku": f"SKU-{rng.randint(1, 12):02d}",
                    "price": round(rng.uniform(1, 120), 2),
                    "qty": rng.randint(1, 5),
                    "tags": rng.sample(TAGS, rng.randint(0, 3)),
                    "dt": day,
                }
            )
    for index in range(150):
        when = start + timedelta(minutes=29 * index)
        day = when.strftime("%Y-%m-%d")
        if day not in DAYS:
            continue
        clicks.append(
            {
                "event_id": f"e-{index:04d}",
                "user_id": f"u-{rng.randint(1, 25):02d}",
                "event_type": EVENTS[rng.randint(0, 2)],
                "url": f"https://shop.example.com/{rng.choice(['p', 'c', 'cart'])}/{rng.randint(1, 40)}"
                f"?ref=ad{index % 4}",
                "event_time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "duration_ms": rng.randint(10, 5000),
                "dt": day,
            }
        )
    return {"orders": pd.DataFrame(orders), "orders_items": pd.DataFrame(items), "clickstream": pd.DataFrame(clicks)}


SCHEMAS = {"orders": ORDERS_SCHEMA, "orders_items": ITEMS_SCHEMA, "clickstream": CLICKS_SCHEMA}


@dataclass
class Shop:
    """A bucket and a Glue database holding the three tables, on one localaws endpoint."""

    endpoint: str
    bucket: str = field(default_factory=lambda: f"shop-{uuid.uuid4().hex[:10]}")
    database: str = field(default_factory=lambda: f"shop_{uuid.uuid4().hex[:10]}")
    frames: dict[str, pd.DataFrame] = field(default_factory=make_frames)

    def __post_init__(self) -> None:
        options = {
            "endpoint_url": self.endpoint,
            "region_name": "us-east-1",
            "aws_access_key_id": "test",
            "aws_secret_access_key": "test",
        }
        self.s3 = boto3.client("s3", **options)
        self.glue = boto3.client("glue", **options)
        self.athena = boto3.client("athena", **options)
        self.s3.create_bucket(Bucket=self.bucket)
        self.glue.create_database(DatabaseInput={"Name": self.database})
        self.work_group = f"wg-{self.database}"
        self.output = f"s3://{self.bucket}/athena-results/"
        self.athena.create_work_group(
            Name=self.work_group, Configuration={"ResultConfiguration": {"OutputLocation": self.output}}
        )
        for name, frame in self.frames.items():
            self.put_table(name, frame, SCHEMAS[name])

    def location(self, name: str) -> str:
        return f"s3://{self.bucket}/processed/{name}/"

    def put_parquet(self, key: str, table: pa.Table) -> None:
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=buffer.getvalue())

    def put_table(self, name: str, frame: pd.DataFrame, schema: pa.Schema, register_partitions: bool = True) -> None:
        for day, part in frame.groupby("dt"):
            table = pa.Table.from_pandas(part.drop(columns="dt"), schema=schema, preserve_index=False)
            self.put_parquet(f"processed/{name}/dt={day}/part-0.parquet", table)
        descriptor = {
            **PARQUET,
            "Columns": [{"Name": f.name, "Type": glue_type(f.type)} for f in schema],
            "Location": self.location(name),
        }
        self.glue.create_table(
            DatabaseName=self.database,
            TableInput={
                "Name": name,
                "TableType": "EXTERNAL_TABLE",
                "Parameters": {"classification": "parquet"},
                "StorageDescriptor": descriptor,
                "PartitionKeys": [{"Name": "dt", "Type": "string"}],
            },
        )
        if register_partitions:
            self.glue.batch_create_partition(
                DatabaseName=self.database,
                TableName=name,
                PartitionInputList=[
                    {
                        "Values": [day],
                        "StorageDescriptor": {**descriptor, "Location": f"{self.location(name)}dt={day}/"},
                    }
                    for day in sorted(frame["dt"].unique())
                ],
            )


FINAL_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")


def wait_for_query(athena, query_id: str, timeout: float = 120) -> dict:
    """The QueryExecution once it reaches a final state (polling on state, with a deadline as a safety net)."""
    deadline = time.monotonic() + timeout
    while True:
        execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        if execution["Status"]["State"] in FINAL_STATES or time.monotonic() > deadline:
            return execution
        time.sleep(0.05)


def run_query(shop: Shop, sql: str, **extra) -> dict:
    query_id = shop.athena.start_query_execution(
        QueryString=sql, QueryExecutionContext={"Database": shop.database}, WorkGroup=shop.work_group, **extra
    )["QueryExecutionId"]
    return wait_for_query(shop.athena, query_id)


def succeeded(shop: Shop, sql: str) -> dict:
    """run_query, asserting the query SUCCEEDED (its Status is the message otherwise)."""
    execution = run_query(shop, sql)
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    return execution


def failed(shop: Shop, sql: str) -> str:
    """run_query, asserting the query FAILED; its StateChangeReason."""
    execution = run_query(shop, sql)
    assert execution["Status"]["State"] == "FAILED", execution["Status"]
    return execution["Status"]["StateChangeReason"]


def put_object(shop: Shop, key: str, body: bytes) -> None:
    """An object in the shop's bucket."""
    shop.s3.put_object(Bucket=shop.bucket, Key=key, Body=body)


def unique_table_name() -> str:
    return f"t_{uuid.uuid4().hex[:8]}"


def result_rows(athena, query_id: str, page_size: int = 1000) -> tuple[list[dict], list[list[str | None]]]:
    """ColumnInfo and every row of GetQueryResults as text (None for NULL), header row included."""
    rows, token, columns = [], None, []
    while True:
        page = athena.get_query_results(
            QueryExecutionId=query_id, MaxResults=page_size, **({"NextToken": token} if token else {})
        )
        columns = page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
        rows += [[cell.get("VarCharValue") for cell in row["Data"]] for row in page["ResultSet"]["Rows"]]
        token = page.get("NextToken")
        if not token:
            return columns, rows
