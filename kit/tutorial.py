"""What the tutorial notebooks share, so that they narrate and import instead of defining code.

1. `describe_world` says which world a notebook is connected to (a localaws endpoint, or an AWS account and region)
   and holds the stack's outputs; `probe_resources` checks that each resource of the stack exists.
2. `wait_for_pipeline` waits on state until every upload has its output and the Glue catalog has caught up: on
   localaws through its idle endpoint, on AWS by polling S3 and the crawler with `kit.waiting.wait_until`.
3. Readable views of each stage as DataFrames: S3 listings and sizes, the Lambdas' log lines and REPORT costs, the
   Glue catalog, query costs, and the quarantine report.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from botocore.exceptions import ClientError

from kit import stack as stack_names
from kit.local_endpoint import is_localaws, wait_idle
from kit.queries import QueryRun
from kit.waiting import WaitError, wait_until
from pipeline import naming
from pipeline.config import PARQUET_SUFFIX, PROCESSED_PREFIX, QUARANTINE_PREFIX, RAW_PREFIX
from pipeline.flatten import flatten_records
from pipeline.transform import output_name

STACK_ENV = "ETL_STACK"
ERROR_SUFFIX = ".error.json"
# The services whose resources a stack tags (IAM roles are checked one by one in probe_resources).
TAGGED_SERVICES = ("s3", "lambda", "logs", "sqs", "glue", "athena")
# https://aws.amazon.com/lambda/pricing/ (us-east-1, x86): per GB-second of billed duration, plus per request.
LAMBDA_USD_PER_GB_SECOND = 0.0000166667
LAMBDA_USD_PER_REQUEST = 0.20 / 1_000_000
_OUTPUT_TIME = re.compile(r"_(\d{8}T\d{6}Z)_[0-9a-f]+\.parquet$")
_START = re.compile(r"START RequestId: (\S+)")
_REPORT_FIELD = re.compile(r"(?P<name>[A-Za-z ]+): (?P<value>[\d.]+)")


# --- which world ------------------------------------------------------------------------------------------------
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
            f"localaws at {self.endpoint} (no AWS account is used; nothing costs money)"
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


def describe_world(stack: str | None = None) -> World:
    """Which world the environment points at, and the outputs provision.py wrote for the stack."""
    stack = stack or stack_name()
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if endpoint and not is_localaws(endpoint):
        raise ConnectionError(f"AWS_ENDPOINT_URL={endpoint} does not answer as localaws: is `make lab` still running?")
    outputs = stack_names.load_outputs(stack)
    session = boto3.session.Session()
    region = session.region_name or outputs["region"]
    account = session.client("sts", region_name=region).get_caller_identity()["Account"]
    return World(stack=stack, region=region, account=account, endpoint=endpoint or None, outputs=outputs)


def _probe(call) -> str:
    """'exists', 'not found', or the AWS error code that says why not (a response dict counts as found)."""
    try:
        found = call()
    except ClientError as error:
        return error.response["Error"]["Code"]
    return "exists" if found else "not found"


def probe_resources(world: World) -> pd.DataFrame:
    """Ask each service whether each resource of the stack exists: one read-only call per resource."""
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
    return pd.DataFrame([{"resource": kind, "name": name, "state": _probe(call)} for kind, name, call in checks])


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


# --- S3 ---------------------------------------------------------------------------------------------------------
def list_objects(world: World, prefix: str) -> pd.DataFrame:
    """Every object under `prefix`, with its dataset (first folder), partition, size and time."""
    pages = world.client("s3").get_paginator("list_objects_v2").paginate(Bucket=world.bucket, Prefix=prefix)
    rows = []
    for page in pages:
        for item in page.get("Contents", []):
            parts = item["Key"][len(prefix) :].split("/")
            rows.append(
                {
                    "key": item["Key"],
                    "dataset": parts[0] if len(parts) > 1 else "",
                    "partition": next((part for part in parts[1:-1] if "=" in part), ""),
                    "bytes": item["Size"],
                    "last_modified": item["LastModified"],
                }
            )
    return pd.DataFrame(rows, columns=["key", "dataset", "partition", "bytes", "last_modified"])


def read_parquet_object(world: World, key: str) -> pa.Table:
    body = world.client("s3").get_object(Bucket=world.bucket, Key=key)["Body"].read()
    return pq.read_table(pa.BufferReader(body))


def read_dataset(world: World, dataset: str) -> pd.DataFrame:
    """Every Parquet file of one dataset folder under processed/, as one DataFrame with Arrow-backed dtypes."""
    keys = [key for key in list_objects(world, f"{PROCESSED_PREFIX}{dataset}/")["key"] if key.endswith(PARQUET_SUFFIX)]
    tables = [read_parquet_object(world, key) for key in keys]
    return pa.concat_tables(tables, promote_options="permissive").to_pandas(types_mapper=pd.ArrowDtype)


def parquet_metadata(world: World, key: str) -> pq.FileMetaData:
    body = world.client("s3").get_object(Bucket=world.bucket, Key=key)["Body"].read()
    return pq.read_metadata(pa.BufferReader(body))


def notification_rules(world: World) -> pd.DataFrame:
    """The bucket's event notification rules: which prefix and suffix send which events to which function."""
    config = world.client("s3").get_bucket_notification_configuration(Bucket=world.bucket)
    rows = []
    for rule in config.get("LambdaFunctionConfigurations", []):
        filters = {
            item["Name"].lower(): item["Value"] for item in rule.get("Filter", {}).get("Key", {}).get("FilterRules", [])
        }
        rows.append(
            {
                "prefix": filters.get("prefix", ""),
                "suffix": filters.get("suffix", ""),
                "events": ", ".join(rule["Events"]),
                "function": rule["LambdaFunctionArn"].rsplit(":", 1)[-1],
            }
        )
    return pd.DataFrame(rows, columns=["prefix", "suffix", "events", "function"])


def size_comparison(world: World) -> pd.DataFrame:
    """Bytes of raw JSON vs Parquet per dataset (child datasets count towards their parent)."""
    raw = list_objects(world, RAW_PREFIX).groupby("dataset")["bytes"].agg(["count", "sum"])
    parquet = list_objects(world, PROCESSED_PREFIX)
    parquet["parent"] = parquet["dataset"].map(lambda name: _parent_dataset(name, set(raw.index)))
    processed = parquet.groupby("parent")["bytes"].agg(["count", "sum"])
    raw.columns = ["json_files", "json_bytes"]
    processed.columns = ["parquet_files", "parquet_bytes"]
    table = raw.join(processed, how="inner")
    table["parquet_vs_json"] = (table["parquet_bytes"] / table["json_bytes"]).round(2)
    return table


def _parent_dataset(name: str, parents: set[str]) -> str:
    return max((parent for parent in parents if name == parent or name.startswith(f"{parent}_")), key=len, default=name)


# --- waiting on the pipeline ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PipelineState:
    processed: pd.DataFrame  # every Parquet object under processed/
    quarantined: list[str]  # the raw keys that went to quarantine/
    crawler_state: str

    def summary(self) -> str:
        datasets = ", ".join(sorted(self.processed["dataset"].unique()))
        return (
            f"{len(self.processed)} Parquet files under processed/ ({datasets}); "
            f"{len(self.quarantined)} file(s) quarantined; crawler {self.crawler_state}"
        )


def wait_for_pipeline(world: World, uploaded: list[str], timeout: float | None = None) -> PipelineState:
    """Wait until every uploaded raw key has its output and the crawler has catalogued every Parquet file.

    On localaws its idle endpoint answers when no event, invocation or crawl is pending; on AWS a crawl takes a
    minute or two, so the same end state is polled for. Either way the end state is then checked, not assumed.
    """
    timeout = timeout or (120.0 if world.is_local else 900.0)
    if world.is_local and not wait_idle(world.endpoint, timeout):
        raise WaitError("localaws", "busy", f"localaws still had work pending after {timeout:.0f} s")
    wait_until(
        lambda: _outputs_state(world, uploaded),
        what=f"outputs for {len(uploaded)} upload(s)",
        success={"complete"},
        timeout=timeout,
        interval=2.0,
    )
    crawler_state = wait_until(
        lambda: _catalog_state(world),
        what=f"crawler {world.outputs['crawler']}",
        success={"caught up"},
        failure={"FAILED", "CANCELLED"},
        timeout=timeout,
        interval=5.0,
        max_interval=20.0,
    )
    return PipelineState(list_objects(world, PROCESSED_PREFIX), _quarantined_sources(world, uploaded), crawler_state)


def _source_stem(raw_key: str) -> str:
    """The stem the transform gives the outputs of one source object (the time is not part of the stem)."""
    return output_name(raw_key, datetime.now(UTC)).stem


def _outputs_state(world: World, uploaded: list[str]) -> str:
    processed_names = {key.rsplit("/", 1)[-1] for key in list_objects(world, PROCESSED_PREFIX)["key"]}
    quarantined = set(list_objects(world, QUARANTINE_PREFIX)["key"])
    waiting = [
        key
        for key in uploaded
        if f"{QUARANTINE_PREFIX}{key.removeprefix(RAW_PREFIX)}{ERROR_SUFFIX}" not in quarantined
        and not any(name.startswith(f"{_source_stem(key)}_") for name in processed_names)
    ]
    return "complete" if not waiting else f"waiting for {len(waiting)}"


def _quarantined_sources(world: World, uploaded: list[str]) -> list[str]:
    quarantined = set(list_objects(world, QUARANTINE_PREFIX)["key"])
    return [
        key for key in uploaded if f"{QUARANTINE_PREFIX}{key.removeprefix(RAW_PREFIX)}{ERROR_SUFFIX}" in quarantined
    ]


def _catalog_state(world: World) -> str:
    """'caught up' once the crawler is idle, its last crawl began after the newest Parquet file landed, and every
    dataset folder is a table; otherwise the crawler's state."""
    crawler = world.client("glue").get_crawler(Name=world.outputs["crawler"])["Crawler"]
    last = crawler.get("LastCrawl", {})
    if crawler["State"] != "READY":
        return crawler["State"]
    if last.get("Status") in ("FAILED", "CANCELLED"):
        return last["Status"]
    parquet = list_objects(world, PROCESSED_PREFIX)
    parquet = parquet[parquet["key"].str.endswith(PARQUET_SUFFIX)]
    if parquet.empty:
        return "caught up"
    newest: datetime = parquet["last_modified"].max().to_pydatetime()
    started = last.get("StartTime")
    if started is None or started.replace(microsecond=0) < newest.replace(microsecond=0):
        return "waiting for a crawl of the newest files"
    missing = set(parquet["dataset"]) - set(catalog_tables(world)["table"])
    return "caught up" if not missing else f"tables missing: {', '.join(sorted(missing))}"


# --- flattening, shown on one record ---------------------------------------------------------------------------
def flatten_preview(record: dict[str, Any], dataset: str) -> dict[str, pd.DataFrame]:
    """What `pipeline.flatten.flatten_records` makes of one record, one DataFrame per dataset level, with the plain
    Athena-safe column names (`pipeline.naming.base_name`). Child levels show the parent row and array position
    they link to; the Lambda stores these links as `_parent_record_id` and `_position`."""
    previews = {}
    for key, table in flatten_records([record]).items():
        name = "_".join([dataset, *(naming.base_name(path) for path in key)])
        columns = {naming.base_name(path): array for path, array in sorted(table.columns.items())}
        if table.parent_index is not None:
            columns = {"(parent row)": table.parent_index, "(position)": table.position, **columns}
        previews[name] = pa.table(columns).to_pandas(types_mapper=pd.ArrowDtype)
    return previews


# --- CloudWatch Logs --------------------------------------------------------------------------------------------
def log_messages(world: World, function: str) -> list[str]:
    """Every log line of one function ('transform' or 'crawler_trigger'), oldest first."""
    logs = world.client("logs")
    group = world.outputs["log_groups"][function]
    pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group)
    events = sorted((event for page in pages for event in page["events"]), key=lambda event: event["timestamp"])
    return [event["message"].rstrip("\n") for event in events]


def invocation_lines(world: World, function: str, index: int = 0) -> list[str]:
    """The log lines of one invocation (START … its own lines … END, REPORT), found by its request id."""
    request_ids = [match[1] for line in log_messages(world, function) if (match := _START.match(line))]
    request_id = request_ids[index]
    return [line for line in log_messages(world, function) if request_id in line]


def json_log_records(world: World, function: str) -> pd.DataFrame:
    """The structured JSON lines a function logged (one per object for the transform Lambda)."""
    records = []
    for message in log_messages(world, function):
        text = message[message.find("{") :] if "{" in message else ""
        try:
            parsed = json.loads(text) if text else None
        except json.JSONDecodeError:
            continue
        if isinstance(parsed, dict):
            records.append(parsed)
    return pd.json_normalize(records) if records else pd.DataFrame()


def object_log_records(world: World) -> pd.DataFrame:
    """The transform Lambda's JSON line per processed object: key, dataset, rows, columns, bytes in/out, ms."""
    records = json_log_records(world, "transform")
    if records.empty or "status" not in records:
        return pd.DataFrame(columns=["key", "dataset", "rows", "columns", "bytes_in", "bytes_out", "ms"])
    processed = records[records["status"] == "processed"].reset_index(drop=True)
    wanted = ["key", "dataset", "rows", "columns", "bytes_in", "bytes_out", "ms", "outputs"]
    return processed[[column for column in wanted if column in processed]]


def s3_events(world: World) -> pd.DataFrame:
    """What the transform Lambda logged about each S3 event record it handled: the key (URL-decoded), what became
    of it, and the event time its output names carry (`<stem>_<event time>_<hash>.parquet`)."""
    records = json_log_records(world, "transform")
    if records.empty or "key" not in records:
        return pd.DataFrame(columns=["key", "status", "event_time", "outputs"])
    frame = records[records["key"].notna()].reset_index(drop=True)
    frame["event_time"] = [_event_time_of(outputs) for outputs in frame.get("outputs", [None] * len(frame))]
    event_columns = [column for column in frame if column.startswith("event.")]
    wanted = ["key", *event_columns, "status", "dataset", "event_time", "outputs", "quarantine_key"]
    return frame[[column for column in dict.fromkeys(wanted) if column in frame]]


def _event_time_of(outputs: Any) -> str | None:
    if not isinstance(outputs, list) or not outputs:
        return None
    match = _OUTPUT_TIME.search(outputs[0])
    return datetime.strptime(match[1], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).isoformat() if match else None


def lambda_reports(world: World, function: str) -> pd.DataFrame:
    """Lambda's REPORT line per invocation (duration, billed duration, memory) and what it would cost on AWS."""
    rows = []
    for message in log_messages(world, function):
        if message.startswith("REPORT"):
            fields = {match["name"].strip(): float(match["value"]) for match in _REPORT_FIELD.finditer(message)}
            rows.append(
                {
                    "duration_ms": fields.get("Duration"),
                    "billed_ms": fields.get("Billed Duration"),
                    "memory_mb": fields.get("Memory Size"),
                    "max_memory_used_mb": fields.get("Max Memory Used"),
                }
            )
    frame = pd.DataFrame(rows, columns=["duration_ms", "billed_ms", "memory_mb", "max_memory_used_mb"])
    frame["usd_on_aws"] = [lambda_cost_usd(row.billed_ms, row.memory_mb) for row in frame.itertuples()]
    return frame


def lambda_cost_usd(billed_ms: float, memory_mb: float) -> float:
    """One invocation's price on AWS: GB-seconds of billed duration plus the request charge."""
    return billed_ms / 1000 * memory_mb / 1024 * LAMBDA_USD_PER_GB_SECOND + LAMBDA_USD_PER_REQUEST


# --- Glue Data Catalog ------------------------------------------------------------------------------------------
def crawler_summary(world: World) -> dict[str, Any]:
    crawler = world.client("glue").get_crawler(Name=world.outputs["crawler"])["Crawler"]
    return {
        "name": crawler["Name"],
        "state": crawler["State"],
        "targets": [target["Path"] for target in crawler["Targets"].get("S3Targets", [])],
        "schema_change_policy": crawler.get("SchemaChangePolicy"),
        "configuration": json.loads(crawler.get("Configuration") or "{}"),
        "last_crawl": crawler.get("LastCrawl"),
    }


def crawl_history(world: World) -> pd.DataFrame:
    """The crawler's runs, newest first."""
    crawls = world.client("glue").list_crawls(CrawlerName=world.outputs["crawler"]).get("Crawls", [])
    columns = ["State", "StartTime", "EndTime", "ErrorMessage"]
    frame = pd.DataFrame(crawls).reindex(columns=columns)
    return frame.sort_values("StartTime", ascending=False, ignore_index=True)


def catalog_tables(world: World) -> pd.DataFrame:
    """One row per table in the stack's Glue database."""
    pages = world.client("glue").get_paginator("get_tables").paginate(DatabaseName=world.database)
    rows = [
        {
            "table": table["Name"],
            "columns": len(table["StorageDescriptor"]["Columns"]),
            "partition_keys": ", ".join(key["Name"] for key in table.get("PartitionKeys", [])),
            "classification": table.get("Parameters", {}).get("classification", ""),
            "location": table["StorageDescriptor"]["Location"],
        }
        for page in pages
        for table in page["TableList"]
    ]
    return pd.DataFrame(rows, columns=["table", "columns", "partition_keys", "classification", "location"])


def table_columns(world: World, table: str) -> pd.DataFrame:
    """A table's columns with their Hive types; partition keys last, as Athena lists them."""
    found = world.client("glue").get_table(DatabaseName=world.database, Name=table)["Table"]
    columns = [
        {"column": c["Name"], "hive_type": c["Type"], "partition_key": False}
        for c in found["StorageDescriptor"]["Columns"]
    ]
    keys = [
        {"column": c["Name"], "hive_type": c["Type"], "partition_key": True} for c in found.get("PartitionKeys", [])
    ]
    return pd.DataFrame(columns + keys)


def table_partitions(world: World, table: str) -> pd.DataFrame:
    pages = world.client("glue").get_paginator("get_partitions").paginate(DatabaseName=world.database, TableName=table)
    rows = [
        {"values": "/".join(part["Values"]), "location": part["StorageDescriptor"]["Location"]}
        for page in pages
        for part in page["Partitions"]
    ]
    return pd.DataFrame(rows, columns=["values", "location"]).sort_values("values", ignore_index=True)


# --- Athena -----------------------------------------------------------------------------------------------------
def cost_table(runs: dict[str, QueryRun]) -> pd.DataFrame:
    """Per query: rows, bytes scanned, engine time and the price on AWS ($5 per TB, 10 MB minimum)."""
    return pd.DataFrame(
        [
            {
                "query": title,
                "rows": len(run.frame),
                "bytes_scanned": run.data_scanned_bytes,
                "engine_ms": run.engine_ms,
                "total_ms": run.total_ms,
                "usd_on_aws": run.cost_usd,
            }
            for title, run in runs.items()
        ]
    )


# --- quarantine -------------------------------------------------------------------------------------------------
def quarantine_report(world: World) -> pd.DataFrame:
    """One row per quarantined file: where it is kept, and the reason from the `.error.json` beside it."""
    s3 = world.client("s3")
    rows = []
    for key in list_objects(world, QUARANTINE_PREFIX)["key"]:
        if key.endswith(ERROR_SUFFIX):
            report = json.loads(s3.get_object(Bucket=world.bucket, Key=key)["Body"].read())
            rows.append({"quarantined": key.removesuffix(ERROR_SUFFIX), **report})
    return pd.DataFrame(rows)
