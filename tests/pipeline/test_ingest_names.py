"""The naming contract through the transform Lambda on moto's S3, with the ingest cases in tests/cases/ingest/.

Each case once produced a name that Athena, Hive or the Glue crawler hides, or two datasets sharing one table
(see tests/cases/ingest/README.md); the same cases run through the whole pipeline on localaws in
tests/localaws/test_ingest_names_end_to_end.py.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote_plus

import boto3
import pyarrow.parquet as pq
import pytest
from moto import mock_aws

from pipeline import lambda_transform, naming, transform

pytestmark = pytest.mark.layer
BUCKET = "etl-names-bucket"
CASES = Path(__file__).resolve().parents[1] / "cases" / "ingest"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        monkeypatch.setitem(lambda_transform._clients, "s3", client)
        monkeypatch.delenv("ETL_BUCKET", raising=False)
        yield client


def upload(client, key: str, body: bytes) -> dict:
    """Puts the object and runs the transform Lambda on its ObjectCreated event; returns the record's summary."""
    client.put_object(Bucket=BUCKET, Key=key, Body=body)
    head = client.head_object(Bucket=BUCKET, Key=key)
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventTime": "2024-05-01T12:30:45.123Z",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "bucket": {"name": BUCKET},
            "object": {"key": quote_plus(key), "size": head["ContentLength"], "eTag": head["ETag"].strip('"')},
        },
    }
    (summary,) = lambda_transform.handler({"Records": [record]}, None)["records"]
    return summary


def keys(client, prefix: str) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def rows(client, key: str) -> list[dict]:
    return pq.read_table(io.BytesIO(client.get_object(Bucket=BUCKET, Key=key)["Body"].read())).to_pylist()


def record(client, dataset: str) -> dict:
    return json.loads(client.get_object(Bucket=BUCKET, Key=f"schemas/{dataset}.json")["Body"].read())


def hidden(key: str) -> bool:
    return any(part.startswith(("_", ".")) for part in key.split("/"))


def test_a_file_named_with_a_non_ascii_first_letter_gives_a_visible_object(s3) -> None:
    summary = upload(s3, "raw/orders/Überweisungen.json", (CASES / "hidden-name.json").read_bytes())
    (output,) = summary["outputs"]
    assert output.startswith("processed/orders/dt=2024-05-01/Uberweisungen_20240501T123045Z_"), output
    assert not hidden(output)
    assert [row["order_id"] for row in rows(s3, output)] == ["ORD-3", "ORD-4", "ORD-5"]


@pytest.mark.parametrize("name", ["_tmp.json", ".hidden.json", " spaced.json", "ßig.json", "客户.json"])
def test_no_source_file_name_gives_a_hidden_object(s3, name) -> None:
    (output,) = upload(s3, f"raw/orders/{name}", (CASES / "hidden-name.json").read_bytes())["outputs"]
    assert not hidden(output), output


@pytest.mark.parametrize(
    ("folder", "dataset"), [("2024-sales", "2024_sales"), ("_staging", "staging"), (".staging", "staging")]
)
def test_a_hidden_or_invalid_folder_becomes_a_visible_dataset(s3, caplog, folder, dataset) -> None:
    caplog.set_level(logging.INFO, logger="pipeline.lambda_transform")
    summary = upload(s3, f"raw/{folder}/q1.json", (CASES / "digit-dataset.json").read_bytes())
    assert summary["dataset"] == dataset
    (output,) = summary["outputs"]
    assert output.startswith(f"processed/{dataset}/dt=2024-05-01/") and not hidden(output)
    assert [row["region"] for row in rows(s3, output)] == ["EMEA", "APAC"]
    assert record(s3, dataset)["folder"] == folder
    notes = [json.loads(r.getMessage()) for r in caplog.records if '"status": "named"' in r.getMessage()]
    assert notes == [
        {
            "key": f"raw/{folder}/q1.json",
            "status": "named",
            "folder": folder,
            "dataset": dataset,
            "reason": "folder name made Athena-safe and visible",
        }
    ]


def test_a_field_named_dt_is_renamed_and_its_values_kept(s3) -> None:
    (output,) = upload(s3, "raw/sensor_readings/r.ndjson", (CASES / "field-named-dt.ndjson").read_bytes())["outputs"]
    renamed = f"dt_{naming.path_hash(['dt'])}"
    written = rows(s3, output)
    assert "dt" not in written[0]
    assert [(row["sensor_id"], row[renamed], row["value"]) for row in written] == [
        ("s-1", "2024-05-31", 1.5),
        ("s-2", "2024-06-01", 2.5),
    ]
    (column,) = [c for c in record(s3, "sensor_readings")["columns"] if c["path"] == ["dt"]]
    assert column == {
        "name": renamed,
        "type": "string",
        "path": ["dt"],
        "renamed_from": "dt",
        "rename_reason": "partition key",
    }


@pytest.mark.parametrize("field", ["_record_id", "_source_key", "_parent_record_id", "_position"])
def test_a_field_named_like_a_lineage_column_is_renamed_at_every_level(s3, field) -> None:
    body = json.dumps({"id": 1, field: "mine", "lines": [{field: "line"}]}).encode()
    outputs = upload(s3, "raw/orders/o.json", body)["outputs"]
    for output in outputs:
        (row,) = rows(s3, output)
        assert sorted(value for value in row.values() if value in ("mine", "line")) in (["mine"], ["line"])
        dataset = output.split("/")[1]
        recorded = {c["name"]: c for c in record(s3, dataset)["columns"]}
        (renamed,) = [c for c in recorded.values() if c.get("renamed_from") == field]
        assert renamed["rename_reason"] == "pipeline column"


@pytest.mark.parametrize("order", ["top-level first", "child first"])
def test_a_top_level_dataset_and_a_child_dataset_never_share_a_table(s3, order) -> None:
    uploads = [
        ("raw/carts_items/a.ndjson", (CASES / "name-clash-carts_items.ndjson").read_bytes()),
        ("raw/carts/b.ndjson", (CASES / "name-clash-carts.ndjson").read_bytes()),
    ]
    for key, body in uploads if order == "top-level first" else reversed(uploads):
        upload(s3, key, body)
    folders = {key.split("/")[1] for key in keys(s3, "processed/")}
    assert folders == {"carts", "carts_items", "carts__items"}
    assert keys(s3, "schemas/") == ["schemas/carts.json", "schemas/carts__items.json", "schemas/carts_items.json"]
    (top_level,) = keys(s3, "processed/carts_items/")
    assert [(row["sku"], row["qty"], row["_source_key"]) for row in rows(s3, top_level)] == [
        ("A", "two", "raw/carts_items/a.ndjson"),
        ("C", "5", "raw/carts_items/a.ndjson"),
    ]
    (parent,) = rows(s3, keys(s3, "processed/carts/")[0])
    (child_key,) = keys(s3, "processed/carts__items/")
    children = rows(s3, child_key)
    assert [(row["_parent_record_id"], row["_position"], row["sku"], row["qty"]) for row in children] == [
        (parent["_record_id"], 0, "A", 2),
        (parent["_record_id"], 1, "B", 1),
    ]
    assert record(s3, "carts")["children"] == [{"path": ["items"], "dataset": "carts__items"}]


def test_folders_that_fold_to_one_name_stay_apart_and_the_mapping_is_logged(s3, caplog) -> None:
    caplog.set_level(logging.INFO, logger="pipeline.lambda_transform")
    for folder in ("My-Data", "my_data", "MY DATA", "my_data", "My-Data"):
        upload(s3, f"raw/{folder}/part.json", json.dumps({"folder": folder}).encode())
    datasets = {
        "My-Data": "my_data",
        "my_data": f"my_data_{naming.path_hash(['my_data'], 8)}",
        "MY DATA": f"my_data_{naming.path_hash(['MY DATA'], 8)}",
    }
    for folder, dataset in datasets.items():
        assert {row["folder"] for key in keys(s3, f"processed/{dataset}/") for row in rows(s3, key)} == {folder}
        assert record(s3, dataset)["folder"] == folder
    notes = [json.loads(r.getMessage()) for r in caplog.records if '"status": "named"' in r.getMessage()]
    assert [(note["folder"], note["dataset"]) for note in notes] == [
        ("My-Data", "my_data"),
        ("my_data", datasets["my_data"]),
        ("MY DATA", datasets["MY DATA"]),
        ("my_data", datasets["my_data"]),
        ("My-Data", "my_data"),
    ]
    assert notes[1]["reason"] == "dataset 'my_data' belongs to folder 'My-Data'"


def test_the_cli_names_datasets_as_the_lambda_does_and_prints_the_mapping(tmp_path, capsys) -> None:
    for folder in ("2024-sales", "My-Data", "my_data"):
        (tmp_path / "in" / folder).mkdir(parents=True)
        (tmp_path / "in" / folder / "q1.json").write_bytes((CASES / "digit-dataset.json").read_bytes())
    out = tmp_path / "out"
    assert transform.main([str(tmp_path / "in"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    other = f"my_data_{naming.path_hash(['my_data'], 8)}"
    assert "folder '2024-sales' -> dataset '2024_sales'" in printed
    assert f"folder 'my_data' -> dataset '{other}' ('My-Data' was first)" in printed
    assert sorted(path.name for path in out.iterdir()) == sorted(["2024_sales", "my_data", other, "schemas"])
