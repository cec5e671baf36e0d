"""Execute every tutorial notebook, top to bottom and in order, against a fresh localaws, as `make lab` would run them.

The stack is provisioned with the unchanged provision.py into a temporary outputs folder (KIT_STACKS_DIR), so a
learner's own `.stacks/` is never touched. A failing cell fails its notebook's test with the cell's error; the
notebooks after it are skipped, since each one builds on the state the previous ones left. Each executed notebook
must then render as HTML.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert import HTMLExporter

from kit.lab import lab_env
from kit.local_endpoint import LocalAwsProcess

pytestmark = [pytest.mark.localaws, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
STACK = "nbtest"
CELL_TIMEOUT_S = 300

_executed: dict[str, nbformat.NotebookNode] = {}
_failed: list[str] = []


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A fresh localaws process for this module, the stack provisioned on it, and the kernels' environment."""
    log_dir = ROOT / ".pytest_cache"
    log_dir.mkdir(exist_ok=True)
    server = LocalAwsProcess(log_path=log_dir / "localaws-notebooks.log")
    try:
        env = lab_env(os.environ, stack=STACK, endpoint=server.endpoint)
        env.update(
            KIT_STACKS_DIR=str(tmp_path_factory.mktemp("stacks")),
            AWS_CONFIG_FILE="/dev/null",
            AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        )
        provision = subprocess.run(
            [sys.executable, "provision.py", "--stack", STACK],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert provision.returncode == 0, provision.stdout[-3000:] + provision.stderr[-3000:]
        yield env
    finally:
        server.stop()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path: Path, kernel_env: dict[str, str]) -> None:
    if _failed:
        pytest.skip(f"{_failed[0]} failed, and every later notebook builds on it")
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    try:
        client.execute(env=kernel_env)
    except CellExecutionError as error:
        _failed.append(path.name)
        pytest.fail(f"{path.name}: a cell failed\n{error}", pytrace=False)
    _executed[path.name] = notebook


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_executed_notebook_renders_as_html(path: Path) -> None:
    if path.name not in _executed:
        pytest.skip(f"{path.name} did not execute")
    notebook = _executed[path.name]
    errors = [output for cell in notebook.cells for output in cell.get("outputs", []) if output.output_type == "error"]
    assert errors == []
    body, _resources = HTMLExporter().from_notebook_node(notebook)
    markdown_cells = sum(cell.cell_type == "markdown" for cell in notebook.cells)
    assert body.count("jp-MarkdownCell") >= markdown_cells
