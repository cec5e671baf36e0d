"""Rules of real AWS that moto does not enforce, checked against botocore's Stubber (exact calls, no network, no sleep).

- Lambda rejects an update while the function is Pending or its LastUpdateStatus is InProgress:
  https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html
- SQS refuses a queue name for 60 s after DeleteQueue (QueueDeletedRecently):
  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html
"""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import ANY, Stubber

import kit.waiting
from kit.aws import glue, lambda_, sqs

SPEC = lambda_.FunctionSpec(
    name="etl-transform",
    role_arn="arn:aws:iam::123456789012:role/etl-transform-role",
    handler="pipeline.lambda_transform.handler",
    runtime="python3.12",
    architecture="x86_64",
    memory_mb=1024,
    timeout_s=300,
    environment={},
    layers=(),
    description="d",
    ephemeral_storage_mb=2048,
)


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The delays the kit would have slept, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(kit.waiting.time, "sleep", slept.append)
    return slept


def _configuration(**overrides) -> dict:
    configuration = {
        "FunctionName": SPEC.name,
        "FunctionArn": f"arn:aws:lambda:us-east-1:123456789012:function:{SPEC.name}",
        "CodeSha256": "old",
        "Architectures": ["x86_64"],
        "State": "Active",
        "LastUpdateStatus": "Successful",
        **SPEC.configuration(),
        "Environment": {"Variables": {}},
        "Layers": [],
    }
    return {**configuration, **overrides}


def test_an_update_in_progress_is_waited_out_before_the_code_is_updated():
    client = boto3.client("lambda", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response(
            "get_function", {"Configuration": _configuration(LastUpdateStatus="InProgress"), "Tags": SPEC.tags}
        )
        stub.add_response("get_function", {"Configuration": _configuration()})  # function_updated_v2: done
        stub.add_response(
            "update_function_code",
            _configuration(),
            {"FunctionName": SPEC.name, "ZipFile": ANY, "Architectures": ["x86_64"]},
        )
        stub.add_response("get_function", {"Configuration": _configuration()})  # function_updated_v2 after it
        _, outcome = lambda_.ensure_function(client, SPEC, b"zip", "new")
        stub.assert_no_pending_responses()
    assert outcome == "updated in place (code)"


def test_a_pending_function_is_waited_on_until_active():
    client = boto3.client("lambda", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response("get_function", {"Configuration": _configuration(State="Pending", CodeSha256="new")})
        stub.add_response("get_function", {"Configuration": _configuration(State="Active")})  # function_active_v2
        _, outcome = lambda_.ensure_function(client, SPEC, b"zip", "new")
        stub.assert_no_pending_responses()
    assert outcome == "already exists, kept"


def test_the_transform_gets_the_ephemeral_storage_it_asks_for():
    assert SPEC.configuration()["EphemeralStorage"] == {"Size": 2048}


def test_a_queue_deleted_recently_is_created_once_sqs_allows_the_name(no_sleep):
    client = boto3.client("sqs", region_name="us-east-1")
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/etl-dlq"
    with Stubber(client) as stub:
        stub.add_client_error("get_queue_url", "AWS.SimpleQueueService.NonExistentQueue")
        for _ in range(3):  # SQS says "wait 60 seconds": three refusals, then the name is free again
            stub.add_client_error(
                "create_queue",
                "AWS.SimpleQueueService.QueueDeletedRecently",
                "You must wait 60 seconds after deleting a queue before you can create another with the same name.",
            )
        stub.add_response("create_queue", {"QueueUrl": url})
        stub.add_response("get_queue_attributes", {"Attributes": {"QueueArn": "arn:aws:sqs:us-east-1:1:etl-dlq"}})
        (found, _arn), outcome = sqs.ensure_queue(client, "etl-dlq", tags={"etl-kit-stack": "etl"})
        stub.assert_no_pending_responses()
    assert (found, outcome) == (url, "created")
    assert len(no_sleep) == 3 and sum(no_sleep) >= 15  # it waited between attempts, on the kit's schedule


def test_the_retry_outlasts_sqs_s_60_seconds():
    delays, delay = [], sqs.DELETED_RECENTLY_RETRY["first_delay"]
    for _ in range(sqs.DELETED_RECENTLY_RETRY["attempts"] - 1):
        delays.append(delay)
        delay = min(delay * 2, sqs.DELETED_RECENTLY_RETRY["max_delay"])
    assert sum(delays) > 60


def test_the_crawler_creates_no_partition_index():
    # Crawlers create partition indexes unless told not to, which needs glue:CreatePartitionIndex:
    # https://docs.aws.amazon.com/glue/latest/dg/crawler-configure-partition-indexes.html
    assert glue.CRAWLER_CONFIGURATION["CreatePartitionIndex"] is False
