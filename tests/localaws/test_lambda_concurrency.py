"""Reserved concurrency, the account's concurrency limit, and throttling, as Lambda enforces them.

https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html (throttled events are retried with backoff)
No clock: a blocked handler waits for a "release" object in S3, and the tests wait on localaws's own count of running
invocations and throttles (GET /_localaws/lambda-concurrency).
"""

from __future__ import annotations

import json
import threading
import urllib.request
import uuid
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from kit.local_endpoint import LocalAwsProcess
from kit.waiting import wait_until
from tests.conftest import point_clients_at
from tests.localaws.test_lambda_async import create_queue, invoke_async, receive_all, wait_idle
from tests.localaws.test_lambda_runtime import create_function

pytestmark = pytest.mark.localaws
CONCURRENCY_DOC = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html"
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})  # botocore retries 429s by itself

BLOCKED = """
    import time
    import boto3

    def handler(event, context):
        s3 = boto3.client("s3")
        while s3.list_objects_v2(Bucket=event["bucket"], Prefix="release")["KeyCount"] == 0:
            time.sleep(0.05)  # waiting on state: the test's release object
        return {"done": event.get("n")}
"""


def concurrency(endpoint: str) -> dict:
    with urllib.request.urlopen(f"{endpoint}/_localaws/lambda-concurrency") as response:
        return json.load(response)


def function_state(endpoint: str, name: str) -> dict:
    return concurrency(endpoint)["Functions"].get(f"123456789012/us-east-1/{name}", {"Running": 0, "Throttles": 0})


def wait_for(predicate, what: str) -> None:
    """Wait on localaws's state (the handler's own progress), never on a clock."""
    wait_until(
        lambda: "reached" if predicate() else "not yet",
        what=what,
        success={"reached"},
        timeout=300,
        interval=0.05,
        max_interval=0.2,
    )


def new_bucket() -> str:
    bucket = f"conc-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return bucket


def release(bucket: str) -> None:
    boto3.client("s3").put_object(Bucket=bucket, Key="release", Body=b"")


def test_put_get_delete_function_concurrency(localaws_env):
    name = create_function("def handler(event, context):\n    return 1\n")
    client = boto3.client("lambda")
    before = client.get_account_settings()["AccountLimit"]
    assert before["ConcurrentExecutions"] == 1000  # AWS's default account limit

    assert (
        client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)[
            "ReservedConcurrentExecutions"
        ]
        == 5
    )
    assert client.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 5
    after = client.get_account_settings()["AccountLimit"]
    assert after["UnreservedConcurrentExecutions"] == before["UnreservedConcurrentExecutions"] - 5

    client.delete_function_concurrency(FunctionName=name)
    assert client.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions") is None


def test_a_reservation_must_leave_100_unreserved(localaws_env):
    # CONCURRENCY_DOC: "You can reserve up to the Unreserved account concurrency value minus 100"
    name = create_function("def handler(event, context):\n    return 1\n")
    with pytest.raises(ClientError) as caught:
        boto3.client("lambda").put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=901)
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidParameterValueException"
    assert error["Message"] == (
        "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution "
        "below its minimum value of [100]."
    )


def test_reserved_concurrency_zero_throttles_every_sync_invoke(localaws_env):
    name = create_function("def handler(event, context):\n    return 1\n")
    client = boto3.client("lambda", config=NO_RETRIES)
    client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    assert client.get_function(FunctionName=name)["Concurrency"] == {"ReservedConcurrentExecutions": 0}
    with pytest.raises(ClientError) as caught:
        client.invoke(FunctionName=name, Payload=b"{}")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert caught.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert caught.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_a_second_sync_invoke_over_reserved_concurrency_is_throttled(localaws_env):
    name = create_function(BLOCKED, Timeout=300)
    bucket = new_bucket()
    client = boto3.client("lambda", config=NO_RETRIES)
    client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    results = []
    first = threading.Thread(
        target=lambda: results.append(client.invoke(FunctionName=name, Payload=json.dumps({"bucket": bucket, "n": 1})))
    )
    first.start()
    wait_for(lambda: function_state(localaws_env, name)["Running"] == 1, "the first invocation runs")

    with pytest.raises(ClientError) as caught:
        client.invoke(FunctionName=name, Payload=json.dumps({"bucket": bucket, "n": 2}))
    assert caught.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert caught.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"

    release(bucket)
    first.join()
    assert json.loads(results[0]["Payload"].read()) == {"done": 1}
    assert function_state(localaws_env, name) == {"Running": 0, "Throttles": 1}


def test_throttled_async_event_is_retried_until_it_runs(localaws_env):
    # invocation-async.html: a throttled event returns to the queue and is retried, and throttles are not attempts
    name = create_function(BLOCKED, Timeout=300)
    bucket = new_bucket()
    url, queue_arn = create_queue()
    client = boto3.client("lambda")
    client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    client.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0, DestinationConfig={"OnSuccess": {"Destination": queue_arn}}
    )
    invoke_async(name, {"bucket": bucket, "n": 1})
    wait_for(lambda: function_state(localaws_env, name)["Running"] == 1, "the first event runs")
    invoke_async(name, {"bucket": bucket, "n": 2})
    wait_for(lambda: function_state(localaws_env, name)["Throttles"] >= 1, "the second event is throttled")

    release(bucket)
    wait_idle(localaws_env)

    records = receive_all(url)
    assert sorted(r["responsePayload"]["done"] for r in records) == [1, 2]
    assert [r["requestContext"]["approximateInvokeCount"] for r in records] == [1, 1]


@pytest.mark.slow
def test_async_event_throttled_past_its_maximum_age_goes_to_the_on_failure_destination(localaws_env):
    # invocation-async.html: throttled events are retried "for up to 6 hours (by default)", i.e. the event's age;
    # 60 s is the smallest MaximumEventAgeInSeconds Lambda accepts.
    name = create_function("def handler(event, context):\n    return 1\n")
    url, queue_arn = create_queue()
    client = boto3.client("lambda")
    client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    client.put_function_event_invoke_config(
        FunctionName=name, MaximumEventAgeInSeconds=60, DestinationConfig={"OnFailure": {"Destination": queue_arn}}
    )
    request_id = invoke_async(name, {"n": 1})
    wait_idle(localaws_env)

    [record] = receive_all(url)
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert record["requestPayload"] == {"n": 1}


# -- a small account: LOCALAWS_ACCOUNT_CONCURRENCY ----------------------------------------------------------------
@pytest.fixture(scope="module")
def small_account(tmp_path_factory) -> Iterator[LocalAwsProcess]:
    log = tmp_path_factory.mktemp("small-account") / "localaws.log"
    server = LocalAwsProcess(log_path=log, env={"LOCALAWS_ACCOUNT_CONCURRENCY": "1", "LOCALAWS_LAMBDA_PREWARM": "0"})
    yield server
    server.stop()


def test_small_account_cannot_reserve_and_throttles_at_its_limit(small_account, monkeypatch):
    # An account whose limit is below 100 keeps all of it unreserved (the error names the limit as the minimum), and
    # an invocation beyond the account's limit is throttled with Reason ConcurrentInvocationLimitExceeded.
    endpoint = point_clients_at(small_account, monkeypatch)
    name = create_function(BLOCKED, Timeout=300)
    bucket = new_bucket()
    client = boto3.client("lambda", config=NO_RETRIES)
    assert client.get_account_settings()["AccountLimit"]["ConcurrentExecutions"] == 1
    with pytest.raises(ClientError) as caught:
        client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    assert caught.value.response["Error"]["Message"].endswith("below its minimum value of [1].")

    first = threading.Thread(
        target=client.invoke, kwargs={"FunctionName": name, "Payload": json.dumps({"bucket": bucket})}
    )
    first.start()
    wait_for(lambda: function_state(endpoint, name)["Running"] == 1, "the first invocation runs")
    with pytest.raises(ClientError) as caught:
        client.invoke(FunctionName=name, Payload=json.dumps({"bucket": bucket}))
    assert caught.value.response["Reason"] == "ConcurrentInvocationLimitExceeded"
    release(bucket)
    first.join()
