"""Which world the notebooks talk to (localaws or an AWS account), the stack's resources, and the kit's scripts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
from botocore.exceptions import ClientError

from kit import stack as stack_names
from kit.local_endpoint import console_url, is_localaws
from kit.waiting import wait_until

STACK_ENV = "ETL_STACK"
CRAWLER_LOG_GROUP = "/aws-glue/crawlers"  # https://docs.aws.amazon.com/glue/latest/dg/console-crawlers.html
# The services whose resources a stack tags (IAM roles are checked one by one in probe_resources).
TAGGED_SERVICES = ("s3", "lambda", "logs", "sqs", "glue", "athena")


def stack_name() -> str:
    """The stack the notebooks work on: $ETL_STACK, or the kit's default."""
    return os.environ.get(STACK_ENV) or stack_names.DEFAULT_STACK


def repo_root() -> Path:
    """The repository's root, wherever the notebook runs from."""
    return stack_names.ROOT


def sample_dir() -> Path:
    return repo_root() / "sample_data"


def expected_counts() -> dict[str, Any]:
    """Rows per table and the files expected in quarantine, as sample_data/README.md documents them."""
    return json.loads((sample_dir() / "expected_counts.json").read_text())


@dataclass(frozen=True)
class World:
    """Where the notebooks' boto3 and pyathena calls go, and the stack they work on."""

    stack: str
    region: str
    account: str
    endpoint: str | None  # the localaws endpoint; None on AWS
    outputs: dict[str, Any] = field(repr=False)

    @property
    def is_local(self) -> bool:
        return self.endpoint is not None

    @property
    def bucket(self) -> str:
        return self.outputs["bucket"]

    @property
    def database(self) -> str:
        return self.outputs["glue_database"]

    def client(self, service: str):
        return boto3.client(service, region_name=self.region)

    def summary(self) -> str:
        where = (
            f"localaws at {self.endpoint} (no AWS account is used; nothing costs money)\n"
            f"Watch the pipeline live in the localaws console: {console_url(self.endpoint, self.stack)}"
            if self.is_local
            else f"AWS account {self.account} in {self.region} (real resources: they cost money until teardown)"
        )
        return f"Connected to {where}\nStack '{self.stack}': bucket s3://{self.bucket}, Glue database {self.database}"

    def resources(self) -> pd.DataFrame:
        """The stack's outputs (names, ARNs, locations) as one row each."""
        rows = [
            {"output": key, "value": value}
            for key, value in _flatten_outputs(self.outputs)
            if key not in ("stack", "region", "account", "endpoint") and not key.startswith(("tags.", "prefixes."))
        ]
        return pd.DataFrame(rows)


def _flatten_outputs(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [pair for key, inner in value.items() for pair in _flatten_outputs(inner, f"{prefix}{key}.")]
    return [(prefix.rstrip("."), value)]


def readable_tables() -> None:
    """pandas display settings for the notebooks: every column shown and no value cut short ('…'); the views in
    kit.tutorial keep their tables narrow enough for a 1,280 px page instead."""
    pd.set_option("display.max_columns", None)
    pd.set_option("display.max_colwidth", None)


def describe_world(stack: str | None = None) -> World:
    """Which world the environment points at, and the outputs provision.py wrote for the stack.

    It also applies `readable_tables()`, since every notebook starts here.
    """
    readable_tables()
    stack = stack or stack_name()
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if endpoint and not is_localaws(endpoint):
        raise ConnectionError(f"AWS_ENDPOINT_URL={endpoint} does not answer as localaws: is `make lab` still running?")
    outputs = stack_names.load_outputs(stack)
    session = boto3.session.Session()
    region = session.region_name or outputs["region"]
    account = session.client("sts", region_name=region).get_caller_identity()["Account"]
    return World(stack=stack, region=region, account=account, endpoint=endpoint or None, outputs=outputs)


# What each service answers for a resource that does not exist: one word for all of them, "not found".
NOT_FOUND_CODES = {
    "404",
    "NoSuchBucket",
    "NoSuchEntity",
    "ResourceNotFoundException",
    "EntityNotFoundException",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
}


def _probe(call) -> str:
    """'exists' or 'not found'; any other error answers with its AWS error code (a response dict counts as found)."""
    try:
        found = call()
    except ClientError as error:
        code = error.response["Error"]["Code"]
        return "not found" if code in NOT_FOUND_CODES else code
    return "exists" if found else "not found"


def probe_resources(world: World, *, caused: bool = False) -> pd.DataFrame:
    """Ask each service whether each resource of the stack exists: one read-only call per resource.

    caused: also what the stack's running caused rather than provision.py created (the crawler's log stream in
    /aws-glue/crawlers, which exists once a crawl has run), for proving that teardown left nothing.
    """
    out = world.outputs
    s3, lam, glue, athena = (world.client(name) for name in ("s3", "lambda", "glue", "athena"))
    logs, sqs, iam = (world.client(name) for name in ("logs", "sqs", "iam"))
    checks = [
        ("S3 bucket", out["bucket"], lambda: s3.head_bucket(Bucket=out["bucket"])),
        *[
            ("Lambda function", fn["name"], lambda name=fn["name"]: lam.get_function(FunctionName=name))
            for fn in out["functions"].values()
        ],
        *[
            ("CloudWatch log group", group, lambda group=group: _log_group_exists(logs, group))
            for group in out["log_groups"].values()
        ],
        ("SQS dead-letter queue", out["dlq"]["name"], lambda: sqs.get_queue_url(QueueName=out["dlq"]["name"])),
        ("Glue database", out["glue_database"], lambda: glue.get_database(Name=out["glue_database"])),
        ("Glue crawler", out["crawler"], lambda: glue.get_crawler(Name=out["crawler"])),
        ("Athena workgroup", out["workgroup"], lambda: _work_group_exists(athena, out["workgroup"])),
        *[
            ("IAM role", role["name"], lambda name=role["name"]: iam.get_role(RoleName=name))
            for role in out["roles"].values()
        ],
    ]
    if caused:
        crawler = out["crawler"]
        checks.append(
            (
                "Crawler log stream",
                f"{CRAWLER_LOG_GROUP}/{crawler}",
                lambda: _log_stream_exists(logs, CRAWLER_LOG_GROUP, crawler),
            )
        )
    return pd.DataFrame([{"resource": kind, "name": name, "state": _probe(call)} for kind, name, call in checks])


def _log_stream_exists(logs, group: str, stream: str) -> bool:
    found = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=stream)["logStreams"]
    return any(item["logStreamName"] == stream for item in found)


def _log_group_exists(logs, group: str) -> bool:
    pages = logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=group)
    return any(item["logGroupName"] == group for page in pages for item in page["logGroups"])


def _work_group_exists(athena, name: str) -> bool:
    request: dict[str, str] = {}
    while True:  # ListWorkGroups has no boto3 paginator
        page = athena.list_work_groups(**request)
        if any(group["Name"] == name for group in page["WorkGroups"]):
            return True
        if not page.get("NextToken"):
            return False
        request["NextToken"] = page["NextToken"]


def tagged_resources(world: World) -> list[str]:
    """ARNs that still carry this stack's tag, as the Resource Groups Tagging API lists them."""
    pages = (
        world.client("resourcegroupstaggingapi")
        .get_paginator("get_resources")
        .paginate(
            TagFilters=[{"Key": stack_names.STACK_TAG_KEY, "Values": [world.stack]}],
            ResourceTypeFilters=list(TAGGED_SERVICES),
        )
    )
    return [item["ResourceARN"] for page in pages for item in page["ResourceTagMappingList"]]


def wait_until_untagged(world: World, timeout: float | None = None) -> list[str]:
    """[] once the tagging index lists nothing of this stack; on AWS that index lags deletions by minutes."""
    wait_until(
        lambda: "none" if not tagged_resources(world) else "still listed",
        what=f"the tagging index for stack {world.stack}",
        success={"none"},
        timeout=timeout or (5.0 if world.is_local else 900.0),
        interval=1.0 if world.is_local else 15.0,
        max_interval=60.0,
    )
    return tagged_resources(world)


def run_script(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run one of the kit's scripts (provision.py, teardown.py) unchanged, in this notebook's environment."""
    return subprocess.run([sys.executable, script, *args], cwd=repo_root(), capture_output=True, text=True, check=False)


def least_privilege_report(world: World) -> str:
    """What each of the stack's roles did, against what its policies allow: on localaws, the text of
    `python -m localaws iam-report --summary` (localaws enforces IAM and records every decision). AWS keeps no such
    record for free, so there the answer names the service that does it: IAM Access Analyzer's policy generation from
    CloudTrail (https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-policy-generation.html)."""
    if not world.is_local:
        return (
            "On AWS, generate a least-privilege policy from CloudTrail with IAM Access Analyzer: "
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-policy-generation.html"
        )
    command = [sys.executable, "-m", "localaws", "iam-report", "--summary", "--endpoint", world.endpoint]
    return subprocess.run(command, cwd=repo_root(), capture_output=True, text=True, check=False).stdout.rstrip()
