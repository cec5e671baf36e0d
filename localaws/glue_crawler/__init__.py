"""The Glue crawler: StartCrawler keeps moto's control plane (RUNNING, CrawlerRunningException), then really crawls.

- after ("glue", "StartCrawler"): start a crawl thread for moto's new crawl record (crawl.py);
- override ("glue", "GetCrawlerMetrics"): moto has none; answered from this process's record of runs
  (https://docs.aws.amazon.com/glue/latest/webapi/API_GetCrawlerMetrics.html);
- after ("s3", "GetObject"): note each object read a crawl makes, so tests can prove it reads footers only, and
  only those of new or changed objects (footers are cached by ETag, footer.py);
- validate ("glue", "CreateCrawler" | "UpdateCrawler"): what AWS rejects there (validation.py);
- GET /_localaws/glue-crawler?name=<crawler>: the runs of a crawler (states, outcome, S3 reads).
"""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

from localaws.glue_crawler import moto_state, validation
from localaws.glue_crawler.crawl import USER_AGENT_PREFIX, Crawl, CrawlRecord
from localaws.glue_crawler.footer import FooterCache
from localaws.server import ACCOUNT_ID, LocalAws, Request, Response, json_error, json_response


class CrawlRegistry:
    """Every crawl this process ran, per (region, crawler name)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[tuple[str, str], list[CrawlRecord]] = {}
        self._by_id: dict[str, CrawlRecord] = {}

    def add(self, region: str, record: CrawlRecord) -> None:
        with self._lock:
            self._runs.setdefault((region, record.crawler_name), []).append(record)
            self._by_id[record.crawl_id] = record

    def runs(self, region: str, crawler_name: str) -> list[CrawlRecord]:
        with self._lock:
            return list(self._runs.get((region, crawler_name), []))

    def by_id(self, crawl_id: str) -> CrawlRecord | None:
        with self._lock:
            return self._by_id.get(crawl_id)


def install(app: LocalAws) -> None:
    moto_state.patch_moto()
    registry = CrawlRegistry()
    footers = FooterCache()

    def start_crawl(request: Request, _response: Response) -> None:
        region, name = request.route.region, request.json()["Name"]
        with app.moto_lock:
            moto_crawl = moto_state.current_crawl(ACCOUNT_ID, region, name)
        record = CrawlRecord(name, moto_crawl.crawl_id, time.time())
        registry.add(region, record)
        app.activity.begin()
        crawl = Crawl(app, region, name, moto_crawl, record, footers)
        threading.Thread(target=crawl.run, name=f"glue-crawl-{name}", daemon=True).start()

    def note_object_read(request: Request, _response: Response) -> None:
        agent = request.headers.get("user-agent", "")
        if USER_AGENT_PREFIX not in agent:
            return
        crawl_id = agent.split(USER_AGENT_PREFIX, 1)[1].split()[0]
        record = registry.by_id(crawl_id)
        if record is not None:
            key = request.route.path_params.get("Key", "")
            record.s3_gets.append({"key": key, "range": request.headers.get("range")})

    def get_crawler_metrics(request: Request) -> Response:
        body, region = request.json(), request.route.region
        with app.moto_lock:
            known = moto_state.crawler_names(ACCOUNT_ID, region)
        names = [name for name in body.get("CrawlerNameList") or known if name in known]
        start = int(body.get("NextToken") or 0)
        limit = int(body.get("MaxResults") or 1000)
        if limit < 1 or limit > 1000:
            return json_error("InvalidInputException", "MaxResults must be between 1 and 1000")
        page = names[start : start + limit]
        payload: dict[str, Any] = {
            "CrawlerMetricsList": [crawler_metrics(name, registry.runs(region, name)) for name in page]
        }
        if start + limit < len(names):
            payload["NextToken"] = str(start + limit)
        return json_response(payload)

    def runs_endpoint(query: dict[str, list[str]]) -> Response:
        name = query.get("name", [""])[0]
        region = query.get("region", ["us-east-1"])[0]
        return json_response({"CrawlerName": name, "Runs": [run.as_json() for run in registry.runs(region, name)]})

    def validate_crawler(request: Request) -> Response | None:
        body, route = request.json(), request.route
        with app.moto_lock:
            crawler = validation.crawler_definition(body, route.operation, ACCOUNT_ID, route.region)
            problem = validation.role_error(body.get("Role"), ACCOUNT_ID)
        problem = problem or validation.recrawl_policy_error(crawler)
        return json_error("InvalidInputException", problem) if problem else None

    for operation in ("CreateCrawler", "UpdateCrawler"):
        app.validate("glue", operation, validate_crawler)
    app.after("glue", "StartCrawler", start_crawl)
    app.after("s3", "GetObject", note_object_read)
    app.override("glue", "GetCrawlerMetrics", get_crawler_metrics)
    app.internal("glue-crawler", runs_endpoint)


def crawler_metrics(name: str, runs: list[CrawlRecord]) -> dict[str, Any]:
    """A CrawlerMetrics entry: runtimes over finished runs, table counts of the last finished run."""
    finished = [run for run in runs if run.runtime_seconds is not None]
    runtimes = [run.runtime_seconds for run in finished]
    median = statistics.median(runtimes) if runtimes else 0.0
    running = bool(runs) and runs[-1].runtime_seconds is None
    last = finished[-1] if finished else None
    time_left = max(0.0, median - (time.time() - runs[-1].started_at)) if running and runtimes else 0.0
    return {
        "CrawlerName": name,
        "TimeLeftSeconds": round(time_left, 3),
        "StillEstimating": running and not runtimes,
        "LastRuntimeSeconds": round(last.runtime_seconds, 3) if last else 0.0,
        "MedianRuntimeSeconds": round(median, 3),
        "TablesCreated": last.outcome.tables_created if last else 0,
        "TablesUpdated": last.outcome.tables_updated if last else 0,
        "TablesDeleted": last.outcome.tables_deleted if last else 0,
    }
