"""Server CPU per S3 object request, localaws's S3 object data plane against moto's path (LOCALAWS_S3_DATA_PLANE=0).

Sequential boto3 PutObject, GetObject and HeadObject of 1 KB objects, into a bucket set up as provision.py sets the
stack's (default SSE-S3 encryption, a TLS-only bucket policy). Each mode runs in its own localaws process, back to
back, REPEAT times; the figure is the server process's CPU time (psutil, user + system) per request, which a shared
machine's load disturbs much less than the wall time (also printed). A measurement, not a test: nothing asserts.

    .venv/bin/python benchmarks/s3_object_requests.py --requests 400 --repeat 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import boto3
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from kit.local_endpoint import LocalAwsProcess

BUCKET = "bench-object-requests"
TLS_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "TlsOnly",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ],
}


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def measure(data_plane: bool, requests: int) -> dict[str, tuple[float, float]]:
    """{operation: (server CPU ms per request, wall ms per request)} for one fresh localaws process."""
    server = LocalAwsProcess(env={"LOCALAWS_S3_DATA_PLANE": "1" if data_plane else "0", "LOCALAWS_LAMBDA_PREWARM": "0"})
    try:
        for name, value in server.env().items():
            os.environ[name] = value
        process = psutil.Process(server.process.pid)
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
        s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration={"Rules": [rule]})
        s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(TLS_ONLY))
        body = b"x" * 1024
        calls: dict[str, Callable[[int], object]] = {
            "PutObject": lambda i: s3.put_object(Bucket=BUCKET, Key=f"k/{i}", Body=body, ContentType="text/plain"),
            "GetObject": lambda i: s3.get_object(Bucket=BUCKET, Key=f"k/{i}")["Body"].read(),
            "HeadObject": lambda i: s3.head_object(Bucket=BUCKET, Key=f"k/{i}"),
        }
        for call in calls.values():  # warm: the first request of each kind loads botocore models
            call(requests)
        figures = {}
        for operation, call in calls.items():
            cpu, wall = _cpu_seconds(process), time.perf_counter()
            for i in range(requests):
                call(i)
            cpu, wall = _cpu_seconds(process) - cpu, time.perf_counter() - wall
            figures[operation] = (cpu / requests * 1000, wall / requests * 1000)
        return figures
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400, help="requests of each operation per run")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each mode, alternating")
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for _ in range(args.repeat):
        for data_plane in (False, True):
            figures = measure(data_plane, args.requests)
            cells = "  ".join(f"{op} {cpu:.2f} ms CPU ({wall:.2f} ms wall)" for op, (cpu, wall) in figures.items())
            print(f"{'data plane' if data_plane else 'moto path '}: {cells}", flush=True)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
