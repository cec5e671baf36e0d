"""`make html`: execute every tutorial notebook, in order, against a fresh localaws, and render each to HTML.

Steps:
1. start localaws on a free loopback port, and provision a stack on it with the unchanged provision.py (its outputs
   file goes to a temporary folder, so a learner's own .stacks/ is never touched);
2. execute notebooks/NN_*.ipynb top to bottom with nbclient, each in its own kernel with `make lab`'s environment;
3. write each executed notebook to build/executed/ and its HTML to build/html/ (nbconvert's lab template), stopping
   at the first notebook with a failing cell (the later ones build on its state).
The notebooks in notebooks/ are never modified: they stay stored without outputs.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert import HTMLExporter

from kit.errors import script_boundary
from kit.lab import lab_env
from kit.local_endpoint import REPO_ROOT, LocalAwsProcess

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
BUILD_DIR = REPO_ROOT / "build"
CELL_TIMEOUT_S = 300
STACK = "render"


class NotebookFailed(RuntimeError):
    """A cell raised; the message names the notebook and holds the cell's error."""


def notebooks() -> list[Path]:
    return sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


@contextmanager
def provisioned_localaws(stack: str, log_path: Path) -> Iterator[dict[str, str]]:
    """A fresh localaws with `stack` provisioned on it; yields the environment the notebooks' kernels need."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    server = LocalAwsProcess(log_path=log_path)
    try:
        with tempfile.TemporaryDirectory(prefix="stacks-") as stacks:
            env = lab_env(os.environ, stack=stack, endpoint=server.endpoint)
            env.update(KIT_STACKS_DIR=stacks, AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
            command = [sys.executable, "provision.py", "--stack", stack, "--no-next-steps"]
            done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise NotebookFailed(f"provision.py failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
            yield env
    finally:
        server.stop()


def execute(path: Path, env: dict[str, str]) -> nbformat.NotebookNode:
    """Run one notebook top to bottom in a fresh kernel; NotebookFailed when a cell raises."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, kernel_name="python3", timeout=CELL_TIMEOUT_S, resources={"metadata": {"path": str(NOTEBOOK_DIR)}}
    )
    try:
        client.execute(env=env)
    except CellExecutionError as error:
        raise NotebookFailed(f"{path.name}: a cell failed\n{error}") from error
    return notebook


_NOTEBOOK_LINK = re.compile(r'href="(\d\d_[a-z0-9_]+)\.ipynb')


def to_html(notebook: nbformat.NotebookNode) -> str:
    """The lab template's HTML, with links to the other notebooks and to the repository fixed for build/html/."""
    body, _resources = HTMLExporter(template_name="lab").from_notebook_node(notebook)
    body = _NOTEBOOK_LINK.sub(r'href="\1.html', body)
    return body.replace('href="../', 'href="../../')


def render_all(build_dir: Path = BUILD_DIR, out=print) -> list[Path]:
    """Execute and render every notebook; -> the HTML files written, in order."""
    executed_dir, html_dir = build_dir / "executed", build_dir / "html"
    executed_dir.mkdir(parents=True, exist_ok=True)
    html_dir.mkdir(parents=True, exist_ok=True)
    written = []
    out("Starting localaws and provisioning a stack for the notebooks…")
    with provisioned_localaws(STACK, build_dir / "localaws-render.log") as env:
        for path in notebooks():
            out(f"  executing {path.name}…")
            notebook = execute(path, env)
            nbformat.write(notebook, executed_dir / path.name)
            html = html_dir / f"{path.stem}.html"
            html.write_text(to_html(notebook), encoding="utf-8")
            written.append(html)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kit.render", description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", type=Path, default=BUILD_DIR, help="where executed/ and html/ go")
    args = parser.parse_args(argv)

    def run() -> int:
        try:
            written = render_all(args.build_dir)
        except NotebookFailed as failure:
            print(failure)
            return 1
        print(f"{len(written)} notebooks rendered to {args.build_dir / 'html'}/ (open them in any browser).")
        return 0

    return script_boundary(run, script="make html")


if __name__ == "__main__":
    sys.exit(main())
