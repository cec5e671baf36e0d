"""CopyObject with x-amz-copy-source-if-match (CopySourceIfMatch), against a real localaws server process.

https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html: the copy happens only if the source's ETag
matches; otherwise 412 PreconditionFailed and nothing is written.
"""

from __future__ import annotations

import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.localaws


@pytest.fixture
def s3(localaws_env: str):
    client = boto3.client("s3")
    bucket = f"copy-if-match-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=bucket)
    return client, bucket


def test_copy_happens_while_the_source_has_the_given_etag(s3) -> None:
    client, bucket = s3
    etag = client.put_object(Bucket=bucket, Key="src", Body=b"one")["ETag"]
    client.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"}, CopySourceIfMatch=etag)
    assert client.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"one"


def test_copy_of_a_source_that_changed_is_refused_with_412_and_writes_nothing(s3) -> None:
    client, bucket = s3
    old = client.put_object(Bucket=bucket, Key="src", Body=b"one")["ETag"]
    client.put_object(Bucket=bucket, Key="src", Body=b"two")
    with pytest.raises(ClientError) as caught:
        client.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"}, CopySourceIfMatch=old)
    assert caught.value.response["Error"]["Code"] == "PreconditionFailed"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert "Contents" not in client.list_objects_v2(Bucket=bucket, Prefix="dst")


def test_a_later_copy_without_the_header_is_not_held_to_an_earlier_one(s3) -> None:
    client, bucket = s3
    client.put_object(Bucket=bucket, Key="src", Body=b"one")
    with pytest.raises(ClientError):
        client.copy_object(
            Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"}, CopySourceIfMatch='"0000"'
        )
    client.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert client.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"one"
