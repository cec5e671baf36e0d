"""Execute every tutorial notebook, top to bottom and in order, against a fresh localaws, as `make lab` would run them;
then check what each one shows, from its outputs, and how its rendered page reads.

The notebooks narrate and hold no `assert`: the checks live here and read the executed notebooks' outputs (what the
learner sees). The stack is provisioned with the unchanged provision.py into a temporary outputs folder, so a
learner's own `.stacks/` is never touched. A failing cell fails its notebook's test with the cell's error; the
notebooks after it are skipped, since each one builds on the state the previous ones left.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from notebook_outputs import CUT_VALUE, OBJECT_REPR, all_output_text, cell, table, tables, text

from kit import render
from kit.screenshots import PAGE_WIDTH_PX, photograph

pytestmark = [pytest.mark.localaws, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = render.notebooks()
IDS = [path.stem for path in NOTEBOOKS]
STACK = "nbtest"
EXPECTED = json.loads((ROOT / "sample_data" / "expected_counts.json").read_text())
TABLES = EXPECTED["tables"]

_executed: dict[str, nbformat.NotebookNode] = {}
_failed: list[str] = []


@pytest.fixture(scope="module")
def kernel_env() -> Iterator[dict[str, str]]:
    """A fresh localaws process for this module, the stack provisioned on it, and the kernels' environment."""
    with render.provisioned_localaws(STACK, ROOT / ".pytest_cache" / "localaws-notebooks.log") as env:
        yield env


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_runs_top_to_bottom(path: Path, kernel_env: dict[str, str]) -> None:
    if _failed:
        pytest.skip(f"{_failed[0]} failed, and every later notebook builds on it")
    try:
        _executed[path.stem] = render.execute(path, kernel_env)
    except render.NotebookFailed as failure:
        _failed.append(path.name)
        pytest.fail(str(failure), pytrace=False)


# --- what each notebook shows ---------------------------------------------------------------------------------------
def _states(rows: list[dict[str, str]]) -> dict[str, str]:
    return {f"{row['resource']} {row['name']}": row["state"] for row in rows}


def check_00_setup(nb) -> None:
    states = _states(table(nb, "00-05"))
    assert set(states.values()) == {"exists"}, states
    assert re.search(rf"^Stack {STACK} ready in [\d.]+ s \(0 changes\)\.$", text(nb, "00-07"), re.MULTILINE)


def check_01_upload_raw_json(nb) -> None:
    rules = {row["prefix"]: row["destination"] for row in table(nb, "01-08")}
    assert rules == {"raw/": f"{STACK}-transform", "processed/": f"queue {STACK}-catalog"}
    uploaded = re.findall(r"-> s3://\S+?/(raw/\S+)", text(nb, "01-10"))
    assert len(uploaded) == 5
    assert "0 file(s) quarantined" in text(nb, "01-12")
    first = json.loads(text(nb, "01-14").split("the first one:\n", 1)[1])
    assert first["eventSource"] == "aws:s3" and first["eventName"].startswith("ObjectCreated:")
    assert {"key", "eTag", "sequencer", "size"} <= set(first["s3"]["object"])
    assert set(uploaded) <= {row["decoded key"] for row in table(nb, "01-14b")}


def check_02_lambda_flatten(nb) -> None:
    assert text(nb, "02-04").splitlines() == ["orders: 1 row(s), 15 columns", "orders__items: 4 row(s), 8 columns"]
    parent = {row[""]: row["value"] for row in table(nb, "02-06")}
    items = table(nb, "02-07a")
    assert [row["_position"] for row in items] == ["0", "1", "2", "3"]
    assert {row["_parent_record_id"] for row in items} == {parent["_record_id"]}
    files = EXPECTED["files"]
    expected = files["orders/orders_2024-06-01.json"]
    assert f"orders: {expected['orders']} rows, " in text(nb, "02-09")
    assert f"orders__items: {expected['orders__items']} rows" in text(nb, "02-09")
    for row in table(nb, "02-13a"):
        assert int(row["rows"]) == files[row["key"].removeprefix("raw/")][row["dataset"]], row
    reports = table(nb, "02-15")
    assert reports and all(float(row["billed_ms"]) >= float(row["duration_ms"]) for row in reports)
    cold = [row for row in reports if float(row["init_ms"]) > 0]
    assert all(float(row["billed_ms"]) >= float(row["init_ms"]) + float(row["duration_ms"]) - 1 for row in cold)


def check_03_check_parquet_output(nb) -> None:
    keys = [row["key"] for row in table(nb, "03-04")]
    datasets = {key.split("/")[1] for key in keys}
    assert {name for name in TABLES if not name.startswith("messy")} <= datasets
    schema = text(nb, "03-06").splitlines()[1:]
    for line in schema:
        name, kind = line.split(": ", 1)
        assert re.fullmatch(r"[a-z_][a-z0-9_]*", name), name
        assert kind != "null" and "timestamp[ns" not in kind, line
    chunks = table(nb, "03-09a")
    assert {row["compression"] for row in chunks} == {"SNAPPY"}
    order_ids = next(row for row in chunks if row["column"] == "order_id")
    assert order_ids["min"].startswith("ORD-") and order_ids["max"] >= order_ids["min"]
    assert "rows: 18" in text(nb, "03-09") and "row groups: 1" in text(nb, "03-09")
    orders, items = TABLES["orders"], TABLES["orders__items"]
    assert f"{orders} orders, {items} item rows, {items} of them joined to their order" in text(nb, "03-11")


def check_04_glue_catalog(nb) -> None:
    assert json.loads(text(nb, "04-04"))["state"] == "READY"
    updater = json.loads(text(nb, "04-04c"))
    assert updater["mode"] == "partitions" and updater["reserved_concurrency"] == 1
    assert updater["mapping"][0]["response_types"] == ["ReportBatchItemFailures"]
    assert updater["queue_messages"] == {"visible": 0, "in_flight": 0}  # caught up: nothing waits
    assert updater["dead_letter_messages"]["visible"] == 0
    assert all(row["State"] != "FAILED" for row in table(nb, "04-06"))
    tables = {row["table"]: row for row in table(nb, "04-10")}
    assert {name for name in TABLES if not name.startswith("messy")} <= set(tables)
    assert {row["partition_keys"] for row in tables.values()} == {"dt"}
    assert not any(row["column"].startswith("partition_") for row in table(nb, "04-12"))
    item_types = {row["column"]: row["hive_type"] for row in table(nb, "04-13")}
    assert item_types["tags"].startswith("array<")
    # The narration names only Hive types the tables show: the kit keeps timestamps as ISO 8601 strings (README,
    # "Timestamps stay strings"), so no "timestamp -> timestamp" while order_ts is a string column.
    order_types = {row["column"]: row["hive_type"] for row in table(nb, "04-12")}
    assert order_types["order_ts"] == "string"
    shown = {hive_type.split("<")[0] for hive_type in [*order_types.values(), *item_types.values()]}
    named = {name.split("<")[0] for name in re.findall(r"→\s*`([a-z]+(?:<…>)?)`", cell(nb, "04-11").source)}
    assert named and named <= shown, named - shown
    # A run within one day has one dt per table, from the crawl that made it: the narration may not say the catalog
    # updater registered later partitions (it registers a partition only for a later day of an existing table).
    if len({row["values"] for row in table(nb, "04-15")}) == 1:
        for cell_id in ("04-14", "04-16"):
            assert not re.search(r"catalog updater registered the\s+later partitions", cell(nb, cell_id).source)


def check_05_athena_queries(nb) -> None:
    by_status = {row["status"]: int(row["orders"]) for row in table(nb, "05-05")}
    assert by_status == {"delivered": 17, "shipped": 12, "cancelled": 7, "placed": 6, "returned": 2}
    revenue = {row["currency"]: float(row["revenue"]) for row in table(nb, "05-06b")}
    assert revenue == {"EUR": 4621.95, "GBP": 2012.20, "USD": 2118.69}  # sample_data/README.md
    for row in table(nb, "05-06d"):
        assert float(row["revenue"]) == revenue[row["currency"]]
        assert float(row["revenue_eur"]) == pytest.approx(float(row["revenue"]) * float(row["eur_per_unit"]), abs=0.01)
    assert text(nb, "05-09").startswith(f"{TABLES['orders__items']} item lines found their order")
    assert sum(int(row["events"]) for row in table(nb, "05-11")) == TABLES["clickstream"]
    assert re.search(r"dt = '2000-01-01': 0 rows · 0 B scanned", text(nb, "05-11"))
    assert "Athena and pandas count the same: True" in text(nb, "05-13")
    uses = {row["tag"]: int(row["uses"]) for row in table(nb, "05-13")}
    assert (uses["gift"], uses["electronics"], uses["apparel"]) == (20, 16, 15)
    for chart in ("05-06", "05-14"):
        html = cell(nb, chart).outputs[0].data["text/html"]
        assert re.search(r'<img src="data:image/png;base64,[^"]+" alt="[^"]{20,}">', html), chart
    # the raw JSON through CREATE EXTERNAL TABLE (OpenX SerDe): every event, "$path" naming each raw file
    assert "struct<type:string,os:string,browser:string" in text(nb, "05-14b")
    per_file = {row["s3_object"].split("/", 3)[3]: int(row["events"]) for row in table(nb, "05-14b")}
    raw_files = sorted((ROOT / "sample_data" / "clickstream").glob("*.jsonl"))
    assert per_file == {
        f"raw/clickstream/{p.name}": EXPECTED["files"][f"clickstream/{p.name}"]["clickstream"] for p in raw_files
    }
    assert "Same answer from both: True" in text(nb, "05-14d")
    per_device = table(nb, "05-14d")
    assert sum(int(row["events"]) for row in per_device) == TABLES["clickstream"]
    assert sum(int(row["purchases"]) for row in per_device) == 9  # sample_data/README.md
    scans = {row["query"]: row for row in table(nb, "05-14f")}
    raw, parquet = scans["raw JSON (OpenX SerDe)"], scans["Parquet"]
    assert int(raw["bytes_scanned"]) == sum(p.stat().st_size for p in raw_files)  # whole files: text is not pruned
    assert 0 < int(parquet["bytes_scanned"]) < int(raw["bytes_scanned"]) / 2
    assert raw["usd_on_aws"] == parquet["usd_on_aws"]  # both billed Athena's 10 MB minimum
    assert float(raw["usd_at_1_tb_baseline"]) == 5.0 and float(parquet["usd_at_1_tb_baseline"]) < 2.5


def check_06_bad_input_and_drift(nb) -> None:
    files = EXPECTED["files"]
    first = files["messy/part-0001.json"]["messy"] + files["messy/single_record.json"]["messy"]
    assert text(nb, "06-05").startswith(f"{first} rows in messy")
    assert "1 file(s) quarantined" in text(nb, "06-08")
    report = {row[""]: row["report"] for row in table(nb, "06-10")}
    assert report["quarantined"] == "quarantine/messy/broken_upload.json"
    assert report["reason"] == "invalid JSON: Expecting property name enclosed in double quotes"
    changes = {row["column"]: (row["before"], row["after"]) for row in table(nb, "06-12")}
    assert changes["id__string"] == ("(no such column)", "string")
    assert changes["price__double"] == ("(no such column)", "double")
    counts = table(nb, "06-14")[0]
    assert {name: int(counts[name]) for name in ("messy", "messy__line_items", "orders")} == {
        name: TABLES[name] for name in ("messy", "messy__line_items", "orders")
    }
    rows = table(nb, "06-15a")
    assert len(rows) == TABLES["messy"]
    erin = next(row for row in rows if row["user_name"] == "erin")
    assert (erin["id"], erin["id__string"], erin["price"], erin["price__double"]) == ("<NA>", "5", "<NA>", "19.5")
    assert {value for row in rows for value in row.values()} & {"NaN", "None", "nan"} == set()


def check_07_teardown(nb) -> None:
    before = _states(table(nb, "07-04"))
    assert set(before.values()) == {"exists"}, before
    assert any(name.startswith("Crawler log stream /aws-glue/crawlers/") for name in before)
    report = text(nb, "07-04b")  # least privilege, measured under IAM enforcement: each kit role appears, none denied
    assert "transform" in report and "crawler" in report, report
    assert f"nothing tagged etl-kit-stack={STACK} remains" in text(nb, "07-06")
    after = _states(table(nb, "07-08"))
    assert set(after) == set(before) and set(after.values()) == {"not found"}, after
    assert f"Tagged with stack {STACK}: 0 resources" in text(nb, "07-08")
    assert "resources: not found, nothing to do" in text(nb, "07-10")
    assert f"nothing tagged etl-kit-stack={STACK} remains" in text(nb, "07-10")


CHECKS = {name.removeprefix("check_"): check for name, check in globals().items() if name.startswith("check_")}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_executed_notebook_shows_what_it_teaches(path: Path) -> None:
    if path.stem not in _executed:
        pytest.skip(f"{path.name} did not execute")
    notebook = _executed[path.stem]
    assert [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"] == []
    CHECKS[path.stem](notebook)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_executed_notebook_prints_no_object_repr_and_cuts_no_value(path: Path) -> None:
    if path.stem not in _executed:
        pytest.skip(f"{path.name} did not execute")
    shown = all_output_text(_executed[path.stem])
    shown = re.sub(r"<IPython\.core\.display\.HTML object>", "", shown)  # the HTML is shown, not this text form
    assert OBJECT_REPR.findall(shown) == []
    assert CUT_VALUE.findall(shown) == []
    # A missing value reads the same everywhere (<NA>, or an empty cell), never NaN or None beside it.
    cells: set[str] = set()
    for item in _executed[path.stem].cells:
        if item.cell_type == "code":
            cells |= {value for rows in tables(_executed[path.stem], item.id) for row in rows for value in row.values()}
    assert cells & {"NaN", "None", "nan"} == set()


# --- the rendered pages, as a reader sees them ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def rendered_pages(tmp_path_factory: pytest.TempPathFactory):
    if len(_executed) != len(NOTEBOOKS):
        pytest.skip("not every notebook executed")
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    html_dir = tmp_path_factory.mktemp("html")
    html_files = []
    for path in NOTEBOOKS:
        html = html_dir / f"{path.stem}.html"
        html.write_text(render.to_html(_executed[path.stem]), encoding="utf-8")
        html_files.append(html)
    # The screenshots stay in .pytest_cache/notebook-screenshots/ for a person to look at after the run.
    return {page.name: page for page in photograph(html_files, ROOT / ".pytest_cache" / "notebook-screenshots")}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_rendered_page_fits_1280_px_and_reads_whole(path: Path, rendered_pages) -> None:
    page = rendered_pages[path.stem]
    assert page.screenshot.stat().st_size > 0
    assert page.widest_table_px <= PAGE_WIDTH_PX, f"{path.name}: a table is {page.widest_table_px} px wide"
    shown = "\n".join(page.output_texts)
    assert OBJECT_REPR.findall(shown) == []
    assert CUT_VALUE.findall(shown) == []
