"""Fault injection kills a worker at an exact call, as a timeout or an out-of-memory kill would, on any machine.

The handler below writes three S3 objects in order; a fault armed on its Nth PutObject kills it there, before S3
stores the call or after. The invocation ends in Lambda's shapes for a timeout and for an out-of-memory kill:
https://docs.aws.amazon.com/lambda/latest/dg/troubleshooting-invocation.html (Sandbox.Timedout, Runtime.ExitError).
"""

from __future__ import annotations

import json
import urllib.error
import uuid
from pathlib import Path

import boto3
import pytest
from lambda_faults import arm, armed, disarm
from test_lambda_async import create_queue, invoke_async, receive_all, wait_idle
from test_lambda_runtime import create_function, invoke, log_messages

from kit.local_endpoint import LocalAwsProcess

pytestmark = pytest.mark.localaws

THREE_WRITES = """
    import boto3

    def handler(event, context):
        s3 = boto3.client("s3")
        for name in ("first", "second", "third"):
            s3.put_object(Bucket=event["bucket"], Key=f"out/{name}", Body=name.encode())
            print("wrote", name)
        s3.put_object(Bucket=event["bucket"], Key="log/done", Body=b"done")
        return "done"
"""


@pytest.fixture
def bucket(localaws_env) -> str:
    name = f"faults-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=name)
    return name


def stored(bucket: str) -> list[str]:
    listing = boto3.client("s3").list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def test_a_timeout_before_the_second_put_stores_only_the_first(localaws_env, bucket):
    name = create_function(THREE_WRITES, Timeout=120)
    arm(localaws_env, name, "PutObject", KeyPrefix="out/", Nth=2, When="before", Effect="timeout")

    response, body = invoke(name, {"bucket": bucket})

    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert body["errorMessage"].endswith("Error: Task timed out after 120.00 seconds")  # the configured Timeout
    assert stored(bucket) == ["out/first"]
    messages = log_messages(name)
    assert "wrote first" in messages and "wrote second" not in messages
    assert any(message.endswith("Task timed out after 120.00 seconds") for message in messages)
    assert any("Duration: 120000.00 ms" in message for message in messages if message.startswith("REPORT"))


def test_an_out_of_memory_kill_after_the_second_put_keeps_what_s3_stored(localaws_env, bucket):
    name = create_function(THREE_WRITES, MemorySize=256)
    arm(localaws_env, name, "PutObject", KeyPrefix="out/", Nth=2, When="after", Effect="oom")

    _response, body = invoke(name, {"bucket": bucket})

    assert body["errorType"] == "Runtime.ExitError"
    assert body["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")
    assert stored(bucket) == ["out/first", "out/second"]  # S3 stored the call; the handler never saw the answer
    messages = log_messages(name)
    assert "wrote second" not in messages
    report = next(message for message in messages if message.startswith("REPORT"))
    assert "Max Memory Used: 256 MB" in report


def test_the_key_prefix_and_the_count_are_per_invocation(localaws_env, bucket):
    name = create_function(THREE_WRITES)
    arm(localaws_env, name, "PutObject", KeyPrefix="log/", Nth=1, When="before", Effect="timeout")

    for _ in range(2):  # the count starts again in each invocation (and in the environment that replaces the dead one)
        _response, body = invoke(name, {"bucket": bucket})
        assert body["errorType"] == "Sandbox.Timedout"
    assert stored(bucket) == ["out/first", "out/second", "out/third"]
    [fault] = [fault for fault in armed(localaws_env) if fault["FunctionName"] == name]
    assert fault["Fired"] == 2

    disarm(localaws_env, name)
    assert invoke(name, {"bucket": bucket})[1] == "done"


def test_an_async_event_killed_once_succeeds_on_its_retry(localaws_env, bucket):
    name = create_function(THREE_WRITES)
    url, queue_arn = create_queue()
    boto3.client("lambda").put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": queue_arn}}
    )
    arm(localaws_env, name, "PutObject", KeyPrefix="out/", Nth=3, When="before", Effect="timeout", Times=1)

    invoke_async(name, {"bucket": bucket})
    wait_idle(localaws_env)

    assert receive_all(url) == []
    assert stored(bucket) == ["log/done", "out/first", "out/second", "out/third"]
    assert sum(message.startswith("START") for message in log_messages(name)) == 2


def test_an_async_event_killed_every_time_reaches_the_on_failure_destination(localaws_env, bucket):
    name = create_function(THREE_WRITES)
    url, queue_arn = create_queue()
    boto3.client("lambda").put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": queue_arn}}
    )
    arm(localaws_env, name, "PutObject", KeyPrefix="out/", Nth=1, When="before", Effect="oom")

    invoke_async(name, {"bucket": bucket})
    wait_idle(localaws_env)

    [record] = receive_all(url)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responsePayload"]["errorType"] == "Runtime.ExitError"
    assert stored(bucket) == []


def test_an_error_fault_answers_the_call_with_access_denied_and_the_handler_goes_on(localaws_env, bucket):
    name = create_function(
        """
        import boto3

        def handler(event, context):
            s3 = boto3.client("s3")
            try:
                s3.put_object(Bucket=event["bucket"], Key="out/first", Body=b"1")
            except s3.exceptions.ClientError as error:
                s3.put_object(Bucket=event["bucket"], Key="log/error", Body=error.response["Error"]["Code"].encode())
            return "handled"
        """
    )
    arm(localaws_env, name, "PutObject", KeyPrefix="out/", Effect="error", ErrorCode="AccessDenied")

    assert invoke(name, {"bucket": bucket})[1] == "handled"
    assert stored(bucket) == ["log/error"]
    assert boto3.client("s3").get_object(Bucket=bucket, Key="log/error")["Body"].read() == b"AccessDenied"
    disarm(localaws_env, name)


def test_other_functions_and_callers_outside_lambda_are_not_touched(localaws_env, bucket):
    watched = create_function(THREE_WRITES)
    other = create_function(THREE_WRITES)
    arm(localaws_env, watched, "PutObject", Nth=1, Effect="timeout")

    boto3.client("s3").put_object(Bucket=bucket, Key="from-the-test", Body=b"x")  # not a Lambda worker
    assert invoke(other, {"bucket": bucket})[1] == "done"
    assert stored(bucket) == ["from-the-test", "log/done", "out/first", "out/second", "out/third"]
    disarm(localaws_env, watched)


@pytest.mark.parametrize(
    ("operation", "fields"),
    [
        ("PutObject", {"Effect": "explode"}),
        ("PutObject", {"When": "during"}),
        ("PutObject", {"Nth": 0}),
        ("", {"Effect": "timeout"}),
        ("PutObject", {"Colour": "red"}),
        ("PutObject", {"Effect": "error", "ErrorCode": "Teapot"}),
        ("PutObject", {"Effect": "error", "When": "after"}),
    ],
)
def test_a_malformed_fault_is_rejected(localaws_env, operation, fields):
    with pytest.raises(urllib.error.HTTPError) as error:
        arm(localaws_env, "fn", operation, **fields)
    assert error.value.code == 400
    assert json.load(error.value)["__type"] == "InvalidParameterValueException"


TMP_USER = """
    import os, tempfile
    import boto3

    def handler(event, context):
        tmp = tempfile.gettempdir()
        found = sorted(os.listdir(tmp))
        open(os.path.join(tmp, f"left-by-{context.aws_request_id}"), "w").close()
        if event.get("write"):
            boto3.client("s3").put_object(Bucket=event["bucket"], Key="out/x", Body=b"x")
        return {"tmp": tmp, "found": found}
"""


def test_each_environment_has_its_own_tmp_kept_across_a_reset_as_lambda_keeps_it(localaws_env, bucket):
    # https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html ("Failures during the invoke
    # phase": the environment is reset; /tmp is not emptied)
    name = create_function(TMP_USER)
    first = invoke(name)[1]
    assert "/localaws-lambda-" in first["tmp"] and first["found"] == []  # its own, not the host's /tmp
    arm(localaws_env, name, "PutObject", Effect="oom")
    assert invoke(name, {"write": True, "bucket": bucket})[1]["errorType"] == "Runtime.ExitError"
    disarm(localaws_env, name)

    after_reset = invoke(name)[1]  # a new worker, the same /tmp with what both earlier invocations left
    assert after_reset["tmp"] == first["tmp"]
    assert len(after_reset["found"]) == 2
    other = invoke(create_function(TMP_USER))[1]
    assert other["tmp"] != first["tmp"] and other["found"] == []


def point_clients_at(server: LocalAwsProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)


def test_the_lambda_folder_of_a_killed_localaws_is_removed_by_the_next_one(monkeypatch):
    killed = LocalAwsProcess(quiet=True, env={"LOCALAWS_LAMBDA_PREWARM": "0"})
    try:
        point_clients_at(killed, monkeypatch)
        tmp = Path(invoke(create_function(TMP_USER))[1]["tmp"])
    finally:
        killed.process.kill()  # SIGKILL: no shutdown, no atexit
        killed.stop()
    root = next(parent for parent in tmp.parents if parent.name.startswith("localaws-lambda-"))
    assert root.is_dir()

    with_function = LocalAwsProcess(quiet=True, env={"LOCALAWS_LAMBDA_PREWARM": "0"})
    try:
        point_clients_at(with_function, monkeypatch)
        assert Path(invoke(create_function(TMP_USER))[1]["tmp"]).is_dir()
        assert not root.exists()
    finally:
        with_function.stop()
