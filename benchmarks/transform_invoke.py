"""The transform Lambda's fixed cost per invocation: the real handler on small files, N times in one process.

Each invocation is `pipeline.lambda_transform.handler` on one S3 event for one new NDJSON file of ROWS rows (the
burst benchmark's clickstream events, benchmarks/burst.py), against moto's in-process S3 (`mock_aws`), so no
server process, socket or HTTP parsing is counted. Reported per invocation:
- CPU ms of the whole process (all threads: `time.process_time`), and the part of it spent inside moto answering the
  requests (its `BotocoreStubber.process_request`), so "handler CPU" = total - moto: what the Lambda itself spends,
  botocore's client side included;
- the S3 requests the handler made, by operation (on AWS each is a billed request and a round trip).
The first WARMUP invocations (imports, first client) are left out. Scratch folders go to a fresh temp folder
(ETL_TMP_DIR), as a Lambda has its own /tmp. A measurement, not a test: nothing asserts.

    .venv/bin/python benchmarks/transform_invoke.py --files 300
    .venv/bin/python benchmarks/transform_invoke.py --files 100 --profile 25   # + the top cProfile entries
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from burst import events

from pipeline import lambda_transform

BUCKET = "etl-bench-invoke"
WARMUP = 5


def s3_record(key: str, etag: str, size: int, sequencer: str) -> dict[str, Any]:
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventTime": "2024-06-01T09:10:00.000Z",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "bucket": {"name": BUCKET},
            "object": {"key": key, "size": size, "eTag": etag, "sequencer": sequencer},
        },
    }


class _MotoClock:
    """Accumulates the CPU time moto spends answering requests in this process."""

    def __init__(self) -> None:
        self.cpu_s = 0.0
        self.original = BotocoreStubber.process_request
        clock = self

        def timed(stubber: BotocoreStubber, request: Any) -> Any:
            started = time.process_time()
            try:
                return clock.original(stubber, request)
            finally:
                clock.cpu_s += time.process_time() - started

        BotocoreStubber.process_request = timed  # type: ignore[method-assign]

    def restore(self) -> None:
        BotocoreStubber.process_request = self.original  # type: ignore[method-assign]


def run(files: int, rows: int, profile: int) -> dict[str, Any]:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ["ETL_LOG_LEVEL"] = "WARNING"  # the log lines are CloudWatch's cost, not the transform's
    os.environ.pop("ETL_BUCKET", None)
    moto_clock = _MotoClock()
    try:
        with mock_aws(), tempfile.TemporaryDirectory(prefix="transform-invoke-") as tmp:
            os.environ["ETL_TMP_DIR"] = tmp
            client = boto3.client("s3", region_name="us-east-1")
            client.create_bucket(Bucket=BUCKET)
            lambda_transform._clients["s3"] = client
            calls: Counter[str] = Counter()
            counting = False

            def count(event_name: str, **_kwargs: Any) -> None:
                if counting:
                    calls[event_name.rsplit(".", 1)[-1]] += 1

            client.meta.events.register("before-call.s3", count)
            event_list = []
            for index in range(files + WARMUP):
                key = f"raw/clickstream/burst-{index:06d}.jsonl"
                body = events(index, rows)
                etag = client.put_object(Bucket=BUCKET, Key=key, Body=body)["ETag"].strip('"')
                event_list.append({"Records": [s3_record(key, etag, len(body), f"{index + 1:016X}")]})
            for event in event_list[:WARMUP]:
                lambda_transform.handler(event, None)
            counting = True
            profiler = cProfile.Profile(time.process_time) if profile else None
            per_call: list[float] = []
            moto_before = moto_clock.cpu_s
            started = time.process_time()
            for event in event_list[WARMUP:]:
                one = time.process_time()
                if profiler is not None:
                    profiler.enable()
                result = lambda_transform.handler(event, None)
                if profiler is not None:
                    profiler.disable()
                per_call.append(time.process_time() - one)
                if result["processed"] != 1:
                    raise RuntimeError(f"not processed: {result}")
            total_s = time.process_time() - started
            moto_s = moto_clock.cpu_s - moto_before
    finally:
        moto_clock.restore()
        lambda_transform._clients.pop("s3", None)
        os.environ.pop("ETL_TMP_DIR", None)
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(profile)
    return {
        "invocations": files,
        "rows per file": rows,
        "CPU ms per invocation (process)": 1000 * total_s / files,
        "median CPU ms per invocation": 1000 * statistics.median(per_call),
        "moto ms per invocation": 1000 * moto_s / files,
        "handler CPU ms per invocation (process - moto)": 1000 * (total_s - moto_s) / files,
        "S3 requests per invocation": sum(calls.values()) / files,
        **{f"  {name}": calls[name] / files for name in sorted(calls)},
        "load average": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/transform_invoke.py", description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=300, help="measured invocations (default 300)")
    parser.add_argument("--rows", type=int, default=10, help="rows per file (default 10)")
    parser.add_argument("--profile", type=int, default=0, help="print this many cProfile entries (default none)")
    args = parser.parse_args(argv)
    result = run(args.files, args.rows, args.profile)
    print("| measure | value |\n|---|---|")
    for name, value in result.items():
        print(f"| {name} | {value:.2f} |" if isinstance(value, float) else f"| {name} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
