"""The naming contract through the whole pipeline on localaws, checked in Athena, with tests/cases/ingest/.

provision.py builds stack 'names'; each case is uploaded as its README says (waiting for the pipeline between
uploads, so the carts order is the one the case describes); the transform Lambda runs from its zip, the crawler
builds the tables, and pyathena queries them. Every case once gave a name Athena or the crawler hides, or two
datasets in one table (docs/transform.md, "The naming contract").
"""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from kit.athena_client import connect
from kit.local_endpoint import wait_idle
from pipeline import naming
from tests.conftest import provision_stack

pytestmark = [pytest.mark.localaws, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "cases" / "ingest"
STACK = "names"
ORDERS = b'[{"order_id": "ORD-1", "amount": 10.5}, {"order_id": "ORD-2", "amount": 20.0}]'
UPLOADS = [  # (key, body), in this order
    ("raw/orders/orders_2024-06-01.json", ORDERS),
    ("raw/orders/Überweisungen.json", (CASES / "hidden-name.json").read_bytes()),
    ("raw/2024-sales/q1.json", (CASES / "digit-dataset.json").read_bytes()),
    ("raw/sensor_readings/r.ndjson", (CASES / "field-named-dt.ndjson").read_bytes()),
    ("raw/carts_items/a.ndjson", (CASES / "name-clash-carts_items.ndjson").read_bytes()),
    ("raw/carts/b.ndjson", (CASES / "name-clash-carts.ndjson").read_bytes()),
]


@pytest.fixture(scope="module")
def stack(localaws, tmp_path_factory: pytest.TempPathFactory):
    """(stack outputs, a pyathena cursor) once every case went through the pipeline."""
    stacks_dir = tmp_path_factory.mktemp("names-stacks")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in localaws.env().items():
            patch.setenv(name, value)
        outputs = provision_stack(STACK, stacks_dir)
        s3 = boto3.client("s3")
        for key, body in UPLOADS:
            s3.put_object(Bucket=outputs["bucket"], Key=key, Body=body)
            assert wait_idle(localaws.endpoint, timeout=180), f"localaws still busy after uploading {key}"
        cursor = connect(work_group=outputs["workgroup"], schema_name=outputs["glue_database"]).cursor()
        yield outputs, cursor


def query(cursor, sql: str) -> list[tuple]:
    return sorted(cursor.execute(sql).fetchall())


def tables(outputs) -> dict[str, dict]:
    pages = boto3.client("glue").get_paginator("get_tables").paginate(DatabaseName=outputs["glue_database"])
    return {table["Name"]: table for page in pages for table in page["TableList"]}


def test_every_case_becomes_a_visible_table(stack, localaws_env) -> None:
    outputs, _cursor = stack
    assert set(tables(outputs)) == {"orders", "2024_sales", "sensor_readings", "carts", "carts__items", "carts_items"}
    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=outputs["bucket"], Prefix="processed/")
    keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    assert not [key for key in keys if any(part.startswith(("_", ".")) for part in key.split("/"))]


def test_the_rows_of_a_file_named_with_a_non_ascii_letter_are_queryable(stack) -> None:
    _outputs, cursor = stack
    assert query(cursor, "SELECT order_id, amount FROM orders") == [
        ("ORD-1", 10.5),
        ("ORD-2", 20.0),
        ("ORD-3", 30.25),
        ("ORD-4", 40.0),
        ("ORD-5", 1.0),
    ]
    assert query(cursor, "SELECT DISTINCT _source_key FROM orders WHERE order_id = 'ORD-3'") == [
        ("raw/orders/Überweisungen.json",)
    ]


def test_a_folder_starting_with_a_digit_is_a_queryable_table(stack) -> None:
    _outputs, cursor = stack
    # Athena: quote names that start with a digit in DML (tables-databases-columns-names.html)
    assert query(cursor, 'SELECT region, revenue FROM "2024_sales"') == [("APAC", 200), ("EMEA", 100)]


def test_a_field_named_dt_keeps_its_values_beside_the_partition_key(stack, localaws_env) -> None:
    outputs, cursor = stack
    renamed = f"dt_{naming.path_hash(['dt'])}"
    table = tables(outputs)["sensor_readings"]
    columns = [column["Name"] for column in table["StorageDescriptor"]["Columns"]]
    assert [key["Name"] for key in table["PartitionKeys"]] == ["dt"]
    assert "dt" not in columns and renamed in columns
    rows = query(cursor, f"SELECT sensor_id, {renamed}, value, dt IS NOT NULL FROM sensor_readings")
    assert rows == [("s-1", "2024-05-31", 1.5, True), ("s-2", "2024-06-01", 2.5, True)]


def test_a_top_level_dataset_and_a_child_dataset_are_two_tables_and_the_child_joins(stack) -> None:
    _outputs, cursor = stack
    assert query(cursor, "SELECT sku, qty, warehouse, _source_key FROM carts_items") == [
        ("A", "two", "W1", "raw/carts_items/a.ndjson"),
        ("C", "5", "W2", "raw/carts_items/a.ndjson"),
    ]
    joined = query(
        cursor,
        "SELECT c.order_id, i._position, i.sku, i.qty FROM carts c "
        "JOIN carts__items i ON i._parent_record_id = c._record_id",
    )
    assert joined == [(1, 0, "A", 2), (1, 1, "B", 1)]
