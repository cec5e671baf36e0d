"""The transform Lambda against moto's S3: the rows of a raw object follow the latest version of its key.

Events are built as S3 sends them (ObjectRemoved events carry no eTag and no size), with controlled sequencers and
event times, so that order, replays and partitions can be set exactly.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from urllib.parse import quote_plus

import boto3
import pyarrow.parquet as pq
import pytest
from moto import mock_aws
from pipeline_helpers import ndjson

from pipeline import lambda_transform

pytestmark = pytest.mark.layer
BUCKET = "etl-versions-bucket"
KEY = "raw/orders/day.json"
ORDERS = [{"id": n, "items": [{"sku": f"S{n}", "qty": n}]} for n in (1, 2, 3)]


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        monkeypatch.setitem(lambda_transform._clients, "s3", client)
        monkeypatch.delenv("ETL_BUCKET", raising=False)
        yield client


def created(client, key: str, sequencer: str, event_time: str = "2024-05-01T12:30:45.123Z") -> dict:
    head = client.head_object(Bucket=BUCKET, Key=key)
    obj = {"key": quote_plus(key), "size": head["ContentLength"], "eTag": head["ETag"].strip('"')}
    return _record("ObjectCreated:Put", {**obj, "sequencer": sequencer}, event_time)


def removed(key: str, sequencer: str, event_time: str = "2024-05-02T08:00:00.000Z") -> dict:
    return _record("ObjectRemoved:Delete", {"key": quote_plus(key), "sequencer": sequencer}, event_time)


def _record(name: str, obj: dict, event_time: str) -> dict:
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventTime": event_time,
        "eventName": name,
        "s3": {"bucket": {"name": BUCKET}, "object": obj},
    }


def handle(*records: dict) -> dict:
    return lambda_transform.handler({"Records": list(records)}, None)


def keys(client, prefix: str) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


def rows(client, dataset: str) -> list[dict]:
    """Every row of a dataset, as a reader of processed/<dataset>/ sees it."""
    found = []
    for key in keys(client, f"processed/{dataset}/"):
        body = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        found += [{**row, "_file": key} for row in pq.read_table(io.BytesIO(body)).to_pylist()]
    return found


def put(client, body: bytes, key: str = KEY) -> None:
    client.put_object(Bucket=BUCKET, Key=key, Body=body)


def test_reupload_of_the_same_bytes_keeps_three_rows(s3) -> None:
    put(s3, ndjson(ORDERS))
    handle(created(s3, KEY, "0A1"))
    first = keys(s3, "processed/")
    put(s3, ndjson(ORDERS))
    assert handle(created(s3, KEY, "0A2"))["unchanged"] == 1
    assert len(rows(s3, "orders")) == 3 and len(rows(s3, "orders__items")) == 3
    assert keys(s3, "processed/") == first


def test_changed_bytes_replace_the_rows_in_every_dataset(s3) -> None:
    put(s3, ndjson(ORDERS))
    handle(created(s3, KEY, "0A1"))
    put(s3, ndjson([{"id": 9, "items": [{"sku": "S9", "qty": 9}]}]))
    result = handle(created(s3, KEY, "0A2"))
    assert result["processed"] == 1 and len(result["records"][0]["deleted"]) == 2
    assert [row["id"] for row in rows(s3, "orders")] == [9]
    assert [row["sku"] for row in rows(s3, "orders__items")] == ["S9"]


def test_a_new_version_on_another_day_leaves_no_rows_in_the_old_partition(s3) -> None:
    put(s3, ndjson(ORDERS))
    handle(created(s3, KEY, "0A1", event_time="2024-05-01T23:59:59.000Z"))
    put(s3, ndjson(ORDERS[:2]))
    handle(created(s3, KEY, "0A2", event_time="2024-05-02T00:00:01.000Z"))
    assert {row["_file"].split("/")[2] for row in rows(s3, "orders")} == {"dt=2024-05-02"}
    assert len(rows(s3, "orders")) == 2
    assert not keys(s3, "processed/orders/dt=2024-05-01/") and not keys(s3, "processed/orders__items/dt=2024-05-01/")


def test_deleting_the_raw_object_removes_its_rows(s3) -> None:
    put(s3, ndjson(ORDERS))
    handle(created(s3, KEY, "0A1"))
    s3.delete_object(Bucket=BUCKET, Key=KEY)
    assert handle(removed(KEY, "0A2"))["removed"] == 1
    assert keys(s3, "processed/") == []
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=f"manifests/{KEY}.json")["Body"].read())
    assert (manifest["source"], manifest["outputs"], manifest["sequencer"]) == (None, [], "0A2")


def test_a_stale_event_replayed_after_a_newer_version_is_ignored(s3) -> None:
    put(s3, ndjson(ORDERS))
    old = created(s3, KEY, "0A1")
    handle(old)
    put(s3, ndjson(ORDERS[:1]))
    handle(created(s3, KEY, "0A2"))
    newer = keys(s3, "processed/")
    assert handle(old)["stale"] == 1
    assert keys(s3, "processed/") == newer and [row["id"] for row in rows(s3, "orders")] == [1]


def test_a_stale_create_event_after_the_delete_does_not_bring_rows_back(s3) -> None:
    put(s3, ndjson(ORDERS))
    late = created(s3, KEY, "0A1")
    s3.delete_object(Bucket=BUCKET, Key=KEY)
    handle(removed(KEY, "0A2"))
    assert handle(late)["stale"] == 1
    assert keys(s3, "processed/") == []


def test_the_same_event_twice_gives_no_doubles(s3) -> None:
    put(s3, ndjson(ORDERS))
    event = created(s3, KEY, "0A1")
    handle(event)
    assert handle(event)["duplicate"] == 1
    assert len(rows(s3, "orders")) == 3


def test_a_quarantined_version_is_replaced_by_a_readable_one(s3) -> None:
    put(s3, ndjson(ORDERS))
    handle(created(s3, KEY, "0A1"))
    put(s3, b'{"id": 1}\n{"id": \n')
    assert handle(created(s3, KEY, "0A2"))["quarantined"] == 1
    assert rows(s3, "orders") == []  # the latest version has no readable rows
    assert keys(s3, "quarantine/") == ["quarantine/orders/day.json", "quarantine/orders/day.json.error.json"]
    put(s3, ndjson(ORDERS[:1]))
    handle(created(s3, KEY, "0A3"))
    assert keys(s3, "quarantine/") == [] and len(rows(s3, "orders")) == 1


@pytest.mark.parametrize("key", ["raw/orders/DATA.JSON", "raw/orders/export.txt", "raw/orders/dump"])
def test_any_name_under_raw_is_read_by_its_bytes(s3, key: str) -> None:
    put(s3, ndjson(ORDERS), key)
    assert handle(created(s3, key, "01"))["processed"] == 1
    assert len(rows(s3, "orders")) == 3


def test_a_file_the_transform_cannot_read_is_quarantined_with_a_reason(s3) -> None:
    key = "raw/orders/export.csv"
    put(s3, b"id,name\n1,Ann\n", key)
    assert handle(created(s3, key, "01"))["quarantined"] == 1
    report = json.loads(s3.get_object(Bucket=BUCKET, Key="quarantine/orders/export.csv.error.json")["Body"].read())
    assert report["source_key"] == key and report["reason"]
    assert keys(s3, "processed/") == []


def test_a_folder_placeholder_is_skipped_with_a_log_line(s3, caplog: pytest.LogCaptureFixture) -> None:
    # The S3 console's "Create folder" writes an empty object "raw/orders/"; it is no file to read or quarantine.
    put(s3, b"", "raw/orders/")
    with caplog.at_level("INFO", logger="pipeline.lambda_transform"):
        assert handle(created(s3, "raw/orders/", "01"))["skipped"] == 1
    assert "folder placeholder" in caplog.text
    assert keys(s3, "quarantine/") == [] and keys(s3, "manifests/") == []


def removed_version(key: str, sequencer: str, version_id: str, marker: bool = False) -> dict:
    name = "ObjectRemoved:DeleteMarkerCreated" if marker else "ObjectRemoved:Delete"
    obj = {"key": quote_plus(key), "versionId": version_id, "sequencer": sequencer}
    return _record(name, obj, "2024-05-02T08:00:00.000Z")


def test_in_a_versioned_bucket_the_rows_follow_whichever_version_is_current(s3) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=BUCKET, Key=KEY, Body=ndjson(ORDERS[:1]))["VersionId"]
    handle(created(s3, KEY, "01"))
    second = s3.put_object(Bucket=BUCKET, Key=KEY, Body=ndjson(ORDERS[1:]))["VersionId"]
    handle(created(s3, KEY, "02"))
    assert sorted(row["id"] for row in rows(s3, "orders")) == [2, 3]

    s3.delete_object(Bucket=BUCKET, Key=KEY, VersionId=second)  # the first version is current again
    handle(removed_version(KEY, "03", second))
    assert [row["id"] for row in rows(s3, "orders")] == [1]

    marker = s3.delete_object(Bucket=BUCKET, Key=KEY)["VersionId"]  # a delete marker hides the key
    assert handle(removed_version(KEY, "04", marker, marker=True))["removed"] == 1
    assert rows(s3, "orders") == []

    s3.delete_object(Bucket=BUCKET, Key=KEY, VersionId=marker)  # removing the marker brings the first version back
    handle(removed_version(KEY, "05", marker))
    assert [row["id"] for row in rows(s3, "orders")] == [1]

    s3.delete_object(Bucket=BUCKET, Key=KEY, VersionId=first)  # the last version is gone for good
    handle(removed_version(KEY, "06", first))
    assert rows(s3, "orders") == []
