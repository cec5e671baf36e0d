"""S3 event delivery, in-process inside localaws: refused as the same request over HTTP is, and as AWS refuses it.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html
Lambda and SQS authorize every request S3 makes, so a destination whose resource policy stops allowing the bucket
after the configuration was put gets no more events. localaws keeps each refused delivery for
GET /_localaws/s3-event-deliveries; the tests compare it with what boto3 gets over HTTP for the same request.
"""

from __future__ import annotations

import json
import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError
from test_s3_events import _name, _queue_for, _queue_rule, _records, _wait_idle, recording_function

GRANT_DOC = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html"
pytestmark = pytest.mark.localaws


@pytest.fixture
def clients(localaws_env: str):
    return {name: boto3.client(name) for name in ("s3", "sqs", "lambda", "iam")} | {"endpoint": localaws_env}


def _refusals(clients, destination: str) -> list[dict]:
    with urllib.request.urlopen(f"{clients['endpoint']}/_localaws/s3-event-deliveries") as response:
        return [r for r in json.load(response)["Refused"] if r["Destination"] == destination]


def _configure_function(clients, bucket: str, function_arn: str) -> str:
    """Allow S3 to invoke the function from `bucket` and send it every object created; the permission's Sid."""
    sid = _name("sid")
    clients["lambda"].add_permission(
        FunctionName=function_arn,
        StatementId=sid,
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn=f"arn:aws:s3:::{bucket}",
    )
    rule = {"Id": "all", "LambdaFunctionArn": function_arn, "Events": ["s3:ObjectCreated:*"]}
    clients["s3"].put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"LambdaFunctionConfigurations": [rule]}
    )
    return sid


@pytest.fixture
def buckets(clients) -> tuple[str, str]:
    """(the bucket with the notification, the bucket the recording function writes each event to)"""
    names = _name("b"), _name("rec")
    for name in names:
        clients["s3"].create_bucket(Bucket=name)
    return names


def test_a_function_whose_permission_was_removed_gets_no_event_and_the_refusal_is_lambda_s(clients, buckets) -> None:
    # GRANT_DOC: S3 needs lambda:InvokeFunction from the function's resource-based policy for every invocation
    bucket, record_bucket = buckets
    function_arn = recording_function(clients, record_bucket)
    sid = _configure_function(clients, bucket, function_arn)
    clients["s3"].put_object(Bucket=bucket, Key="allowed.json", Body=b"{}")
    _wait_idle(clients)
    clients["lambda"].remove_permission(FunctionName=function_arn, StatementId=sid)

    clients["s3"].put_object(Bucket=bucket, Key="refused.json", Body=b"{}")
    _wait_idle(clients)

    recorded = clients["s3"].list_objects_v2(Bucket=record_bucket).get("Contents", [])
    events = [json.loads(clients["s3"].get_object(Bucket=record_bucket, Key=o["Key"])["Body"].read()) for o in recorded]
    assert [e["Records"][0]["s3"]["object"]["key"] for e in events] == ["allowed.json"]
    [refusal] = _refusals(clients, function_arn)
    assert (refusal["Code"], refusal["Status"]) == ("AccessDeniedException", 403)
    assert refusal["Event"] == f"ObjectCreated:Put s3://{bucket}/refused.json"
    assert "s3.amazonaws.com is not authorized to perform: lambda:InvokeFunction" in refusal["Message"]


def test_a_queue_whose_policy_no_longer_allows_the_bucket_gets_no_event(clients, buckets) -> None:
    bucket, _ = buckets
    url, arn = _queue_for(clients, bucket)
    clients["s3"].put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [_queue_rule(arn)]}
    )
    _records(clients, url)  # S3's test event
    other = {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage"}
    other["Condition"] = {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::some-other-bucket"}}
    clients["sqs"].set_queue_attributes(
        QueueUrl=url, Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [other]})}
    )

    clients["s3"].put_object(Bucket=bucket, Key="refused.json", Body=b"{}")

    assert _records(clients, url) == []
    [refusal] = _refusals(clients, arn)
    assert (refusal["Code"], refusal["Status"]) == ("AccessDenied", 403)


def test_a_deleted_queue_refuses_in_process_as_send_message_over_http_does(clients, buckets) -> None:
    bucket, _ = buckets
    url, arn = _queue_for(clients, bucket)
    clients["s3"].put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [_queue_rule(arn)]}
    )
    _records(clients, url)
    clients["sqs"].delete_queue(QueueUrl=url)

    clients["s3"].put_object(Bucket=bucket, Key="lost.json", Body=b"{}")
    _wait_idle(clients)

    with pytest.raises(ClientError) as over_http:
        clients["sqs"].send_message(QueueUrl=url, MessageBody="{}")
    [refusal] = _refusals(clients, arn)
    error = over_http.value.response
    assert (refusal["Code"], refusal["Message"], refusal["Status"]) == (
        error["Error"]["Code"],
        error["Error"]["Message"],
        error["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_a_deleted_function_refuses_in_process_as_invoke_over_http_does(clients, buckets) -> None:
    bucket, record_bucket = buckets
    function_arn = recording_function(clients, record_bucket)
    _configure_function(clients, bucket, function_arn)
    clients["lambda"].delete_function(FunctionName=function_arn)

    clients["s3"].put_object(Bucket=bucket, Key="lost.json", Body=b"{}")
    _wait_idle(clients)

    with pytest.raises(ClientError) as over_http:
        clients["lambda"].invoke(FunctionName=function_arn, InvocationType="Event", Payload=b"{}")
    [refusal] = _refusals(clients, function_arn)
    error = over_http.value.response
    assert (refusal["Code"], refusal["Message"], refusal["Status"]) == (
        error["Error"]["Code"],
        error["Error"]["Message"],
        error["ResponseMetadata"]["HTTPStatusCode"],
    )
