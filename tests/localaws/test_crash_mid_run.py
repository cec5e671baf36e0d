"""A transform Lambda killed mid-run leaves no partial Parquet object, and its event ends in the dead-letter queue.

The function's timeout is cut to 1 s and a file that takes longer is uploaded: the runtime kills the handler while it
works (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html for the record the queue gets).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from kit.local_endpoint import wait_idle

pytestmark = [pytest.mark.localaws, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def big_ndjson(megabytes: int) -> bytes:
    line = json.dumps({"order_id": "X", "customer": {"name": "Ann", "city": "Oslo"}, "items": [{"sku": "A", "qty": 1}]})
    return ("\n".join([line] * (megabytes * 1024 * 1024 // (len(line) + 1))) + "\n").encode()


def test_a_handler_killed_mid_run_writes_nothing_and_its_event_reaches_the_dlq(localaws, tmp_path: Path):
    env = {**os.environ, **localaws.env(), "KIT_STACKS_DIR": str(tmp_path)}
    provision = subprocess.run(
        [sys.executable, "provision.py", "--stack", "crash"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert provision.returncode == 0, provision.stdout + provision.stderr
    outputs = json.loads((tmp_path / "crash.json").read_text())
    clients = {name: boto3.client(name, endpoint_url=localaws.endpoint) for name in ("lambda", "s3", "sqs", "logs")}
    function = outputs["functions"]["transform"]["name"]
    clients["lambda"].update_function_configuration(FunctionName=function, Timeout=1)
    clients["lambda"].get_waiter("function_updated_v2").wait(FunctionName=function)

    clients["s3"].put_object(Bucket=outputs["bucket"], Key="raw/big/orders.jsonl", Body=big_ndjson(60))
    assert wait_idle(localaws.endpoint, timeout=180)

    written = clients["s3"].list_objects_v2(Bucket=outputs["bucket"], Prefix="processed/")
    assert written.get("KeyCount", 0) == 0  # no partial Parquet object, for the parent or the child dataset
    messages = clients["sqs"].receive_message(QueueUrl=outputs["dlq"]["url"], MaxNumberOfMessages=10)["Messages"]
    record = json.loads(messages[0]["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestPayload"]["Records"][0]["s3"]["object"]["key"] == "raw/big/orders.jsonl"
    logs = clients["logs"].filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
    assert any("Task timed out after 1.00 seconds" in event["message"] for event in logs)
