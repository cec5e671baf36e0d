"""Opt-in: the real thing in a real AWS account. provision → upload a sample → Parquet → crawl → Athena → teardown.

Runs only with RUN_AWS_TESTS=1 and credentials for an account you may create resources in (it costs cents and
removes everything it made, even when an assertion fails).
"""

from __future__ import annotations

import os
import secrets

import boto3
import pytest
from botocore.exceptions import ClientError
from provision_helpers import provision, run_script, teardown

from kit.stack import ROOT, load_outputs
from kit.waiting import wait_until

pytestmark = [
    pytest.mark.aws,
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("RUN_AWS_TESTS") != "1", reason="real AWS: set RUN_AWS_TESTS=1"),
]
SAMPLE = ROOT / "sample_data" / "orders" / "orders_2024-06-01.json"


def _table_exists(glue, database: str, table: str) -> str:
    try:
        glue.get_table(DatabaseName=database, Name=table)
    except ClientError as error:
        if error.response["Error"]["Code"] == "EntityNotFoundException":
            return "MISSING"
        raise
    return "PRESENT"


def test_provision_upload_query_teardown(tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_STACKS_DIR", str(tmp_path))
    stack = f"kit{secrets.token_hex(3)}"
    try:
        built = run_script(provision.main, "--stack", stack)
        assert built.code == 0, built.text
        outputs = load_outputs(stack)
        session = boto3.Session(region_name=outputs["region"])
        s3, glue, athena = session.client("s3"), session.client("glue"), session.client("athena")
        s3.upload_file(str(SAMPLE), outputs["bucket"], f"raw/orders/{SAMPLE.name}")

        def parquet_count() -> str:
            listing = s3.list_objects_v2(Bucket=outputs["bucket"], Prefix="processed/orders/")
            return "WRITTEN" if listing.get("KeyCount", 0) else "WAITING"

        wait_until(parquet_count, what="the transform's Parquet output", success={"WRITTEN"}, timeout=300)
        wait_until(
            lambda: _table_exists(glue, outputs["glue_database"], "orders"),
            what="the crawler's orders table",
            success={"PRESENT"},
            timeout=600,
            interval=10,
        )
        query = athena.start_query_execution(
            QueryString="SELECT count(*) FROM orders",
            QueryExecutionContext={"Database": outputs["glue_database"]},
            WorkGroup=outputs["workgroup"],
        )["QueryExecutionId"]
        wait_until(
            lambda: athena.get_query_execution(QueryExecutionId=query)["QueryExecution"]["Status"]["State"],
            what="the Athena query",
            success={"SUCCEEDED"},
            failure={"FAILED", "CANCELLED"},
            timeout=300,
        )
        rows = athena.get_query_results(QueryExecutionId=query)["ResultSet"]["Rows"]
        assert int(rows[1]["Data"][0]["VarCharValue"]) > 0
    finally:
        removed = run_script(teardown.main, "--stack", stack, "--yes", ask=input)
        assert removed.code == 0, removed.text
