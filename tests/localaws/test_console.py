"""The console's JSON views under /_localaws/console/, against a real localaws server: each shows state it holds."""

from __future__ import annotations

import json
import urllib.request
import uuid

import boto3
import pandas as pd
import pytest

from kit.queries import QueryRun
from kit.waiting import wait_until
from localaws.console.lambda_logs import invocations_from_events
from localaws.console.views import belongs
from localaws.lambda_runtime.logs import end_line, report_line, start_line

pytestmark = pytest.mark.localaws


def get(endpoint: str, path: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(f"{endpoint}/_localaws/{path}", timeout=60) as response:
        return response.status, response.headers["Content-Type"], response.read()


def view(endpoint: str, name: str, stack: str) -> dict:
    status, content_type, body = get(endpoint, f"console/{name}?stack={stack}")
    assert status == 200 and content_type == "application/json"
    return json.loads(body)


@pytest.fixture
def stack() -> str:
    return f"c{uuid.uuid4().hex[:8]}"


def test_the_page_and_its_assets_are_served_same_origin_with_no_remote_reference(localaws_env):
    status, content_type, page = get(localaws_env, "console")
    assert status == 200 and content_type.startswith("text/html")
    assert b"/_localaws/console/console.js" in page and b"/_localaws/console/console.css" in page
    for asset, kind in (("console.js", "text/javascript"), ("console.css", "text/css")):
        status, content_type, body = get(localaws_env, f"console/{asset}")
        assert status == 200 and content_type.startswith(kind) and body
        assert b"http://" not in body and b"https://" not in body  # works offline: no CDN, nothing remote
    assert b"https://" not in page and b"http://" not in page


def test_s3_objects_are_grouped_by_prefix_with_sizes_and_filtered_by_stack(localaws_env, stack):
    s3 = boto3.client("s3")
    mine, other = f"{stack}-123456789012-us-east-1", f"x{stack}-bucket"
    for bucket in (mine, other):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_tagging(Bucket=mine, Tagging={"TagSet": [{"Key": "etl-kit-stack", "Value": stack}]})
    s3.put_object(Bucket=mine, Key="raw/orders/a.json", Body=b"[1]")
    s3.put_object(Bucket=mine, Key="raw/orders/b.json", Body=b"[1, 2]")
    s3.put_object(Bucket=mine, Key="schemas/orders.json", Body=b"{}")
    s3.put_object(Bucket=other, Key="raw/x.json", Body=b"[]")

    buckets = view(localaws_env, "s3", stack)["buckets"]
    assert [b["bucket"] for b in buckets] == [mine]
    prefixes = {p["prefix"]: p for p in buckets[0]["prefixes"]}
    assert (prefixes["raw/"]["count"], prefixes["raw/"]["bytes"]) == (2, 9)
    assert {o["key"] for o in prefixes["raw/"]["objects"]} == {"raw/orders/a.json", "raw/orders/b.json"}
    assert (prefixes["schemas/"]["count"], prefixes["processed/"]["count"]) == (1, 0)
    assert stack in view(localaws_env, "stacks", "")["stacks"]
    counts = view(localaws_env, "pipeline", stack)
    assert counts["raw_objects"] == 2 and counts["processed_objects"] == 0


def test_quarantine_reports_and_dead_letters_are_shown_without_consuming_the_messages(localaws_env, stack):
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    bucket = f"{stack}-123456789012-us-east-1"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="quarantine/orders/bad.json", Body=b"{oops")
    report = {"source_key": "raw/orders/bad.json", "error": "InputFormatError", "reason": "invalid JSON: line 1"}
    s3.put_object(Bucket=bucket, Key="quarantine/orders/bad.json.error.json", Body=json.dumps(report).encode())
    queue = sqs.create_queue(QueueName=f"{stack}-dlq")["QueueUrl"]
    sqs.send_message(
        QueueUrl=queue,
        MessageBody='{"Records": []}',
        MessageAttributes={"ErrorMessage": {"DataType": "String", "StringValue": "boom"}},
    )

    shown = view(localaws_env, "quarantine", stack)
    assert [(f["key"], f["reason"]) for f in shown["files"]] == [("quarantine/orders/bad.json", "invalid JSON: line 1")]
    [letter] = shown["dead_letters"]
    assert (letter["queue"], letter["body"], letter["attributes"]) == (
        f"{stack}-dlq",
        '{"Records": []}',
        {"ErrorMessage": "boom"},
    )
    # a peek, not a ReceiveMessage: the message is still there, never received
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "1"
    assert (
        sqs.receive_message(QueueUrl=queue, AttributeNames=["ApproximateReceiveCount"])["Messages"][0]["Attributes"][
            "ApproximateReceiveCount"
        ]
        == "1"
    )


def test_athena_queries_show_sql_state_bytes_time_and_price(localaws_env, stack):
    athena = boto3.client("athena")
    athena.create_work_group(Name=stack, Configuration={"ResultConfiguration": {"OutputLocation": f"s3://{stack}-r/"}})
    boto3.client("s3").create_bucket(Bucket=f"{stack}-r")
    query_id = athena.start_query_execution(QueryString="SELECT 1 AS one", WorkGroup=stack)["QueryExecutionId"]
    wait_until(
        lambda: athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]["State"],
        what="the query",
        success={"SUCCEEDED"},
        failure={"FAILED", "CANCELLED"},
        interval=0.1,
    )
    [query] = view(localaws_env, "queries", stack)["queries"]
    assert (query["id"], query["sql"], query["state"], query["work_group"]) == (
        query_id,
        "SELECT 1 AS one",
        "SUCCEEDED",
        stack,
    )
    # no table read, nothing scanned, yet a query is billed at least 10 MB (https://aws.amazon.com/athena/pricing/),
    # the same figure kit.queries prints for it (the console used to say $0 here)
    assert (query["bytes_scanned"], query["bytes_billed"]) == (0, 10 * 1024**2)
    kit_run = QueryRun("SELECT 1 AS one", query_id, pd.DataFrame({"one": [1]}), 0, 0, 0, 0.0)
    assert query["price_usd"] == kit_run.cost_usd == 10 / 1024**2 * 5.0
    assert query["time_ms"] >= 0
    assert view(localaws_env, "pipeline", stack)["queries"] == 1
    assert view(localaws_env, "pipeline", stack)["price_usd"] == kit_run.cost_usd


def test_an_unknown_stack_shows_nothing_and_iam_reads_none_recorded_without_a_record(localaws_env, stack):
    assert view(localaws_env, "s3", stack) == {"buckets": []}
    assert view(localaws_env, "invocations", stack) == {"invocations": []}
    assert view(localaws_env, "crawls", stack) == {"crawls": [], "tables": []}
    assert view(localaws_env, "queries", stack)["queries"] == []
    iam = view(localaws_env, "iam", stack)
    assert iam["denials"] == []


def test_invocations_are_read_back_from_start_end_report_lines_with_the_s3_event_they_carry():
    record = {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "eventTime": "2026-01-01T00:00:00.000Z"}
    record["s3"] = {"bucket": {"name": "b"}, "object": {"key": "raw/orders/a.json", "size": 12}}
    lines = [
        (1, "s1", start_line("r1", "$LATEST")),
        (2, "s1", "[INFO]\t2026-01-01T00:00:00Z\tr1\t" + json.dumps({"s3_event_record": record})),
        (3, "s1", end_line("r1")),
        (4, "s1", report_line("r1", 12.34, 256, 80, 456.7)),
        (5, "s2", start_line("r2", "$LATEST")),
        (6, "s2", "2026-01-01T00:00:05Z r2 Task timed out after 3.00 seconds"),
        (7, "s2", end_line("r2")),
        (8, "s2", report_line("r2", 3000.0, 128, 128, None)),
        (9, "s1", start_line("r3", "$LATEST")),
    ]
    events = [{"timestamp": t, "logStreamName": s, "message": m} for t, s, m in lines]
    first, second, third = invocations_from_events(events)
    assert first["event"] == {
        "name": "ObjectCreated:Put",
        "time": "2026-01-01T00:00:00.000Z",
        "bucket": "b",
        "key": "raw/orders/a.json",
        "size": 12,
    }
    assert first["report"] == {
        "duration_ms": 12.34,
        "billed_ms": 470.0,  # INIT is billed: ceil(12.34 + 456.7)
        "memory_mb": 256.0,
        "max_memory_mb": 80.0,
        "init_ms": 456.7,
    }
    assert (first["status"], len(first["lines"])) == ("ok", 4)
    assert (second["status"], second["event"], "init_ms" in second["report"]) == ("timeout", None, False)
    assert (third["status"], third["report"]) == ("running", None)


def test_stack_membership_follows_the_kit_names():
    assert belongs("etl-transform", "etl") and belongs("etl", "etl") and belongs("my_stack", "my-stack")
    assert not belongs("etlx-transform", "etl") and not belongs("other-etl", "etl")
    assert belongs("anything", "")


def test_iam_denials_come_from_the_decisions_localaws_records():
    """The shape of GET /_localaws/iam-usage (what IAM enforcement records); only denials of the stack are shown."""
    from localaws.console.views import Views
    from localaws.server import LocalAws, json_response

    app = LocalAws()
    assert Views(app).iam("etl", "us-east-1") == {"recorded": False, "denials": []}
    role = "arn:aws:iam::123456789012:role/etl-transform-role"
    usage = {
        "mode": "enforce",
        "principals": {
            role: [
                {"action": "s3:GetObject", "resource": "arn:aws:s3:::etl-b/raw/a.json", "allowed": True, "count": 3},
                {"action": "s3:PutObject", "resource": "arn:aws:s3:::etl-b/raw/a.json", "allowed": False, "count": 1},
            ],
            "arn:aws:iam::123456789012:role/other-etl-role": [
                {"action": "s3:ListBucket", "resource": "arn:aws:s3:::etlx-bucket", "allowed": False, "count": 2}
            ],
        },
    }
    app.internal("iam-usage", lambda _query: json_response(usage))
    shown = Views(app).iam("etl", "us-east-1")
    assert shown["recorded"] and shown["mode"] == "enforce"
    assert shown["denials"] == [
        {
            "principal": role,
            "action": "s3:PutObject",
            "resource": "arn:aws:s3:::etl-b/raw/a.json",
            "allowed": False,
            "count": 1,
        }
    ]
    assert len(Views(app).iam("", "us-east-1")["denials"]) == 2


def test_event_source_mappings_show_their_queue_and_batches(localaws_env, stack):
    from test_lambda_runtime import TRUST_POLICY, zipped

    iam, sqs, lam = boto3.client("iam"), boto3.client("sqs"), boto3.client("lambda")
    role = iam.create_role(RoleName=f"{stack}-trigger", AssumeRolePolicyDocument=TRUST_POLICY)["Role"]
    iam.put_role_policy(
        RoleName=role["RoleName"],
        PolicyName="sqs",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]}
        ),
    )
    lam.create_function(
        FunctionName=f"{stack}-trigger",
        Runtime="python3.12",
        Role=role["Arn"],
        Handler="app.handler",
        Code={"ZipFile": zipped({"app.py": "def handler(event, context):\n    return None\n"})},
    )
    url = sqs.create_queue(QueueName=f"{stack}-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    mapping = lam.create_event_source_mapping(
        FunctionName=f"{stack}-trigger",
        EventSourceArn=arn,
        Enabled=False,
        BatchSize=100,
        MaximumBatchingWindowInSeconds=5,
    )["UUID"]
    for body in ("a", "b"):
        sqs.send_message(QueueUrl=url, MessageBody=body)

    [shown] = view(localaws_env, "queues", stack)["mappings"]
    assert shown["uuid"] == mapping
    assert (shown["queue"], shown["function"], shown["state"]) == (f"{stack}-events", f"{stack}-trigger", "Disabled")
    assert (shown["batch_size"], shown["window_s"]) == (100, 5)
    assert (shown["waiting"], shown["in_flight"], shown["batches_in_flight"]) == (2, 0, 0)
    counts = view(localaws_env, "pipeline", stack)
    assert (counts["queued_messages"], counts["batches_in_flight"]) == (2, 0)
