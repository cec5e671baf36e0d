"""`make demo`: the whole pipeline on localaws, from raw JSON to Athena DataFrames, in one narrated run.

Steps:
1. start localaws (the embedded local AWS) on a free loopback port;
2. run the unchanged provision.py against it;
3. upload every sample dataset to raw/<dataset>/;
4. wait, through localaws' idle endpoint, until the Lambdas and the crawler have finished;
5. run three Athena queries through pyathena and print each DataFrame with its rows, bytes scanned and time;
6. list the quarantined files and why, and what each role did under IAM (localaws' least-privilege report);
7. stop localaws, and print a timing summary.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import boto3
import pandas as pd

from kit.errors import script_boundary
from kit.local_endpoint import REPO_ROOT, LocalAwsProcess, console_url
from kit.queries import QueryRun, run_query
from kit.stack import load_outputs, shown_path, stacks_dir
from kit.uploads import upload_sample_data
from pipeline.config import QUARANTINE_PREFIX

IDLE_TIMEOUT_S = 120


@dataclass
class Timings:
    steps: list[tuple[str, float]] = field(default_factory=list)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.steps.append((name, time.perf_counter() - started))

    def report(self) -> str:
        width = max(len(name) for name, _ in self.steps)
        lines = [f"  {name:<{width}}  {seconds:6.2f} s" for name, seconds in self.steps]
        total = sum(seconds for _, seconds in self.steps)
        return "\n".join([*lines, f"  {'total':<{width}}  {total:6.2f} s"])


def demo_queries(database: str, today: str) -> list[tuple[str, str]]:
    """The three questions the demo asks: an aggregate, a parent-child join, and a partition filter.

    Amounts are in the order's own currency (EUR, USD, GBP), so revenue is summed per currency, never across them.
    """
    return [
        (
            "Revenue by currency and country, cancelled orders left out (each sum stays in its own currency)",
            f"""
            SELECT payment_currency AS currency,
                   customer_address_country AS country,
                   count(*) AS orders,
                   round(sum(payment_amount), 2) AS revenue
            FROM {database}.orders
            WHERE status <> 'cancelled'
            GROUP BY payment_currency, customer_address_country
            ORDER BY currency, revenue DESC
            """,
        ),
        (
            "Top orders by line items (orders joined with its child table orders__items)",
            f"""
            SELECT o.order_id,
                   o.customer_name,
                   o.payment_currency AS currency,
                   count(*) AS lines,
                   round(sum(i.qty * i.unit_price), 2) AS items_total
            FROM {database}.orders o
            JOIN {database}.orders__items i ON i._parent_record_id = o._record_id
            GROUP BY o.order_id, o.customer_name, o.payment_currency
            ORDER BY items_total DESC
            LIMIT 5
            """,
        ),
        (
            f"Clickstream events by type in today's partition (dt = '{today}': only that partition is read)",
            f"""
            SELECT event_type, count(*) AS events
            FROM {database}.clickstream
            WHERE dt = '{today}'
            GROUP BY event_type
            ORDER BY events DESC
            """,
        ),
    ]


def print_query(title: str, run: QueryRun) -> None:
    print(f"\n▶ {title}")
    with pd.option_context("display.width", 120, "display.max_columns", 20):
        print(run.frame.to_string(index=False))
    print(f"  {run.summary()}")


def quarantine_report(s3, bucket: str) -> list[dict]:
    """Every `.error.json` under quarantine/, as written by the transform Lambda."""
    reports = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=QUARANTINE_PREFIX):
        for item in page.get("Contents", []):
            if item["Key"].endswith(".error.json"):
                body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                reports.append({"key": item["Key"], **json.loads(body)})
    return reports


def run_demo(stack: str) -> int:
    timings = Timings()
    print("== make demo: JSON lands in S3, SQL works in Athena — all on localaws, no AWS account ==\n")
    log_path = stacks_dir() / "localaws-demo.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    print("Starting localaws (moto's control plane + our data plane) on a free loopback port…")
    with timings.step("start localaws"):
        server = LocalAwsProcess(log_path=log_path)
    try:
        print(f"  localaws is serving {server.endpoint} (log: {shown_path(log_path)})")
        print(f"  watch the pipeline live in the localaws console: {console_url(server.endpoint, stack)}\n")
        os.environ.update(server.env())

        print(f"Provisioning stack '{stack}' with the unchanged provision.py (AWS_ENDPOINT_URL={server.endpoint})…")
        with timings.step("provision.py"):
            command = [sys.executable, "provision.py", "--stack", stack, "--no-next-steps"]
            if subprocess.run(command, cwd=REPO_ROOT, check=False).returncode != 0:
                print("provision.py failed (see above).")
                return 1
        outputs = load_outputs(stack)
        bucket, database = outputs["bucket"], outputs["glue_database"]
        s3 = boto3.client("s3")

        print(f"\nUploading every sample dataset from sample_data/ to s3://{bucket}/raw/ …")
        with timings.step("upload → queryable"):
            uploaded = upload_sample_data(s3, bucket, REPO_ROOT / "sample_data")
            for key in uploaded:
                print(f"  uploaded s3://{bucket}/{key}")
            print("Waiting for the transform Lambda, the crawler-trigger Lambda and the Glue crawler to finish…")
            if not server.wait_idle(IDLE_TIMEOUT_S):
                print(f"  still busy after {IDLE_TIMEOUT_S} s: see {shown_path(log_path)} for what is running")
                return 1
        print(f"  done: {len(uploaded)} files processed, catalog updated.")

        today = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
        with timings.step("three Athena queries"):
            for title, sql in demo_queries(database, today):
                print_query(title, run_query(sql, outputs))

        print("\nQuarantined files (bad input is kept with a readable reason, never dropped):")
        for report in quarantine_report(s3, bucket):
            print(f"  {report['key'].removesuffix('.error.json')}: {report.get('reason')}")

        print("\nLeast privilege, measured: what each role did under IAM enforcement (python -m localaws iam-report):")
        report = [sys.executable, "-m", "localaws", "iam-report", "--summary", "--endpoint", server.endpoint]
        print(subprocess.run(report, cwd=REPO_ROOT, capture_output=True, text=True, check=False).stdout.rstrip())

    finally:
        print("\nStopping localaws…")
        server.stop()
    print("\nTiming summary:")
    print(timings.report())
    print(
        "\nNext: `make lab` opens the notebooks that walk through each step, on a fresh localaws of its own "
        "(nothing is billed); `make test` runs every test."
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kit.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="etl", help="stack name to provision on localaws (default: etl)")
    args = parser.parse_args(argv)
    return script_boundary(lambda: run_demo(args.stack), script="make demo")


if __name__ == "__main__":
    sys.exit(main())
