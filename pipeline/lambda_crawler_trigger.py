"""The catalog updater (crawler-trigger Lambda): S3 ObjectCreated events of processed/*.parquet arrive through an SQS
queue, in batches (event source mapping with a batching window and ReportBatchItemFailures), one batch at a time
(reserved concurrency 1). It never waits. Per batch, per file (decisions in catalog_plan.py):

1. fast path (ETL_CATALOG_MODE=partitions, the default): the file's table exists and its columns equal the
   dataset's schema record -> its partition is registered with BatchCreatePartition (an existing one is fine);
2. otherwise (a new table, a new column; every file when ETL_CATALOG_MODE=crawler) it needs a crawl: covered if the
   running or last successful crawl started after it landed; else a READY crawler is started; else (RUNNING since
   before it landed, STOPPING, or CrawlerRunningException) the message gets a short visibility timeout
   (ChangeMessageVisibility) and is returned in batchItemFailures, so SQS hands it back in a few seconds.

Every file ends covered by a registered partition or by a crawl that started after it landed; a message is deleted
(by Lambda, on success) only then. Replays are harmless: BatchCreatePartition of an existing partition is an
AlreadyExistsException entry, and a covered file starts nothing.
IAM: glue:GetCrawler, glue:StartCrawler, glue:GetTable, glue:BatchCreatePartition (fast path), s3:GetObject on
schemas/ (+ s3:ListBucket so a missing record is a 404), and the queue actions the event source mapping uses plus
sqs:ChangeMessageVisibility.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from pipeline import catalog_plan, config
from pipeline.catalog_plan import CrawlerView, LandedFile, MalformedMessage

log = logging.getLogger(__name__)
_clients: dict[str, Any] = {}
PARTITIONS_PER_CALL = 100  # BatchCreatePartition takes at most 100 PartitionInputs
VISIBILITY_PER_CALL = 10  # ChangeMessageVisibilityBatch takes at most 10 entries


def client(service: str) -> Any:
    if service not in _clients:
        import boto3

        _clients[service] = boto3.client(service)
    return _clients[service]


# --- AWS calls, one per action --------------------------------------------------------------------------------------
def get_table(glue: Any, database: str, name: str) -> dict[str, Any] | None:
    try:
        return glue.get_table(DatabaseName=database, Name=name)["Table"]
    except glue.exceptions.EntityNotFoundException:
        return None


def get_schema_record(s3: Any, bucket: str, dataset: str) -> dict[str, Any] | None:
    try:
        body = s3.get_object(Bucket=bucket, Key=f"{config.SCHEMAS_PREFIX}{dataset}.json")["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return json.loads(body)


def batch_create_partition(glue: Any, database: str, table: str, inputs: list[dict]) -> list[dict]:
    """The error entries other than AlreadyExistsException (an existing partition covers its files too)."""
    errors = []
    for start in range(0, len(inputs), PARTITIONS_PER_CALL):
        response = glue.batch_create_partition(
            DatabaseName=database, TableName=table, PartitionInputList=inputs[start : start + PARTITIONS_PER_CALL]
        )
        errors += [
            error
            for error in response.get("Errors", [])
            if error.get("ErrorDetail", {}).get("ErrorCode") != "AlreadyExistsException"
        ]
    return errors


def start_crawler(glue: Any, name: str) -> bool:
    """True if a crawl started, False if one was already running (CrawlerRunningException)."""
    try:
        glue.start_crawler(Name=name)
    except glue.exceptions.CrawlerRunningException:
        return False
    return True


def change_message_visibility(sqs: Any, queue_url: str, handles: dict[str, tuple[str, int]]) -> None:
    """message id -> (receipt handle, seconds). A failed entry is logged: the message then comes back after the
    queue's visibility timeout instead, later but not lost."""
    entries = [
        {"Id": str(number), "ReceiptHandle": handle, "VisibilityTimeout": seconds}
        for number, (handle, seconds) in enumerate(handles.values())
    ]
    for start in range(0, len(entries), VISIBILITY_PER_CALL):
        response = sqs.change_message_visibility_batch(
            QueueUrl=queue_url, Entries=entries[start : start + VISIBILITY_PER_CALL]
        )
        for failed in response.get("Failed", []):
            log.warning(json.dumps({"change_message_visibility_failed": failed}))


# --- the batch ------------------------------------------------------------------------------------------------------
def register_partitions(settings: config.Settings, files: list[LandedFile]) -> tuple[list[LandedFile], dict]:
    """Fast path: registers what it can; returns the files that need a crawl, and counts for the log."""
    glue, s3 = client("glue"), client("s3")
    tables: dict[str, dict | None] = {}
    records: dict[str, dict | None] = {}
    inputs: dict[str, dict[tuple[str, ...], dict]] = defaultdict(dict)
    waiting: dict[tuple[str, tuple[str, ...]], list[LandedFile]] = defaultdict(list)
    crawl: list[LandedFile] = []
    reasons: dict[str, int] = defaultdict(int)
    for file in files:
        dataset = file.dataset
        if dataset is not None and dataset not in tables:
            tables[dataset] = get_table(glue, settings.glue_database, dataset)
            records[dataset] = (
                get_schema_record(s3, settings.bucket or file.bucket, dataset) if tables[dataset] else None
            )
        plan, why = catalog_plan.partition_plan(file, tables.get(dataset or ""), records.get(dataset or ""))
        if plan is None:
            crawl.append(file)
            reasons[why] += 1
            continue
        values = tuple(plan["Values"])
        inputs[dataset][values] = plan
        waiting[(dataset, values)].append(file)
    registered = 0
    for table, by_values in inputs.items():
        errors = batch_create_partition(glue, settings.glue_database, table, list(by_values.values()))
        for error in errors:  # e.g. the table was deleted meanwhile: a crawl will make it again
            values = tuple(error.get("PartitionValues", []))
            reasons[f"BatchCreatePartition {error.get('ErrorDetail', {}).get('ErrorCode')}"] += 1
            crawl += waiting.pop((table, values), [])
        registered += len(by_values) - len(errors)
    return crawl, {"partitions": registered, "crawl_reasons": dict(reasons)}


def crawl_cover(settings: config.Settings, files: list[LandedFile]) -> tuple[list[LandedFile], dict]:
    """Files still uncovered after looking at (and maybe starting) the crawler; counts for the log (with
    "retry_after_s" when crawler mode's interval holds the next crawl back)."""
    if not files:
        return [], {}
    glue = client("glue")
    asked_at = datetime.now(UTC)  # before the call: see CrawlerView.of
    view = CrawlerView.of(glue.get_crawler(Name=settings.crawler_name)["Crawler"], asked_at)
    left = catalog_plan.uncovered(files, view)
    outcome: dict[str, Any] = {"crawler": view.state, "covered_by_crawl": len(files) - len(left)}
    if left and view.state == "READY" and settings.catalog_mode == "crawler":
        wait = catalog_plan.crawl_interval_wait_s(view, asked_at, settings.crawl_interval_s)
        if wait:
            return left, {**outcome, "retry_after_s": wait}
    if left and view.state == "READY":
        if start_crawler(glue, settings.crawler_name):
            return [], {**outcome, "crawl_started": True, "covered_by_crawl": len(files)}
        outcome["crawl_started"] = False  # another writer started one meanwhile: look again on the retry
    return left, outcome


def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    """SQS batch in, {"batchItemFailures": [{"itemIdentifier": <messageId>}, ...]} out: the messages to see again.
    https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html (partial batch responses)"""
    settings = config.Settings.from_env()
    logging.getLogger().setLevel(settings.log_level)
    records = {record["messageId"]: record for record in event.get("Records", [])}
    files: list[LandedFile] = []
    failed: set[str] = set()
    for message_id, record in records.items():
        try:
            files += catalog_plan.files_of_message(record)
        except MalformedMessage as error:
            # kept, not dropped: it comes back after the queue's visibility timeout and ends in the dead-letter queue
            log.error(json.dumps({"malformed_message": str(error)}))
            failed.add(message_id)
    summary: dict[str, Any] = {"messages": len(records), "files": len(files), "mode": settings.catalog_mode}
    need_crawl = files
    if settings.catalog_mode == "partitions":
        need_crawl, counts = register_partitions(settings, files)
        summary.update(counts)
    left, counts = crawl_cover(settings, need_crawl)
    summary.update(counts)
    retry = {file.message_id for file in left}
    floor_s = counts.get("retry_after_s", 0)
    if retry and not settings.catalog_queue_url:
        log.warning("ETL_CATALOG_QUEUE_URL unset: waiting messages come back after the queue's visibility timeout")
    elif retry:
        delays = {
            message_id: (
                records[message_id]["receiptHandle"],
                max(
                    floor_s,
                    catalog_plan.retry_delay_s(
                        int(records[message_id].get("attributes", {}).get("ApproximateReceiveCount", 1))
                    ),
                ),
            )
            for message_id in retry
        }
        change_message_visibility(client("sqs"), settings.catalog_queue_url, delays)
    summary["retried"] = len(retry)
    log.info(json.dumps(summary, default=str))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in sorted(retry | failed)]}
