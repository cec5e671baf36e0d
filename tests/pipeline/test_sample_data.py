"""The sample datasets: each file is what README.md says it is, and the transform CLI on all of them writes the
documented row counts and quarantines exactly the malformed file.

The expected counts come from sample_data/expected_counts.json, computed from the JSON by
sample_data/expected_counts.py without using pipeline/.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DIR = ROOT / "sample_data"
MALFORMED = "messy/broken_upload.json"
BIG_INTEGER = 123456789012345678901234567890  # beyond int64 in messy/part-0001.json
INT64_MAX = 2**63 - 1


def _load_script(name: str):
    """sample_data/ holds scripts, not a package: load one by path."""
    spec = importlib.util.spec_from_file_location(f"sample_data_{name}", SAMPLE_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


counter = _load_script("expected_counts")
generator = _load_script("generate")
EXPECTED = json.loads(counter.EXPECTED_FILE.read_text(encoding="utf-8"))
SAMPLE_FILES = counter.sample_files()
SAMPLE_KEYS = [f"{path.parent.name}/{path.name}" for path in SAMPLE_FILES]


def records_of(dataset: str) -> list[dict]:
    return [
        record
        for path in SAMPLE_FILES
        if path.parent.name == dataset and f"{dataset}/{path.name}" != MALFORMED
        for record in counter.read_records(path)
    ]


def all_keys(value: object) -> set[str]:
    """Every object key at any depth."""
    if isinstance(value, dict):
        return set(value) | {key for child in value.values() for key in all_keys(child)}
    if isinstance(value, list):
        return {key for child in value for key in all_keys(child)}
    return set()


# ---------------------------------------------------------------- the files themselves


def test_committed_files_are_what_the_generator_writes(tmp_path: Path) -> None:
    written = generator.generate(tmp_path)
    assert [f"{path.parent.name}/{path.name}" for path in written] == SAMPLE_KEYS
    for path in written:
        committed = SAMPLE_DIR / path.parent.name / path.name
        fresh, stored = path.read_bytes(), committed.read_bytes()
        if fresh[:2] == b"\x1f\x8b":  # compressed bytes may differ between zlib builds; the content may not
            fresh, stored = gzip.decompress(fresh), gzip.decompress(stored)
        assert fresh == stored, f"{committed} differs: rerun sample_data/generate.py"


def test_expected_counts_match_the_data() -> None:
    assert counter.count_rows(SAMPLE_FILES) == EXPECTED, "rerun sample_data/expected_counts.py --write"


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_sample_file_is_valid_as_intended(key: str) -> None:
    path = SAMPLE_DIR / key
    if key == MALFORMED:
        with pytest.raises(json.JSONDecodeError):
            counter.read_records(path)
        return
    records = counter.read_records(path)
    assert records
    assert all(isinstance(record, dict) for record in records)


def test_orders_come_in_three_formats() -> None:
    shapes = set()
    for data in (path.read_bytes() for path in (SAMPLE_DIR / "orders").iterdir()):
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
            shapes.add("gzip")
        shapes.add("array" if data.lstrip().startswith(b"[") else "ndjson")
    assert shapes == {"array", "ndjson", "gzip"}
    orders = records_of("orders")
    assert len({order["customer"]["address"]["city"] for order in orders}) >= 5
    assert len({order["status"] for order in orders}) >= 4
    assert any(order["items"] == [] for order in orders), "an order without lines (no child rows)"
    assert any(item["tags"] == [] for order in orders for item in order["items"]), "an empty array of scalars"


def test_clickstream_payload_shape_varies_by_event_type() -> None:
    events = records_of("clickstream")
    keys_by_type: dict[str, set[str]] = {}
    for event in events:
        keys_by_type.setdefault(event["event_type"], set()).update(event["payload"])
    assert set(keys_by_type) == {"page_view", "add_to_cart", "purchase", "search"}
    assert keys_by_type["page_view"] == {"url", "referrer"}
    assert keys_by_type["add_to_cart"] == {"sku", "qty"}
    assert keys_by_type["purchase"] == {"order_id", "amount", "items"}
    assert {"query", "results"} <= keys_by_type["search"]
    assert all(isinstance(event["experiments"], list) for event in events), "an array of scalars on every event"


def test_messy_has_every_documented_case() -> None:
    records = records_of("messy")
    keys = all_keys(records)
    assert {"User.Name", "Zip Code", "ID", "id", "Line Items", "Größe"} <= keys
    assert all(record["legacy_flag"] is None for record in records), "an all-null field"
    assert any(isinstance(value, int) and value > INT64_MAX for record in records for value in record.values())
    price_types = {type(record["price"]) for record in records}
    quantity_types = {type(record.get("quantity")) for record in records}
    zip_types = {type(record["Zip Code"]) for record in records if "Zip Code" in record}
    assert price_types == {int, float}
    assert {int, str} <= quantity_types
    assert zip_types == {int, str}
    assert " " in next(path.name for path in SAMPLE_FILES if path.name.startswith("export"))
    assert (SAMPLE_DIR / "messy" / "single_record.json").read_bytes().startswith(b"\xef\xbb\xbf")


# ---------------------------------------------------------------- through the transform CLI

requires_transform = pytest.mark.skipif(
    not (ROOT / "pipeline" / "transform.py").exists(),
    reason="pipeline/transform.py does not exist yet (the transform core is built in issue 2)",
)


@pytest.fixture(scope="module")
def cli_output(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    """One CLI run over every sample file, as `make demo` does before localaws exists."""
    out_dir = tmp_path_factory.mktemp("transformed")
    command = [sys.executable, "-m", "pipeline.transform", *map(str, SAMPLE_FILES), "--out", str(out_dir)]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    return completed, out_dir


def parquet_by_table(out_dir: Path) -> dict[str, list[Path]]:
    """Parquet files grouped by the dataset folder that holds their dt= partition."""
    tables: dict[str, list[Path]] = {}
    for path in out_dir.rglob("*.parquet"):
        assert path.parent.name.startswith("dt="), f"not under a dt= partition: {path}"
        tables.setdefault(path.parent.parent.name, []).append(path)
    return tables


def rows_of(files: list[Path]) -> list[dict]:
    """Each file read on its own: the messy files differ in schema by design."""
    return [row for path in sorted(files) for row in pq.read_table(path).to_pylist()]


@requires_transform
@pytest.mark.layer
def test_cli_writes_the_documented_row_counts(cli_output: tuple[subprocess.CompletedProcess, Path]) -> None:
    completed, out_dir = cli_output
    tables = parquet_by_table(out_dir)
    assert tables, f"no Parquet written; CLI stderr:\n{completed.stderr}"
    rows = {table: sum(pq.read_metadata(path).num_rows for path in files) for table, files in tables.items()}
    assert rows == EXPECTED["tables"]
    # One Parquet file per source file and table, as the Lambda writes one object per upload and dataset.
    files_per_table = Counter(table for counts in EXPECTED["files"].values() for table in counts)
    assert {table: len(files) for table, files in tables.items()} == dict(files_per_table)


@requires_transform
@pytest.mark.layer
def test_cli_quarantines_exactly_the_malformed_file(cli_output: tuple[subprocess.CompletedProcess, Path]) -> None:
    _, out_dir = cli_output
    reports = sorted(out_dir.rglob("*.error.json"))
    assert [report.relative_to(out_dir).as_posix() for report in reports] == [f"quarantine/{MALFORMED}.error.json"]
    assert (out_dir / "quarantine" / MALFORMED).read_bytes() == (SAMPLE_DIR / MALFORMED).read_bytes()
    report = json.loads(reports[0].read_text(encoding="utf-8"))
    assert report, "the error report says why"


@requires_transform
@pytest.mark.layer
def test_cli_keeps_the_values_readme_quotes(cli_output: tuple[subprocess.CompletedProcess, Path]) -> None:
    _, out_dir = cli_output
    tables = parquet_by_table(out_dir)
    orders = rows_of(tables["orders"])
    cities = Counter(row["customer_address_city"] for row in orders)
    assert cities == Counter(order["customer"]["address"]["city"] for order in records_of("orders"))
    messy_values = {str(value) for row in rows_of(tables["messy"]) for value in row.values()}
    assert str(BIG_INTEGER) in messy_values, "the integer beyond int64 keeps its value"


def test_readme_states_the_computed_counts() -> None:
    """The Athena table in sample_data/README.md is the one expected_counts.py computes."""
    readme = (SAMPLE_DIR / "README.md").read_text(encoding="utf-8")
    documented = {
        match[1]: int(match[2]) for match in re.finditer(r"^\| `([a-z_]+)` \| (\d+) \| .* \|$", readme, re.MULTILINE)
    }
    assert documented == EXPECTED["tables"]
    assert f"`{Path(EXPECTED['quarantined'][0]).name}`" in readme
