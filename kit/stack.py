"""Every name, ARN and tag of one stack, derived from its stack name; and the outputs file the notebooks read.

One stack name (`--stack`, default "etl") gives every resource its name, so several stacks live side by side in one
account (a classroom: `--stack alice`, `--stack bob`) and teardown can find a stack again by name and tag alone.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from botocore.session import Session as BotocoreSession

from pipeline import config

DEFAULT_STACK = "etl"
DEFAULT_REGION = "us-east-1"  # used when neither AWS_REGION, AWS_DEFAULT_REGION nor the profile names one
KIT_TAG = "serverless-etl-kit"  # tag key "project" carries this on every resource of every stack
PROJECT_TAG_KEY = "project"
STACK_TAG_KEY = "etl-kit-stack"
ROOT = Path(__file__).resolve().parent.parent
STACKS_DIR_ENV = "KIT_STACKS_DIR"  # overrides where outputs files live (default: <repo>/.stacks)

# Lowercase so it is valid in S3 bucket names; short so "<stack>-<account>-<region>" stays within S3's 63 characters.
_STACK_NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")


class StackNameError(ValueError):
    """The stack name cannot form valid names for every resource."""


# Names whose resources AWS already owns in every account, or that S3 reserves in bucket names:
RESERVED_STACK_NAMES = {
    # Athena's built-in workgroup: it cannot be deleted, and a stack would overwrite its configuration
    # (https://docs.aws.amazon.com/athena/latest/ug/workgroups-create-update-delete.html).
    "primary": "Athena's built-in workgroup 'primary'",
    # the Data Catalog's database 'default' (Athena and Glue use and create it; teardown would empty it)
    # (https://docs.aws.amazon.com/athena/latest/ug/understanding-tables-databases-and-the-data-catalog.html).
    "default": "the Glue Data Catalog's 'default' database",
}
# "Bucket names must not start with the prefix xn--, sthree-, amzn-s3-demo-" (the bucket is "<stack>-<account>-...")
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")


def validate_stack_name(name: str) -> str:
    if not _STACK_NAME.match(name) or name.endswith("-") or "--" in name:
        raise StackNameError(
            f"stack name {name!r} must be 1-20 characters of lowercase letters, digits and single hyphens, "
            "starting with a letter (it becomes part of an S3 bucket name)"
        )
    if name in RESERVED_STACK_NAMES:
        raise StackNameError(f"stack name {name!r} is reserved: it names {RESERVED_STACK_NAMES[name]}")
    if any(f"{name}-".startswith(prefix) for prefix in RESERVED_BUCKET_PREFIXES):
        raise StackNameError(f"stack name {name!r} would start the bucket name with a prefix S3 reserves")
    return name


@cache
def partition_for(region: str) -> str:
    """ "aws", "aws-cn", "aws-us-gov"...: loading botocore's endpoint data is slow, so once per region."""
    return BotocoreSession().get_partition_for_region(region)


@dataclass(frozen=True)
class Stack:
    """The names of one stack in one account and region."""

    name: str
    account: str
    region: str

    def __post_init__(self) -> None:
        validate_stack_name(self.name)

    # --- shared -------------------------------------------------------------------------------------------------
    @property
    def partition(self) -> str:
        return partition_for(self.region)

    @property
    def tags(self) -> dict[str, str]:
        return {PROJECT_TAG_KEY: KIT_TAG, STACK_TAG_KEY: self.name}

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:"
            f"{self.account if account else ''}:{resource}"
        )

    # --- S3 -----------------------------------------------------------------------------------------------------
    @property
    def bucket(self) -> str:
        return f"{self.name}-{self.account}-{self.region}"

    @property
    def bucket_arn(self) -> str:
        return f"arn:{self.partition}:s3:::{self.bucket}"

    def prefix_arn(self, prefix: str) -> str:
        return f"{self.bucket_arn}/{prefix}*"

    # --- Lambda, IAM, logs, SQS ----------------------------------------------------------------------------------
    @property
    def transform_function(self) -> str:
        return f"{self.name}-transform"

    @property
    def crawler_trigger_function(self) -> str:
        return f"{self.name}-crawler-trigger"

    @property
    def functions(self) -> tuple[str, str]:
        return (self.transform_function, self.crawler_trigger_function)

    def function_arn(self, function: str) -> str:
        return self.arn("lambda", f"function:{function}")

    def role_name(self, purpose: str) -> str:
        """purpose: 'transform', 'crawler-trigger' or 'crawler'."""
        return f"{self.name}-{purpose}-role"

    def role_arn(self, purpose: str) -> str:
        return self.arn("iam", f"role/{self.role_name(purpose)}", region=False)

    def policy_name(self, purpose: str) -> str:
        return f"{self.name}-{purpose}-policy"

    @property
    def role_purposes(self) -> tuple[str, str, str]:
        return ("transform", "crawler-trigger", "crawler")

    @staticmethod
    def log_group(function: str) -> str:
        return f"/aws/lambda/{function}"

    def log_group_arn(self, function: str) -> str:
        return self.arn("logs", f"log-group:{self.log_group(function)}")

    @property
    def dlq(self) -> str:
        return f"{self.name}-dlq"

    @property
    def dlq_arn(self) -> str:
        return self.arn("sqs", self.dlq)

    @property
    def catalog_queue(self) -> str:
        """S3 sends processed/*.parquet events here; the crawler trigger consumes them in batches."""
        return f"{self.name}-catalog"

    @property
    def catalog_queue_arn(self) -> str:
        return self.arn("sqs", self.catalog_queue)

    @property
    def catalog_dlq(self) -> str:
        """Where a catalog message goes after too many receives (the catalog queue's redrive policy)."""
        return f"{self.name}-catalog-dlq"

    @property
    def catalog_dlq_arn(self) -> str:
        return self.arn("sqs", self.catalog_dlq)

    @property
    def queues(self) -> tuple[str, str, str]:
        return (self.dlq, self.catalog_queue, self.catalog_dlq)

    # --- Glue, Athena -------------------------------------------------------------------------------------------
    @property
    def glue_database(self) -> str:
        return self.name.replace("-", "_")  # Glue/Athena names allow lowercase letters, digits and underscores

    @property
    def glue_database_arn(self) -> str:
        return self.arn("glue", f"database/{self.glue_database}")

    @property
    def crawler(self) -> str:
        return f"{self.name}-processed-crawler"

    @property
    def crawler_arn(self) -> str:
        return self.arn("glue", f"crawler/{self.crawler}")

    @property
    def crawler_target(self) -> str:
        return f"s3://{self.bucket}/{config.PROCESSED_PREFIX}"

    @property
    def workgroup(self) -> str:
        return self.name

    @property
    def workgroup_arn(self) -> str:
        return self.arn("athena", f"workgroup/{self.workgroup}")

    @property
    def athena_results(self) -> str:
        return f"s3://{self.bucket}/{config.ATHENA_RESULTS_PREFIX}"

    def lambda_settings(self) -> config.Settings:
        return config.Settings(bucket=self.bucket, glue_database=self.glue_database, crawler_name=self.crawler)


# --- the outputs file ---------------------------------------------------------------------------------------------
def stacks_dir() -> Path:
    return Path(os.environ.get(STACKS_DIR_ENV) or ROOT / ".stacks")


def shown_path(path: Path) -> str:
    """`path` as the user can type it from the repository, where the make targets run: relative inside it, else
    whole (a KIT_STACKS_DIR elsewhere)."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def outputs_path(stack: str) -> Path:
    return stacks_dir() / f"{validate_stack_name(stack)}.json"


def build_outputs(
    stack: Stack, *, endpoint: str | None, dlq_url: str, layer_arn: str, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What the notebooks, the demo and teardown need to know about a provisioned stack."""
    return {
        "stack": stack.name,
        "region": stack.region,
        "account": stack.account,
        "endpoint": endpoint,
        "bucket": stack.bucket,
        "prefixes": {
            "raw": config.RAW_PREFIX,
            "processed": config.PROCESSED_PREFIX,
            "quarantine": config.QUARANTINE_PREFIX,
            "schemas": config.SCHEMAS_PREFIX,
            "athena_results": config.ATHENA_RESULTS_PREFIX,
        },
        "functions": {
            "transform": {"name": stack.transform_function, "arn": stack.function_arn(stack.transform_function)},
            "crawler_trigger": {
                "name": stack.crawler_trigger_function,
                "arn": stack.function_arn(stack.crawler_trigger_function),
            },
        },
        "roles": {
            purpose.replace("-", "_"): {"name": stack.role_name(purpose), "arn": stack.role_arn(purpose)}
            for purpose in stack.role_purposes
        },
        "log_groups": {
            "transform": stack.log_group(stack.transform_function),
            "crawler_trigger": stack.log_group(stack.crawler_trigger_function),
        },
        "dlq": {"name": stack.dlq, "url": dlq_url, "arn": stack.dlq_arn},
        "pandas_layer_arn": layer_arn,
        "glue_database": stack.glue_database,
        "crawler": stack.crawler,
        "workgroup": stack.workgroup,
        "athena_results": stack.athena_results,
        "tags": stack.tags,
        **(extra or {}),
    }


def save_outputs(outputs: dict[str, Any]) -> Path:
    path = outputs_path(outputs["stack"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(outputs, indent=2, sort_keys=True) + "\n")
    return path


def load_outputs(stack: str = DEFAULT_STACK) -> dict[str, Any]:
    """The outputs provision.py wrote for `stack`; FileNotFoundError names the command that creates them."""
    path = outputs_path(stack)
    if not path.is_file():
        raise FileNotFoundError(f"no outputs for stack {stack!r} at {path}: run `python provision.py --stack {stack}`")
    return json.loads(path.read_text())


def remove_outputs(stack: str) -> bool:
    path = outputs_path(stack)
    if path.is_file():
        path.unlink()
        return True
    return False
