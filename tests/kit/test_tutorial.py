"""kit.tutorial: the helpers the notebooks share, against moto in-process (and one localaws check)."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from moto import mock_aws

from kit import tutorial
from kit.queries import QueryRun
from kit.stack import Stack, build_outputs, save_outputs
from kit.tutorial import waiting as tutorial_waiting
from kit.waiting import WaitError
from pipeline.transform import output_name

ACCOUNT = "123456789012"
REGION = "us-east-1"


@pytest.fixture
def stacks_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KIT_STACKS_DIR", str(tmp_path / "stacks"))
    return tmp_path / "stacks"


def outputs_for(name: str, endpoint: str | None = None) -> dict:
    stack = Stack(name, ACCOUNT, REGION)
    return build_outputs(stack, endpoint=endpoint, dlq_url=f"https://sqs/{name}-dlq", layer_arn="arn:layer:1")


@pytest.fixture
def world() -> Iterator[tutorial.World]:
    """A stack 'tut' on moto with only its bucket: each test adds what it looks at."""
    with mock_aws():
        outputs = outputs_for("tut")
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=outputs["bucket"])
        yield tutorial.World("tut", REGION, ACCOUNT, None, outputs)


def put(world: tutorial.World, key: str, body: bytes = b"{}") -> None:
    world.client("s3").put_object(Bucket=world.bucket, Key=key, Body=body)


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def put_log_lines(world: tutorial.World, function: str, lines: list[str]) -> None:
    logs = world.client("logs")
    group = world.outputs["log_groups"][function]
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="2026/01/01/[$LATEST]abc")
    start = int(datetime.now(UTC).timestamp() * 1000) - 1000  # CloudWatch rejects events older than 14 days
    events = [{"timestamp": start + offset, "message": line} for offset, line in enumerate(lines)]
    logs.put_log_events(logGroupName=group, logStreamName="2026/01/01/[$LATEST]abc", logEvents=events)


# --- which world ------------------------------------------------------------------------------------------------
def test_stack_name_is_etl_unless_etl_stack_names_another(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ETL_STACK", raising=False)
    assert tutorial.stack_name() == "etl"
    monkeypatch.setenv("ETL_STACK", "alice")
    assert tutorial.stack_name() == "alice"


def test_repo_root_is_found_from_the_package_not_the_working_directory(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    assert (tutorial.repo_root() / "notebooks").is_dir()
    assert tutorial.expected_counts()["tables"]["orders"] == 44


def test_describe_world_on_aws_names_the_account_and_the_stack(stacks_dir: Path) -> None:
    with mock_aws():
        save_outputs(outputs_for("alice"))
        world = tutorial.describe_world("alice")
    assert (world.is_local, world.account, world.region, world.bucket) == (
        False,
        ACCOUNT,
        REGION,
        f"alice-{ACCOUNT}-{REGION}",
    )
    assert world.summary().startswith(f"Connected to AWS account {ACCOUNT} in {REGION}")


def test_describe_world_names_the_command_when_the_stack_is_not_provisioned(stacks_dir: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"python provision\.py --stack bob"):
        tutorial.describe_world("bob")


def test_describe_world_refuses_an_endpoint_that_is_not_localaws(stacks_dir, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    with pytest.raises(ConnectionError, match="does not answer as localaws"):
        tutorial.describe_world("alice")


@pytest.mark.localaws
def test_describe_world_on_localaws_says_so(stacks_dir: Path, localaws_env: str) -> None:
    save_outputs(outputs_for("carol", endpoint=localaws_env))
    world = tutorial.describe_world("carol")
    assert world.is_local and world.endpoint == localaws_env and world.account == ACCOUNT
    assert world.summary().startswith(f"Connected to localaws at {localaws_env}")
    assert f"localaws console: {localaws_env}/_localaws/console?stack=carol" in world.summary()


def test_resources_lists_every_name_and_arn_but_not_tags(world: tutorial.World) -> None:
    table = world.resources().set_index("output")["value"]
    assert table["bucket"] == world.bucket
    assert table["functions.transform.name"] == "tut-transform"
    assert table["workgroup"] == "tut"
    assert not table.index.str.startswith(("tags.", "prefixes.")).any()


def test_probe_resources_says_which_resources_exist(world: tutorial.World) -> None:
    world.client("athena").create_work_group(Name="tut")
    probe = tutorial.probe_resources(world)
    states = {(row.resource, row.name): row.state for row in probe.itertuples()}
    assert states[("S3 bucket", world.bucket)] == "exists"
    assert states[("Athena workgroup", "tut")] == "exists"
    # Every service's own "missing" answer (EntityNotFoundException, ResourceNotFoundException, NoSuchEntity, 404,
    # NonExistentQueue) reads the same: "not found".
    assert states[("Glue database", "tut")] == "not found"
    assert states[("Lambda function", "tut-transform")] == "not found"
    assert states[("CloudWatch log group", "/aws/lambda/tut-transform")] == "not found"
    assert states[("Glue crawler", "tut-processed-crawler")] == "not found"
    assert states[("IAM role", "tut-transform-role")] == "not found"
    assert states[("SQS dead-letter queue", "tut-dlq")] == "not found"
    assert set(probe["state"]) == {"exists", "not found"} and (probe["state"] == "exists").sum() == 2
    assert "Crawler log stream" not in set(probe["resource"])


def test_probe_resources_can_check_what_the_stack_caused(world: tutorial.World) -> None:
    logs = world.client("logs")
    logs.create_log_group(logGroupName="/aws-glue/crawlers")
    states = lambda: tutorial.probe_resources(world, caused=True).set_index("resource")["state"]  # noqa: E731
    assert states()["Crawler log stream"] == "not found"
    logs.create_log_stream(logGroupName="/aws-glue/crawlers", logStreamName="tut-processed-crawler")
    assert states()["Crawler log stream"] == "exists"


def test_wait_until_untagged_lists_what_still_carries_the_stack_tag(world: tutorial.World) -> None:
    s3 = world.client("s3")
    s3.put_bucket_tagging(Bucket=world.bucket, Tagging={"TagSet": [{"Key": "etl-kit-stack", "Value": "tut"}]})
    assert tutorial.tagged_resources(world) == [f"arn:aws:s3:::{world.bucket}"]
    with pytest.raises(WaitError):
        tutorial.wait_until_untagged(world, timeout=0.1)
    s3.delete_bucket(Bucket=world.bucket)
    assert tutorial.wait_until_untagged(world, timeout=0.1) == []


def test_run_script_runs_a_kit_script_from_the_repo_root() -> None:
    result = tutorial.run_script("teardown.py", "--help")
    assert result.returncode == 0 and "--yes" in result.stdout


# --- S3 ---------------------------------------------------------------------------------------------------------
def test_list_objects_names_each_objects_dataset_and_partition(world: tutorial.World) -> None:
    put(world, "processed/orders/dt=2026-01-01/a.parquet")
    put(world, "processed/orders__items/dt=2026-01-01/a.parquet")
    listing = tutorial.list_objects(world, "processed/")
    assert list(listing["dataset"]) == ["orders", "orders__items"]
    assert set(listing["partition"]) == {"dt=2026-01-01"}
    assert tutorial.list_objects(world, "nothing/").empty


def test_read_dataset_concatenates_every_file_of_a_dataset(world: tutorial.World) -> None:
    put(world, "processed/orders/dt=1/a.parquet", parquet_bytes(pa.table({"n": [1, 2]})))
    put(world, "processed/orders/dt=2/b.parquet", parquet_bytes(pa.table({"n": [3]})))
    put(world, "processed/orders__items/dt=1/a.parquet", parquet_bytes(pa.table({"n": [9]})))
    frame = tutorial.read_dataset(world, "orders")
    assert sorted(frame["n"]) == [1, 2, 3] and isinstance(frame["n"].dtype, pd.ArrowDtype)
    assert tutorial.parquet_metadata(world, "processed/orders/dt=1/a.parquet").num_rows == 2


def test_size_comparison_counts_child_datasets_towards_their_parent(world: tutorial.World) -> None:
    put(world, "raw/orders/a.json", b"x" * 1000)
    put(world, "processed/orders/dt=1/a.parquet", b"p" * 100)
    put(world, "processed/orders__items/dt=1/a.parquet", b"p" * 150)
    sizes = tutorial.size_comparison(world)
    assert sizes.loc["orders"].to_dict() == {
        "json_files": 1,
        "json_bytes": 1000,
        "parquet_files": 2,
        "parquet_bytes": 250,
        "parquet_vs_json": 0.25,
    }


def test_notification_rules_show_prefix_suffix_and_function(world: tutorial.World) -> None:
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:tut-transform"
    world.client("s3").put_bucket_notification_configuration(
        Bucket=world.bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "LambdaFunctionArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "raw/"}]}},
                }
            ]
        },
    )
    rules = tutorial.notification_rules(world)
    assert rules.to_dict("records") == [
        {"prefix": "raw/", "suffix": "", "events": "s3:ObjectCreated:*", "destination": "tut-transform"}
    ]


def test_quarantine_report_reads_the_error_file_beside_each_copy(world: tutorial.World) -> None:
    put(world, "quarantine/messy/bad.json", b"[{")
    put(world, "quarantine/messy/bad.json.error.json", json.dumps({"reason": "truncated", "line": 1}).encode())
    report = tutorial.quarantine_report(world)
    assert report.to_dict("records") == [{"quarantined": "quarantine/messy/bad.json", "reason": "truncated", "line": 1}]


# --- waiting ----------------------------------------------------------------------------------------------------
def test_outputs_state_waits_until_every_upload_has_parquet_or_a_quarantine_entry(world: tutorial.World) -> None:
    uploads = ["raw/orders/orders 1.json", "raw/messy/bad.json"]
    assert tutorial_waiting._outputs_state(world, uploads) == "waiting for 2"
    name = output_name(uploads[0], datetime(2026, 1, 1, tzinfo=UTC), "etag").key("orders")
    put(world, f"processed/{name}")
    assert tutorial_waiting._outputs_state(world, uploads) == "waiting for 1"
    put(world, "quarantine/messy/bad.json.error.json")
    assert tutorial_waiting._outputs_state(world, uploads) == "complete"
    assert tutorial_waiting._quarantined_sources(world, uploads) == ["raw/messy/bad.json"]


def test_catalog_state_waits_until_every_parquet_folder_is_a_registered_partition(world: tutorial.World) -> None:
    glue = world.client("glue")
    glue.create_database(DatabaseInput={"Name": world.database})
    glue.create_crawler(
        Name=world.outputs["crawler"],
        Role="arn:aws:iam::123456789012:role/r",
        DatabaseName=world.database,
        Targets={"S3Targets": [{"Path": f"s3://{world.bucket}/processed/"}]},
    )
    assert tutorial_waiting._catalog_state(world) == "caught up"  # nothing to catalogue yet
    put(world, "processed/orders/dt=1/a.parquet")
    assert tutorial_waiting._catalog_state(world).startswith("waiting for the catalog to cover 1 folder")
    location = f"s3://{world.bucket}/processed/orders/"
    glue.create_table(
        DatabaseName=world.database,
        TableInput={
            "Name": "orders",
            "StorageDescriptor": {"Columns": [], "Location": location},
            "PartitionKeys": [{"Name": "dt", "Type": "string"}],
        },
    )
    assert tutorial_waiting._catalog_state(world).startswith("waiting for the catalog")
    glue.create_partition(
        DatabaseName=world.database,
        TableName="orders",
        PartitionInput={"Values": ["1"], "StorageDescriptor": {"Columns": [], "Location": f"{location}dt=1/"}},
    )
    assert tutorial_waiting._catalog_state(world) == "caught up"  # registered by the catalog updater, no crawl


def test_wait_for_pipeline_on_aws_fails_with_a_wait_error_when_outputs_never_come(world: tutorial.World) -> None:
    with pytest.raises(WaitError, match="outputs for 1 upload"):
        tutorial.wait_for_pipeline(world, ["raw/orders/a.json"], timeout=0.1)


# --- logs -------------------------------------------------------------------------------------------------------
TRANSFORM_LOG = [
    "START RequestId: r-1 Version: $LATEST",
    "[INFO]\t2026-01-01T00:00:00.000Z\tr-1\tFound credentials in environment variables.",
    "[INFO]\t2026-01-01T00:00:00.001Z\tr-1\t"
    + json.dumps(
        {
            "status": "processed",
            "key": "raw/orders/a.json",
            "dataset": "orders",
            "rows": 3,
            "columns": 5,
            "bytes_in": 10,
            "bytes_out": 20,
            "ms": 4,
            "outputs": ["processed/orders/dt=2026-01-01/a_20260101T101500Z_0123abcd.parquet"],
        }
    ),
    "END RequestId: r-1",
    "REPORT RequestId: r-1\tDuration: 12.50 ms\tBilled Duration: 1000 ms\tMemory Size: 1024 MB\t"
    "Max Memory Used: 90 MB\t",
    "START RequestId: r-2 Version: $LATEST",
    "[WARNING]\t2026-01-01T00:00:01.000Z\tr-2\t"
    + json.dumps({"key": "raw/messy/bad.json", "status": "quarantined", "quarantine_key": "quarantine/messy/bad.json"}),
    "END RequestId: r-2",
]


def test_object_log_records_and_s3_events_come_from_the_transform_log(world: tutorial.World) -> None:
    put_log_lines(world, "transform", TRANSFORM_LOG)
    objects = tutorial.object_log_records(world)
    assert objects[["key", "rows", "bytes_out"]].to_dict("records") == [
        {"key": "raw/orders/a.json", "rows": 3, "bytes_out": 20}
    ]
    events = tutorial.s3_events(world)
    assert list(events["key"]) == ["raw/orders/a.json", "raw/messy/bad.json"]
    assert list(events["status"]) == ["processed", "quarantined"]
    assert events["event_time"].iloc[0] == "2026-01-01T10:15:00+00:00"


def test_invocation_lines_follow_one_request_id(world: tutorial.World) -> None:
    put_log_lines(world, "transform", TRANSFORM_LOG)
    lines = tutorial.invocation_lines(world, "transform", index=1)
    assert lines[0] == "START RequestId: r-2 Version: $LATEST" and lines[-1] == "END RequestId: r-2"


def test_lambda_reports_price_each_invocation_from_its_report_line(world: tutorial.World) -> None:
    put_log_lines(world, "transform", TRANSFORM_LOG)
    reports = tutorial.lambda_reports(world, "transform")
    assert reports[["init_ms", "duration_ms", "billed_ms", "memory_mb", "max_memory_used_mb"]].to_dict("records") == [
        {"init_ms": 0.0, "duration_ms": 12.5, "billed_ms": 1000.0, "memory_mb": 1024.0, "max_memory_used_mb": 90.0}
    ]
    # one second at 1 GB is one GB-second, plus one request
    assert reports["usd_on_aws"].iloc[0] == pytest.approx(0.0000166667 + 0.0000002)


# --- the catalog ------------------------------------------------------------------------------------------------
def test_catalog_views_show_tables_columns_and_partitions(world: tutorial.World) -> None:
    glue = world.client("glue")
    glue.create_database(DatabaseInput={"Name": world.database})
    location = f"s3://{world.bucket}/processed/orders/"
    glue.create_table(
        DatabaseName=world.database,
        TableInput={
            "Name": "orders",
            "StorageDescriptor": {"Columns": [{"Name": "tags", "Type": "array<string>"}], "Location": location},
            "PartitionKeys": [{"Name": "dt", "Type": "string"}],
            "Parameters": {"classification": "parquet"},
        },
    )
    for day in ("2026-01-02", "2026-01-01"):
        glue.create_partition(
            DatabaseName=world.database,
            TableName="orders",
            PartitionInput={"Values": [day], "StorageDescriptor": {"Location": f"{location}dt={day}/"}},
        )
    assert tutorial.catalog_tables(world).to_dict("records") == [
        {"table": "orders", "columns": 1, "partition_keys": "dt", "classification": "parquet", "location": location}
    ]
    assert tutorial.table_columns(world, "orders").to_dict("records") == [
        {"column": "tags", "hive_type": "array<string>", "partition_key": False},
        {"column": "dt", "hive_type": "string", "partition_key": True},
    ]
    assert list(tutorial.table_partitions(world, "orders")["values"]) == ["2026-01-01", "2026-01-02"]


# --- flattening and queries ---------------------------------------------------------------------------------------
def test_flatten_preview_shows_each_level_with_athena_safe_names() -> None:
    record = {"Order ID": 1, "customer": {"Address": {"City": "Paris"}}, "items": [{"sku": "a"}, {"sku": "b"}]}
    previews = tutorial.flatten_preview(record, dataset="orders")
    assert list(previews) == ["orders", "orders__items"]
    assert sorted(previews["orders"].columns) == ["_record_id", "customer_address_city", "order_id"]
    # The child rows carry the real lineage columns the Lambda writes, pointing at the parent's _record_id.
    items = previews["orders__items"]
    assert sorted(items.columns) == ["_parent_record_id", "_position", "_record_id", "sku"]
    assert list(items["_parent_record_id"]) == [previews["orders"]["_record_id"].iloc[0]] * 2
    assert list(items["_position"]) == [0, 1] and list(items["sku"]) == ["a", "b"]


def test_readable_log_pretty_prints_json_payloads_and_keeps_every_value_whole() -> None:
    payload = {"key": "raw/orders/a.json", "outputs": ["processed/orders/dt=2026-01-01/" + "x" * 200 + ".parquet"]}
    text = tutorial.readable_log(["START RequestId: r-1", f"[INFO]\t2026-01-01T00:00:00Z\tr-1\t{json.dumps(payload)}"])
    assert text.splitlines()[:2] == ["START RequestId: r-1", "[INFO] 2026-01-01T00:00:00Z r-1"]
    assert json.loads(text.split("r-1\n", 2)[-1]) == payload


def test_cost_table_bills_each_query_at_least_10_mb() -> None:
    small = QueryRun("q", "id-1", pd.DataFrame({"n": [1]}), 2048, 5, 20, 0.1)
    large = QueryRun("q", "id-2", pd.DataFrame({"n": [1, 2]}), 1024**4, 5, 20, 0.1)
    costs = tutorial.cost_table({"small": small, "large": large}).set_index("query")
    assert costs.loc["small", "usd_on_aws"] == pytest.approx(10 * 1024**2 / 1024**4 * 5)
    assert costs.loc["large", "usd_on_aws"] == pytest.approx(5.0)
    assert costs.loc["large", "rows"] == 2 and costs.loc["small", "bytes_scanned"] == 2048


def test_bar_chart_is_an_image_with_its_alt_text() -> None:
    chart = tutorial.bar_chart(
        pd.DataFrame({"status": ["a", "b"], "orders": [3, 1]}),
        x="status",
        y="orders",
        title="Orders",
        xlabel="status",
        ylabel="orders",
        alt='Orders by status: "a" 3, b 1',
    )
    assert re.fullmatch(
        r'<img src="data:image/png;base64,[A-Za-z0-9+/=]+" alt="Orders by status: &quot;a&quot; 3, b 1">', chart.data
    )


def test_scan_comparison_prices_each_query_now_and_at_a_terabyte_of_the_baseline() -> None:
    raw = QueryRun("q", "id-1", pd.DataFrame({"n": [1, 2]}), 20_000, 5, 20, 0.1)
    parquet = QueryRun("q", "id-2", pd.DataFrame({"n": [1, 2]}), 500, 5, 20, 0.1)
    table = tutorial.scan_comparison({"raw": raw, "parquet": parquet}, baseline="raw").set_index("query")
    assert table.loc["parquet", "share_of_baseline"] == 0.025
    assert table.loc["raw", "usd_on_aws"] == table.loc["parquet", "usd_on_aws"]  # both billed the 10 MB minimum
    assert table.loc["raw", "usd_at_1_tb_baseline"] == 5.0
    assert table.loc["parquet", "usd_at_1_tb_baseline"] == 0.125
