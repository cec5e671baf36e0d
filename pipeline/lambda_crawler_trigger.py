"""Crawler-trigger Lambda (S3 ObjectCreated under processed/): make sure a crawl covers every new Parquet file.

1. start_crawler; if it starts, that crawl lists S3 after our file landed: done;
2. CrawlerRunningException is not an error, but the running crawl may have listed S3 before our file landed. So
   wait (get_crawler, bounded by the invocation's remaining time) until the crawler is READY, then:
   - its LastCrawl.StartTime is after the newest eventTime of the event -> that crawl saw the file: done;
   - otherwise start again (and loop: someone else may have started it first).
3. Out of time -> raise, so Lambda's async retry (and then the on-failure destination) tries again later.
IAM: glue:StartCrawler and glue:GetCrawler only.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from pipeline import config

log = logging.getLogger(__name__)
_clients: dict[str, Any] = {}
POLL_SECONDS = 5.0
SAFETY_MARGIN_MS = 10_000  # stop waiting while there is still time to report
DEFAULT_BUDGET_MS = 120_000  # without a Lambda context (local calls)
_sleep = time.sleep  # replaced in tests, where moto finishes a crawl on demand


class CrawlerWaitTimeout(TimeoutError):
    """The crawler was still busy when the invocation ran out of time; Lambda retries the event."""


def glue_client() -> Any:
    if "glue" not in _clients:
        import boto3

        _clients["glue"] = boto3.client("glue")
    return _clients["glue"]


def start_crawler(client: Any, name: str) -> bool:
    """True if a crawl started, False if one was already running."""
    try:
        client.start_crawler(Name=name)
    except client.exceptions.CrawlerRunningException:
        return False
    return True


def get_crawler(client: Any, name: str) -> dict[str, Any]:
    return client.get_crawler(Name=name)["Crawler"]


def wait_until_ready(client: Any, name: str, deadline: float) -> dict[str, Any]:
    """Polls get_crawler until its State is READY; raises CrawlerWaitTimeout at the deadline (time.monotonic)."""
    while True:
        crawler = get_crawler(client, name)
        if crawler["State"] == "READY":
            return crawler
        if time.monotonic() + POLL_SECONDS > deadline:
            raise CrawlerWaitTimeout(f"crawler {name} still {crawler['State']}")
        _sleep(POLL_SECONDS)


def newest_event_time(event: dict[str, Any]) -> datetime:
    times = [
        datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00"))
        for record in event.get("Records", [])
        if record.get("eventTime")
    ]
    return max(times) if times else datetime.now(UTC)


def ensure_crawl_covers(client: Any, name: str, landed_at: datetime, deadline: float) -> dict[str, Any]:
    """Starts the crawler, or waits for the running crawl and starts another if that one began too early."""
    attempts = 0
    while True:
        attempts += 1
        if start_crawler(client, name):
            return {"crawler": name, "outcome": "started", "attempts": attempts}
        crawler = wait_until_ready(client, name, deadline)
        started = crawler.get("LastCrawl", {}).get("StartTime")
        if started is not None and started.astimezone(UTC) > landed_at:
            return {
                "crawler": name,
                "outcome": "covered by a crawl started after the files landed",
                "attempts": attempts,
            }


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = config.Settings.from_env()
    logging.getLogger().setLevel(settings.log_level)
    budget_ms = context.get_remaining_time_in_millis() if context is not None else DEFAULT_BUDGET_MS
    deadline = time.monotonic() + max(0, budget_ms - SAFETY_MARGIN_MS) / 1000
    keys = [record["s3"]["object"]["key"] for record in event.get("Records", []) if "s3" in record]
    result = ensure_crawl_covers(glue_client(), settings.crawler_name, newest_event_time(event), deadline)
    log.info(json.dumps({**result, "keys": keys}))
    return result
