"""What the Lambdas do, shown: flattening one record with the pure core, and the functions' CloudWatch Logs."""

from __future__ import annotations

import json
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pandas as pd
import pyarrow.parquet as pq

from kit.tutorial.world import World
from pipeline.transform import transform_file

# https://aws.amazon.com/lambda/pricing/ (us-east-1, x86): per GB-second of billed duration, plus per request.
LAMBDA_USD_PER_GB_SECOND = 0.0000166667
LAMBDA_USD_PER_REQUEST = 0.20 / 1_000_000
_OUTPUT_TIME = re.compile(r"_(\d{8}T\d{6}Z)_[0-9a-f]+\.parquet$")
_START = re.compile(r"START RequestId: (\S+)")
_REPORT_FIELD = re.compile(r"(?P<name>[A-Za-z ]+): (?P<value>[\d.]+)")


def flatten_preview(record: dict[str, Any], dataset: str) -> dict[str, pd.DataFrame]:
    """What the transform makes of one record: one DataFrame per dataset it writes (the parent and each child level),
    with the real column names, lineage columns included (`_record_id`; `_parent_record_id` and `_position` on child
    rows). It runs `pipeline.transform.transform_file` on the record alone, as the Lambda would on a one-record file."""
    with tempfile.TemporaryDirectory(prefix="preview-") as folder:
        source = Path(folder) / "record.json"
        source.write_text(json.dumps(record), encoding="utf-8")
        result = transform_file(source, dataset=dataset, out_dir=Path(folder) / "out", source_key=f"raw/{dataset}/x")
        previews = {}
        for output in result.outputs:
            table = pq.read_table(output.path)
            shown = table.drop_columns([name for name in table.column_names if name == "_source_key"])
            previews[output.dataset] = shown.to_pandas(types_mapper=pd.ArrowDtype)
        return previews


def readable_log(lines: list[str]) -> str:
    """Log lines as a reader wants them: Lambda's tab-separated fields on one line each, and a JSON payload
    pretty-printed below its prefix instead of one line of hundreds of characters."""
    shown = []
    for line in lines:
        start = line.find("{")
        try:
            payload = json.loads(line[start:]) if start >= 0 else None
        except json.JSONDecodeError:
            payload = None
        if isinstance(payload, dict):
            shown.append(" ".join(line[:start].split()))
            shown.append(json.dumps(payload, indent=2, ensure_ascii=False))
        else:
            shown.append(" ".join(line.split("\t")).rstrip())
    return "\n".join(shown)


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
    if "outputs" in processed:
        processed["parquet_files"] = [
            len(outputs) if isinstance(outputs, list) else 0 for outputs in processed["outputs"]
        ]
    wanted = ["key", "dataset", "rows", "columns", "bytes_in", "bytes_out", "ms", "parquet_files"]
    shown = processed[[column for column in wanted if column in processed]]
    # Counts are whole numbers: json_normalize makes them floats when another line lacks them.
    counts = [column for column in ("rows", "columns", "bytes_in", "bytes_out", "ms") if column in shown]
    return shown.astype(dict.fromkeys(counts, "Int64"))


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


def s3_event_records(world: World) -> list[dict[str, Any]]:
    """Each S3 event record the transform Lambda received, exactly as S3 sent it (the handler logs it first)."""
    records = []
    for message in log_messages(world, "transform"):
        start = message.find('{"s3_event_record"')
        if start >= 0:
            records.append(json.loads(message[start:])["s3_event_record"])
    return records


def s3_event_keys(world: World) -> pd.DataFrame:
    """Per event record: the key as S3 sent it (URL-encoded) next to the key the handler decoded, and the fields
    that make each event unique (event name and time, ETag, sequencer)."""
    rows = [
        {
            "key in the event": record["s3"]["object"]["key"],
            "decoded key": unquote_plus(record["s3"]["object"]["key"]),
            "eventName": record["eventName"],
            "eventTime": record["eventTime"],
            "eTag": record["s3"]["object"].get("eTag"),
            "sequencer": record["s3"]["object"].get("sequencer"),
        }
        for record in s3_event_records(world)
    ]
    return pd.DataFrame(
        rows, columns=["key in the event", "decoded key", "eventName", "eventTime", "eTag", "sequencer"]
    )


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
                    "init_ms": fields.get("Init Duration", 0.0),
                    "duration_ms": fields.get("Duration"),
                    "billed_ms": fields.get("Billed Duration"),
                    "memory_mb": fields.get("Memory Size"),
                    "max_memory_used_mb": fields.get("Max Memory Used"),
                }
            )
    columns = ["init_ms", "duration_ms", "billed_ms", "memory_mb", "max_memory_used_mb"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["usd_on_aws"] = [lambda_cost_usd(row.billed_ms, row.memory_mb) for row in frame.itertuples()]
    return frame


def lambda_cost_usd(billed_ms: float, memory_mb: float) -> float:
    """One invocation's price on AWS: GB-seconds of billed duration plus the request charge."""
    return billed_ms / 1000 * memory_mb / 1024 * LAMBDA_USD_PER_GB_SECOND + LAMBDA_USD_PER_REQUEST
