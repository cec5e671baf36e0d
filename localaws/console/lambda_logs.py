"""Lambda invocations read back from CloudWatch Logs, as a person reads them: START, the function's lines, END, REPORT.

REPORT's fields: https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html#python-logging-output
An invocation's S3 event is the S3 event record its own log lines carry, when the function logs it.
"""

from __future__ import annotations

import json
import re
from typing import Any

_START = re.compile(r"^START RequestId: (?P<id>\S+)")
_REPORT = re.compile(r"^REPORT RequestId: (?P<id>\S+)")
_FIELD = re.compile(r"(?P<name>[A-Za-z ]+): (?P<value>[\d.]+) (?:ms|MB)")
_FIELDS = {
    "Duration": "duration_ms",
    "Billed Duration": "billed_ms",
    "Memory Size": "memory_mb",
    "Max Memory Used": "max_memory_mb",
    "Init Duration": "init_ms",
}


def _s3_record(message: str) -> dict[str, Any] | None:
    """The S3 event record in a log line (a JSON object holding one with eventSource "aws:s3"), or None."""
    start = message.find("{")
    if start < 0:
        return None
    try:
        document = json.loads(message[start:])
    except ValueError:
        return None
    stack: list[Any] = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("eventSource") == "aws:s3" and "s3" in item:
                s3 = item["s3"]
                return {
                    "name": item.get("eventName"),
                    "time": item.get("eventTime"),
                    "bucket": s3.get("bucket", {}).get("name"),
                    "key": s3.get("object", {}).get("key"),
                    "size": s3.get("object", {}).get("size"),
                }
            stack += item.values()
        elif isinstance(item, list):
            stack += item
    return None


def _status(lines: list[str], reported: bool) -> str:
    text = "\n".join(lines)
    if "Task timed out after" in text:
        return "timeout"
    if "Runtime exited with error" in text:
        return "crashed"
    if any(line.startswith("[ERROR]") or '"errorMessage"' in line for line in lines):
        return "error"
    return "ok" if reported else "running"


def invocations_from_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One dict per START in `events` (FilterLogEvents' events of one log group), oldest first."""
    by_stream: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_stream.setdefault(event.get("logStreamName", ""), []).append(event)
    found = []
    for stream, stream_events in by_stream.items():
        current: dict[str, Any] | None = None
        for event in sorted(stream_events, key=lambda e: e["timestamp"]):
            message = event["message"].rstrip("\n")
            if _START.match(message):
                current = {
                    "request_id": _START.match(message)["id"],
                    "stream": stream,
                    "started": event["timestamp"],
                    "event": None,
                    "lines": [],
                    "report": None,
                }
                found.append(current)
            if current is None:
                continue
            current["lines"].append(message)
            if current["event"] is None:
                current["event"] = _s3_record(message)
            if _REPORT.match(message):
                current["report"] = {
                    _FIELDS[m["name"].strip()]: float(m["value"])
                    for m in _FIELD.finditer(message)
                    if m["name"].strip() in _FIELDS
                }
                current = None
    for invocation in found:
        invocation["status"] = _status(invocation["lines"], invocation["report"] is not None)
    found.sort(key=lambda inv: inv["started"])
    return found
