"""Build one stack, step by step, each step safe to re-run: it checks each resource, creates what is missing
("created"), updates what differs ("updated in place (...)") and reports "already exists, kept" for the rest.

Steps, in order:
  1. find the AWS SDK for pandas layer for the region, runtime and architecture (SSM public parameter)
  2. package pipeline/ (code only, in memory)
  3. bucket, with Block Public Access, BucketOwnerEnforced, SSE-S3, a TLS-only policy, results lifecycle, tags
  4. dead-letter queue for failed asynchronous events
  5. catalog queue (S3 sends it processed/*.parquet events; its policy lets only this bucket send) and its
     dead-letter queue
  6. log groups /aws/lambda/<function>, with retention
  7. IAM roles with least-privilege inline policies
  8. Glue database
  9. Glue crawler over processed/
 10. transform function, with its asynchronous invocation settings
 11. crawler-trigger function (the catalog updater), reserved concurrency 1
 12. its event source mapping from the catalog queue (batching window, partial batch responses)
 13. S3's permission to invoke the transform
 14. the bucket notification configuration, in one call: raw/ -> transform, processed/*.parquet -> catalog queue
 15. Athena workgroup
 16. the outputs file .stacks/<stack>.json
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kit import catalog_updater, ownership, policies
from kit.aws import athena, glue, iam, lambda_, logs, s3, sqs, ssm
from kit.catalog_updater import (
    CATALOG_BATCH_SIZE,
    CATALOG_BATCH_WINDOW_S,
    CATALOG_MAX_RECEIVE_COUNT,
    FALLBACK_MAXIMUM_CONCURRENCY,
    TRIGGER_RESERVED_CONCURRENCY,
    TRIGGER_TIMEOUT_S,
    VISIBILITY_TIMEOUT_FACTOR,
)
from kit.narrate import UNCHANGED, Narrator
from kit.packaging import Package, build_package
from kit.session import Clients, endpoint
from kit.stack import Stack, build_outputs, save_outputs
from pipeline import config

TRANSFORM_HANDLER = "pipeline.lambda_transform.handler"
CRAWLER_TRIGGER_HANDLER = "pipeline.lambda_crawler_trigger.handler"
NOTIFICATION_ID_SUFFIX = "-etl-"  # rule Ids "<stack>-etl-raw", ...: this kit's rules, replaced as a set


# The transform's /tmp (Lambda's EphemeralStorage, 512-10240 MB; default 512). Blocks spill to uncompressed Arrow IPC
# (the layer's pyarrow has no IPC codec) and the Parquet output is written there before upload: about 0.9x the input
# of spills plus the output, so the README's 1 GB NDJSON file needs over 1 GB. 2 GB leaves headroom; storage above
# 512 MB is billed per GB-second, a fraction of the memory price:
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-ephemeral-storage.html, https://aws.amazon.com/lambda/pricing/
TRANSFORM_EPHEMERAL_STORAGE_MB = 2048
LAMBDA_DEFAULT_EPHEMERAL_STORAGE_MB = 512


class LayerNotFound(RuntimeError):
    """No AWS SDK for pandas layer is published for this region, runtime and architecture."""


@dataclass(frozen=True)
class ProvisionOptions:
    stack: str
    runtime: str = "python3.12"
    architecture: str = "x86_64"
    transform_memory_mb: int = 1024
    transform_timeout_s: int = 300
    transform_ephemeral_storage_mb: int = TRANSFORM_EPHEMERAL_STORAGE_MB
    trigger_memory_mb: int = 256
    trigger_timeout_s: int = TRIGGER_TIMEOUT_S
    pandas_layer_arn: str | None = None
    pandas_layer_version: str = ssm.DEFAULT_PANDAS_LAYER_VERSION
    athena_cutoff_mb: int = 1024
    log_retention_days: int = 7
    async_retries: int = 2
    async_max_event_age_s: int = 3600
    catalog_mode: str = config.DEFAULT_CATALOG_MODE  # "partitions" (fast path) or "crawler" (a crawl per change)
    catalog_batch_size: int = CATALOG_BATCH_SIZE
    catalog_batch_window_s: int = CATALOG_BATCH_WINDOW_S
    catalog_max_receive_count: int = CATALOG_MAX_RECEIVE_COUNT
    source_dir: Path | None = None  # default: the repository's pipeline/


def notification_rule_prefix(stack: Stack) -> str:
    return f"{stack.name}{NOTIFICATION_ID_SUFFIX}"


def notification_rules(stack: Stack) -> list[dict]:
    """Every object created or removed under raw/ -> transform (no suffix filter: the transform decides what it can
    read and quarantines the rest); processed/*.parquet created -> the catalog queue (the crawler trigger's)."""
    prefix = notification_rule_prefix(stack)
    return [
        s3.lambda_notification(
            f"{prefix}raw",
            stack.function_arn(stack.transform_function),
            config.RAW_PREFIX,
            events=config.RAW_EVENTS,
        ),
        s3.queue_notification(
            f"{prefix}processed{config.PARQUET_SUFFIX}",
            stack.catalog_queue_arn,
            config.PROCESSED_PREFIX,
            config.PARQUET_SUFFIX,
        ),
    ]


def permission_statement_id(stack: Stack) -> str:
    return f"{stack.name}-s3-invoke"


@dataclass
class Provisioner:
    clients: Clients
    stack: Stack
    options: ProvisionOptions
    narrator: Narrator
    layer_arn: str = ""
    package: Package | None = None
    dlq: tuple[str, str] = ("", "")
    catalog_queue: tuple[str, str] = ("", "")
    catalog_dlq: tuple[str, str] = ("", "")
    reserved_concurrency: int | None = None
    outputs: dict[str, Any] = field(default_factory=dict)

    # --- the plan ---------------------------------------------------------------------------------------------
    def steps(self):
        stack = self.stack
        return [
            ("Finding the AWS SDK for pandas layer", self.find_layer),
            ("Packaging pipeline/ (code only)", self.package_code),
            (f"Checking/creating the bucket {stack.bucket}", self.create_bucket),
            (f"Checking/creating the dead-letter queue {stack.dlq}", self.create_dlq),
            (
                f"Checking/creating the catalog queue {stack.catalog_queue} and {stack.catalog_dlq}",
                self.create_catalog_queue,
            ),
            (
                f"Checking/creating the log groups ({self.options.log_retention_days}-day retention)",
                self.create_log_groups,
            ),
            ("Checking/creating the IAM roles (least privilege)", self.create_roles),
            (f"Checking/creating the Glue database {stack.glue_database}", self.create_database),
            (f"Checking/creating the Glue crawler {stack.crawler}", self.create_crawler),
            (
                f"Checking/creating the function {stack.transform_function} (a new one waits until Active, 1-10 s)",
                self.create_transform,
            ),
            (
                f"Checking/creating the function {stack.crawler_trigger_function} (a new one waits until Active)",
                self.create_crawler_trigger,
            ),
            (f"Mapping {stack.catalog_queue} to {stack.crawler_trigger_function}", self.map_catalog_queue),
            (f"Allowing S3 to invoke {stack.transform_function}", self.allow_s3_invoke),
            (f"Writing the notification configuration of {stack.bucket}", self.configure_notifications),
            (f"Checking/creating the Athena workgroup {stack.workgroup}", self.create_workgroup),
            ("Writing the outputs file", self.write_outputs),
        ]

    def check_ownership(self) -> None:
        """NotOwned if any resource with this stack's names is not tagged as this stack's (kit/ownership.py)."""
        ownership.check_owned(self.clients, self.stack)

    def run(self) -> dict[str, Any]:
        for title, action in self.steps():
            with self.narrator.step(title):
                action()
        return self.outputs

    # --- the steps --------------------------------------------------------------------------------------------
    def find_layer(self) -> None:
        options = self.options
        if options.pandas_layer_arn:
            self.layer_arn = options.pandas_layer_arn
            self.narrator.result("layer (from --pandas-layer-arn)", self.layer_arn)
            return
        name = ssm.pandas_layer_parameter(options.pandas_layer_version, options.runtime, options.architecture)
        arn = ssm.get_parameter_value(self.clients.ssm, name)
        if arn is None:
            raise LayerNotFound(
                f"No AWS SDK for pandas layer found in {self.stack.region} for {options.runtime} "
                f"{options.architecture}: SSM parameter {name} does not exist.\n"
                "Try another --pandas-layer-version, --architecture or --region, or pass --pandas-layer-arn "
                "(see https://aws-sdk-pandas.readthedocs.io/en/stable/layers.html)."
            )
        self.layer_arn = arn
        self.narrator.result(name, arn)

    def package_code(self) -> None:
        self.package = build_package(self.options.source_dir)
        self.narrator.result(
            f"{len(self.package.files)} files of pipeline/",
            f"{self.package.size / 1024:.1f} KiB zip, CodeSha256 {self.package.code_sha256}",
        )

    def create_bucket(self) -> None:
        stack = self.stack
        _, outcome = s3.ensure_bucket(
            self.clients.s3,
            stack.bucket,
            stack.region,
            tags=stack.tags,
            policy=policies.deny_insecure_transport(stack),
            lifecycle=s3.lifecycle_rules(config.ATHENA_RESULTS_PREFIX, 7),
        )
        self.narrator.result(f"s3://{stack.bucket}", outcome)

    def create_dlq(self) -> None:
        self.dlq, outcome = sqs.ensure_queue(self.clients.sqs, self.stack.dlq, tags=self.stack.tags)
        self.narrator.result(self.stack.dlq, outcome)

    def create_catalog_queue(self) -> None:
        stack, options = self.stack, self.options
        self.catalog_dlq, outcome = sqs.ensure_queue(self.clients.sqs, stack.catalog_dlq, tags=stack.tags)
        self.narrator.result(stack.catalog_dlq, outcome)
        attributes = sqs.catalog_queue_attributes(
            visibility_timeout_s=VISIBILITY_TIMEOUT_FACTOR * options.trigger_timeout_s,
            dlq_arn=self.catalog_dlq[1] or stack.catalog_dlq_arn,
            max_receive_count=options.catalog_max_receive_count,
            policy=policies.catalog_queue_policy(stack),
        )
        self.catalog_queue, outcome = sqs.ensure_queue(
            self.clients.sqs, stack.catalog_queue, tags=stack.tags, attributes=attributes
        )
        self.narrator.result(
            f"{stack.catalog_queue} (visibility {attributes['VisibilityTimeout']} s, to {stack.catalog_dlq} after "
            f"{options.catalog_max_receive_count} receives; only s3://{stack.bucket} may send)",
            outcome,
        )

    def create_log_groups(self) -> None:
        for function in self.stack.functions:
            name = self.stack.log_group(function)
            _, outcome = logs.ensure_log_group(
                self.clients.logs, name, retention_days=self.options.log_retention_days, tags=self.stack.tags
            )
            self.narrator.result(name, outcome)

    def create_roles(self) -> None:
        stack = self.stack
        for purpose, (trust, permissions) in policies.role_documents(stack, self.options.catalog_mode).items():
            role = stack.role_name(purpose)
            _, outcome = iam.ensure_role(
                self.clients.iam,
                role,
                trust,
                tags=stack.tags,
                description=f"serverless-etl-kit stack {stack.name}: {purpose}",
            )
            self.narrator.result(role, outcome)
            _, outcome = iam.ensure_role_policy(self.clients.iam, role, stack.policy_name(purpose), permissions)
            self.narrator.result(f"{role} inline policy {stack.policy_name(purpose)}", outcome)

    def create_database(self) -> None:
        stack = self.stack
        _, outcome = glue.ensure_database(
            self.clients.glue,
            stack.glue_database,
            arn=stack.glue_database_arn,
            description=f"serverless-etl-kit stack {stack.name}: one table per dataset under processed/",
            tags=stack.tags,
        )
        self.narrator.result(stack.glue_database, outcome)

    def create_crawler(self) -> None:
        stack = self.stack
        spec = glue.CrawlerSpec(
            name=stack.crawler,
            role_arn=stack.role_arn("crawler"),
            database=stack.glue_database,
            target=stack.crawler_target,
            description=f"serverless-etl-kit stack {stack.name}: catalogs {stack.crawler_target}",
            tags=stack.tags,
        )
        _, outcome = glue.ensure_crawler(self.clients.glue, spec, arn=stack.crawler_arn)
        self.narrator.result(f"{stack.crawler} -> {stack.crawler_target}", outcome)
        if outcome != UNCHANGED:
            self.narrator.say(
                f"      table level {glue.TABLE_LEVEL} (one table per dataset folder, dt partitions); schema changes: "
                "update the table in the catalog, deletions only logged"
            )

    def _create_function(
        self,
        name: str,
        handler: str,
        purpose: str,
        memory: int,
        timeout: int,
        layers: tuple[str, ...],
        ephemeral_storage_mb: int = LAMBDA_DEFAULT_EPHEMERAL_STORAGE_MB,
        environment: dict[str, str] | None = None,
        asynchronous: bool = True,
    ) -> None:
        stack = self.stack
        spec = lambda_.FunctionSpec(
            name=name,
            role_arn=stack.role_arn(purpose),
            handler=handler,
            runtime=self.options.runtime,
            architecture=self.options.architecture,
            memory_mb=memory,
            timeout_s=timeout,
            environment=environment or stack.lambda_settings().as_env(),
            layers=layers,
            description=f"serverless-etl-kit stack {stack.name}: {purpose}",
            tags=stack.tags,
            ephemeral_storage_mb=ephemeral_storage_mb,
        )
        _, outcome = lambda_.ensure_function(
            self.clients.lambda_, spec, self.package.zip_bytes, self.package.code_sha256
        )
        self.narrator.result(f"{name} ({memory} MB, {timeout} s, /tmp {ephemeral_storage_mb} MB)", outcome)
        if not asynchronous:  # invoked by its event source mapping only: no async settings (an older stack's go)
            deleted = lambda_.delete_function_event_invoke_config_if_exists(self.clients.lambda_, name)
            if deleted:
                self.narrator.result(f"{name} async invocation config (no longer invoked asynchronously)", "deleted")
            return
        _, outcome = lambda_.ensure_function_event_invoke_config(
            self.clients.lambda_,
            name,
            retries=self.options.async_retries,
            max_event_age_s=self.options.async_max_event_age_s,
            on_failure_arn=self.dlq[1] or stack.dlq_arn,
        )
        self.narrator.result(f"{name} async invocation (retries, max age, on failure -> {stack.dlq})", outcome)

    def create_transform(self) -> None:
        options = self.options
        self._create_function(
            self.stack.transform_function,
            TRANSFORM_HANDLER,
            "transform",
            options.transform_memory_mb,
            options.transform_timeout_s,
            layers=(self.layer_arn,),
            ephemeral_storage_mb=options.transform_ephemeral_storage_mb,
        )

    def trigger_settings(self) -> config.Settings:
        return replace(
            self.stack.lambda_settings(),
            catalog_mode=self.options.catalog_mode,
            catalog_queue_url=self.catalog_queue[0],
        )

    def create_crawler_trigger(self) -> None:
        options, name = self.options, self.stack.crawler_trigger_function
        self._create_function(
            name,
            CRAWLER_TRIGGER_HANDLER,
            "crawler-trigger",
            options.trigger_memory_mb,
            options.trigger_timeout_s,
            layers=(),  # it only calls Glue, S3 and SQS through boto3, which the runtime provides
            environment=self.trigger_settings().as_env(),
            asynchronous=False,
        )
        self.reserved_concurrency, outcome = lambda_.ensure_function_concurrency(
            self.clients.lambda_, name, TRIGGER_RESERVED_CONCURRENCY
        )
        fallback = (
            "" if self.reserved_concurrency else f"; the queue mapping allows {FALLBACK_MAXIMUM_CONCURRENCY} instead"
        )
        self.narrator.result(f"{name} reserved concurrency {TRIGGER_RESERVED_CONCURRENCY}", outcome + fallback)

    def mapping_settings(self) -> dict[str, Any]:
        options = self.options
        return catalog_updater.mapping_settings(
            options.catalog_batch_size, options.catalog_batch_window_s, reserved=self.reserved_concurrency
        )

    def map_catalog_queue(self) -> None:
        stack, settings = self.stack, self.mapping_settings()
        _, outcome = lambda_.ensure_event_source_mapping(
            self.clients.lambda_,
            stack.crawler_trigger_function,
            self.catalog_queue[1] or stack.catalog_queue_arn,
            settings=settings,
            tags=stack.tags,
        )
        bound = (
            f"at most {FALLBACK_MAXIMUM_CONCURRENCY} batches at once (no reserved concurrency)"
            if settings["ScalingConfig"]
            else f"no maximum concurrency: reserved concurrency {TRIGGER_RESERVED_CONCURRENCY} bounds it"
        )
        self.narrator.result(
            f"{stack.catalog_queue} -> {stack.crawler_trigger_function} (batches of up to {settings['BatchSize']}, "
            f"window {settings['MaximumBatchingWindowInSeconds']} s, partial batch responses; {bound})",
            outcome,
        )

    def allow_s3_invoke(self) -> None:
        stack = self.stack
        _, outcome = lambda_.ensure_s3_invoke_permission(
            self.clients.lambda_,
            stack.transform_function,
            statement_id=permission_statement_id(stack),
            bucket_arn=stack.bucket_arn,
            account=stack.account,
        )
        self.narrator.result(f"s3.amazonaws.com may invoke {stack.transform_function}", outcome)
        # an older stack let S3 invoke the crawler trigger directly; its events now go through the catalog queue
        if lambda_.remove_permission_if_exists(
            self.clients.lambda_, stack.crawler_trigger_function, permission_statement_id(stack)
        ):
            self.narrator.result(f"s3.amazonaws.com may invoke {stack.crawler_trigger_function}", "deleted")

    def configure_notifications(self) -> None:
        stack = self.stack
        rules = notification_rules(stack)
        _, outcome = s3.ensure_bucket_notification_configuration(
            self.clients.s3, stack.bucket, rules, owned_prefix=notification_rule_prefix(stack)
        )
        self.narrator.result(
            f"raw/* (every object, on upload and on delete) -> {stack.transform_function}; "
            f"processed/*{config.PARQUET_SUFFIX} -> {stack.catalog_queue}",
            outcome,
        )

    def create_workgroup(self) -> None:
        stack = self.stack
        cutoff = max(self.options.athena_cutoff_mb * 1024 * 1024, athena.MIN_CUTOFF_BYTES)
        _, outcome = athena.ensure_work_group(
            self.clients.athena,
            stack.workgroup,
            arn=stack.workgroup_arn,
            configuration=athena.workgroup_configuration(stack.athena_results, cutoff),
            description=f"serverless-etl-kit stack {stack.name}",
            tags=stack.tags,
        )
        self.narrator.result(
            f"{stack.workgroup} (engine v3, results {stack.athena_results}, cutoff {cutoff // 2**20} MB/query)",
            outcome,
        )

    def write_outputs(self) -> None:
        stack = self.stack
        catalog = {
            "mode": self.options.catalog_mode,
            "queue": {"name": stack.catalog_queue, "url": self.catalog_queue[0], "arn": stack.catalog_queue_arn},
            "dlq": {"name": stack.catalog_dlq, "url": self.catalog_dlq[0], "arn": stack.catalog_dlq_arn},
            "reserved_concurrency": self.reserved_concurrency,
        }
        self.outputs = build_outputs(
            stack, endpoint=endpoint(), dlq_url=self.dlq[0], layer_arn=self.layer_arn, extra={"catalog": catalog}
        )
        path = save_outputs(self.outputs)
        self.narrator.result(str(path), "written")

    # --- dry run ----------------------------------------------------------------------------------------------
    def plan(self) -> list[tuple[str, bool]]:
        """What provision would build, and whether each resource exists now; read-only calls only."""
        c, stack = self.clients, self.stack
        rows = [
            (f"bucket s3://{stack.bucket}", s3.head_bucket(c.s3, stack.bucket)),
        ]
        rows += [(f"queue {queue}", sqs.get_queue_url(c.sqs, queue) is not None) for queue in stack.queues]
        rows += [
            (f"log group {stack.log_group(f)}", logs.get_log_group(c.logs, stack.log_group(f)) is not None)
            for f in stack.functions
        ]
        rows += [
            (f"role {stack.role_name(p)}", iam.get_role(c.iam, stack.role_name(p)) is not None)
            for p in stack.role_purposes
        ]
        rows += [
            (f"Glue database {stack.glue_database}", glue.get_database(c.glue, stack.glue_database) is not None),
            (f"Glue crawler {stack.crawler}", glue.get_crawler(c.glue, stack.crawler) is not None),
        ]
        rows += [(f"function {f}", lambda_.get_function(c.lambda_, f) is not None) for f in stack.functions]
        rows += [(f"Athena workgroup {stack.workgroup}", athena.get_work_group(c.athena, stack.workgroup) is not None)]
        return rows
