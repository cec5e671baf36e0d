"""The transform's two guarded writes to a key's one quarantine path, against localaws's S3 (moto alone ignores
CopySourceIfMatch): a stale event never overwrites a newer version's quarantine copy or report."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest

from pipeline.lambda_transform import copy_object, put_report_unless_newer

pytestmark = pytest.mark.localaws


@pytest.fixture
def s3(localaws_env: str):
    client = boto3.client("s3")
    bucket = f"quarantine-writes-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=bucket)
    return client, bucket


def test_the_copy_of_a_version_that_was_replaced_is_not_made(s3) -> None:
    client, bucket = s3
    old = client.put_object(Bucket=bucket, Key="raw/d/x.json", Body=b"bad one")["ETag"].strip('"')
    assert copy_object(client, bucket, "quarantine/d/x.json", bucket, "raw/d/x.json", old)
    client.put_object(Bucket=bucket, Key="raw/d/x.json", Body=b"bad two")
    client.copy_object(  # the newer version's copy
        Bucket=bucket, Key="quarantine/d/x.json", CopySource={"Bucket": bucket, "Key": "raw/d/x.json"}
    )
    assert not copy_object(client, bucket, "quarantine/d/x.json", bucket, "raw/d/x.json", old)  # the stale one
    assert client.get_object(Bucket=bucket, Key="quarantine/d/x.json")["Body"].read() == b"bad two"
    client.delete_object(Bucket=bucket, Key="raw/d/x.json")
    assert not copy_object(client, bucket, "quarantine/d/x.json", bucket, "raw/d/x.json", old)


def test_a_report_is_replaced_only_by_a_newer_sequencer(s3) -> None:
    client, bucket = s3
    key = "quarantine/d/x.json.error.json"

    def stored() -> str:
        return json.loads(client.get_object(Bucket=bucket, Key=key)["Body"].read())["reason"]

    assert put_report_unless_newer(client, bucket, key, {"sequencer": "0A", "reason": "first"})
    assert put_report_unless_newer(client, bucket, key, {"sequencer": "0C", "reason": "newest"})
    assert not put_report_unless_newer(client, bucket, key, {"sequencer": "0B", "reason": "stale"})
    assert stored() == "newest"
    assert put_report_unless_newer(client, bucket, key, {"sequencer": "0C", "reason": "newest again"})  # a retry
    assert stored() == "newest again"
