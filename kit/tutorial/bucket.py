"""The bucket as DataFrames: objects by dataset and partition, Parquet files, sizes, event rules, quarantine."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from kit.tutorial.world import World
from pipeline.config import PARQUET_SUFFIX, PROCESSED_PREFIX, QUARANTINE_PREFIX, RAW_PREFIX

ERROR_SUFFIX = ".error.json"


def list_objects(world: World, prefix: str) -> pd.DataFrame:
    """Every object under `prefix`, with its dataset (first folder), partition, size and time."""
    pages = world.client("s3").get_paginator("list_objects_v2").paginate(Bucket=world.bucket, Prefix=prefix)
    rows = []
    for page in pages:
        for item in page.get("Contents", []):
            parts = item["Key"][len(prefix) :].split("/")
            rows.append(
                {
                    "key": item["Key"],
                    "dataset": parts[0] if len(parts) > 1 else "",
                    "partition": next((part for part in parts[1:-1] if "=" in part), ""),
                    "bytes": item["Size"],
                    "last_modified": item["LastModified"],
                }
            )
    return pd.DataFrame(rows, columns=["key", "dataset", "partition", "bytes", "last_modified"])


def read_parquet_object(world: World, key: str) -> pa.Table:
    body = world.client("s3").get_object(Bucket=world.bucket, Key=key)["Body"].read()
    return pq.read_table(pa.BufferReader(body))


def read_dataset(world: World, dataset: str) -> pd.DataFrame:
    """Every Parquet file of one dataset folder under processed/, as one DataFrame with Arrow-backed dtypes."""
    keys = [key for key in list_objects(world, f"{PROCESSED_PREFIX}{dataset}/")["key"] if key.endswith(PARQUET_SUFFIX)]
    tables = [read_parquet_object(world, key) for key in keys]
    return pa.concat_tables(tables, promote_options="permissive").to_pandas(types_mapper=pd.ArrowDtype)


def parquet_metadata(world: World, key: str) -> pq.FileMetaData:
    body = world.client("s3").get_object(Bucket=world.bucket, Key=key)["Body"].read()
    return pq.read_metadata(pa.BufferReader(body))


def parquet_footer(world: World, key: str) -> tuple[dict[str, object], pd.DataFrame]:
    """A Parquet file's footer as a reader wants it: (the file's facts, one row per column chunk of row group 0
    with its physical type, compression, sizes in bytes, and the min, max and null count a reader uses to skip it)."""
    metadata = parquet_metadata(world, key)
    facts = {
        "rows": metadata.num_rows,
        "row groups": metadata.num_row_groups,
        "columns": metadata.num_columns,
        "footer bytes": metadata.serialized_size,
        "written by": metadata.created_by,
    }
    group = metadata.row_group(0)
    rows = []
    for index in range(group.num_columns):
        chunk = group.column(index)
        stats = chunk.statistics if chunk.is_stats_set else None
        has_min_max = stats is not None and stats.has_min_max
        rows.append(
            {
                "column": chunk.path_in_schema,
                "physical type": chunk.physical_type,
                "compression": chunk.compression,
                "bytes": chunk.total_compressed_size,
                "uncompressed": chunk.total_uncompressed_size,
                "min": str(stats.min) if has_min_max else "",
                "max": str(stats.max) if has_min_max else "",
                "nulls": stats.null_count if stats is not None and stats.has_null_count else None,
            }
        )
    return facts, pd.DataFrame(rows)


def notification_rules(world: World) -> pd.DataFrame:
    """The bucket's event notification rules: which prefix and suffix send which events where (a function's name, or
    "queue <name>" for an SQS queue)."""
    config = world.client("s3").get_bucket_notification_configuration(Bucket=world.bucket)
    rules = [
        (rule, rule["LambdaFunctionArn"].rsplit(":", 1)[-1]) for rule in config.get("LambdaFunctionConfigurations", [])
    ]
    rules += [(rule, f"queue {rule['QueueArn'].rsplit(':', 1)[-1]}") for rule in config.get("QueueConfigurations", [])]
    rows = []
    for rule, destination in rules:
        filters = {
            item["Name"].lower(): item["Value"] for item in rule.get("Filter", {}).get("Key", {}).get("FilterRules", [])
        }
        rows.append(
            {
                "prefix": filters.get("prefix", ""),
                "suffix": filters.get("suffix", ""),
                "events": ", ".join(rule["Events"]),
                "destination": destination,
            }
        )
    return pd.DataFrame(rows, columns=["prefix", "suffix", "events", "destination"])


def size_comparison(world: World) -> pd.DataFrame:
    """Bytes of raw JSON vs Parquet per dataset (child datasets count towards their parent)."""
    raw = list_objects(world, RAW_PREFIX).groupby("dataset")["bytes"].agg(["count", "sum"])
    parquet = list_objects(world, PROCESSED_PREFIX)
    parquet["parent"] = parquet["dataset"].map(lambda name: _parent_dataset(name, set(raw.index)))
    processed = parquet.groupby("parent")["bytes"].agg(["count", "sum"])
    raw.columns = ["json_files", "json_bytes"]
    processed.columns = ["parquet_files", "parquet_bytes"]
    table = raw.join(processed, how="inner")
    table["parquet_vs_json"] = (table["parquet_bytes"] / table["json_bytes"]).round(2)
    return table


def _parent_dataset(name: str, parents: set[str]) -> str:
    return max((parent for parent in parents if name == parent or name.startswith(f"{parent}_")), key=len, default=name)


def quarantine_report(world: World) -> pd.DataFrame:
    """One row per quarantined file: where it is kept, and the reason from the `.error.json` beside it."""
    s3 = world.client("s3")
    rows = []
    for key in list_objects(world, QUARANTINE_PREFIX)["key"]:
        if key.endswith(ERROR_SUFFIX):
            report = json.loads(s3.get_object(Bucket=world.bucket, Key=key)["Body"].read())
            rows.append({"quarantined": key.removesuffix(ERROR_SUFFIX), **report})
    return pd.DataFrame(rows)
