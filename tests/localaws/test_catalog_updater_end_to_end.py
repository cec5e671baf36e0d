"""The catalog updater through the whole pipeline on localaws: S3 sends processed/ events to the catalog queue, the
crawler trigger takes them in batches, one batch at a time, and every file ends queryable.

Two stacks, provisioned with the unchanged provision.py: 'catfast' (`--catalog partitions`, the default) and
'catcrawl' (`--catalog crawler`). What a reader sees is checked in Athena; how it got there in the crawler's runs
(ListCrawls), the trigger's log (START/END lines, one JSON summary per batch) and the queues.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from itertools import pairwise

import boto3
import pytest

from kit.athena_client import connect
from kit.local_endpoint import wait_idle
from localaws.iam import report as iam_report
from tests.conftest import provision_stack

pytestmark = [pytest.mark.localaws, pytest.mark.slow]


def ndjson(records: list[dict]) -> bytes:
    return "".join(json.dumps(record) + "\n" for record in records).encode()


class Stack:
    def __init__(self, outputs: dict, endpoint: str) -> None:
        self.outputs = outputs
        self.bucket = outputs["bucket"]
        self.endpoint = endpoint
        self.s3, self.glue, self.sqs, self.logs = (boto3.client(s) for s in ("s3", "glue", "sqs", "logs"))
        self.cursor = connect(work_group=outputs["workgroup"], schema_name=outputs["glue_database"]).cursor()

    def settle(self) -> None:
        assert wait_idle(self.endpoint, timeout=300), "localaws still busy after 300 s"

    def put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)

    def query(self, sql: str) -> list[tuple]:
        return self.cursor.execute(sql).fetchall()

    def crawls(self) -> list[dict]:
        return self.glue.list_crawls(CrawlerName=self.outputs["crawler"]).get("Crawls", [])

    def keys(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def partition_folders(self, table: str) -> set[str]:
        database = self.outputs["glue_database"]
        pages = self.glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=table)
        return {p["StorageDescriptor"]["Location"] for page in pages for p in page["Partitions"]}

    def columns(self, table: str) -> dict[str, str]:
        found = self.glue.get_table(DatabaseName=self.outputs["glue_database"], Name=table)["Table"]
        return {c["Name"]: c["Type"] for c in found["StorageDescriptor"]["Columns"]}

    def queue_depth(self, which: str) -> int:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        url = self.outputs["catalog"][which]["url"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        return sum(int(attributes[name]) for name in names)

    def trigger_log(self) -> list[dict]:
        group = self.outputs["log_groups"]["crawler_trigger"]
        pages = self.logs.get_paginator("filter_log_events").paginate(logGroupName=group)
        return [event for page in pages for event in page["events"]]

    def batch_summaries(self) -> list[dict]:
        payloads = [event["message"].split("\t", 3)[-1] for event in self.trigger_log()]
        return [json.loads(p) for p in payloads if p.lstrip().startswith('{"messages"')]


def _stack(localaws, tmp_path_factory, name: str, *args: str) -> Stack:
    stacks_dir = tmp_path_factory.mktemp(f"{name}-stacks")
    return Stack(provision_stack(name, stacks_dir, *args), localaws.endpoint)


@pytest.fixture(scope="module")
def env(localaws):
    with pytest.MonkeyPatch.context() as patch:
        for name, value in localaws.env().items():
            patch.setenv(name, value)
        yield


@pytest.fixture(scope="module")
def fast(localaws, env, tmp_path_factory) -> Stack:
    return _stack(localaws, tmp_path_factory, "catfast")


@pytest.fixture(scope="module")
def crawl(localaws, env, tmp_path_factory) -> Stack:
    return _stack(localaws, tmp_path_factory, "catcrawl", "--catalog", "crawler")


ORDERS = [{"order_id": n, "amount": n * 10} for n in (1, 2, 3)]


def test_a_new_partition_of_an_unchanged_table_is_registered_without_a_crawl(fast: Stack) -> None:
    fast.put("raw/orders/day1.json", ndjson(ORDERS))
    fast.settle()
    assert len(fast.crawls()) == 1  # the new table
    (today,) = fast.keys("processed/orders/")
    # Another day's file with the same schema, as the transform writes it (same columns, same record).
    other_day = "processed/orders/dt=2024-05-01/day0_20240501T000000Z_00000000.parquet"
    fast.s3.copy_object(Bucket=fast.bucket, Key=other_day, CopySource={"Bucket": fast.bucket, "Key": today})
    fast.settle()
    assert len(fast.crawls()) == 1  # no crawl
    location = f"s3://{fast.bucket}/processed/orders/dt=2024-05-01/"
    assert location in fast.partition_folders("orders")
    assert fast.query("SELECT count(*) FROM orders WHERE dt = '2024-05-01'") == [(3,)]
    assert any(summary.get("partitions") == 1 for summary in fast.batch_summaries())


def test_a_replayed_event_changes_nothing(fast: Stack) -> None:
    fast.put("raw/replay/a.json", ndjson(ORDERS))
    fast.settle()
    crawls, (key,) = len(fast.crawls()), fast.keys("processed/replay/")
    before = fast.partition_folders("replay")
    record = {"eventTime": "2024-05-01T00:00:00.000Z", "s3": {"bucket": {"name": fast.bucket}, "object": {"key": key}}}
    for _ in range(2):  # S3 delivers at least once
        fast.sqs.send_message(
            QueueUrl=fast.outputs["catalog"]["queue"]["url"], MessageBody=json.dumps({"Records": [record]})
        )
    fast.settle()
    assert (len(fast.crawls()), fast.partition_folders("replay")) == (crawls, before)
    assert (fast.queue_depth("queue"), fast.queue_depth("dlq")) == (0, 0)
    assert fast.query("SELECT count(*) FROM replay") == [(3,)]


def test_a_file_with_a_new_column_starts_a_crawl_that_adds_it(fast: Stack) -> None:
    fast.put("raw/grows/a.json", ndjson(ORDERS))
    fast.settle()
    crawls = len(fast.crawls())
    fast.put("raw/grows/b.json", ndjson([{"order_id": 4, "amount": 40, "coupon": "SPRING"}]))
    fast.settle()
    assert len(fast.crawls()) == crawls + 1
    assert fast.columns("grows")["coupon"] == "string"
    assert fast.query("SELECT coupon FROM grows WHERE order_id = 4") == [("SPRING",)]


def _assert_one_trigger_at_a_time(stack: Stack) -> None:
    """START ... END of every invocation, from the trigger's log: no two overlap (reserved concurrency 1)."""
    spans: dict[str, list[int]] = {}
    for event in stack.trigger_log():
        message = event["message"]
        if message.startswith(("START RequestId: ", "END RequestId: ")):
            request = message.split("RequestId: ", 1)[1].split()[0]
            spans.setdefault(request, []).append(event["timestamp"])
    intervals = sorted((times[0], times[-1]) for times in spans.values() if len(times) == 2)
    assert intervals, "the trigger never ran"
    assert all(end <= next_start for (_, end), (next_start, _) in pairwise(intervals))


def _burst(stack: Stack, folders: list[str], files: int) -> int:
    keys = [f"raw/{folder}/burst-{n:03d}.json" for folder in folders for n in range(files)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: stack.put(key, ndjson([{"id": key, "n": 1}])), keys))
    stack.settle()
    return len(keys)


def test_a_burst_leaves_no_file_uncovered_and_runs_one_trigger_at_a_time(fast: Stack) -> None:
    uploaded = _burst(fast, ["burst_a", "burst_b"], 40)
    for table in ("burst_a", "burst_b"):
        assert fast.query(f"SELECT count(*), count(DISTINCT id) FROM {table}") == [(40, 40)]
        folders = {key.rsplit("/", 1)[0] + "/" for key in fast.keys(f"processed/{table}/")}
        assert {f"s3://{fast.bucket}/{folder}" for folder in folders} <= fast.partition_folders(table)
    assert uploaded == 80
    assert (fast.queue_depth("queue"), fast.queue_depth("dlq")) == (0, 0)
    _assert_one_trigger_at_a_time(fast)


def test_crawler_mode_covers_every_file_by_a_crawl_that_started_after_it_landed(crawl: Stack) -> None:
    crawl.glue.start_crawler(Name=crawl.outputs["crawler"])  # a crawl already running when the files land
    _burst(crawl, ["crawl_a", "crawl_b"], 20)
    runs = [c for c in crawl.crawls() if c["State"] == "COMPLETED"]
    for key in crawl.keys("processed/"):
        landed: datetime = crawl.s3.head_object(Bucket=crawl.bucket, Key=key)["LastModified"]
        assert any(run["StartTime"] >= landed for run in runs), key  # LastModified is whole seconds: a floor
    for table in ("crawl_a", "crawl_b"):
        assert crawl.query(f"SELECT count(*) FROM {table}") == [(20,)]
    assert all("partitions" not in summary for summary in crawl.batch_summaries())  # it never registers one
    assert (crawl.queue_depth("queue"), crawl.queue_depth("dlq")) == (0, 0)
    _assert_one_trigger_at_a_time(crawl)


def test_the_trigger_role_was_denied_nothing_and_used_the_fast_path_grants(fast: Stack, localaws_env: str) -> None:
    """`python -m localaws iam-report` after the runs above: least privilege, measured under IAM enforcement."""
    report = iam_report.build(fast.endpoint, boto3.client("iam"))
    role = fast.outputs["roles"]["crawler_trigger"]["arn"]
    entries = [entry for arn, entry in report["principals"].items() if arn == role]
    assert entries, report["principals"].keys()
    assert [call for entry in entries for call in entry["denied"]] == []
    used = {call["action"].lower() for entry in entries for call in entry["used"]}
    assert {
        "glue:getcrawler",
        "glue:startcrawler",
        "glue:gettable",
        "glue:batchcreatepartition",
        "s3:getobject",
    } <= used
