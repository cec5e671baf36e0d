"""A function's CloudWatch Logs, written into moto's Logs backend in-process, as Lambda writes them.

Each execution environment has its own stream `YYYY/MM/DD/[$LATEST]<32 hex>` in the group /aws/lambda/<name>, which
Lambda creates when it is missing. An invocation writes START, the function's own output, END and REPORT:
https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html
https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html
"""

from __future__ import annotations

import contextlib
import math
import time
import uuid
from dataclasses import dataclass
from typing import Any

from moto.logs.exceptions import ResourceAlreadyExistsException
from moto.logs.models import logs_backends

TAIL_BYTES = 4096  # Invoke's LogType=Tail returns the last 4 KB of the log


@dataclass(frozen=True)
class LogLine:
    timestamp_ms: int
    message: str


def now_ms() -> int:
    return int(time.time() * 1000)


def new_stream_name(version: str) -> str:
    return f"{time.strftime('%Y/%m/%d', time.gmtime())}/[{version}]{uuid.uuid4().hex}"


def start_line(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def report_line(
    request_id: str, duration_ms: float, memory_size: int, max_memory_mb: int, init_ms: float | None
) -> str:
    # Billed duration is rounded up to the next millisecond and, since 2025-08-01, includes INIT for zip functions on
    # managed runtimes: https://aws.amazon.com/blogs/compute/aws-lambda-standardizes-billing-for-init-phase/
    fields = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration_ms:.2f} ms",
        f"Billed Duration: {math.ceil(duration_ms + (init_ms or 0))} ms",
        f"Memory Size: {memory_size} MB",
        f"Max Memory Used: {max_memory_mb} MB",
    ]
    if init_ms is not None:
        fields.append(f"Init Duration: {init_ms:.2f} ms")
    return "\t".join(fields) + "\t"


def tail(lines: list[LogLine]) -> str:
    text = "".join(line.message + "\n" for line in lines).encode()
    return text[-TAIL_BYTES:].decode("utf-8", "ignore")


class LogSink:
    """Writes log lines for one stream; holds moto's lock while it touches the Logs backend."""

    def __init__(self, app: Any, account: str, region: str, group: str, stream: str) -> None:
        self.app = app
        self.account = account
        self.region = region
        self.group = group
        self.stream = stream
        self._created = False

    def write(self, lines: list[LogLine]) -> None:
        if not lines:
            return
        with self.app.moto_lock:
            backend = logs_backends[self.account][self.region]
            if not self._created or self.group not in backend.groups:
                self._create(backend)
            # PutLogEvents wants chronological order; lines read in one batch may share or invert a millisecond.
            events, latest = [], 0
            for line in lines:
                latest = max(latest, line.timestamp_ms)
                events.append({"timestamp": latest, "message": line.message})
            backend.put_log_events(self.group, self.stream, events)

    def _create(self, backend: Any) -> None:
        if self.group not in backend.groups:
            backend.create_log_group(self.group, {})
        with contextlib.suppress(ResourceAlreadyExistsException):
            backend.create_log_stream(self.group, self.stream)
        self._created = True
