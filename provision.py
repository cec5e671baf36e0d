"""Build the serverless ETL pipeline in your AWS account (or on localaws), safe to re-run.

    .venv/bin/python provision.py                 # stack "etl" in your default region
    .venv/bin/python provision.py --stack alice   # one stack per student, side by side in one account
    .venv/bin/python provision.py --dry-run       # print the plan; change nothing

Every name comes from --stack and every resource is tagged with it. A second run changes nothing; a changed setting
or changed pipeline/ code is updated in place. AWS_ENDPOINT_URL points it at localaws instead of AWS, unchanged.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from botocore.exceptions import ClientError, WaiterError

from kit.aws.lambda_ import get_function
from kit.aws.ssm import DEFAULT_PANDAS_LAYER_VERSION
from kit.catalog_updater import deployed_catalog_mode
from kit.cli import DefaultOnceHelpFormatter
from kit.errors import explain, script_boundary
from kit.hints import next_steps
from kit.narrate import CREATED, Narrator
from kit.ownership import NotOwned
from kit.provisioning import (
    TRANSFORM_EPHEMERAL_STORAGE_MB,
    TRIGGER_TIMEOUT_S,
    LayerNotFound,
    Provisioner,
    ProvisionOptions,
)
from kit.session import Clients, CredentialsMissing, check_credentials, endpoint, open_session
from kit.stack import DEFAULT_REGION, DEFAULT_STACK, Stack, StackNameError, validate_stack_name
from kit.waiting import WaitError
from pipeline import config

LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365)  # values CloudWatch Logs accepts (a subset)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=(
            "Credentials come from the usual AWS chain (aws configure, AWS_PROFILE, environment variables). "
            f"Region: --region, else AWS_REGION / AWS_DEFAULT_REGION, else the profile's, else {DEFAULT_REGION}. "
            "Memory and timeouts (measured by benchmarks/; docs/transform.md, 'Streaming.'): the transform streams "
            "every input (a JSON array, NDJSON, objects back to back, compressed or not) in blocks of about 4 MB, so "
            "its memory stays near 300 MB whatever the file's size (331 MB at 1 GB of NDJSON). A file's size is "
            "bounded instead by the transform's /tmp (--transform-tmp: spills of about 40% of the input plus the "
            "Parquet output, so 2048 MB covers a 1 GB file), by the timeout, and by 64 MB per record. 1024 MB is "
            "chosen for CPU: Lambda gives CPU in proportion to memory (about 0.58 vCPU at 1024 MB), and importing "
            "pandas + pyarrow takes about a second at 1024 MB but many at 128 MB; 300 s leaves room for a cold start "
            "and a large file. The crawler trigger (the catalog updater) needs no pandas (it gets no layer) and "
            "never waits: it "
            "takes batches of processed/ events from an SQS queue, one batch at a time, so 256 MB / 60 s is ample "
            "(the queue's visibility timeout is 6x that). --catalog partitions (the default) registers a new dt "
            "partition of an unchanged table itself and crawls only for a new table or a new column; --catalog "
            "crawler crawls for every change, starting at most one crawl a minute. "
            "See docs/transform.md, 'The catalog updater'."
        ),
        formatter_class=DefaultOnceHelpFormatter,
    )
    parser.add_argument("--stack", default=DEFAULT_STACK, help="stack name: prefix of every resource name and tag")
    parser.add_argument(
        "--region",
        help=f"AWS region (default: AWS_REGION, else AWS_DEFAULT_REGION, else the profile's, else {DEFAULT_REGION})",
    )
    parser.add_argument("--profile", help="AWS named profile (default: AWS_PROFILE, else the default profile)")
    parser.add_argument("--runtime", default="python3.12", help="Lambda runtime; the pandas layer must exist for it")
    parser.add_argument(
        "--architecture", default="x86_64", choices=("x86_64", "arm64"), help="Lambda and layer architecture"
    )
    parser.add_argument("--transform-memory", type=int, default=1024, help="transform function memory, MB")
    parser.add_argument("--transform-timeout", type=int, default=300, help="transform function timeout, seconds")
    parser.add_argument("--trigger-memory", type=int, default=256, help="crawler-trigger function memory, MB")
    parser.add_argument(
        "--trigger-timeout", type=int, default=TRIGGER_TIMEOUT_S, help="crawler-trigger function timeout, seconds"
    )
    parser.add_argument(
        "--catalog",
        choices=config.CATALOG_MODES,
        help="how new Parquet files reach the Glue catalog: 'partitions' registers new partitions of unchanged tables "
        "(BatchCreatePartition) and crawls only new tables and schema changes; 'crawler' crawls for every change "
        f"(default: the deployed stack's mode, else {config.DEFAULT_CATALOG_MODE})",
    )
    parser.add_argument(
        "--pandas-layer-arn",
        help="use this layer ARN instead of looking up the AWS SDK for pandas layer in SSM Parameter Store",
    )
    parser.add_argument(
        "--pandas-layer-version",
        default=DEFAULT_PANDAS_LAYER_VERSION,
        help="AWS SDK for pandas version whose managed layer is looked up "
        "(/aws/service/aws-sdk-pandas/<version>/py<X.Y>/<arch>/layer-arn)",
    )
    parser.add_argument(
        "--athena-cutoff-mb",
        type=int,
        default=1024,
        help="Athena cost guard: a query scanning more than this many MB is cancelled (minimum 10)",
    )
    parser.add_argument(
        "--log-retention-days", type=int, default=7, choices=LOG_RETENTION_DAYS, help="Lambda log retention"
    )
    parser.add_argument(
        "--transform-tmp",
        type=int,
        default=TRANSFORM_EPHEMERAL_STORAGE_MB,
        metavar="MB",
        help="the transform's /tmp (EphemeralStorage, 512-10240 MB): spills and Parquet output of one file",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan and what exists; change nothing")
    parser.add_argument(
        "--no-next-steps",
        action="store_true",
        help="leave out the closing 'Next:' lines (make demo and make lab print their own)",
    )
    return parser.parse_args(argv)


def options_from(args: argparse.Namespace) -> ProvisionOptions:
    return ProvisionOptions(
        stack=args.stack,
        runtime=args.runtime,
        architecture=args.architecture,
        transform_memory_mb=args.transform_memory,
        transform_timeout_s=args.transform_timeout,
        transform_ephemeral_storage_mb=args.transform_tmp,
        trigger_memory_mb=args.trigger_memory,
        trigger_timeout_s=args.trigger_timeout,
        pandas_layer_arn=args.pandas_layer_arn,
        pandas_layer_version=args.pandas_layer_version,
        athena_cutoff_mb=args.athena_cutoff_mb,
        log_retention_days=args.log_retention_days,
        catalog_mode=args.catalog,
    )


def print_plan(provisioner: Provisioner, out: Callable[[str], None]) -> None:
    options = provisioner.options
    out("Dry run: nothing will be created or changed. Provision would, in order:")
    for number, (title, _) in enumerate(provisioner.steps(), 1):
        out(f"  {number:2}. {title}")
    out(
        f"Settings: {options.runtime} {options.architecture}; transform {options.transform_memory_mb} MB / "
        f"{options.transform_timeout_s} s / /tmp {options.transform_ephemeral_storage_mb} MB; "
        f"crawler trigger {options.trigger_memory_mb} MB / "
        f"{options.trigger_timeout_s} s, catalog mode {options.catalog_mode}; "
        f"logs kept {options.log_retention_days} days; "
        f"Athena cutoff {options.athena_cutoff_mb} MB per query."
    )
    out("Resources now:")
    for resource, exists in provisioner.plan():
        out(f"  {resource}: {'exists (would be checked and updated in place)' if exists else 'would be created'}")


def print_summary(outputs: dict, narrator: Narrator, out: Callable[[str], None]) -> None:
    changed = [
        resource for resource, outcome in narrator.outcomes if outcome == CREATED or outcome.startswith("updated")
    ]
    out(f"\nStack {outputs['stack']} ready in {narrator.elapsed():.1f} s ({len(changed)} changes).")
    out(f"  bucket      s3://{outputs['bucket']}/  (upload JSON under raw/<dataset>/)")
    out(f"  functions   {outputs['functions']['transform']['name']}, {outputs['functions']['crawler_trigger']['name']}")
    out(f"  catalog     database {outputs['glue_database']}, crawler {outputs['crawler']}")
    out(f"  athena      workgroup {outputs['workgroup']}, results {outputs['athena_results']}")
    out(f"  dead letter {outputs['dlq']['url']}")
    catalog = outputs["catalog"]
    out(
        f"  catalog     mode {catalog['mode']}, queue {catalog['queue']['url']} -> "
        f"{outputs['functions']['crawler_trigger']['name']}"
    )


def _describe(narrator: Narrator) -> str | None:
    return f"step {narrator.number}/{narrator.total} ({narrator.current})" if narrator.current else None


def main(argv: list[str] | None = None, out: Callable[[str], None] = print) -> int:
    """Exit code 0 when the stack is ready, 1 when a step failed, 2 when the environment stopped it."""
    args = parse_args(argv)
    return script_boundary(lambda: provision(args, out), script="provision.py", out=out)


def provision(args: argparse.Namespace, out: Callable[[str], None]) -> int:
    # "ready in" counts the AWS session and the identity check too (~0.8 s of the run on localaws)
    started = time.monotonic()
    try:
        validate_stack_name(args.stack)
        session, region, region_source = open_session(args.profile, args.region)
        check_credentials(session)
    except (StackNameError, CredentialsMissing) as error:
        out(str(error))
        return 2
    target = endpoint() or "AWS"
    out(f"Stack {args.stack} in {region} (region from {region_source}) on {target}.")
    clients = Clients(session)
    narrator = Narrator(total=0, out=out, started=started)
    step = "checking who you are (sts:GetCallerIdentity)"
    try:
        account = clients.account()
        stack = Stack(args.stack, account, region)
        if args.catalog is None:
            step = f"reading the deployed catalog mode (lambda:GetFunction {stack.crawler_trigger_function})"
            kept = deployed_catalog_mode(get_function(clients.lambda_, stack.crawler_trigger_function))
            args.catalog = kept or config.DEFAULT_CATALOG_MODE
            if kept:
                out(f"Catalog mode {kept}, as deployed (pass --catalog to change it).")
        provisioner = Provisioner(clients, stack, options_from(args), narrator)
        narrator.total = len(provisioner.steps())
        if args.dry_run:
            print_plan(provisioner, out)
            return 0
        out(f"Account {account}. Building {narrator.total} steps; each is safe to re-run.")
        provisioner.check_ownership()
        provisioner.run()
    except ClientError as error:
        step = _describe(narrator) or step
        out(explain(error, step, clients.call_log.last, script="provision.py"))
        return 1
    except NotOwned as error:
        out(str(error))
        return 2
    except (LayerNotFound, WaitError, WaiterError) as error:
        step = _describe(narrator) or step
        out(f"Failed at {step}: {error}\nFix the cause and re-run `.venv/bin/python provision.py`; it resumes there.")
        return 1
    print_summary(provisioner.outputs, narrator, out)
    if not args.no_next_steps:
        out(next_steps(provisioner.outputs, endpoint()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
