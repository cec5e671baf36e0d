"""The transform Lambda quarantines bad bytes on the first attempt (issue 9 point 7): the handler returns, so
Lambda neither retries the event nor sends it to the dead-letter queue, and the reason is in `.error.json`."""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from pipeline import config, lambda_transform

pytestmark = pytest.mark.layer
BUCKET = "etl-bad-bytes"
CASES = Path(__file__).resolve().parent / "cases"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        monkeypatch.setitem(lambda_transform._clients, "s3", client)
        monkeypatch.delenv("ETL_BUCKET", raising=False)
        yield client


def invoke(client, key: str, body: bytes) -> dict:
    client.put_object(Bucket=BUCKET, Key=key, Body=body)
    head = client.head_object(Bucket=BUCKET, Key=key)
    record = {
        "eventTime": "2024-05-01T12:30:45.123Z",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": key, "eTag": head["ETag"].strip('"'), "sequencer": "1"}},
    }
    return lambda_transform.handler({"Records": [record]}, None)


DEEP = "{" + '"a":{' * 20_000 + "}" * 20_000 + "}"


@pytest.mark.parametrize(
    ("name", "body", "reason"),
    [
        ("deep-array.json", f'[{{"ok": 1}}, {DEEP}]'.encode(), f"nested more than {config.MAX_NESTING_DEPTH}"),
        ("deep.ndjson", f'{{"ok": 1}}\n{DEEP}\n'.encode(), f"nested more than {config.MAX_NESTING_DEPTH}"),
        ("data.csv", b"id,name\n1,Ann\n", "CSV"),
        ("bad-utf16.json", codecs.BOM_UTF16_LE + b"{\x00\x00\xd8", "UTF-16"),
    ],
)
def test_bad_bytes_are_quarantined_on_the_first_attempt(s3, name, body, reason) -> None:
    result = invoke(s3, f"raw/things/{name}", body)  # raising here would mean a retry, then the DLQ
    assert (result["processed"], result["quarantined"]) == (0, 1)
    report = json.loads(s3.get_object(Bucket=BUCKET, Key=f"quarantine/things/{name}.error.json")["Body"].read())
    assert reason in report["reason"] and report["expected"]


def test_the_lone_surrogate_case_lands_whole(s3) -> None:
    result = invoke(s3, "raw/tweets/t.jsonl", (CASES / "lone-surrogate.jsonl").read_bytes())
    assert result["processed"] == 1 and result["records"][0]["rows"] == 2
