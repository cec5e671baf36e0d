"""The whole pipeline against a real localaws server process over HTTP, driven by the unchanged provision.py.

provision.py → upload every sample dataset → the transform Lambda runs from its zip → Parquet under processed/ →
the crawler-trigger Lambda runs → Glue tables with dt partitions and Hive types → the malformed file is quarantined
→ teardown.py leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kit.local_endpoint import wait_idle
from kit.uploads import raw_key, sample_files, upload_sample_data

pytestmark = [pytest.mark.localaws, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_data"
EXPECTED = json.loads((SAMPLES / "expected_counts.json").read_text())


def run_script(script: str, *args: str, stacks_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KIT_STACKS_DIR": str(stacks_dir)}
    return subprocess.run(
        [sys.executable, script, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def stacks_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stacks")


@pytest.fixture(scope="module")
def pipeline_run(localaws, stacks_dir: Path):
    """Provision stack 'e2e' on the session's localaws, upload every sample file, and wait until all work is done."""
    env = localaws.env()
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        provision = run_script("provision.py", "--stack", "e2e", stacks_dir=stacks_dir)
        assert provision.returncode == 0, provision.stdout + provision.stderr
        outputs = json.loads((stacks_dir / "e2e.json").read_text())
        s3 = boto3.client("s3")
        keys = upload_sample_data(s3, outputs["bucket"], SAMPLES)
        assert wait_idle(localaws.endpoint, timeout=180), "localaws still busy after 180 s"
        yield outputs, keys
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def list_keys(s3, bucket: str, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def test_every_sample_file_becomes_parquet_with_the_documented_row_counts(pipeline_run, localaws_env):
    outputs, _ = pipeline_run
    s3 = boto3.client("s3")
    rows: dict[str, int] = {}
    for key in list_keys(s3, outputs["bucket"], "processed/"):
        assert key.endswith(".parquet"), key
        dataset = key.split("/")[1]
        body = s3.get_object(Bucket=outputs["bucket"], Key=key)["Body"].read()
        rows[dataset] = rows.get(dataset, 0) + pq.read_metadata(pa.BufferReader(body)).num_rows
    assert rows == EXPECTED["tables"]


def test_the_transform_lambda_ran_from_its_zip_and_logged_each_object(pipeline_run, localaws_env):
    outputs, keys = pipeline_run
    logs = boto3.client("logs")
    group = f"/aws/lambda/{outputs['functions']['transform']['name']}"
    events = logs.filter_log_events(logGroupName=group)["events"]
    messages = [event["message"] for event in events]
    assert any(message.startswith("REPORT RequestId:") for message in messages)
    # The Python runtime prefixes logging output with "[INFO]\t<time>\t<request id>\t" (python-logging.html).
    payloads = [message.split("\t", 3)[-1] for message in messages]
    logged = [json.loads(p) for p in payloads if p.lstrip().startswith("{")]
    # Each record's summary line has a top-level "key"; the raw S3 event record logged first nests it under "s3".
    logged_keys = {line["key"] for line in logged if "key" in line}
    assert logged_keys >= {key for key in keys if "broken" not in key}


def test_the_crawler_trigger_ran_and_the_catalog_has_one_table_per_dataset(pipeline_run, localaws_env):
    outputs, _ = pipeline_run
    logs = boto3.client("logs")
    group = f"/aws/lambda/{outputs['functions']['crawler_trigger']['name']}"
    assert any(e["message"].startswith("REPORT") for e in logs.filter_log_events(logGroupName=group)["events"])
    glue = boto3.client("glue")
    tables = {t["Name"]: t for t in glue.get_tables(DatabaseName=outputs["glue_database"])["TableList"]}
    assert set(tables) == set(EXPECTED["tables"])
    orders = tables["orders"]
    assert [key["Name"] for key in orders["PartitionKeys"]] == ["dt"]
    columns = {c["Name"]: c["Type"] for c in orders["StorageDescriptor"]["Columns"]}
    assert columns["customer_address_city"] == "string"
    assert columns["_record_id"] == "string"
    assert columns["payment_amount"] == "double"
    items = {c["Name"]: c["Type"] for c in tables["orders__items"]["StorageDescriptor"]["Columns"]}
    assert items["tags"] == "array<string>"
    assert items["qty"] == "bigint"
    partitions = glue.get_partitions(DatabaseName=outputs["glue_database"], TableName="orders")["Partitions"]
    assert len(partitions) == 1 and len(partitions[0]["Values"]) == 1
    crawler = glue.get_crawler(Name=outputs["crawler"])["Crawler"]
    assert crawler["State"] == "READY"
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"


def test_the_malformed_file_is_quarantined_with_a_reason(pipeline_run, localaws_env):
    outputs, _ = pipeline_run
    s3 = boto3.client("s3")
    quarantined = list_keys(s3, outputs["bucket"], "quarantine/")
    assert "quarantine/messy/broken_upload.json" in quarantined
    report = json.loads(
        s3.get_object(Bucket=outputs["bucket"], Key="quarantine/messy/broken_upload.json.error.json")["Body"].read()
    )
    assert report["reason"]
    assert not [key for key in list_keys(s3, outputs["bucket"], "processed/") if "broken_upload" in key]


def test_concurrent_uploads_are_each_processed_exactly_once(pipeline_run, localaws_env, localaws):
    outputs, _ = pipeline_run
    s3 = boto3.client("s3")
    bucket = outputs["bucket"]
    lines = [json.dumps({"n": n, "payload": {"even": n % 2 == 0}}) for n in range(200)]

    def put(n: int) -> None:
        s3.put_object(Bucket=bucket, Key=f"raw/burst/part-{n:03d}.jsonl", Body=(lines[n] + "\n").encode())

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(put, range(200)))
    assert wait_idle(localaws.endpoint, timeout=300)
    parquet = list_keys(s3, bucket, "processed/burst/")
    assert len(parquet) == 200
    seen = sorted(
        n
        for key in parquet
        for n in pq.read_table(pa.BufferReader(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
        .column("n")
        .to_pylist()
    )
    assert seen == list(range(200))


def test_teardown_leaves_nothing_behind(pipeline_run, localaws_env, stacks_dir: Path):
    outputs, _ = pipeline_run
    logs = boto3.client("logs")

    def crawler_streams() -> list[dict]:
        group = "/aws-glue/crawlers"  # a crawl logs to a stream named after the crawler in this shared group
        return logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=outputs["crawler"])["logStreams"]

    assert [stream["logStreamName"] for stream in crawler_streams()] == [outputs["crawler"]]
    teardown = run_script("teardown.py", "--stack", "e2e", "--yes", stacks_dir=stacks_dir)
    assert teardown.returncode == 0, teardown.stdout + teardown.stderr
    s3 = boto3.client("s3")
    assert outputs["bucket"] not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    glue = boto3.client("glue")
    assert outputs["glue_database"] not in {d["Name"] for d in glue.get_databases()["DatabaseList"]}
    assert outputs["crawler"] not in glue.list_crawlers()["CrawlerNames"]
    functions = {f["FunctionName"] for f in boto3.client("lambda").list_functions()["Functions"]}
    assert not functions & {outputs["functions"]["transform"]["name"], outputs["functions"]["crawler_trigger"]["name"]}
    groups = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/e2e-")["logGroups"]
    assert groups == []
    assert crawler_streams() == []
    roles = {r["RoleName"] for r in boto3.client("iam").list_roles()["Roles"]}
    assert not [role for role in roles if role.startswith("e2e-")]
    workgroups = {w["Name"] for w in boto3.client("athena").list_work_groups()["WorkGroups"]}
    assert outputs["workgroup"] not in workgroups


def test_every_sample_file_is_uploaded_under_raw_by_dataset():
    keys = [raw_key(path) for path in sample_files(SAMPLES)]
    assert "raw/messy/export 2024-06-02.jsonl" in keys  # a space in the key: pitfall P1
    assert {key.split("/")[1] for key in keys} == {"orders", "clickstream", "messy"}
    assert all(key.count("/") == 2 for key in keys)
