"""`make bench-burst`: a burst of small raw files through the whole pipeline on localaws, measured end to end.

1. start localaws on a free port and provision a stack with the unchanged provision.py;
2. upload N NDJSON files of ROWS clickstream events each to raw/clickstream/, from THREADS threads at once;
3. wait (localaws' idle endpoint) until no event, invocation or crawl is pending;
4. measure: rows in Athena against the rows uploaded (count(*) and count(DISTINCT event_id): every row exactly once),
   seconds from the last upload to queryable (and from the last Parquet file the transform wrote: the catalog's
   share), the time of `SELECT count(*)`, the crawls that ran (ListCrawls), and
   the RSS of the localaws process tree (psutil, the server and every Lambda worker it started), and the CPU
   seconds of the server process and of its Lambda workers from the first upload until queryable, also per file
   (tree_cpu.py).

Prints a table and, with --record, appends it to benchmarks/burst-results.md.
A measurement, not a test: nothing asserts.

    .venv/bin/python benchmarks/burst.py --files 1000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import psutil

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import marked  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
from tree_cpu import TreeCpu  # noqa: E402

from kit.local_endpoint import LocalAwsProcess  # noqa: E402
from kit.queries import run_query  # noqa: E402
from kit.stack import load_outputs, stacks_dir  # noqa: E402

RESULTS = Path(__file__).with_name("burst-results.md")  # every recorded run, appended
# results.md is rewritten whole by transform.py, which keeps the marked burst sections (marked.py): the latest run
# of each catalog mode goes there, as issue 13 asks.
SUMMARY = Path(__file__).with_name("results.md")


def events(file_index: int, rows: int) -> bytes:
    """ROWS clickstream events with ids unique across the burst, one JSON object a line."""
    lines = []
    for row in range(rows):
        lines.append(
            json.dumps(
                {
                    "event_id": f"burst-{file_index:06d}-{row:03d}",
                    "event_type": "page_view",
                    "ts": "2024-06-01T09:09:49.902Z",
                    "user_id": f"U-{file_index % 97}",
                    "session_id": f"S-{file_index}",
                    "device": {"type": "desktop", "os": "Linux", "browser": "Firefox"},
                    "payload": {"url": "https://shop.example.com/", "referrer": None},
                }
            )
        )
    return ("\n".join(lines) + "\n").encode()


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, MB."""
    root = psutil.Process(pid)
    total = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 1024**2


def burst(files: int, rows: int, threads: int, stack: str, idle_timeout: float, catalog: str = "partitions") -> dict:
    log_path = stacks_dir() / "localaws-burst.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    server = LocalAwsProcess(log_path=log_path, quiet=True)
    try:
        os.environ.update(server.env())
        command = [sys.executable, "provision.py", "--stack", stack, "--no-next-steps", "--catalog", catalog]
        subprocess.run(command, cwd=REPO_ROOT, check=True, stdout=subprocess.DEVNULL)
        outputs = load_outputs(stack)
        bucket, database = outputs["bucket"], outputs["glue_database"]
        s3 = boto3.client("s3")
        bodies = [events(index, rows) for index in range(files)]
        cpu = TreeCpu(server.process.pid).start()
        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:

            def put(index: int) -> None:
                key = f"raw/clickstream/burst-{index:06d}.jsonl"
                s3.put_object(Bucket=bucket, Key=key, Body=bodies[index])

            list(pool.map(put, range(files)))
        last_upload = time.perf_counter()
        idle = server.wait_idle(idle_timeout)
        queryable = time.perf_counter()
        queryable_at = dt.datetime.now(dt.UTC)
        cpu.stop()
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="processed/")
        newest_parquet = max(item["LastModified"] for page in pages for item in page.get("Contents", []))
        count_sql = f"SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM {database}.clickstream"
        count = run_query(count_sql, outputs)
        plain = run_query(f"SELECT count(*) FROM {database}.clickstream", outputs)
        crawls = boto3.client("glue").list_crawls(CrawlerName=outputs["crawler"]).get("Crawls", [])
        rss = tree_rss_mb(server.process.pid)
        return {
            "catalog mode": catalog,
            "files": files,
            "rows per file": rows,
            "threads": threads,
            "upload s": last_upload - started,
            "idle reached": idle,
            "last upload -> queryable s": queryable - last_upload,
            # the catalog's share: from the last Parquet file the transform wrote (S3's LastModified, whole seconds)
            "last Parquet file -> queryable s": (queryable_at - newest_parquet).total_seconds(),
            "rows expected": files * rows,
            "rows in Athena": int(count.frame.iloc[0]["n"]),
            "distinct event ids": int(count.frame.iloc[0]["ids"]),
            "count(*) s": plain.wall_s,
            "crawls": len(crawls),
            "crawl seconds": [
                round((c["EndTime"] - c["StartTime"]).total_seconds(), 1) for c in crawls if c.get("EndTime")
            ],
            "localaws tree RSS MB": round(rss),
            # CPU from the first upload until queryable (tree_cpu.py): the server process, and its Lambda workers
            "server CPU s": cpu.server_s,
            "server CPU ms per file": 1000 * cpu.server_s / files,
            "Lambda workers CPU s": cpu.workers_s,
            "Lambda workers CPU ms per file": 1000 * cpu.workers_s / files,
            "Lambda workers seen": cpu.workers_seen,
        }
    finally:
        server.stop()


def table(result: dict) -> str:
    lines = ["| measure | value |", "|---|---|"]
    for name, value in result.items():
        shown = f"{value:.2f}" if isinstance(value, float) else value
        lines.append(f"| {name} | {shown} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/burst.py", description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000, help="raw files in the burst (default 1000)")
    parser.add_argument("--rows", type=int, default=10, help="rows per file (default 10)")
    parser.add_argument("--threads", type=int, default=16, help="uploading threads (default 16)")
    parser.add_argument("--stack", default="burst", help="stack name on localaws (default burst)")
    parser.add_argument("--idle-timeout", type=float, default=1800, help="seconds to wait for the pipeline")
    parser.add_argument(
        "--catalog", default="partitions", choices=("partitions", "crawler"), help="provision.py --catalog"
    )
    parser.add_argument("--label", default="", help="a note for burst-results.md (what code was measured)")
    parser.add_argument("--record", action="store_true", help="append the table to benchmarks/burst-results.md")
    args = parser.parse_args(argv)
    result = burst(args.files, args.rows, args.threads, args.stack, args.idle_timeout, args.catalog)
    text = table(result)
    print(text)
    if args.record:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
        header = (
            f"\n## Burst: {args.files} files x {args.rows} rows, {args.threads} threads ({stamp}, commit {commit}"
            f"{', ' + args.label if args.label else ''})\n\n"
            f"`benchmarks/burst.py --files {args.files} --catalog {args.catalog}`; {platform.python_version()}, "
            f"load average {load}.\n\n"
        )
        with RESULTS.open("a") as handle:
            handle.write(header + text + "\n")
        summary = SUMMARY.read_text() if SUMMARY.exists() else ""
        section = f"{marked.BURST_PREFIX}-{args.catalog}"
        body = header.lstrip("\n").replace("## Burst:", f"## Burst, catalog {args.catalog}:", 1) + text
        body += "\n\nHistory and notes: [burst-results.md](burst-results.md).\n"
        SUMMARY.write_text(marked.replace_section(summary, section, body))
    return 0


if __name__ == "__main__":
    sys.exit(main())
