"""The Glue crawler and Data Catalog as DataFrames, and what Athena queries cost."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from aws_prices import TB, athena_query_cost_usd
from kit.queries import QueryRun
from kit.tutorial.world import World


def crawler_summary(world: World) -> dict[str, Any]:
    crawler = world.client("glue").get_crawler(Name=world.outputs["crawler"])["Crawler"]
    return {
        "name": crawler["Name"],
        "state": crawler["State"],
        "targets": [target["Path"] for target in crawler["Targets"].get("S3Targets", [])],
        "schema_change_policy": crawler.get("SchemaChangePolicy"),
        "configuration": json.loads(crawler.get("Configuration") or "{}"),
        "last_crawl": crawler.get("LastCrawl"),
    }


def catalog_updater_summary(world: World) -> dict[str, Any]:
    """How new Parquet files reach the catalog: the mode, the queue S3 sends processed/ events to, how the crawler
    trigger consumes it (batch size, batching window, partial batch responses, reserved concurrency), and how many
    messages wait in the queue and in its dead-letter queue."""
    catalog = world.outputs.get("catalog") or {}
    function = world.outputs["functions"]["crawler_trigger"]["name"]
    lam, sqs = world.client("lambda"), world.client("sqs")
    mappings = lam.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]
    counts = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]

    def messages(queue: dict) -> dict[str, int]:
        if not queue.get("url"):
            return {}
        attributes = sqs.get_queue_attributes(QueueUrl=queue["url"], AttributeNames=counts)["Attributes"]
        return {"visible": int(attributes[counts[0]]), "in_flight": int(attributes[counts[1]])}

    return {
        "mode": catalog.get("mode"),
        "queue": catalog.get("queue", {}).get("name"),
        "mapping": [
            {
                "state": mapping.get("State"),
                "batch_size": mapping.get("BatchSize"),
                "batching_window_s": mapping.get("MaximumBatchingWindowInSeconds"),
                "response_types": mapping.get("FunctionResponseTypes"),
                "scaling": mapping.get("ScalingConfig"),
            }
            for mapping in mappings
        ],
        "reserved_concurrency": lam.get_function_concurrency(FunctionName=function).get("ReservedConcurrentExecutions"),
        "queue_messages": messages(catalog.get("queue", {})),
        "dead_letter_messages": messages(catalog.get("dlq", {})),
    }


def crawl_history(world: World) -> pd.DataFrame:
    """The crawler's runs, newest first."""
    crawls = world.client("glue").list_crawls(CrawlerName=world.outputs["crawler"]).get("Crawls", [])
    columns = ["State", "StartTime", "EndTime", "ErrorMessage"]
    frame = pd.DataFrame(crawls).reindex(columns=columns)
    frame["ErrorMessage"] = frame["ErrorMessage"].fillna("")  # a crawl without an error has none, not NaN
    return frame.sort_values("StartTime", ascending=False, ignore_index=True)


def catalog_tables(world: World) -> pd.DataFrame:
    """One row per table in the stack's Glue database."""
    pages = world.client("glue").get_paginator("get_tables").paginate(DatabaseName=world.database)
    rows = [
        {
            "table": table["Name"],
            "columns": len(table["StorageDescriptor"]["Columns"]),
            "partition_keys": ", ".join(key["Name"] for key in table.get("PartitionKeys", [])),
            "classification": table.get("Parameters", {}).get("classification", ""),
            "location": table["StorageDescriptor"]["Location"],
        }
        for page in pages
        for table in page["TableList"]
    ]
    return pd.DataFrame(rows, columns=["table", "columns", "partition_keys", "classification", "location"])


def table_columns(world: World, table: str) -> pd.DataFrame:
    """A table's columns with their Hive types; partition keys last, as Athena lists them."""
    found = world.client("glue").get_table(DatabaseName=world.database, Name=table)["Table"]
    columns = [
        {"column": c["Name"], "hive_type": c["Type"], "partition_key": False}
        for c in found["StorageDescriptor"]["Columns"]
    ]
    keys = [
        {"column": c["Name"], "hive_type": c["Type"], "partition_key": True} for c in found.get("PartitionKeys", [])
    ]
    return pd.DataFrame(columns + keys)


def table_partitions(world: World, table: str) -> pd.DataFrame:
    pages = world.client("glue").get_paginator("get_partitions").paginate(DatabaseName=world.database, TableName=table)
    rows = [
        {"values": "/".join(part["Values"]), "location": part["StorageDescriptor"]["Location"]}
        for page in pages
        for part in page["Partitions"]
    ]
    return pd.DataFrame(rows, columns=["values", "location"]).sort_values("values", ignore_index=True)


# --- Athena -----------------------------------------------------------------------------------------------------
def cost_table(runs: dict[str, QueryRun]) -> pd.DataFrame:
    """Per query: rows, bytes scanned, engine time, time in Athena (queued, planned and run: Athena's
    TotalExecutionTime) and the price on AWS ($5 per TB, 10 MB minimum)."""
    return pd.DataFrame(
        [
            {
                "query": title,
                "rows": len(run.frame),
                "bytes_scanned": run.data_scanned_bytes,
                "engine_ms": run.engine_ms,
                "in_athena_ms": run.total_ms,
                "usd_on_aws": run.cost_usd,
            }
            for title, run in runs.items()
        ]
    )


def scan_comparison(runs: dict[str, QueryRun], baseline: str) -> pd.DataFrame:
    """The same question asked of several tables: per query the bytes scanned, their share of the `baseline` query's
    bytes, the price on AWS today ($5 per TB, 10 MB minimum: https://aws.amazon.com/athena/pricing/), and the price
    once the data has grown so that the baseline scans 1 TB (each query scanning the same share of it)."""
    base = runs[baseline].data_scanned_bytes or 1
    return pd.DataFrame(
        [
            {
                "query": title,
                "rows": len(run.frame),
                "bytes_scanned": run.data_scanned_bytes,
                "share_of_baseline": round(run.data_scanned_bytes / base, 4),
                "usd_on_aws": run.cost_usd,
                "usd_at_1_tb_baseline": round(athena_query_cost_usd(round(TB * run.data_scanned_bytes / base)), 4),
            }
            for title, run in runs.items()
        ]
    )


def schema_changes(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Columns whose Hive type changed or that are new, from two `table_columns` views: column, before, after."""
    merged = before.merge(after, on="column", how="outer", suffixes=("_before", "_after"))
    changed = merged[merged["hive_type_before"] != merged["hive_type_after"]]
    return pd.DataFrame(
        {
            "column": changed["column"],
            "before": changed["hive_type_before"].fillna("(no such column)"),
            "after": changed["hive_type_after"].fillna("(gone)"),
        }
    ).reset_index(drop=True)
