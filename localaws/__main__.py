"""python -m localaws: serve a local AWS endpoint on 127.0.0.1 until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from localaws.app import build_app
from localaws.server import DEFAULT_PORT, Server


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m localaws",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "endpoints:\n"
            "  GET /_localaws/health             the server's health and pending work\n"
            "  GET /_localaws/idle?timeout=30    returns once no event, invocation or crawl is pending (408 if not)\n"
            "  POST|GET|DELETE /_localaws/lambda-faults  arm, list, disarm fault injection (lambda_runtime/faults.py)\n"
            "environment:\n"
            "  LOCALAWS_LAMBDA_CONCURRENCY   async runs of one function at once (default: CPU count, at least 2)\n"
            "  LOCALAWS_LAMBDA_RETRY_DELAYS  seconds before async retries 1 and 2 (default 0.5,1; AWS: ~60,120)\n"
            "  LOCALAWS_LAMBDA_PREWARM       0 = no proactive initialization of new functions (default 1)\n"
            "  LOCALAWS_LAMBDA_IDLE_SECONDS  idle warm environments are stopped after this (default 300)\n"
            "  LOCALAWS_LAMBDA_INIT_TIMEOUT  seconds allowed for a function's INIT phase (default 10)\n"
        ),
        description=(
            "Serve an AWS-compatible endpoint on loopback. moto holds the control plane (S3, IAM, Lambda, Logs, SQS, "
            "Glue, Athena metadata); localaws runs the data plane: S3 event notifications, Lambda code from its zip, "
            "the Glue crawler, and Athena SQL on DuckDB. Point any boto3 code or the aws CLI at it with "
            "AWS_ENDPOINT_URL."
        ),
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"TCP port on 127.0.0.1 (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1; only loopback is allowed)"
    )
    parser.add_argument("--quiet", action="store_true", help="log warnings only, not one line per Lambda run or crawl")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="localaws %(asctime)s.%(msecs)03d | %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in ("werkzeug", "botocore", "urllib3", "moto"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    server = Server(build_app(), host=args.host, port=args.port).start()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    print(
        f"localaws ready on {server.endpoint} | export AWS_ENDPOINT_URL={server.endpoint} "
        "AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1",
        flush=True,
    )
    stopping.wait()
    print("localaws stopping…", flush=True)
    server.stop()
    print("localaws stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
