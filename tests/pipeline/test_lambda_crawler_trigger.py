"""The catalog updater (crawler-trigger Lambda) against moto's Glue, S3 and SQS: it never waits, registers partitions
of unchanged tables, crawls for new tables and new columns, and hands back what a running crawl does not cover."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sqs.models import sqs_backends

from pipeline import lambda_crawler_trigger as trigger

pytestmark = pytest.mark.layer
REGION = "us-east-1"
BUCKET = "etl-bucket"
DATABASE = "etl"
CRAWLER = "etl-test-crawler"
QUEUE = "etl-catalog"
RECORD = {
    "format": 1,
    "dataset": "orders",
    "columns": [
        {"name": "_record_id", "type": "string", "path": None, "system": True},
        {"name": "_source_key", "type": "string", "path": None, "system": True},
        {"name": "id", "type": "bigint", "path": ["id"]},
    ],
    "children": [],
}


@dataclass
class Cloud:
    glue: Any
    s3: Any
    sqs: Any
    queue_url: str

    def create_table(self, dataset: str, columns: list[dict]) -> None:
        """A table as the crawler makes it: Parquet, dt partitions, location processed/<dataset>/."""
        self.glue.create_table(
            DatabaseName=DATABASE,
            TableInput={
                "Name": dataset,
                "PartitionKeys": [{"Name": "dt", "Type": "string"}],
                "TableType": "EXTERNAL_TABLE",
                "StorageDescriptor": {
                    "Columns": [{"Name": c["name"], "Type": c["type"]} for c in columns],
                    "Location": f"s3://{BUCKET}/processed/{dataset}/",
                    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                    "SerdeInfo": {
                        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
                    },
                },
            },
        )

    def put_record(self, record: dict) -> None:
        self.s3.put_object(Bucket=BUCKET, Key=f"schemas/{record['dataset']}.json", Body=json.dumps(record))

    def partitions(self, dataset: str) -> dict[tuple[str, ...], str]:
        found = self.glue.get_partitions(DatabaseName=DATABASE, TableName=dataset)["Partitions"]
        return {tuple(p["Values"]): p["StorageDescriptor"]["Location"] for p in found}

    def crawler_state(self) -> str:
        return self.glue.get_crawler(Name=CRAWLER)["Crawler"]["State"]

    def finish_crawl(self) -> None:
        self.glue.list_crawls(CrawlerName=CRAWLER)  # moto finishes a running crawl when its crawls are listed

    def batch(self, *keys: str, landed: datetime | None = None) -> dict:
        """Send one S3 event per key to the queue, receive them all: the event the mapping would invoke with."""
        when = (landed or datetime.now(UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        for key in keys:
            record = {"eventTime": when, "s3": {"bucket": {"name": BUCKET}, "object": {"key": key}}}
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps({"Records": [record]}))
        return self.receive(len(keys))

    def receive(self, count: int) -> dict:
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
        ).get("Messages", [])
        assert len(messages) == count
        arn = f"arn:aws:sqs:{REGION}:{DEFAULT_ACCOUNT_ID}:{QUEUE}"
        return {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m["Attributes"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": arn,
                    "awsRegion": REGION,
                }
                for m in messages
            ]
        }

    def seconds_until_visible(self, message_id: str) -> float:
        queue = sqs_backends[DEFAULT_ACCOUNT_ID][REGION].queues[QUEUE]
        message = next(m for m in queue._messages if m.id == message_id)
        return (message.visible_at - datetime.now(UTC).timestamp() * 1000) / 1000


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    with mock_aws():
        glue = boto3.client("glue", region_name=REGION)
        s3 = boto3.client("s3", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        glue.create_database(DatabaseInput={"Name": DATABASE})
        glue.create_crawler(
            Name=CRAWLER,
            Role="arn:aws:iam::123456789012:role/crawler",
            DatabaseName=DATABASE,
            Targets={"S3Targets": [{"Path": f"s3://{BUCKET}/processed/"}]},
        )
        s3.create_bucket(Bucket=BUCKET)
        url = sqs.create_queue(QueueName=QUEUE, Attributes={"VisibilityTimeout": "360"})["QueueUrl"]
        for service, client in (("glue", glue), ("s3", s3), ("sqs", sqs)):
            monkeypatch.setitem(trigger._clients, service, client)
        monkeypatch.setenv("ETL_CRAWLER_NAME", CRAWLER)
        monkeypatch.setenv("ETL_GLUE_DATABASE", DATABASE)
        monkeypatch.setenv("ETL_BUCKET", BUCKET)
        monkeypatch.setenv("ETL_CATALOG_QUEUE_URL", url)
        yield Cloud(glue, s3, sqs, url)


def failures(result: dict) -> list[str]:
    return [item["itemIdentifier"] for item in result["batchItemFailures"]]


KEY = "processed/orders/dt=2024-05-01/a_20240501T000000Z_0000aaaa.parquet"


# --- fast path (ETL_CATALOG_MODE=partitions, the default) -----------------------------------------------------------
def test_a_new_table_starts_a_crawl(cloud: Cloud) -> None:
    cloud.put_record(RECORD)
    result = trigger.handler(cloud.batch(KEY), None)
    assert failures(result) == []
    assert cloud.crawler_state() == "RUNNING"


def test_an_unchanged_table_gets_its_partitions_registered_without_a_crawl(cloud: Cloud) -> None:
    cloud.put_record(RECORD)
    cloud.create_table("orders", RECORD["columns"])
    keys = [KEY, KEY.replace("a_2024", "b_2024"), KEY.replace("2024-05-01", "2024-05-02")]
    result = trigger.handler(cloud.batch(*keys), None)
    assert failures(result) == []
    assert cloud.crawler_state() == "READY"  # no crawl
    assert cloud.partitions("orders") == {
        ("2024-05-01",): f"s3://{BUCKET}/processed/orders/dt=2024-05-01/",
        ("2024-05-02",): f"s3://{BUCKET}/processed/orders/dt=2024-05-02/",
    }


def test_a_replayed_batch_changes_nothing(cloud: Cloud) -> None:
    cloud.put_record(RECORD)
    cloud.create_table("orders", RECORD["columns"])
    trigger.handler(cloud.batch(KEY), None)
    before = cloud.glue.get_partitions(DatabaseName=DATABASE, TableName="orders")["Partitions"]
    result = trigger.handler(cloud.batch(KEY), None)  # S3 delivers at least once
    assert failures(result) == []
    assert cloud.glue.get_partitions(DatabaseName=DATABASE, TableName="orders")["Partitions"] == before
    assert cloud.crawler_state() == "READY"


def test_a_file_with_a_new_column_starts_a_crawl(cloud: Cloud) -> None:
    cloud.create_table("orders", RECORD["columns"])
    grown = {**RECORD, "columns": [*RECORD["columns"], {"name": "coupon", "type": "string", "path": ["coupon"]}]}
    cloud.put_record(grown)
    result = trigger.handler(cloud.batch(KEY), None)
    assert failures(result) == []
    assert cloud.crawler_state() == "RUNNING"
    assert cloud.partitions("orders") == {}  # the crawl registers it, with the new column


def test_a_retyped_column_starts_a_crawl(cloud: Cloud) -> None:
    cloud.create_table("orders", [*RECORD["columns"][:2], {"name": "id", "type": "string"}])
    cloud.put_record(RECORD)
    trigger.handler(cloud.batch(KEY), None)
    assert cloud.crawler_state() == "RUNNING"


def test_crawler_mode_crawls_even_for_an_unchanged_table(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETL_CATALOG_MODE", "crawler")
    cloud.put_record(RECORD)
    cloud.create_table("orders", RECORD["columns"])
    trigger.handler(cloud.batch(KEY), None)
    assert cloud.crawler_state() == "RUNNING"
    assert cloud.partitions("orders") == {}


# --- crawls -----------------------------------------------------------------------------------------------------------
def test_a_file_landing_while_a_crawl_runs_is_handed_back_soon_and_then_gets_its_own_crawl(cloud: Cloud) -> None:
    cloud.glue.start_crawler(Name=CRAWLER)  # started before the file landed (moto reports no CrawlElapsedTime)
    event = cloud.batch(KEY)
    message_id = event["Records"][0]["messageId"]
    result = trigger.handler(event, None)
    assert failures(result) == [message_id]  # not deleted: SQS hands it back
    assert 0 < cloud.seconds_until_visible(message_id) <= 2  # after 2 s, not the queue's 360 s
    cloud.finish_crawl()
    assert failures(trigger.handler(event, None)) == []  # the retry: the crawler is READY, a new crawl starts
    assert cloud.crawler_state() == "RUNNING"


def test_a_stopping_crawler_hands_the_batch_back(cloud: Cloud) -> None:
    cloud.glue.start_crawler(Name=CRAWLER)
    cloud.glue.stop_crawler(Name=CRAWLER)
    event = cloud.batch(KEY, KEY.replace("orders", "carts"))
    assert sorted(failures(trigger.handler(event, None))) == sorted(r["messageId"] for r in event["Records"])


def test_the_s3_test_event_is_consumed_and_a_malformed_message_is_kept(cloud: Cloud) -> None:
    cloud.sqs.send_message(
        QueueUrl=cloud.queue_url, MessageBody=json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"})
    )
    cloud.sqs.send_message(QueueUrl=cloud.queue_url, MessageBody="not json")
    event = cloud.receive(2)
    malformed = next(r["messageId"] for r in event["Records"] if r["body"] == "not json")
    assert failures(trigger.handler(event, None)) == [malformed]  # it ends in the dead-letter queue, not lost
    assert cloud.crawler_state() == "READY"


def test_event_keys_are_url_decoded() -> None:
    from pipeline.catalog_plan import files_of_message

    body = {
        "Records": [
            {
                "eventTime": "2024-05-01T10:00:00.000Z",
                "s3": {"bucket": {"name": "b"}, "object": {"key": "processed/my+data/dt%3D2024-05-01/a.parquet"}},
            }
        ]
    }
    [file] = files_of_message({"messageId": "m", "body": json.dumps(body)})
    assert (file.dataset, file.partition) == ("my data", (("dt", "2024-05-01"),))


def test_crawler_mode_starts_at_most_one_crawl_per_interval(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every crawl bills 10 minutes at least: a trickle of files gets a crawl a minute, not one per batch."""
    monkeypatch.setenv("ETL_CATALOG_MODE", "crawler")
    trigger.handler(cloud.batch(KEY), None)
    cloud.finish_crawl()  # READY again, its last crawl started moments ago
    event = cloud.batch(KEY.replace("a_2024", "b_2024"))
    message_id = event["Records"][0]["messageId"]
    assert failures(trigger.handler(event, None)) == [message_id]
    assert cloud.crawler_state() == "READY"  # no second crawl yet
    assert 50 < cloud.seconds_until_visible(message_id) <= 60  # back once the interval is over
    monkeypatch.setenv("ETL_CRAWL_INTERVAL_S", "0")
    assert failures(trigger.handler(event, None)) == []
    assert cloud.crawler_state() == "RUNNING"
