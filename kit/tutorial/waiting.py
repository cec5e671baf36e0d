"""Wait on state, not on time, until the pipeline has handled a set of uploads and the catalog has caught up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from kit.local_endpoint import wait_idle
from kit.tutorial.bucket import ERROR_SUFFIX, list_objects
from kit.tutorial.catalog import catalog_tables
from kit.tutorial.world import World
from kit.waiting import WaitError, wait_until
from pipeline.config import PARQUET_SUFFIX, PROCESSED_PREFIX, QUARANTINE_PREFIX, RAW_PREFIX
from pipeline.transform import output_name


@dataclass(frozen=True)
class PipelineState:
    processed: pd.DataFrame  # every Parquet object under processed/
    quarantined: list[str]  # the raw keys that went to quarantine/
    crawler_state: str

    def summary(self) -> str:
        datasets = ", ".join(sorted(self.processed["dataset"].unique()))
        return (
            f"{len(self.processed)} Parquet files under processed/ ({datasets})\n"
            f"{len(self.quarantined)} file(s) quarantined; crawler {self.crawler_state}"
        )


def wait_for_pipeline(world: World, uploaded: list[str], timeout: float | None = None) -> PipelineState:
    """Wait until every uploaded raw key has its output and the crawler has catalogued every Parquet file.

    On localaws its idle endpoint answers when no event, invocation or crawl is pending; on AWS a crawl takes a
    minute or two, so the same end state is polled for. Either way the end state is then checked, not assumed.
    """
    timeout = timeout or (120.0 if world.is_local else 900.0)
    if world.is_local and not wait_idle(world.endpoint, timeout):
        raise WaitError("localaws", "busy", f"localaws still had work pending after {timeout:.0f} s")
    wait_until(
        lambda: _outputs_state(world, uploaded),
        what=f"outputs for {len(uploaded)} upload(s)",
        success={"complete"},
        timeout=timeout,
        interval=2.0,
    )
    crawler_state = wait_until(
        lambda: _catalog_state(world),
        what=f"crawler {world.outputs['crawler']}",
        success={"caught up"},
        failure={"FAILED", "CANCELLED"},
        timeout=timeout,
        interval=5.0,
        max_interval=20.0,
    )
    return PipelineState(list_objects(world, PROCESSED_PREFIX), _quarantined_sources(world, uploaded), crawler_state)


def _source_stem(raw_key: str) -> str:
    """The stem the transform gives the outputs of one source object (the time is not part of the stem)."""
    return output_name(raw_key, datetime.now(UTC)).stem


def _outputs_state(world: World, uploaded: list[str]) -> str:
    processed_names = {key.rsplit("/", 1)[-1] for key in list_objects(world, PROCESSED_PREFIX)["key"]}
    quarantined = set(list_objects(world, QUARANTINE_PREFIX)["key"])
    waiting = [
        key
        for key in uploaded
        if f"{QUARANTINE_PREFIX}{key.removeprefix(RAW_PREFIX)}{ERROR_SUFFIX}" not in quarantined
        and not any(name.startswith(f"{_source_stem(key)}_") for name in processed_names)
    ]
    return "complete" if not waiting else f"waiting for {len(waiting)}"


def _quarantined_sources(world: World, uploaded: list[str]) -> list[str]:
    quarantined = set(list_objects(world, QUARANTINE_PREFIX)["key"])
    return [
        key for key in uploaded if f"{QUARANTINE_PREFIX}{key.removeprefix(RAW_PREFIX)}{ERROR_SUFFIX}" in quarantined
    ]


def _catalog_state(world: World) -> str:
    """'caught up' once the crawler is idle and did not fail, no processed/ event waits in the catalog queue, and every
    Parquet file's table and partition are in the catalog (registered by the catalog updater or by a crawl);
    otherwise what is still missing."""
    crawler = world.client("glue").get_crawler(Name=world.outputs["crawler"])["Crawler"]
    last = crawler.get("LastCrawl", {})
    if crawler["State"] != "READY":
        return crawler["State"]
    if last.get("Status") in ("FAILED", "CANCELLED"):
        return last["Status"]
    pending = _catalog_events_pending(world)
    if pending:
        return f"{pending} catalog event(s) pending"
    parquet = list_objects(world, PROCESSED_PREFIX)
    parquet = parquet[parquet["key"].str.endswith(PARQUET_SUFFIX)]
    if parquet.empty:
        return "caught up"
    folders = {key.rsplit("/", 1)[0] + "/" for key in parquet["key"]}
    tables = set(catalog_tables(world)["table"])
    registered = {
        location.split(f"s3://{world.bucket}/", 1)[-1]
        for table in tables
        for location in _partition_locations(world, table)
    }
    missing = sorted(folder for folder in folders if folder not in registered)
    return "caught up" if not missing else f"waiting for the catalog to cover {len(missing)} folder(s): {missing[0]}…"


def _catalog_events_pending(world: World) -> int:
    url = (world.outputs.get("catalog") or {}).get("queue", {}).get("url")
    if not url:
        return 0
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attributes = world.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes.get(name, 0)) for name in names)


def _partition_locations(world: World, table: str) -> list[str]:
    pages = world.client("glue").get_paginator("get_partitions").paginate(DatabaseName=world.database, TableName=table)
    return [partition["StorageDescriptor"]["Location"] for page in pages for partition in page["Partitions"]]
