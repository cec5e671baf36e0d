"""What the Lambdas do, shown: flattening one record with the pure core, and the functions' CloudWatch Logs."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pyarrow as pa

from kit.tutorial.world import World
from pipeline import naming
from pipeline.flatten import flatten_records

# https://aws.amazon.com/lambda/pricing/ (us-east-1, x86): per GB-second of billed duration, plus per request.
LAMBDA_USD_PER_GB_SECOND = 0.0000166667
LAMBDA_USD_PER_REQUEST = 0.20 / 1_000_000
_OUTPUT_TIME = re.compile(r"_(\d{8}T\d{6}Z)_[0-9a-f]+\.parquet$")
_START = re.compile(r"START RequestId: (\S+)")
_REPORT_FIELD = re.compile(r"(?P<name>[A-Za-z ]+): (?P<value>[\d.]+)")


def flatten_preview(record: dict[str, Any], dataset: str) -> dict[str, pd.DataFrame]:
    """What `pipeline.flatten.flatten_records` makes of one record, one DataFrame per dataset level, with the plain
    Athena-safe column names (`pipeline.naming.base_name`). Child levels show the parent row and array position
    they link to; the Lambda stores these links as `_parent_record_id` and `_position`."""
    previews = {}
    for key, table in flatten_records([record]).items():
        name = "_".join([dataset, *(naming.base_name(path) for path in key)])
        columns = {naming.base_name(path): array for path, array in sorted(table.columns.items())}
        if table.parent_index is not None:
            columns = {"(parent row)": table.parent_index, "(position)": table.position, **columns}
        previews[name] = pa.table(columns).to_pandas(types_mapper=pd.ArrowDtype)
    return previews


# --- CloudWatch Logs --------------------------------------------------------------------------------------------
def log_messages(world: World, function: str) -> list[str]:
    """Every log line of one function ('transform' or 'crawler_trigger'), oldest first."""
    logs = world.client("logs")
    group = world.outputs["log_groups"][function]
    pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group)
    events = sorted((event for page in pages for event in page["events"]), key=lambda event: event["timestamp"])
    return [event["message"].rstrip("\n") for event in events]


def invocation_lines(world: World, function: str, index: int = 0) -> list[str]:
    """The log lines of one invocation (START … its own lines … END, REPORT), found by its request id."""
    request_ids = [match[1] for line in log_messages(world, function) if (match := _START.match(line))]
    request_id = request_ids[index]
    return [line for line in log_messages(world, function) if request_id in line]


def json_log_records(world: World, function: str) -> pd.DataFrame:
    """The structured JSON lines a function logged (one per object for the transform Lambda)."""
    records = []
    for message in log_messages(world, function):
        text = message[message.find("{") :] if "{" in message else ""
        try:
            parsed = json.loads(text) if text else None
        except json.JSONDecodeError:
            continue
        if isinstance(parsed, dict):
            records.append(parsed)
    return pd.json_normalize(records) if records else pd.DataFrame()


def object_log_records(world: World) -> pd.DataFrame:
    """The transform Lambda's JSON line per processed object: key, dataset, rows, columns, bytes in/out, ms."""
    records = json_log_records(world, "transform")
    if records.empty or "status" not in records:
        return pd.DataFrame(columns=["key", "dataset", "rows", "columns", "bytes_in", "bytes_out", "ms"])
    processed = records[records["status"] == "processed"].reset_index(drop=True)
    wanted = ["key", "dataset", "rows", "columns", "bytes_in", "bytes_out", "ms", "outputs"]
    return processed[[column for column in wanted if column in processed]]


def s3_events(world: World) -> pd.DataFrame:
    """What the transform Lambda logged about each S3 event record it handled: the key (URL-decoded), what became
    of it, and the event time its output names carry (`<stem>_<event time>_<hash>.parquet`)."""
    records = json_log_records(world, "transform")
    if records.empty or "key" not in records:
        return pd.DataFrame(columns=["key", "status", "event_time", "outputs"])
    frame = records[records["key"].notna()].reset_index(drop=True)
    frame["event_time"] = [_event_time_of(outputs) for outputs in frame.get("outputs", [None] * len(frame))]
    event_columns = [column for column in frame if column.startswith("event.")]
    wanted = [
        "key",
        *event_columns,
        "event",
        "sequencer",
        "status",
        "dataset",
        "event_time",
        "outputs",
        "quarantine_key",
    ]
    return frame[[column for column in dict.fromkeys(wanted) if column in frame]]


def _event_time_of(outputs: Any) -> str | None:
    if not isinstance(outputs, list) or not outputs:
        return None
    match = _OUTPUT_TIME.search(outputs[0])
    return datetime.strptime(match[1], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).isoformat() if match else None


def lambda_reports(world: World, function: str) -> pd.DataFrame:
    """Lambda's REPORT line per invocation (duration, billed duration, memory) and what it would cost on AWS."""
    rows = []
    for message in log_messages(world, function):
        if message.startswith("REPORT"):
            fields = {match["name"].strip(): float(match["value"]) for match in _REPORT_FIELD.finditer(message)}
            rows.append(
                {
                    "duration_ms": fields.get("Duration"),
                    "billed_ms": fields.get("Billed Duration"),
                    "memory_mb": fields.get("Memory Size"),
                    "max_memory_used_mb": fields.get("Max Memory Used"),
                }
            )
    frame = pd.DataFrame(rows, columns=["duration_ms", "billed_ms", "memory_mb", "max_memory_used_mb"])
    frame["usd_on_aws"] = [lambda_cost_usd(row.billed_ms, row.memory_mb) for row in frame.itertuples()]
    return frame


def lambda_cost_usd(billed_ms: float, memory_mb: float) -> float:
    """One invocation's price on AWS: GB-seconds of billed duration plus the request charge."""
    return billed_ms / 1000 * memory_mb / 1024 * LAMBDA_USD_PER_GB_SECOND + LAMBDA_USD_PER_REQUEST
