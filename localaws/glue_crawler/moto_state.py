"""moto's crawler record, driven by the real crawl: RUNNING while it runs, STOPPING while it finishes, then READY.

moto keeps the control plane (StartCrawler's RUNNING state and its CrawlerRunningException). Three things are patched,
once, in-process:
- the state manager's `glue::crawl` transition is set to manual with an unreachable tick count, so a crawl stays RUNNING
  until the crawl thread ends it (moto would otherwise complete it on the first ListCrawls);
- `FakeCrawler.as_dict` reports LastCrawl as AWS does: the last *finished* crawl, Status SUCCEEDED | CANCELLED | FAILED
  with its ErrorMessage, and CrawlElapsedTime while running
  (https://docs.aws.amazon.com/glue/latest/webapi/API_Crawler.html, https://docs.aws.amazon.com/glue/latest/webapi/API_LastCrawlInfo.html);
- `FakeCrawler.start_crawler` refuses a start while the crawler is STOPPING too (moto only checks RUNNING), and
  `FakeCrawl.as_dict` (ListCrawls) carries ErrorMessage and Summary (API_CrawlerHistory.html);
- `FakeTable.update_partition` keeps the partition's CreationTime (moto rebuilds the partition and resets it), so a
  re-crawl that updates a partition's columns does not make it look new.
Every touch of moto's objects holds the app's moto lock.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

from moto.core.utils import utcnow
from moto.glue import models as glue_models
from moto.glue.exceptions import CrawlerRunningException
from moto.moto_api import state_manager

CRAWL_MODEL = "glue::crawl"
LAST_CRAWL_STATUS = {"COMPLETED": "SUCCEEDED", "FAILED": "FAILED", "STOPPED": "CANCELLED"}
_FINISHED = frozenset(LAST_CRAWL_STATUS)


def patch_moto() -> None:
    state_manager.set_transition(CRAWL_MODEL, {"progression": "manual", "times": sys.maxsize})
    crawler_class, crawl_class = glue_models.FakeCrawler, glue_models.FakeCrawl
    if getattr(crawler_class, "_localaws_patched", False):
        return
    original_crawler_as_dict = crawler_class.as_dict
    original_crawl_as_dict = crawl_class.as_dict

    def crawler_as_dict(self: Any) -> dict[str, Any]:
        data = original_crawler_as_dict(self)
        data.pop("LastCrawl", None)
        finished = [crawl for crawl in self.crawls if crawl.status in _FINISHED]
        if finished:
            data["LastCrawl"] = last_crawl_info(finished[-1])
        running = bool(self.crawls) and self.crawls[-1].status not in _FINISHED
        data["CrawlElapsedTime"] = _elapsed_ms(self.crawls[-1].start_time) if running else 0
        return data

    def crawl_as_dict(self: Any) -> dict[str, Any]:
        data = original_crawl_as_dict(self)
        if getattr(self, "error_message", None):
            data["ErrorMessage"] = self.error_message
        if getattr(self, "summary", None):
            data["Summary"] = json.dumps(self.summary)
        return data

    def start_crawler(self: Any) -> None:
        if self.crawls and self.crawls[-1].status == "STOPPING":
            raise CrawlerRunningException(f"Crawler with name {self.name} has already started")
        original_start(self)

    def update_partition(self: Any, old_values: Any, partition_input: dict[str, Any]) -> None:
        old = self.partitions.get(str(old_values))
        original_update_partition(self, old_values, partition_input)
        if old is not None:
            self.partitions[str(partition_input["Values"])].creation_time = old.creation_time

    original_start = crawler_class.start_crawler
    original_update_partition = glue_models.FakeTable.update_partition
    glue_models.FakeTable.update_partition = update_partition
    crawler_class.as_dict = crawler_as_dict
    crawl_class.as_dict = crawl_as_dict
    crawler_class.start_crawler = start_crawler
    crawler_class._localaws_patched = True


def last_crawl_info(crawl: Any) -> dict[str, Any]:
    info = {
        "Status": LAST_CRAWL_STATUS[crawl.status],
        "LogGroup": crawl.log_group,
        "LogStream": crawl.log_stream,
        "MessagePrefix": crawl.message_prefix,
        "StartTime": crawl.start_time,
    }
    if getattr(crawl, "error_message", None):
        info["ErrorMessage"] = crawl.error_message
    return info


def backend(account_id: str, region: str) -> Any:
    return glue_models.glue_backends[account_id][region]


def crawler_names(account_id: str, region: str) -> list[str]:
    return list(backend(account_id, region).crawlers)


def stored_crawler(account_id: str, region: str, crawler_name: str) -> dict[str, Any]:
    """The crawler's stored definition in CreateCrawler's terms, or {} when there is none."""
    crawler = backend(account_id, region).crawlers.get(crawler_name)
    if crawler is None:
        return {}
    return {"RecrawlPolicy": crawler.recrawl_policy, "SchemaChangePolicy": crawler.schema_change_policy}


def current_crawl(account_id: str, region: str, crawler_name: str) -> Any:
    """The crawl record moto's StartCrawler has just appended."""
    return backend(account_id, region).crawlers[crawler_name].crawls[-1]


def stop_requested(crawl: Any) -> bool:
    """StopCrawler moves moto's crawl to STOPPING before the crawl thread itself does."""
    return crawl.status == "STOPPING" and not getattr(crawl, "localaws_finishing", False)


def begin_finishing(crawl: Any) -> None:
    """The crawler reads STOPPING while the crawl wraps up (logs, metrics), as Glue's does."""
    if crawl.status == "STOPPING":
        crawl.localaws_cancelled = True
    crawl.localaws_finishing = True
    crawl.status = "STOPPING"


def finish(crawl: Any, error_message: str | None, summary: dict[str, int]) -> str:
    """End moto's crawl: COMPLETED, FAILED or STOPPED; returns the LastCrawl status the crawler now reports."""
    if getattr(crawl, "localaws_cancelled", False):
        crawl.status = "STOPPED"
    elif error_message:
        crawl.status = "FAILED"
        crawl.error_message = error_message
    else:
        crawl.status = "COMPLETED"
    crawl.summary = summary
    crawl.end_time = utcnow()
    return LAST_CRAWL_STATUS[crawl.status]


def _elapsed_ms(start: datetime) -> int:
    return int((utcnow() - start).total_seconds() * 1000)
