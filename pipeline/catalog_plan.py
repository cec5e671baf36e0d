"""What the catalog updater (the crawler-trigger Lambda) does for each new Parquet file: pure decisions, no boto3.

A file under processed/ is *covered* once a query can see it:
- by a registered partition: its table exists with the dataset's schema (the schema record, schema.py) and the
  file's partition is in the catalog; Athena lists a partition's location at query time, so every file in it counts;
- by a crawl that *started* after the file landed (the crawl lists S3 after it).

Per batch, each file is either registered (fast path: `partition_plan`), or needs a crawl. A crawl-needed file is
covered by the running crawl or the last successful one if that crawl started after the file's eventTime (with
`CLOCK_MARGIN`); otherwise a READY crawler is started (which covers every file of the batch), and a RUNNING (since
before the file) or STOPPING crawler means "not yet": the message is retried after `retry_delay_s`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

from pipeline import config

# S3 stamps eventTime with its clock (milliseconds, truncated), Glue its crawl start with another, and the trigger
# reads CrawlElapsedTime with a third; a crawl counts as covering a file only if it started this long after the file's
# eventTime. A file landing within the margin before a crawl started costs one more crawl, never a missed file.
CLOCK_MARGIN = timedelta(seconds=1)
# ChangeMessageVisibility of a message that must wait for a crawl: doubling per receive from RETRY_FIRST_S to
# RETRY_MAX_S, so a short local crawl is noticed within seconds and a 1-2 minute AWS crawl costs ~6 cheap receives.
RETRY_FIRST_S = 2
RETRY_MAX_S = 60
TEST_EVENT = "s3:TestEvent"  # S3 sends one to a queue when a notification configuration is written


class MalformedMessage(ValueError):
    """An SQS message that is neither an S3 event notification nor S3's test event."""


@dataclass(frozen=True)
class LandedFile:
    """One Parquet object S3 reported as created under processed/."""

    message_id: str
    bucket: str
    key: str  # decoded (S3 URL-encodes keys in events, spaces as '+')
    landed_at: datetime  # the event's eventTime, UTC

    @property
    def dataset(self) -> str | None:
        """processed/<dataset>/... -> <dataset> (the table the crawler makes at table level 3)."""
        parts = self.key.removeprefix(config.PROCESSED_PREFIX).split("/")
        return parts[0] if self.key.startswith(config.PROCESSED_PREFIX) and len(parts) > 1 and parts[0] else None

    @property
    def partition(self) -> tuple[tuple[str, str], ...]:
        """The Hive-style `key=value` folders between the dataset folder and the file name, in order."""
        parts = self.key.removeprefix(config.PROCESSED_PREFIX).split("/")[1:-1]
        pairs = [part.split("=", 1) for part in parts]
        if not parts or any(len(pair) != 2 or not pair[0] or not pair[1] for pair in pairs):
            return ()
        return tuple((name, value) for name, value in pairs)

    def partition_location(self) -> str:
        folders = "".join(f"{name}={value}/" for name, value in self.partition)
        return f"s3://{self.bucket}/{config.PROCESSED_PREFIX}{self.dataset}/{folders}"


def parse_event_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def files_of_message(record: dict[str, Any]) -> list[LandedFile]:
    """The Parquet files one SQS record (from the event source mapping) reports; [] for S3's test event.

    MalformedMessage for any other body. Shapes: https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html (the
    SQS record) and https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html."""
    try:
        body = json.loads(record["body"])
    except (KeyError, TypeError, json.JSONDecodeError) as error:
        raise MalformedMessage(f"message {record.get('messageId')}: body is not JSON ({error})") from error
    if isinstance(body, dict) and body.get("Event") == TEST_EVENT:
        return []
    if not isinstance(body, dict) or not isinstance(body.get("Records"), list):
        raise MalformedMessage(f"message {record.get('messageId')}: not an S3 event notification")
    files = []
    for item in body["Records"]:
        try:
            files.append(
                LandedFile(
                    message_id=record["messageId"],
                    bucket=item["s3"]["bucket"]["name"],
                    key=unquote_plus(item["s3"]["object"]["key"]),
                    landed_at=parse_event_time(item["eventTime"]),
                )
            )
        except (KeyError, TypeError, ValueError) as error:
            raise MalformedMessage(f"message {record['messageId']}: S3 record without {error}") from error
    return files


# --- the fast path ------------------------------------------------------------------------------------------------
def record_columns(record: dict[str, Any]) -> dict[str, str]:
    """The schema record's columns as Hive types (the record already names them so: coltypes.py)."""
    return {column["name"]: column["type"] for column in record.get("columns", [])}


def table_columns(table: dict[str, Any]) -> dict[str, str]:
    columns = table.get("StorageDescriptor", {}).get("Columns", [])
    return {column["Name"]: column["Type"].lower() for column in columns}


def partition_plan(
    file: LandedFile, table: dict[str, Any] | None, record: dict[str, Any] | None
) -> tuple[dict | None, str]:
    """(a PartitionInput for BatchCreatePartition, why) when the file only adds a partition to an unchanged table;
    (None, why a crawl is needed) otherwise: no table, no record, other columns, other partition keys."""
    if file.dataset is None or not file.partition:
        return None, "not under processed/<dataset>/<key>=<value>/"
    if table is None:
        return None, f"new table {file.dataset}"
    if record is None:
        return None, f"no schema record for {file.dataset}"
    keys = [key["Name"] for key in table.get("PartitionKeys", [])]
    if keys != [name for name, _ in file.partition]:
        return None, f"partition keys {keys} of {file.dataset} differ from the file's"
    wanted, have = record_columns(record), table_columns(table)
    if wanted != have:
        new = sorted(set(wanted) - set(have))
        changed = sorted(name for name in set(wanted) & set(have) if wanted[name] != have[name])
        return None, f"schema of {file.dataset} changed (new {new}, retyped {changed})"
    descriptor = {**table["StorageDescriptor"], "Location": file.partition_location()}
    return {"Values": [value for _, value in file.partition], "StorageDescriptor": descriptor}, "registered"


# --- crawls ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CrawlerView:
    """What GetCrawler said, with times made absolute."""

    state: str  # READY, RUNNING or STOPPING
    running_since: datetime | None  # the running crawl's start, at the latest (None: not running, or not said)
    last_success_start: datetime | None  # start of the last crawl that SUCCEEDED (None while RUNNING: see below)
    last_start: datetime | None = None  # start of the last finished crawl, whatever its outcome

    @classmethod
    def of(cls, crawler: dict[str, Any], asked_at: datetime) -> CrawlerView:
        """`asked_at`: a moment taken *before* the GetCrawler call, so `asked_at - CrawlElapsedTime` is never later
        than the crawl's real start (a late clock reading would shift the start forward and cover files the crawl
        listed before they landed). https://docs.aws.amazon.com/glue/latest/webapi/API_Crawler.html"""
        state = crawler["State"]
        elapsed = crawler.get("CrawlElapsedTime")
        since = asked_at - timedelta(milliseconds=elapsed) if state == "RUNNING" and elapsed else None
        last = crawler.get("LastCrawl") or {}
        started = last.get("StartTime")
        # API_LastCrawlInfo: SUCCEEDED, CANCELLED or FAILED; only a crawl that ran to its end counts.
        succeeded = state == "READY" and last.get("Status") == "SUCCEEDED" and started is not None
        last_start = started.astimezone(UTC) if started is not None else None
        return cls(state, since, last_start if succeeded else None, last_start)

    def covers(self, landed_at: datetime) -> bool:
        after = landed_at + CLOCK_MARGIN
        return any(start is not None and start > after for start in (self.running_since, self.last_success_start))


def crawl_interval_wait_s(view: CrawlerView, now: datetime, interval_s: int) -> int:
    """Seconds until a READY crawler may start again, given at most one crawl start per `interval_s` (0: now)."""
    if view.last_start is None or interval_s <= 0:
        return 0
    left = interval_s - (now - view.last_start).total_seconds()
    return max(0, math.ceil(left))


def uncovered(files: Iterable[LandedFile], view: CrawlerView) -> list[LandedFile]:
    return [file for file in files if not view.covers(file.landed_at)]


def retry_delay_s(receive_count: int) -> int:
    """The visibility timeout (seconds) to give a message that waits for a crawl, by its ApproximateReceiveCount."""
    return min(RETRY_MAX_S, RETRY_FIRST_S * 2 ** max(0, receive_count - 1))
