"""SQS event source mappings as Lambda runs them: batches, batching windows, partial batch responses, redrive,
throttling under reserved concurrency, and the execution role's permissions.

https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html
Each function writes every event it gets to S3 (batches/<request id>.json); the tests wait on localaws's idle
endpoint, which counts a mapping's queue as pending until it is empty.
"""

from __future__ import annotations

import json
import urllib.request
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError
from test_lambda_async import wait_idle
from test_lambda_runtime import TRUST_POLICY, create_function, zipped

from kit.waiting import wait_until

pytestmark = pytest.mark.localaws
SQS_DOC = "https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html"

RECORDING = """
    import json
    import os
    import boto3

    def handler(event, context):
        boto3.client("s3").put_object(
            Bucket=os.environ["BUCKET"], Key=f"batches/{context.aws_request_id}.json", Body=json.dumps(event)
        )
        return BEHAVIOUR(event)
"""


def recording_function(behaviour: str, **settings) -> tuple[str, str]:
    """A function that records each event in a new bucket, then answers with `behaviour` (a Python function of the
    event, as source named BEHAVIOUR); returns (function name, bucket)."""
    bucket = f"esm-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    code = RECORDING + "\n" + "\n".join("    " + line for line in behaviour.strip("\n").splitlines()) + "\n"
    name = create_function(code, Environment={"Variables": {"BUCKET": bucket}}, Timeout=60, **settings)
    return name, bucket


def batches(bucket: str) -> list[list[dict]]:
    s3 = boto3.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="batches/").get("Contents", [])]
    return [json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())["Records"] for key in keys]


def new_queue(**attributes) -> tuple[str, str]:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"esm-{uuid.uuid4().hex[:12]}", Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def queue_counts(url: str) -> tuple[int, int, int]:
    attributes = boto3.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return tuple(
        int(attributes[name])
        for name in (
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        )
    )


def send(url: str, *bodies: str) -> list[str]:
    sqs = boto3.client("sqs")
    return [sqs.send_message(QueueUrl=url, MessageBody=body)["MessageId"] for body in bodies]


def map_queue(name: str, queue_arn: str, **settings) -> str:
    return boto3.client("lambda").create_event_source_mapping(FunctionName=name, EventSourceArn=queue_arn, **settings)[
        "UUID"
    ]


SUCCEED = """
def BEHAVIOUR(event):
    return None
"""


def test_messages_arrive_in_the_sqs_event_shape_and_are_deleted(localaws_env):
    name, bucket = recording_function(SUCCEED)
    url, queue_arn = new_queue()
    boto3.client("sqs").send_message(
        QueueUrl=url,
        MessageBody="first",
        MessageAttributes={"source": {"DataType": "String", "StringValue": "s3"}},
    )
    send(url, "second")
    mapping = map_queue(name, queue_arn, BatchSize=10)
    wait_idle(localaws_env)

    [records] = batches(bucket)
    by_body = {r["body"]: r for r in records}
    assert set(by_body) == {"first", "second"}
    first = by_body["first"]
    assert set(first) == {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "md5OfMessageAttributes",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert (first["eventSource"], first["eventSourceARN"], first["awsRegion"]) == ("aws:sqs", queue_arn, "us-east-1")
    # moto's own poller never received it first: this is the first receive
    assert first["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(first["attributes"])
    assert first["messageAttributes"] == {
        "source": {"stringValue": "s3", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    }
    assert "md5OfMessageAttributes" not in by_body["second"]
    assert queue_counts(url) == (0, 0, 0)
    configuration = boto3.client("lambda").get_event_source_mapping(UUID=mapping)
    assert (configuration["State"], configuration["BatchSize"]) == ("Enabled", 10)


def test_batching_window_gathers_until_the_batch_size_then_until_the_window_ends(localaws_env):
    # SQS_DOC: Lambda invokes when the batch size is reached, the window ends, or the payload reaches 6 MB.
    name, bucket = recording_function(SUCCEED)
    url, queue_arn = new_queue()
    mapping = map_queue(name, queue_arn, BatchSize=20, MaximumBatchingWindowInSeconds=1, Enabled=False)
    send(url, *[f"m{n}" for n in range(25)])
    boto3.client("lambda").update_event_source_mapping(UUID=mapping, Enabled=True)
    wait_idle(localaws_env)

    assert sorted(len(records) for records in batches(bucket)) == [5, 20]
    assert queue_counts(url) == (0, 0, 0)


PARTIAL = """
def BEHAVIOUR(event):
    import boto3
    sqs = boto3.client("sqs")
    failures = []
    for record in event["Records"]:
        if record["body"].startswith("fail") and record["attributes"]["ApproximateReceiveCount"] == "1":
            # the crawler trigger's pattern: hand the message back soon rather than after the visibility timeout
            url = sqs.get_queue_url(QueueName=record["eventSourceARN"].rsplit(":", 1)[-1])["QueueUrl"]
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0)
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
"""


def test_report_batch_item_failures_returns_only_the_failed_messages(localaws_env):
    name, bucket = recording_function(PARTIAL)
    url, queue_arn = new_queue(VisibilityTimeout="60")
    ids = dict(zip(send(url, "ok-1", "fail-2", "ok-3"), ("ok-1", "fail-2", "ok-3"), strict=True))
    map_queue(name, queue_arn, FunctionResponseTypes=["ReportBatchItemFailures"], Enabled=True)
    wait_idle(localaws_env)

    deliveries = [(ids[r["messageId"]], r["attributes"]["ApproximateReceiveCount"]) for b in batches(bucket) for r in b]
    assert sorted(deliveries) == [("fail-2", "1"), ("fail-2", "2"), ("ok-1", "1"), ("ok-3", "1")]
    assert queue_counts(url) == (0, 0, 0)


MALFORMED = """
def BEHAVIOUR(event):
    return {"batchItemFailures": [{"itemIdentifier": "not-a-message-of-this-batch"}]}
"""


def mapping_state(endpoint: str, mapping: str) -> dict:
    with urllib.request.urlopen(f"{endpoint}/_localaws/event-source-mappings") as response:
        return next(m for m in json.load(response)["Mappings"] if m["UUID"] == mapping)


def test_a_malformed_batch_response_fails_the_whole_batch(localaws_env):
    # services-sqs-errorhandling.html: an itemIdentifier that is not in the batch fails the whole batch, so nothing
    # is deleted: both messages stay in flight until their visibility timeout.
    name, bucket = recording_function(MALFORMED)
    url, queue_arn = new_queue(VisibilityTimeout="600")
    send(url, "a", "b")
    mapping = map_queue(name, queue_arn, FunctionResponseTypes=["ReportBatchItemFailures"])
    wait_until(
        lambda: (
            "settled"
            if mapping_state(localaws_env, mapping)["Invocations"] == 1
            and mapping_state(localaws_env, mapping)["BatchesInFlight"] == 0
            else "running"
        ),
        what="the first batch",
        success={"settled"},
        interval=0.05,
        max_interval=0.5,
    )

    [records] = batches(bucket)
    assert sorted(r["body"] for r in records) == ["a", "b"]
    assert queue_counts(url) == (0, 2, 0)
    boto3.client("lambda").delete_event_source_mapping(UUID=mapping)  # nothing pending once it is gone
    wait_idle(localaws_env)


FAIL = """
def BEHAVIOUR(event):
    raise RuntimeError("cannot process")
"""


def test_function_errors_return_the_batch_until_max_receive_count_moves_it_to_the_dlq(localaws_env):
    name, bucket = recording_function(FAIL)
    dlq_url, dlq_arn = new_queue()
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    url, queue_arn = new_queue(VisibilityTimeout="1", RedrivePolicy=policy)
    send(url, "x", "y")
    map_queue(name, queue_arn)
    wait_idle(localaws_env)

    counts = sorted((r["body"], r["attributes"]["ApproximateReceiveCount"]) for b in batches(bucket) for r in b)
    assert counts == [("x", "1"), ("x", "2"), ("y", "1"), ("y", "2")]
    assert queue_counts(url) == (0, 0, 0)
    moved = boto3.client("sqs").receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in moved) == ["x", "y"]


ONE_AT_A_TIME = """
def BEHAVIOUR(event):
    import os, boto3
    s3, bucket = boto3.client("s3"), os.environ["BUCKET"]
    marker = f"active/{event['Records'][0]['messageId']}"
    s3.put_object(Bucket=bucket, Key=marker, Body=b"")
    active = s3.list_objects_v2(Bucket=bucket, Prefix="active/")["KeyCount"]
    s3.put_object(Bucket=bucket, Key=f"seen/{event['Records'][0]['messageId']}", Body=str(active).encode())
    s3.delete_object(Bucket=bucket, Key=marker)
    return None
"""


def test_reserved_concurrency_one_runs_one_batch_at_a_time_and_throttled_batches_wait(localaws_env):
    # The crawler-trigger design: reserved concurrency 1 behind a mapping allowed two concurrent batches; the second
    # batch is throttled and retried while its messages stay hidden, never run beside the first.
    name, bucket = recording_function(ONE_AT_A_TIME)
    boto3.client("lambda").put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    url, queue_arn = new_queue(VisibilityTimeout="300")
    ids = send(url, *[f"m{n}" for n in range(6)])
    map_queue(name, queue_arn, BatchSize=1, ScalingConfig={"MaximumConcurrency": 2})
    wait_idle(localaws_env)

    s3 = boto3.client("s3")
    seen = {
        o["Key"].split("/", 1)[1]: int(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read())
        for o in s3.list_objects_v2(Bucket=bucket, Prefix="seen/")["Contents"]
    }
    assert sorted(seen) == sorted(ids)  # every message once
    assert set(seen.values()) == {1}  # never two at once
    assert sum(len(b) for b in batches(bucket)) == len(ids)
    assert queue_counts(url) == (0, 0, 0)


BLOCKED = """
def BEHAVIOUR(event):
    import os, time, boto3
    s3 = boto3.client("s3")
    while s3.list_objects_v2(Bucket=os.environ["BUCKET"], Prefix="release")["KeyCount"] == 0:
        time.sleep(0.05)  # waiting on state: the test's release object
    return None
"""


def test_idle_waits_for_a_running_batch_and_the_messages_of_a_mapped_queue(localaws_env):
    name, bucket = recording_function(BLOCKED)
    url, queue_arn = new_queue()
    map_queue(name, queue_arn)
    send(url, "waits")
    with pytest.raises(urllib.error.HTTPError) as busy:
        urllib.request.urlopen(f"{localaws_env}/_localaws/idle?timeout=0")
    assert busy.value.code == 408  # the message is pending: queued or in a batch
    boto3.client("s3").put_object(Bucket=bucket, Key="release", Body=b"")
    wait_idle(localaws_env)
    assert queue_counts(url) == (0, 0, 0)


# -- CreateEventSourceMapping's checks ------------------------------------------------------------------------
def test_a_role_without_sqs_permissions_is_refused(localaws_env):
    iam = boto3.client("iam")
    role = iam.create_role(RoleName=f"no-sqs-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument=TRUST_POLICY)["Role"]
    name = f"fn-{uuid.uuid4().hex[:12]}"
    boto3.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role["Arn"],
        Handler="app.handler",
        Code={"ZipFile": zipped({"app.py": "def handler(e, c):\n    return None\n"})},
    )
    _, queue_arn = new_queue()
    with pytest.raises(ClientError) as caught:
        map_queue(name, queue_arn)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert caught.value.response["Error"]["Message"] == (
        "The function execution role does not have permissions to call ReceiveMessage on SQS"
    )
    receive_only = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:GetQueueAttributes"], "Resource": "*"}],
    }
    iam.put_role_policy(RoleName=role["RoleName"], PolicyName="sqs", PolicyDocument=json.dumps(receive_only))
    with pytest.raises(ClientError) as caught:
        map_queue(name, queue_arn)
    assert caught.value.response["Error"]["Message"].endswith("to call DeleteMessage on SQS")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"BatchSize": 11},
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10",
        ),
        ({"BatchSize": 10001, "MaximumBatchingWindowInSeconds": 5}, "BatchSize 10001 exceeds the max of 10000"),
    ],
)
def test_batch_sizes_lambda_refuses(localaws_env, settings, message):
    name, _ = recording_function(SUCCEED)
    _, queue_arn = new_queue()
    with pytest.raises(ClientError) as caught:
        map_queue(name, queue_arn, **settings)
    assert (caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]) == (
        "InvalidParameterValueException",
        message,
    )


def test_a_second_mapping_of_the_same_queue_and_function_conflicts(localaws_env):
    name, _ = recording_function(SUCCEED)
    _, queue_arn = new_queue()
    first = map_queue(name, queue_arn, Enabled=False)
    with pytest.raises(ClientError) as caught:
        map_queue(name, queue_arn)
    assert caught.value.response["Error"]["Code"] == "ResourceConflictException"
    assert first in caught.value.response["Error"]["Message"]
