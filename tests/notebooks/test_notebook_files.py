"""The notebooks as files: stored without outputs, named NN_topic in order, listed in the README's table, narrating
and importing (no code defined in a cell), each starting with the world it is connected to, and renderable as HTML."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
from nbconvert import HTMLExporter

from kit import render

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
IDS = [path.stem for path in NOTEBOOKS]
# The tutorial's stages, one idea each (issue 6).
EXPECTED_NAMES = [
    "00_setup",
    "01_upload_raw_json",
    "02_lambda_flatten",
    "03_check_parquet_output",
    "04_glue_catalog",
    "05_athena_queries",
    "06_bad_input_and_drift",
    "07_teardown",
]
_README_ROW = re.compile(r"^\|.*?\b(\d\d_[a-z0-9_]+)\.ipynb\b")
_PITFALL = re.compile(r"\bP(1[0-6]|[1-9])\b")


def read(path: Path) -> nbformat.NotebookNode:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    return notebook


def code_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def test_the_notebooks_are_the_tutorials_stages_in_order() -> None:
    assert [path.stem for path in NOTEBOOKS] == EXPECTED_NAMES


def test_readme_table_lists_every_notebook_once_in_order() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = [match[1] for line in readme.splitlines() if (match := _README_ROW.match(line))]
    assert listed == [path.stem for path in NOTEBOOKS], "README.md's notebook table is out of date"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    for cell in code_cells(read(path)):
        assert cell.execution_count is None, f"{path.name}: clear the outputs before committing"
        assert cell.outputs == [], f"{path.name}: clear the outputs before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_imports_its_code_and_defines_none(path: Path) -> None:
    for cell in code_cells(read(path)):
        tree = ast.parse(cell.source)
        defined = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda)
        ]
        assert defined == [], f"{path.name}: move {ast.unparse(defined[0])[:60]!r} into the package"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_first_code_cell_says_which_world(path: Path) -> None:
    first = code_cells(read(path))[0].source
    assert "tutorial.describe_world()" in first and "world.summary()" in first
    # The stack's resources table is shown once, in 00, not at the top of every notebook.
    assert ("world.resources()" in first) == (path.stem == "00_setup")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_holds_no_assert(path: Path) -> None:
    """Checks belong in tests/notebooks/test_notebooks.py, which reads the executed outputs; a learner reads prose."""
    for cell in code_cells(read(path)):
        asserts = [node for node in ast.walk(ast.parse(cell.source)) if isinstance(node, ast.Assert)]
        assert asserts == [], f"{path.name}: move {ast.unparse(asserts[0])[:60]!r} into tests/notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_narrates_and_cites_pitfalls(path: Path) -> None:
    notebook = read(path)
    markdown = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith(f"# {path.stem[:2]} ")
    assert _PITFALL.search(markdown), f"{path.name} cites no pitfall (P1-P16)"
    assert len(markdown.split()) > 150, f"{path.name} narrates too little"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_stored_notebook_renders_as_html(path: Path) -> None:
    body, _resources = HTMLExporter().from_notebook_node(read(path))
    assert "<html" in body


def test_rendered_html_links_the_other_pages_and_the_repository() -> None:
    """`make html` writes build/html/<notebook>.html: links to notebooks point at their pages, ../ at the repo."""
    html = render.to_html(read(NOTEBOOK_DIR / "00_setup.ipynb"))
    assert 'href="01_upload_raw_json.html"' in html and '.ipynb"' not in html
    assert 'href="../../docs/pitfalls.md"' in html and 'href="../../README.md#the-notebooks"' in html
