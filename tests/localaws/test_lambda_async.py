"""Asynchronous invocation as Lambda does it: retries, the event-invoke config, destinations, bounded concurrency.

https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html
https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
The server retries after LOCALAWS_LAMBDA_RETRY_DELAYS (0.5 s, 1 s) instead of AWS's 1 and 2 minutes.
"""

from __future__ import annotations

import json
import os
import urllib.request
import uuid

import boto3
import pytest
from test_lambda_runtime import create_function, log_messages

pytestmark = pytest.mark.localaws

FAILING = """
    def handler(event, context):
        print("attempt for", event["order"])
        raise RuntimeError("warehouse offline")
"""


def wait_idle(endpoint: str) -> None:
    with urllib.request.urlopen(f"{endpoint}/_localaws/idle?timeout=120") as response:
        assert json.load(response)["idle"] is True


def create_queue() -> tuple[str, str]:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"dest-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def receive_all(url: str) -> list[dict]:
    messages = boto3.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def invoke_async(name: str, event: dict) -> str:
    response = boto3.client("lambda").invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event))
    assert response["StatusCode"] == 202
    return response["ResponseMetadata"]["RequestId"]


def test_failed_event_is_retried_twice_then_sent_to_the_on_failure_destination(localaws_env):
    name = create_function(FAILING)
    url, queue_arn = create_queue()
    boto3.client("lambda").put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=2, DestinationConfig={"OnFailure": {"Destination": queue_arn}}
    )
    request_id = invoke_async(name, {"order": 7})
    wait_idle(localaws_env)

    [record] = receive_all(url)
    assert record["version"] == "1.0"
    assert record["timestamp"].endswith("Z")
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": f"arn:aws:lambda:us-east-1:123456789012:function:{name}:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 3,
    }
    assert record["requestPayload"] == {"order": 7}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    assert record["responsePayload"]["errorMessage"] == "warehouse offline"
    starts = [m for m in log_messages(name) if m.startswith(f"START RequestId: {request_id}")]
    assert len(starts) == 3  # the first attempt and two retries, all with the same request id


def test_maximum_retry_attempts_zero_is_honoured(localaws_env):
    name = create_function(FAILING)
    url, queue_arn = create_queue()
    boto3.client("lambda").put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": queue_arn}}
    )
    invoke_async(name, {"order": 8})
    wait_idle(localaws_env)
    [record] = receive_all(url)
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert [m for m in log_messages(name) if m.startswith("START")].__len__() == 1


def test_success_goes_to_the_on_success_destination(localaws_env):
    name = create_function(
        """
        def handler(event, context):
            return {"flattened": event["order"]}
        """
    )
    url, queue_arn = create_queue()
    boto3.client("lambda").put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": queue_arn}}
    )
    invoke_async(name, {"order": 9})
    wait_idle(localaws_env)
    [record] = receive_all(url)
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"flattened": 9}


def test_async_invocations_run_in_parallel_in_a_bounded_pool(localaws_env):
    # No clock: the first `bound` events (LOCALAWS_LAMBDA_CONCURRENCY: the CPU count, at least 2, by default) each
    # wait until all of them have started, which only happens if they run at once; the two extra events wait for a
    # free slot. Each run counts the runs active when it started, which never exceeds the bound.
    bound = max(2, os.cpu_count() or 2)
    name = create_function(
        """
        import os
        import time
        import boto3

        def handler(event, context):
            s3, bucket = boto3.client("s3"), event["bucket"]
            s3.put_object(Bucket=bucket, Key=f"started/{context.aws_request_id}", Body=b"")
            s3.put_object(Bucket=bucket, Key=f"active/{context.aws_request_id}", Body=b"")
            active = s3.list_objects_v2(Bucket=bucket, Prefix="active/")["KeyCount"]
            while s3.list_objects_v2(Bucket=bucket, Prefix="started/")["KeyCount"] < event["wait_for"]:
                time.sleep(0.05)  # waiting on state: the other runs' markers
            s3.delete_object(Bucket=bucket, Key=f"active/{context.aws_request_id}")
            return {"pid": os.getpid(), "active": active}
        """,
        Timeout=300,
    )
    bucket = f"parallel-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    url, queue_arn = create_queue()
    boto3.client("lambda").put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0, DestinationConfig={"OnSuccess": {"Destination": queue_arn}}
    )
    for order in range(bound + 2):
        invoke_async(name, {"bucket": bucket, "wait_for": bound if order < bound else 0})
    wait_idle(localaws_env)
    runs = [record["responsePayload"] for record in receive_all(url)]
    assert len(runs) == bound + 2  # every run returned: the first `bound` ran at once
    assert max(run["active"] for run in runs) <= bound
    assert len({run["pid"] for run in runs}) >= bound  # one execution environment per concurrent run


def test_put_event_invoke_config_replaces_and_update_changes_only_what_it_names(localaws_env):
    # https://docs.aws.amazon.com/lambda/latest/api/API_PutFunctionEventInvokeConfig.html
    # https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionEventInvokeConfig.html
    name = create_function(FAILING)
    _, queue_arn = create_queue()
    client = boto3.client("lambda")
    client.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=2, MaximumEventAgeInSeconds=600)
    client.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=1, DestinationConfig={"OnFailure": {"Destination": queue_arn}}
    )
    config = client.get_function_event_invoke_config(FunctionName=name)
    assert config["MaximumRetryAttempts"] == 1
    assert "MaximumEventAgeInSeconds" not in config
    client.update_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=300)
    config = client.get_function_event_invoke_config(FunctionName=name)
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (1, 300)
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == queue_arn
