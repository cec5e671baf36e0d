"""The transform Lambda against moto's in-process S3."""

from __future__ import annotations

import gzip
import io
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote_plus

import boto3
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber
from pipeline_helpers import ndjson

from pipeline import lambda_transform
from pipeline.schema import FileColumn, SchemaConflict, merge_schema

pytestmark = pytest.mark.layer
BUCKET = "etl-test-bucket"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        monkeypatch.setitem(lambda_transform._clients, "s3", client)
        monkeypatch.delenv("ETL_BUCKET", raising=False)
        yield client


def s3_record(client, key: str, event_time: str = "2024-05-01T12:30:45.123Z", sequencer: str = "0A1") -> dict:
    head = client.head_object(Bucket=BUCKET, Key=key)
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventTime": event_time,
        "eventName": "ObjectCreated:Put",
        "s3": {
            "bucket": {"name": BUCKET},
            "object": {
                "key": quote_plus(key),
                "size": head["ContentLength"],
                "eTag": head["ETag"].strip('"'),
                "sequencer": sequencer,
            },
        },
    }


def put(client, key: str, body: bytes) -> None:
    client.put_object(Bucket=BUCKET, Key=key, Body=body)


def keys(client, prefix: str = "") -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


def read_parquet(client, key: str) -> list[dict]:
    body = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return pq.read_table(io.BytesIO(body)).to_pylist()


def test_url_encoded_keys_several_records_gzip_and_ndjson(s3) -> None:
    put(s3, "raw/orders/2024/my order+1.json", json.dumps([{"id": 1, "items": [{"sku": "A"}]}]).encode())
    put(s3, "raw/orders/b (copy).ndjson.gz", gzip.compress(ndjson([{"id": 2}, {"id": 3}])))
    event = {
        "Records": [s3_record(s3, "raw/orders/2024/my order+1.json"), s3_record(s3, "raw/orders/b (copy).ndjson.gz")]
    }
    result = lambda_transform.handler(event, None)
    assert (result["processed"], result["quarantined"], result["skipped"]) == (2, 0, 0)
    processed = keys(s3, "processed/")
    assert len(processed) == 3  # orders x2, orders__items x1
    assert all(
        key.startswith(("processed/orders/dt=2024-05-01/", "processed/orders__items/dt=2024-05-01/"))
        for key in processed
    )
    assert any("/my_order_1_20240501T123045Z_" in key for key in processed)
    rows = read_parquet(s3, next(k for k in processed if k.startswith("processed/orders/") and "b__copy_" in k))
    assert [row["id"] for row in rows] == [2, 3]
    assert rows[0]["_source_key"] == "raw/orders/b (copy).ndjson.gz"
    assert keys(s3, "schemas/") == ["schemas/orders.json", "schemas/orders__items.json"]
    assert not [k for k in keys(s3, "raw/") if not k.startswith(("raw/orders/2024/", "raw/orders/b"))]


def test_same_event_twice_gives_one_output(s3) -> None:
    put(s3, "raw/orders/x.json", ndjson([{"id": 1}]))
    event = {"Records": [s3_record(s3, "raw/orders/x.json")]}
    lambda_transform.handler(event, None)
    first = keys(s3, "processed/")
    lambda_transform.handler(event, None)
    assert keys(s3, "processed/") == first and len(first) == 1


def test_two_uploads_in_the_same_second_leave_the_later_ones_rows(s3) -> None:
    put(s3, "raw/orders/x.json", ndjson([{"id": 1}]))
    first = s3_record(s3, "raw/orders/x.json", sequencer="0A1")
    put(s3, "raw/orders/x.json", ndjson([{"id": 2}]))
    second = s3_record(s3, "raw/orders/x.json", sequencer="0A2")
    lambda_transform.handler({"Records": [first]}, None)  # reads the key as it is now: the second version
    result = lambda_transform.handler({"Records": [second]}, None)
    assert result["unchanged"] == 1
    (output,) = keys(s3, "processed/")
    assert [row["id"] for row in read_parquet(s3, output)] == [2]


def test_malformed_file_is_quarantined_while_others_are_processed(s3) -> None:
    put(s3, "raw/orders/good.json", ndjson([{"id": 1}]))
    put(s3, "raw/orders/sub/bad file.json", b'{"id": 1}\n{"id": \n')
    event = {"Records": [s3_record(s3, "raw/orders/sub/bad file.json"), s3_record(s3, "raw/orders/good.json")]}
    result = lambda_transform.handler(event, None)
    assert (result["processed"], result["quarantined"]) == (1, 1)
    assert keys(s3, "quarantine/") == [
        "quarantine/orders/sub/bad file.json",
        "quarantine/orders/sub/bad file.json.error.json",
    ]
    report = json.loads(
        s3.get_object(Bucket=BUCKET, Key="quarantine/orders/sub/bad file.json.error.json")["Body"].read()
    )
    assert report["line"] == 2 and report["source_key"] == "raw/orders/sub/bad file.json"
    assert "invalid JSON" in report["reason"] and report["snippet"] and report["event_time"].startswith("2024-05-01")
    assert len(keys(s3, "processed/")) == 1


def test_keys_outside_raw_are_ignored_and_root_files_use_the_default_dataset(s3) -> None:
    put(s3, "processed/orders/x.json", ndjson([{"id": 1}]))
    put(s3, "raw/loose.json", ndjson([{"id": 1}]))
    event = {"Records": [s3_record(s3, "processed/orders/x.json"), s3_record(s3, "raw/loose.json")]}
    result = lambda_transform.handler(event, None)
    assert (result["processed"], result["skipped"]) == (1, 1)
    assert [k.split("/")[1] for k in keys(s3, "processed/") if k.endswith(".parquet")] == ["default"]


def test_transient_errors_propagate(s3, monkeypatch) -> None:
    put(s3, "raw/orders/x.json", ndjson([{"id": 1}]))
    event = {"Records": [s3_record(s3, "raw/orders/x.json")]}

    def throttled(**kwargs):
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}, "GetObject")

    monkeypatch.setattr(s3, "get_object", throttled)
    with pytest.raises(ClientError, match="SlowDown"):
        lambda_transform.handler(event, None)


def test_schema_record_conditional_writes(s3) -> None:
    store = lambda_transform.S3SchemaStore(s3, BUCKET)
    assert store.load("orders") == (None, None)
    record = merge_schema(None, "orders", {("a",): FileColumn("bigint")}).record
    store.save("orders", record, None)
    with pytest.raises(SchemaConflict):
        store.save("orders", record, None)  # If-None-Match: * on an existing record -> 412
    loaded, etag = store.load("orders")
    store.save("orders", merge_schema(loaded, "orders", {("b",): FileColumn("bigint")}).record, etag)
    with pytest.raises(SchemaConflict):
        store.save("orders", loaded, etag)  # stale ETag -> 412


@pytest.fixture
def atomic_s3_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """S3 answers each request whole; moto's in-process S3 does not: a PUT closes the buffer of the object it
    replaces while a concurrent GET of that key may still be reading it ("ValueError: I/O operation on closed
    file", a flaky failure in CI). Each request is handled whole, one at a time, as S3 would; the handlers still
    interleave between their requests, which is what the concurrency tests exercise."""
    lock = threading.Lock()
    answer = BotocoreStubber.__call__

    def atomic(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
        with lock:
            return answer(self, event_name, request, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", atomic)


@pytest.mark.usefixtures("atomic_s3_requests")
def test_concurrent_files_of_one_dataset_keep_every_column(s3) -> None:
    for number in range(4):
        put(s3, f"raw/orders/f{number}.json", ndjson([{"id": number, f"only_in_{number}": number}]))
    events = [{"Records": [s3_record(s3, f"raw/orders/f{number}.json")]} for number in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda event: lambda_transform.handler(event, None), events))
    assert [result["processed"] for result in results] == [1, 1, 1, 1]
    record = json.loads(s3.get_object(Bucket=BUCKET, Key="schemas/orders.json")["Body"].read())
    names = {column["name"] for column in record["columns"]}
    assert {f"only_in_{number}" for number in range(4)} <= names


@pytest.fixture
def s3_calls(s3) -> list[tuple[str, str]]:
    """(operation, key) of every S3 request the test makes from here on."""
    calls: list[tuple[str, str]] = []

    def record(event_name: str, params: dict, **_kwargs) -> None:
        calls.append((event_name.rsplit(".", 1)[-1], params.get("Key", "")))

    s3.meta.events.register("before-parameter-build.s3", record)
    return calls


def test_each_schema_record_is_read_once_per_event(s3, s3_calls) -> None:
    """The claim's read of the record is the one the transform merges into and conditionally writes."""
    put(s3, "raw/orders/a.json", ndjson([{"id": 1, "items": [{"sku": "A"}]}]))
    put(s3, "raw/orders/b.json", ndjson([{"id": 2, "items": [{"sku": "B"}], "new": True}]))
    s3_calls.clear()
    lambda_transform.handler({"Records": [s3_record(s3, "raw/orders/a.json")]}, None)
    schema_calls = sorted(call for call in s3_calls if call[1].startswith("schemas/"))
    assert schema_calls == [  # a new dataset: created by the claim, then merged with the ETag of that write
        ("GetObject", "schemas/orders.json"),
        ("GetObject", "schemas/orders__items.json"),
        ("PutObject", "schemas/orders.json"),
        ("PutObject", "schemas/orders.json"),
        ("PutObject", "schemas/orders__items.json"),
    ]
    s3_calls.clear()
    lambda_transform.handler({"Records": [s3_record(s3, "raw/orders/b.json")]}, None)
    schema_calls = sorted(call for call in s3_calls if call[1].startswith("schemas/"))
    assert schema_calls == [
        ("GetObject", "schemas/orders.json"),
        ("GetObject", "schemas/orders__items.json"),
        ("PutObject", "schemas/orders.json"),  # the new column
    ]
    record = json.loads(s3.get_object(Bucket=BUCKET, Key="schemas/orders.json")["Body"].read())
    assert [column["name"] for column in record["columns"]][-2:] == ["id", "new"]


def test_a_record_changed_after_the_claim_is_merged_again(s3) -> None:
    """Another file's column lands between this event's read of the record and its commit: the conditional write
    fails, the record is read again, and this file is written with both columns."""
    put(s3, "raw/orders/seed.json", ndjson([{"id": 0}]))
    lambda_transform.handler({"Records": [s3_record(s3, "raw/orders/seed.json")]}, None)
    put(s3, "raw/orders/x.json", ndjson([{"id": 1, "mine": 1}]))
    event = {"Records": [s3_record(s3, "raw/orders/x.json")]}

    def other_writer(params: dict, **_kwargs) -> None:
        if params.get("Key") == "raw/orders/x.json":  # the claim has read the record; the transform starts
            store = lambda_transform.S3SchemaStore(s3, BUCKET)
            record, etag = store.load("orders")
            store.save("orders", merge_schema(record, "orders", {("other",): FileColumn("string")}).record, etag)

    s3.meta.events.register("before-parameter-build.s3.GetObject", other_writer)
    result = lambda_transform.handler(event, None)
    s3.meta.events.unregister("before-parameter-build.s3.GetObject", other_writer)
    assert result["processed"] == 1
    record = json.loads(s3.get_object(Bucket=BUCKET, Key="schemas/orders.json")["Body"].read())
    assert [column["name"] for column in record["columns"]][-3:] == ["id", "other", "mine"]
    (output,) = [k for k in keys(s3, "processed/") if "/x_" in k]
    (row,) = read_parquet(s3, output)
    assert (row["id"], row["mine"], row["other"]) == (1, 1, None)


def test_one_scratch_folder_per_event_and_none_left(s3, monkeypatch, tmp_path) -> None:
    """The spill goes beside the outputs, in the event's one scratch folder (each costs a lock and a sweep)."""
    from pipeline import scratch

    created = []
    init = scratch.ScratchDir.__init__

    def counting(self, *args, **kwargs) -> None:
        init(self, *args, **kwargs)
        created.append(self.path)

    monkeypatch.setattr(scratch.ScratchDir, "__init__", counting)
    monkeypatch.setenv("ETL_TMP_DIR", str(tmp_path))
    put(s3, "raw/orders/x.json", ndjson([{"id": 1, "items": [{"sku": "A"}]}]))
    result = lambda_transform.handler({"Records": [s3_record(s3, "raw/orders/x.json")]}, None)
    assert result["processed"] == 1 and len(keys(s3, "processed/")) == 2
    assert len(created) == 1
    assert [entry.name for entry in tmp_path.iterdir() if entry.name.startswith(scratch.SCRATCH_PREFIX)] == []
