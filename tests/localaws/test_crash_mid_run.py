"""The transform Lambda killed at every point of its work: what a reader sees, and where the event ends.

localaws's fault injection (localaws/lambda_runtime/faults.py) kills the worker at an exact call, as a timeout or
an out-of-memory kill would, so these tests never race the clock: they pass on an idle and on a saturated machine.
The design under test (docs/transform.md, "All or nothing per source object"): the Parquet files of one source
object are uploaded deepest child dataset first and the top-level dataset last, so a reader never sees parent rows
without their child rows; a retry rewrites the same keys, so nothing doubles; a caught upload error removes what
the attempt uploaded; the `.error.json` is the last write of the quarantine path. An event whose every attempt
fails lands in the dead-letter queue as Lambda's invocation record:
https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from lambda_faults import arm, disarm

from kit.local_endpoint import wait_idle

pytestmark = [pytest.mark.localaws, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
# three levels: orders -> items -> discounts; 3 orders, 5 items, 4 discounts
ORDERS = [
    {"order_id": "A", "items": [{"sku": "a1", "discounts": [{"code": "X"}]}, {"sku": "a2", "discounts": []}]},
    {"order_id": "B", "items": [{"sku": "b1", "discounts": [{"code": "Y"}, {"code": "Z"}]}]},
    {"order_id": "C", "items": [{"sku": "c1", "discounts": []}, {"sku": "c2", "discounts": [{"code": "W"}]}]},
]
EVERYTHING = {1: 3, 2: 5, 3: 4}  # rows by nesting depth (1 = the top-level dataset)
NOTHING: dict[int, int] = {}


class Stack:
    def __init__(self, env: dict[str, str], outputs: dict) -> None:
        self.endpoint = endpoint = env["AWS_ENDPOINT_URL"]
        session = boto3.session.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_REGION"],
        )
        self.bucket = outputs["bucket"]
        self.function = outputs["functions"]["transform"]["name"]
        self.dlq = outputs["dlq"]["url"]
        self.s3, self.sqs, self.logs, self.lambda_ = (
            session.client(name, endpoint_url=endpoint) for name in ("s3", "sqs", "logs", "lambda")
        )
        self.dead_letters: list[dict] = []

    def upload(self, key: str, body: bytes, **fault) -> None:
        """Upload `body` as `key` with `fault` armed on the transform, and wait until every attempt is over."""
        if fault:
            arm(self.endpoint, self.function, fault.pop("Operation"), **fault)
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
            assert wait_idle(self.endpoint, timeout=600), "localaws still busy"
        finally:
            disarm(self.endpoint, self.function)

    def keys(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def reader_view(self, stem: str) -> Counter[int]:
        """Rows a reader of processed/ sees from the source object named `stem`, by nesting depth; every visible row
        of a level must have all its child rows visible (checked here, for every test)."""
        depth: Counter[int] = Counter()
        ids: set[str] = set()
        parents_of_rows: list[str] = []
        for key in self.keys("processed/"):
            if not key.rsplit("/", 1)[-1].startswith(f"{stem}_"):
                continue
            table = pq.read_table(pa.BufferReader(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()))
            for record_id in table.column("_record_id").to_pylist():
                depth[record_id.count(":")] += 1
                ids.add(record_id)
            if "_parent_record_id" in table.column_names:
                parents_of_rows += table.column("_parent_record_id").to_pylist()
        for level in sorted(depth):  # never a level's rows without the whole level below
            if level + 1 in EVERYTHING:
                assert depth[level + 1] == EVERYTHING[level + 1], f"rows of depth {level} without their children"
        assert all(depth[level] <= EVERYTHING[level] for level in depth), "a row was written twice"
        return depth

    def dead_letter_for(self, key: str) -> dict | None:
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.dlq, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                break
            for message in messages:
                self.dead_letters.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.dlq, ReceiptHandle=message["ReceiptHandle"])
        found = [r for r in self.dead_letters if r["requestPayload"]["Records"][0]["s3"]["object"]["key"] == key]
        assert len(found) <= 1
        return found[0] if found else None

    def log_messages(self) -> list[str]:
        pages = self.logs.get_paginator("filter_log_events").paginate(logGroupName=f"/aws/lambda/{self.function}")
        return [event["message"] for page in pages for event in page["events"]]


@pytest.fixture(scope="module")
def stack(localaws, tmp_path_factory: pytest.TempPathFactory) -> Stack:
    stacks = tmp_path_factory.mktemp("stacks")
    env = {**os.environ, **localaws.env(), "KIT_STACKS_DIR": str(stacks)}
    provision = subprocess.run(
        [sys.executable, "provision.py", "--stack", "crash"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert provision.returncode == 0, provision.stdout + provision.stderr
    return Stack(localaws.env(), json.loads((stacks / "crash.json").read_text()))


def orders_file() -> tuple[str, str, bytes]:
    """(raw key, output stem, body): a unique source object, so each test reads only its own outputs."""
    stem = f"orders-{uuid.uuid4().hex[:8]}"
    return f"raw/crash/{stem}.jsonl", stem, "".join(json.dumps(order) + "\n" for order in ORDERS).encode()


@pytest.mark.parametrize("effect", ["timeout", "oom"])
def test_killed_before_the_first_output_every_time_a_reader_sees_nothing_and_the_event_is_dead_lettered(stack, effect):
    key, stem, body = orders_file()
    stack.upload(key, body, Operation="PutObject", KeyPrefix="processed/", Nth=1, Effect=effect)

    assert stack.reader_view(stem) == NOTHING
    record = stack.dead_letter_for(key)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    if effect == "timeout":
        timeout = stack.lambda_.get_function_configuration(FunctionName=stack.function)["Timeout"]
        assert record["responsePayload"]["errorType"] == "Sandbox.Timedout"
        assert any(f"Task timed out after {timeout}.00 seconds" in message for message in stack.log_messages())
    else:
        assert record["responsePayload"] == {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: {record['requestContext']['requestId']} Error: Runtime exited with error: "
            "signal: killed",
        }


@pytest.mark.parametrize("nth", [2, 3], ids=["after-the-deepest-child", "after-both-children"])
def test_killed_between_outputs_every_time_a_reader_never_sees_parent_rows_without_their_children(stack, nth):
    key, stem, body = orders_file()
    stack.upload(key, body, Operation="PutObject", KeyPrefix="processed/", Nth=nth, Effect="timeout")

    seen = stack.reader_view(stem)  # also checks: no level without the whole level below it
    assert seen[1] == 0  # the top-level rows are the commit point: not there
    assert stack.dead_letter_for(key)["requestContext"]["condition"] == "RetriesExhausted"


def test_killed_after_the_last_output_every_time_a_reader_sees_everything_once_and_the_event_is_dead_lettered(stack):
    key, stem, body = orders_file()
    stack.upload(key, body, Operation="PutObject", KeyPrefix="processed/", Nth=3, When="after", Effect="oom")

    assert stack.reader_view(stem) == EVERYTHING  # three attempts wrote the same three keys
    assert stack.dead_letter_for(key)["requestContext"]["condition"] == "RetriesExhausted"


@pytest.mark.parametrize(
    ("nth", "when"),
    [(1, "before"), (2, "before"), (3, "before"), (3, "after")],
    ids=["before-the-first-output", "between-children", "before-the-parent", "after-the-last-output"],
)
def test_killed_once_at_any_point_the_retry_leaves_everything_exactly_once(stack, nth, when):
    key, stem, body = orders_file()
    stack.upload(key, body, Operation="PutObject", KeyPrefix="processed/", Nth=nth, When=when, Times=1)

    assert stack.reader_view(stem) == EVERYTHING
    assert stack.dead_letter_for(key) is None
    assert len(stack.keys(f"quarantine/crash/{stem}")) == 0


def test_a_failed_parent_upload_removes_the_children_it_uploaded(stack):
    # a caught failure (here a 403 on the top-level file, every attempt) leaves nothing behind
    key, stem, body = orders_file()
    stack.upload(key, body, Operation="PutObject", KeyPrefix="processed/", Nth=3, Effect="error")

    assert stack.reader_view(stem) == NOTHING
    record = stack.dead_letter_for(key)
    assert record["responsePayload"]["errorType"] == "AccessDenied"  # botocore's ClientError class for the code


def test_quarantine_killed_before_its_report_every_time_lists_nothing_and_is_dead_lettered(stack):
    stem = f"broken-{uuid.uuid4().hex[:8]}"
    key = f"raw/crash/{stem}.json"
    stack.upload(key, b'{"order_id": "A", oops}', Operation="PutObject", KeyPrefix="quarantine/", Effect="timeout")

    # the copy may be there, but a file is quarantined once its .error.json is: nothing is listed as quarantined
    assert [k for k in stack.keys(f"quarantine/crash/{stem}") if k.endswith(".error.json")] == []
    assert stack.reader_view(stem) == NOTHING
    assert stack.dead_letter_for(key)["requestContext"]["condition"] == "RetriesExhausted"


@pytest.mark.parametrize("operation", ["CopyObject", "PutObject"])
def test_quarantine_killed_once_is_completed_by_the_retry(stack, operation):
    stem = f"broken-{uuid.uuid4().hex[:8]}"
    key = f"raw/crash/{stem}.json"
    stack.upload(key, b'{"order_id": "A", oops}', Operation=operation, KeyPrefix="quarantine/", Times=1)

    assert sorted(stack.keys(f"quarantine/crash/{stem}")) == [
        f"quarantine/crash/{stem}.json",
        f"quarantine/crash/{stem}.json.error.json",
    ]
    report = json.loads(
        stack.s3.get_object(Bucket=stack.bucket, Key=f"quarantine/crash/{stem}.json.error.json")["Body"].read()
    )
    assert report["source_key"] == key
    assert stack.dead_letter_for(key) is None


def test_a_failed_quarantine_report_every_time_lists_nothing_and_is_dead_lettered(stack):
    stem = f"broken-{uuid.uuid4().hex[:8]}"
    key = f"raw/crash/{stem}.json"
    stack.upload(key, b'{"order_id": "A", oops}', Operation="PutObject", KeyPrefix="quarantine/", Effect="error")

    assert [k for k in stack.keys(f"quarantine/crash/{stem}") if k.endswith(".error.json")] == []
    assert stack.dead_letter_for(key)["responsePayload"]["errorType"] == "AccessDenied"


def test_scratch_folders_of_killed_attempts_are_removed_by_the_next_invocation(stack, tmp_path: Path):
    # Killed at its first schema-record write, an attempt leaves its scratch folder (its outputs, with its spill
    # folder inside: a kill cannot clean up); the next attempt removes it first. ETL_TMP_DIR puts it where this test
    # can look.
    scratch = tmp_path / "lambda-tmp"
    scratch.mkdir()
    configuration = stack.lambda_.get_function_configuration(FunctionName=stack.function)
    variables = configuration["Environment"]["Variables"]
    stack.lambda_.update_function_configuration(
        FunctionName=stack.function, Environment={"Variables": {**variables, "ETL_TMP_DIR": str(scratch)}}
    )
    stack.lambda_.get_waiter("function_updated_v2").wait(FunctionName=stack.function)
    try:
        # a first file makes the dataset `scratch` (its schema record, claimed for the folder before any scratch
        # folder exists: docs/transform.md, the naming contract), so the first schema-record write of the attempts
        # below is the merge of the orders' new columns, made while their spill and output folders exist
        stack.upload("raw/scratch/first.json", b'{"first": 1}')
        key, _stem, body = orders_file()
        stack.upload(key.replace("raw/crash/", "raw/scratch/"), body, Operation="PutObject", KeyPrefix="schemas/")
        # three attempts each left a folder; each attempt removed the one before: the last one remains, spill and all
        left = [name for name in os.listdir(scratch) if name.startswith("etl-scratch-")]
        assert [name.split("-")[2] for name in left] == ["out"]
        assert "spill" in os.listdir(scratch / left[0])

        key, stem, body = orders_file()
        stack.upload(key, body)
        assert stack.reader_view(stem) == EVERYTHING
        assert os.listdir(scratch) == ["etl-scratch.lock"]  # the sweep's lock file is all that stays
    finally:
        stack.lambda_.update_function_configuration(FunctionName=stack.function, Environment={"Variables": variables})
        stack.lambda_.get_waiter("function_updated_v2").wait(FunctionName=stack.function)
