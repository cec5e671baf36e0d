"""One crawl, from StartCrawler to READY, in a background thread.

1. Read the crawler's definition (GetCrawler) and check its database exists.
2. For each S3 target: list the objects under the include path, skip what Glue skips, read each Parquet footer with
   ranged GETs, and group the files into tables and partitions (layout.py).
3. Write the tables and partitions (catalog.py); one crawl writes to the catalog at a time.
4. Finish: the crawler reads STOPPING, the crawl's log lines go to CloudWatch Logs (/aws-glue/crawlers, stream = crawler
   name, each line prefixed with the crawl's MessagePrefix), then moto's crawl ends and the crawler reads READY with
   LastCrawl SUCCEEDED, FAILED (with ErrorMessage) or CANCELLED.
Every AWS call goes through the endpoint, so moto validates the catalog writes as the Glue API would.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from localaws.glue_crawler import moto_state
from localaws.glue_crawler.catalog import CatalogOutcome, CatalogWriter, CrawlIdentity
from localaws.glue_crawler.footer import FooterCache, UnreadableFile
from localaws.glue_crawler.layout import (
    CrawledFile,
    CrawlerSettings,
    IncludePath,
    TablePlan,
    dedupe_table_names,
    plan_tables,
    skip_reason,
)
from localaws.iam import principals as iam_principals
from localaws.server import ACCOUNT_ID

log = logging.getLogger("localaws.glue_crawler")

USER_AGENT_PREFIX = "localaws-glue-crawler/"  # lets the S3 GetObject hook attribute requests to a crawl
FOOTER_READERS = 4
_CATALOG_WRITES = threading.Lock()
_SESSION_LOCK = threading.Lock()


@functools.cache
def _session() -> boto3.session.Session:
    return boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test")


class CrawlFailed(Exception):
    """The crawl cannot complete; the message becomes LastCrawl.ErrorMessage."""


class CrawlStopped(Exception):
    """StopCrawler was called while the crawl ran."""


@dataclass
class CrawlRecord:
    """What GetCrawlerMetrics and GET /_localaws/glue-crawler report about one crawl."""

    crawler_name: str
    crawl_id: str
    started_at: float
    runtime_seconds: float | None = None
    status: str = "RUNNING"  # then SUCCEEDED | FAILED | CANCELLED, as LastCrawl.Status
    error_message: str | None = None
    tables: int = 0
    outcome: CatalogOutcome = field(default_factory=CatalogOutcome)
    states: list[str] = field(default_factory=lambda: ["RUNNING"])
    s3_gets: list[dict[str, str | None]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class Crawl:
    def __init__(
        self, app: Any, region: str, crawler_name: str, moto_crawl: Any, record: CrawlRecord, footers: FooterCache
    ):
        self.app, self.region, self.crawler_name, self.footers = app, region, crawler_name, footers
        self.moto_crawl, self.record = moto_crawl, record
        self.log_lines: list[tuple[int, str]] = []
        self.glue = self.catalog = self.s3 = self.logs = (
            None  # connected in the crawl thread, off the StartCrawler request
        )

    def _connect(self) -> None:
        config = Config(
            user_agent_extra=f"{USER_AGENT_PREFIX}{self.record.crawl_id}",
            retries={"max_attempts": 2, "mode": "standard"},
            s3={"addressing_style": "path"},
        )
        endpoint, region = self.app.endpoint, self.region
        with _SESSION_LOCK:  # a shared session keeps the loaded service models; creating clients is not thread-safe
            session = _session()
            self.glue = session.client("glue", region_name=region, endpoint_url=endpoint, config=config)
            self.s3 = session.client("s3", region_name=region, endpoint_url=endpoint, config=config)
            self.logs = session.client("logs", region_name=region, endpoint_url=endpoint, config=config)
        self.catalog = self.glue

    def _connect_as(self, role: str | None) -> None:
        """Read S3, write the catalog and the crawl's log with a session of the crawler's role, as Glue does
        (https://docs.aws.amazon.com/glue/latest/dg/crawler-prereqs.html), so the role's policy is what the crawl
        may do (localaws.iam). Reading the crawler's own definition stays Glue's."""
        if not role:
            return
        arn = role if role.startswith("arn:") else f"arn:aws:iam::{ACCOUNT_ID}:role/{role}"
        with self.app.moto_lock:
            credentials = iam_principals.assume_role(ACCOUNT_ID, self.region, arn, "AWS-Crawler")
        config = Config(
            user_agent_extra=f"{USER_AGENT_PREFIX}{self.record.crawl_id}",
            retries={"max_attempts": 2, "mode": "standard"},
            s3={"addressing_style": "path"},
        )
        keys = {
            "aws_access_key_id": credentials["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": credentials["AWS_SECRET_ACCESS_KEY"],
            "aws_session_token": credentials["AWS_SESSION_TOKEN"],
        }
        options = {"region_name": self.region, "endpoint_url": self.app.endpoint, "config": config, **keys}
        with _SESSION_LOCK:
            session = _session()
            self.s3 = session.client("s3", **options)
            self.logs = session.client("logs", **options)
            self.catalog = session.client("glue", **options)

    def note(self, message: str) -> None:
        self.log_lines.append((int(time.time() * 1000), f"[{self.record.crawl_id}] {message}"))

    # -- the run ------------------------------------------------------------------------------------------------
    def run(self) -> None:
        """Thread target: crawl, then always bring moto's crawler back to READY and end the activity."""
        error: str | None = None
        try:
            self._connect()
            self.note(f"BENCHMARK : Running Start Crawl for Crawler {self.crawler_name}")
            self._crawl()
        except CrawlStopped:
            self.note("INFO : The crawl was stopped (StopCrawler)")
        except CrawlFailed as failure:
            error = str(failure)
        except (ClientError, BotoCoreError) as failure:
            error = f"{type(failure).__name__}: {failure}"
        except Exception as failure:  # the crawler must still return to READY; the traceback goes to the server log
            log.exception("glue crawler %s: crawl failed unexpectedly", self.crawler_name)
            error = f"Internal Service Exception: {type(failure).__name__}: {failure}"
        finally:
            self._finish(error)

    def _crawl(self) -> None:
        crawler = self.glue.get_crawler(Name=self.crawler_name)["Crawler"]
        self._connect_as(crawler.get("Role"))
        settings = CrawlerSettings.from_crawler(crawler)
        database = crawler["DatabaseName"]
        try:
            self.catalog.get_database(Name=database)
        except self.catalog.exceptions.EntityNotFoundException as missing:
            raise CrawlFailed(f"Database {database} not found") from missing
        if settings.recrawl_behavior == "CRAWL_EVENT_MODE":
            self.note("WARN : localaws has no S3 event queue for crawlers; this crawl lists everything")
        targets = crawler.get("Targets", {}).get("S3Targets", [])
        plans_by_target: list[tuple[IncludePath, list[TablePlan]]] = []
        for target in targets:
            include = IncludePath.parse(target["Path"])
            files = self._crawl_include_path(include, target.get("Exclusions") or [])
            plans = plan_tables(include, files, settings)
            left_out = {f.key for f in files} - {f.key for plan in plans for f in plan.files}
            for key in sorted(left_out):
                self.note(f"WARN : s3://{include.bucket}/{key} is not at its table's partition depth; left out")
            plans_by_target.append((include, plans))
        detected = [plan for _, plans in plans_by_target for plan in plans]
        dedupe_table_names(detected)
        self._check_table_threshold(settings, detected)
        self.note(f"BENCHMARK : Classification complete, writing results to database {database}")
        self._check_stop()
        identity = CrawlIdentity(self.crawler_name, self.record.crawl_id)
        writer = CatalogWriter(self.catalog, database, settings, identity, self.note)
        with _CATALOG_WRITES:
            planned = set()
            for _, plans in plans_by_target:
                for plan in plans:
                    writer.write_table(plan)
                    planned.add(plan.name)
            writer.retire_tables([include.url for include, _ in plans_by_target], planned)
        self.record.tables = len(planned)
        self.record.outcome = writer.outcome

    def _check_table_threshold(self, settings: CrawlerSettings, detected: list[TablePlan]) -> None:
        """https://docs.aws.amazon.com/glue/latest/dg/crawler-maximum-number-of-tables.html: more tables than
        CrawlerOutput.Tables.TableThreshold fails the crawl before anything is written."""
        if settings.table_threshold is None or len(detected) <= settings.table_threshold:
            return
        for plan in detected:
            self.note(f"INFO : Table detected at {plan.location}")
        raise CrawlFailed(f"Table Threshold value = {settings.table_threshold}, Tables detected - {len(detected)}")

    def _crawl_include_path(self, include: IncludePath, exclusions: list[str]) -> list[CrawledFile]:
        objects = []
        try:
            pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=include.bucket, Prefix=include.prefix)
            for page in pages:
                objects.extend(page.get("Contents", []))
        except self.s3.exceptions.NoSuchBucket as missing:
            raise CrawlFailed(f"The specified bucket does not exist: {include.bucket}") from missing
        candidates = []
        for obj in objects:
            reason = skip_reason(obj["Key"][len(include.prefix) :], obj["Size"], exclusions)
            if reason:
                self.note(f"INFO : Skipping s3://{include.bucket}/{obj['Key']}: {reason}")
            else:
                candidates.append(obj)
        with ThreadPoolExecutor(FOOTER_READERS, thread_name_prefix="glue-footer") as pool:
            footers = list(pool.map(lambda obj: self._footer(include.bucket, obj), candidates))
        crawled = []
        for obj, footer in zip(candidates, footers, strict=True):
            if footer is None:
                self.note(f"WARN : s3://{include.bucket}/{obj['Key']} is not Parquet; localaws classifies Parquet only")
                continue
            modified = obj["LastModified"].timestamp()
            crawled.append(CrawledFile(obj["Key"], obj["Size"], modified, footer.columns, footer.num_rows))
        return crawled

    def _footer(self, bucket: str, obj: dict):
        self._check_stop()
        try:
            return self.footers.read(self.s3, bucket, obj["Key"], obj["Size"], obj["ETag"])
        except UnreadableFile as unreadable:
            raise CrawlFailed(f"Unable to read the Parquet footer of {unreadable}") from unreadable

    def _check_stop(self) -> None:
        with self.app.moto_lock:
            if moto_state.stop_requested(self.moto_crawl):
                raise CrawlStopped()

    # -- the finish ---------------------------------------------------------------------------------------------
    def _finish(self, error: str | None) -> None:
        try:
            with self.app.moto_lock:
                moto_state.begin_finishing(self.moto_crawl)
            self.record.states.append("STOPPING")
            if error:
                self.note(f"ERROR : {error}")
            self.note("BENCHMARK : Crawler has finished running and is in state READY")
            self._write_logs()
        except (ClientError, BotoCoreError) as failure:
            log.warning("glue crawler %s: could not write its CloudWatch Logs: %s", self.crawler_name, failure)
        finally:
            outcome = self.record.outcome
            summary = {
                "TablesCreated": outcome.tables_created,
                "TablesUpdated": outcome.tables_updated,
                "TablesDeleted": outcome.tables_deleted,
                "PartitionsCreated": outcome.partitions_added,
                "PartitionsUpdated": outcome.partitions_updated,
                "PartitionsDeleted": outcome.partitions_deleted,
            }
            with self.app.moto_lock:
                status = moto_state.finish(self.moto_crawl, error, summary)
            self.record.runtime_seconds = time.time() - self.record.started_at
            self.record.status, self.record.error_message = status, error
            self.record.states.append("READY")
            self._log_summary()
            self.app.activity.end()

    def _write_logs(self) -> None:
        group, stream = "/aws-glue/crawlers", self.crawler_name
        with contextlib.suppress(self.logs.exceptions.ResourceAlreadyExistsException):
            self.logs.create_log_group(logGroupName=group)
        with contextlib.suppress(self.logs.exceptions.ResourceAlreadyExistsException):
            self.logs.create_log_stream(logGroupName=group, logStreamName=stream)
        events = [{"timestamp": stamp, "message": message} for stamp, message in self.log_lines]
        self.logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)

    def _log_summary(self) -> None:
        record, outcome = self.record, self.record.outcome
        if record.status == "SUCCEEDED":
            log.info(
                "glue crawler %s: %d tables (%d created, %d updated), %d partitions added, %.1f s",
                self.crawler_name, record.tables, outcome.tables_created, outcome.tables_updated,
                outcome.partitions_added, record.runtime_seconds,
            )  # fmt: skip
        else:
            log.warning(
                "glue crawler %s: %s%s, %.1f s",
                self.crawler_name, record.status, f" ({record.error_message})" if record.error_message else "",
                record.runtime_seconds,
            )  # fmt: skip
