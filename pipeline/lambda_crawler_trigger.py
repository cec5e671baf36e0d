"""Crawler-trigger Lambda (S3 ObjectCreated under processed/): make sure a crawl covers every new Parquet file.

A crawl that *starts* after a file landed lists S3 after it, so it catalogs the file. Each invocation therefore asks
get_crawler and acts on what it sees, for the newest eventTime among its records:
1. READY, and the last crawl finished without failing and started after the file landed -> already covered: done,
   no new crawl (a burst of files thus costs one or two crawls, not one per file);
2. READY otherwise -> start_crawler: done. CrawlerRunningException (someone else just started one) is not an error:
   look again;
3. RUNNING since after the file landed (now - CrawlElapsedTime) -> that crawl covers it: done;
4. RUNNING since before, or STOPPING -> wait, polling with backoff, bounded by the invocation's remaining time.
Out of time -> raise, so Lambda's async retry (and then the on-failure destination) tries again later.
IAM: glue:StartCrawler and glue:GetCrawler only.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline import config

log = logging.getLogger(__name__)
_clients: dict[str, Any] = {}
FIRST_POLL_SECONDS = 0.2  # a short crawl is noticed at once; the interval doubles up to MAX_POLL_SECONDS
MAX_POLL_SECONDS = 5.0
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


def newest_event_time(event: dict[str, Any]) -> datetime:
    times = [
        datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00"))
        for record in event.get("Records", [])
        if record.get("eventTime")
    ]
    return max(times) if times else datetime.now(UTC)


def running_since(crawler: dict[str, Any], now: datetime) -> datetime | None:
    """When the running crawl began (now - CrawlElapsedTime), or None when Glue does not say."""
    elapsed_ms = crawler.get("CrawlElapsedTime")
    if not elapsed_ms:
        return None
    return now - timedelta(milliseconds=elapsed_ms)


def last_crawl_covers(crawler: dict[str, Any], landed_at: datetime) -> bool:
    last = crawler.get("LastCrawl") or {}
    started = last.get("StartTime")
    # AWS reports SUCCEEDED, CANCELLED or FAILED (API_LastCrawlInfo); only a crawl that ran to its end counts.
    finished = last.get("Status") not in (None, "FAILED", "CANCELLED", "RUNNING")
    return finished and started is not None and started.astimezone(UTC) > landed_at


def ensure_crawl_covers(client: Any, name: str, landed_at: datetime, deadline: float) -> dict[str, Any]:
    """Makes sure a crawl that started after `landed_at` has run or is running; see the module docstring."""
    poll = FIRST_POLL_SECONDS
    attempts = 0
    while True:
        attempts += 1
        crawler = get_crawler(client, name)
        state = crawler["State"]
        if state == "READY" and last_crawl_covers(crawler, landed_at):
            return {"crawler": name, "outcome": "covered by a finished crawl", "attempts": attempts}
        if state == "READY" and start_crawler(client, name):
            return {"crawler": name, "outcome": "started", "attempts": attempts}
        since = running_since(crawler, datetime.now(UTC)) if state == "RUNNING" else None
        if since is not None and since > landed_at:
            return {"crawler": name, "outcome": "covered by the running crawl", "attempts": attempts}
        if state != "READY":
            if time.monotonic() + poll > deadline:
                raise CrawlerWaitTimeout(f"crawler {name} still {state}")
            _sleep(poll)
            poll = min(poll * 2, MAX_POLL_SECONDS)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = config.Settings.from_env()
    logging.getLogger().setLevel(settings.log_level)
    budget_ms = context.get_remaining_time_in_millis() if context is not None else DEFAULT_BUDGET_MS
    deadline = time.monotonic() + max(0, budget_ms - SAFETY_MARGIN_MS) / 1000
    keys = [record["s3"]["object"]["key"] for record in event.get("Records", []) if "s3" in record]
    result = ensure_crawl_covers(glue_client(), settings.crawler_name, newest_event_time(event), deadline)
    log.info(json.dumps({**result, "keys": keys}))
    return result
