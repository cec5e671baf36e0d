"""python -m localaws: serve a local AWS endpoint on 127.0.0.1 until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import MutableMapping

from localaws.app import build_app
from localaws.browser_guard import CORS_ENV, HOSTS_ENV, BrowserGuard, split_list
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
            "  GET /_localaws/s3-event-deliveries  the last S3 events a destination refused (s3_events/delivery.py)\n"
            "environment:\n"
            "  LOCALAWS_LAMBDA_CONCURRENCY   async runs of one function at once (default: CPU count, at least 2)\n"
            "  LOCALAWS_LAMBDA_RETRY_DELAYS  seconds before async retries 1 and 2 (default 0.5,1; AWS: ~60,120)\n"
            "  LOCALAWS_LAMBDA_PREWARM       0 = no proactive initialization of new functions (default 1)\n"
            "  LOCALAWS_LAMBDA_IDLE_SECONDS  idle warm environments are stopped after this (default 300)\n"
            "  LOCALAWS_LAMBDA_INIT_TIMEOUT  seconds allowed for a function's INIT phase (default 10)\n"
            "  LOCALAWS_IAM                  enforce (default) | soft (log would-be denials) | off\n"
            "  LOCALAWS_S3_DATA_PLANE        0 = moto answers every S3 object request itself (default 1)\n"
            "  LOCALAWS_CORS_ORIGINS, LOCALAWS_ALLOWED_HOSTS   as --cors-origins, --allowed-hosts\n"
            "commands:\n"
            "  python -m localaws iam-report   used vs allowed-but-unused actions per principal, smallest policy\n"
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
    parser.add_argument(
        "--cors-origins",
        type=split_list,
        default=None,
        metavar="ORIGIN[,ORIGIN...]",
        help=f"web origins allowed to call localaws from a browser (default: none; env {CORS_ENV})",
    )
    parser.add_argument(
        "--allowed-hosts",
        type=split_list,
        default=None,
        metavar="HOST[,HOST...]",
        help=f"Host names served besides loopback ones (default: none; env {HOSTS_ENV})",
    )
    parser.add_argument("--quiet", action="store_true", help="log warnings only, not one line per Lambda run or crawl")
    return parser.parse_args(argv)


# Credentials a real AWS shell or machine may hold. localaws needs none (its own clients sign with stand-ins), and no
# worker, query or crawl may ever see them: they leave its environment before anything starts.
# https://docs.aws.amazon.com/sdkref/latest/guide/settings-reference.html#EVarSettings
CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
)
# A stop that takes longer than this (a stuck worker or hook) is finished by force; SIGTERM must end localaws in 5 s.
STOP_SECONDS = 3.5


def drop_credentials(environ: MutableMapping[str, str]) -> list[str]:
    """Remove real AWS credentials and profile settings from `environ`; returns the names removed."""
    dropped = [name for name in CREDENTIAL_VARIABLES if name in environ]
    for name in dropped:
        del environ[name]
    environ["AWS_CONFIG_FILE"] = os.devnull
    environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    environ["AWS_EC2_METADATA_DISABLED"] = "true"
    return dropped


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["iam-report"]:
        from localaws.iam.report import main as iam_report

        return iam_report(argv[1:])
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="localaws %(asctime)s.%(msecs)03d | %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in ("werkzeug", "botocore", "urllib3", "moto"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    dropped = drop_credentials(os.environ)
    stopping = threading.Event()

    def on_signal(number: int, _frame: object) -> None:
        if stopping.is_set():  # a second Ctrl-C: stop now
            _exit(128 + number)
        stopping.set()

    # Installed before any thread starts, so a signal during startup stops localaws as soon as it is up.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        guard = BrowserGuard.from_settings(args.cors_origins, args.allowed_hosts)
        server = Server(build_app(guard), host=args.host, port=args.port).start()
    except (OSError, ValueError) as error:
        print(f"localaws: cannot start on {args.host}:{args.port}: {error}", file=sys.stderr, flush=True)
        return _exit(1)
    print(
        f"localaws ready on {server.endpoint} | export AWS_ENDPOINT_URL={server.endpoint} "
        "AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1",
        flush=True,
    )
    if dropped:
        logging.getLogger("localaws").info("dropped from localaws' environment: %s", ", ".join(dropped))
    # A timed wait, not wait(): a process-directed signal may land on any thread, and then only a main thread that
    # wakes up by itself runs the Python handler (a bare wait() slept through SIGTERM in 2 of 16 runs).
    while not stopping.wait(0.2):
        pass
    print("localaws stopping…", flush=True)
    stopper = threading.Thread(target=server.stop, name="localaws-stop", daemon=True)
    stopper.start()
    stopper.join(STOP_SECONDS)
    if stopper.is_alive():
        logging.getLogger("localaws").warning("stop took over %.1f s: killing what is left", STOP_SECONDS)
        server.app.kill()
    print("localaws stopped.", flush=True)
    return _exit(0)


def _exit(code: int) -> int:
    """Leave without interpreter finalization: a native thread (DuckDB) torn down mid-call aborts the process with
    "terminate called…" and exit code 134 instead of `code`."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
