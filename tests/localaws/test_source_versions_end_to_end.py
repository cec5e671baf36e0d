"""Source-object semantics through the whole pipeline on localaws, checked in Athena.

The stack 'versions' is provisioned with the unchanged provision.py. Each test uses its own dataset folder (so its
own tables) and checks what a reader of the table sees: re-uploads, new versions, a new version on another day,
deletes, a stale event replayed after a newer version, the same event twice, and files of any name under raw/.
Events are S3's own (localaws sends ObjectCreated and ObjectRemoved as S3 does); a replayed or stale event is the
recorded one sent again to the transform function through the Lambda API, as S3's at-least-once delivery may.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote_plus

import boto3
import pytest

from kit.athena_client import connect
from kit.local_endpoint import wait_idle
from tests.conftest import provision_stack

pytestmark = [pytest.mark.localaws, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
STACK = "versions"
ORDERS = [{"order_id": n, "items": [{"sku": f"S{n}", "qty": n}]} for n in (1, 2, 3)]


def ndjson(records: list[dict]) -> bytes:
    return "".join(json.dumps(record) + "\n" for record in records).encode()


class Stack:
    def __init__(self, outputs: dict, endpoint: str) -> None:
        self.outputs = outputs
        self.bucket = outputs["bucket"]
        self.endpoint = endpoint
        self.s3 = boto3.client("s3")
        self.lambda_ = boto3.client("lambda")
        self.cursor = connect(work_group=outputs["workgroup"], schema_name=outputs["glue_database"]).cursor()

    def settle(self) -> None:
        assert wait_idle(self.endpoint, timeout=180), "localaws still busy after 180 s"

    def put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        self.settle()

    def query(self, sql: str) -> list[tuple]:
        return self.cursor.execute(sql).fetchall()

    def count(self, table: str) -> int:
        return self.query(f"SELECT count(*) FROM {table}")[0][0]

    def manifest(self, key: str) -> dict:
        return json.loads(self.s3.get_object(Bucket=self.bucket, Key=f"manifests/{key}.json")["Body"].read())

    def keys(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def send_to_transform(self, record: dict) -> dict:
        """Delivers one S3 event record to the transform function again and returns its result."""
        response = self.lambda_.invoke(
            FunctionName=self.outputs["functions"]["transform"]["name"],
            Payload=json.dumps({"Records": [record]}).encode(),
        )
        assert "FunctionError" not in response, response["Payload"].read()
        self.settle()
        return json.loads(response["Payload"].read())


def created_record(stack: Stack, key: str, etag: str, sequencer: str, event_time: str) -> dict:
    """An ObjectCreated:Put record as S3 sends it (notification-content-structure.html)."""
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": stack.outputs["region"],
        "eventTime": event_time,
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": stack.bucket, "arn": f"arn:aws:s3:::{stack.bucket}"},
            "object": {"key": quote_plus(key, safe="/"), "eTag": etag, "sequencer": sequencer},
        },
    }


@pytest.fixture(scope="module")
def stack(localaws, tmp_path_factory: pytest.TempPathFactory):
    stacks_dir = tmp_path_factory.mktemp("versions-stacks")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in localaws.env().items():
            patch.setenv(name, value)
        yield Stack(provision_stack(STACK, stacks_dir), localaws.endpoint)


def test_reupload_of_the_same_bytes_leaves_three_rows(stack: Stack) -> None:
    stack.put("raw/reup/orders.json", ndjson(ORDERS))
    assert (stack.count("reup"), stack.count("reup__items")) == (3, 3)
    stack.put("raw/reup/orders.json", ndjson(ORDERS))
    assert (stack.count("reup"), stack.count("reup__items")) == (3, 3)  # was 6 and 6 before
    assert stack.manifest("raw/reup/orders.json")["state"] == "complete"


def test_changed_bytes_replace_the_rows_of_every_table(stack: Stack) -> None:
    stack.put("raw/chg/orders.json", ndjson(ORDERS))
    stack.put("raw/chg/orders.json", ndjson([{"order_id": 7, "items": [{"sku": "S7", "qty": 7}]}]))
    assert stack.query("SELECT order_id FROM chg") == [(7,)]
    assert stack.query("SELECT sku, qty FROM chg__items") == [("S7", 7)]


def test_a_new_version_on_another_day_leaves_no_rows_in_the_old_partition(stack: Stack) -> None:
    key = "raw/moved/orders.json"
    # The first version as if it had landed on 2024-05-01: S3's event for it is held back (the raw/ rule is off while
    # it is written) and delivered with that day's eventTime.
    configuration = stack.s3.get_bucket_notification_configuration(Bucket=stack.bucket)
    configuration.pop("ResponseMetadata")
    processed_only = [
        rule for rule in configuration["LambdaFunctionConfigurations"] if not rule["Id"].endswith("-etl-raw")
    ]
    stack.s3.put_bucket_notification_configuration(
        Bucket=stack.bucket, NotificationConfiguration={"LambdaFunctionConfigurations": processed_only}
    )
    etag = stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=ndjson(ORDERS))["ETag"].strip('"')
    stack.s3.put_bucket_notification_configuration(Bucket=stack.bucket, NotificationConfiguration=configuration)
    result = stack.send_to_transform(created_record(stack, key, etag, "0001", "2024-05-01T10:00:00.000Z"))
    assert result["processed"] == 1
    assert stack.query("SELECT dt, count(*) FROM moved GROUP BY dt") == [("2024-05-01", 3)]

    stack.put(key, ndjson(ORDERS[:2]))  # a new version today, with S3's own event

    today = stack.manifest(key)["outputs"][0].split("/")[2].removeprefix("dt=")
    assert today != "2024-05-01"
    assert stack.query("SELECT dt, count(*) FROM moved GROUP BY dt") == [(today, 2)]
    assert stack.query("SELECT count(*) FROM moved__items WHERE dt = '2024-05-01'") == [(0,)]


def test_deleting_the_raw_object_removes_its_rows(stack: Stack) -> None:
    stack.put("raw/gone/orders.json", ndjson(ORDERS))
    stack.put("raw/gone/other.json", ndjson(ORDERS[:1]))
    assert stack.count("gone") == 4
    stack.s3.delete_object(Bucket=stack.bucket, Key="raw/gone/orders.json")
    stack.settle()
    assert stack.query("SELECT order_id FROM gone") == [(1,)]
    assert stack.count("gone__items") == 1
    assert stack.manifest("raw/gone/orders.json")["outputs"] == []


def test_a_stale_event_replayed_after_a_newer_version_is_ignored(stack: Stack) -> None:
    key = "raw/stale/orders.json"
    stack.put(key, ndjson(ORDERS))
    first = stack.manifest(key)
    old_event = created_record(stack, key, first["source"]["etag"], first["sequencer"], first["event_time"])
    stack.put(key, ndjson(ORDERS[2:]))
    assert stack.query("SELECT order_id FROM stale") == [(3,)]

    result = stack.send_to_transform(old_event)  # S3 delivered the first version's event late

    assert result["stale"] == 1
    assert stack.query("SELECT order_id FROM stale") == [(3,)]


def test_the_same_event_delivered_twice_gives_no_doubles(stack: Stack) -> None:
    key = "raw/twice/orders.json"
    stack.put(key, ndjson(ORDERS))
    applied = stack.manifest(key)
    event = created_record(stack, key, applied["source"]["etag"], applied["sequencer"], applied["event_time"])

    assert stack.send_to_transform(event)["duplicate"] == 1

    assert (stack.count("twice"), stack.count("twice__items")) == (3, 3)


def test_every_file_under_raw_is_either_read_or_quarantined_with_a_reason(stack: Stack) -> None:
    # The raw/ rule has no suffix filter: DATA.JSON, .txt and unreadable files all reach the transform.
    stack.put("raw/anyname/DATA.JSON", ndjson(ORDERS))
    stack.put("raw/anyname/more.txt", ndjson(ORDERS[:1]))
    stack.put("raw/anyname/table.csv", b"order_id,sku\n1,S1\n")
    assert stack.count("anyname") == 4
    report = json.loads(
        stack.s3.get_object(Bucket=stack.bucket, Key="quarantine/anyname/table.csv.error.json")["Body"].read()
    )
    assert report["source_key"] == "raw/anyname/table.csv" and report["reason"]
