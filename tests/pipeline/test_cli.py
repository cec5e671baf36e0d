"""The transform CLI (issue 9 point 11): every input is processed, each failure is one line, and the exit status
says whether any input failed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.layer
ROOT = Path(__file__).resolve().parents[2]
CASES = Path(__file__).resolve().parent / "cases"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pipeline.transform", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "in" / "tweets"
    folder.mkdir(parents=True)
    paths = {
        "missing": folder / "missing.json",  # never written: the transform cannot even open it
        "surrogate": folder / "t.jsonl",  # stopped the CLI with a traceback before the fix
        "broken": folder / "broken.json",
        "directory": folder / "not-a-file.json",  # a folder named like a file, given explicitly
        "good": folder / "good.ndjson",
    }
    paths["surrogate"].write_bytes((CASES / "lone-surrogate.jsonl").read_bytes())
    paths["broken"].write_text('{"id": 1,,}\n')
    paths["directory"].mkdir()
    (paths["directory"] / "inner.json").write_text('{"id": 7}\n')
    paths["good"].write_text('{"id": 1}\n{"id": 2}\n')
    return paths


def test_every_input_is_processed_and_each_failure_is_one_line(tmp_path: Path, inputs: dict[str, Path]) -> None:
    order = ["missing", "surrogate", "broken", "good"]
    completed = run_cli(*(str(inputs[name]) for name in order), "--out", str(tmp_path / "out"))
    assert completed.returncode == 1  # an input failed
    failures = [line for line in completed.stderr.splitlines() if "FAILED" in line]
    assert len(failures) == 1 and failures[0].startswith(f"{inputs['missing']}: FAILED (FileNotFoundError: ")
    assert "Traceback" not in completed.stderr
    stdout = completed.stdout.splitlines()
    assert f"{inputs['surrogate']}: 2 records" in "\n".join(stdout)
    assert f"{inputs['good']}: 2 records" in "\n".join(stdout)
    quarantined = [line for line in stdout if "QUARANTINED" in line]
    assert len(quarantined) == 1 and quarantined[0].startswith(f"{inputs['broken']}: QUARANTINED -> ")
    assert stdout[-1] == "2 transformed, 1 quarantined, 1 failed"
    assert len(list((tmp_path / "out" / "tweets").rglob("*.parquet"))) == 2


def test_quarantine_alone_exits_0_unless_strict(tmp_path: Path, inputs: dict[str, Path]) -> None:
    both = [str(inputs["broken"]), str(inputs["good"])]
    assert run_cli(*both, "--out", str(tmp_path / "a")).returncode == 0
    strict = run_cli(*both, "--out", str(tmp_path / "b"), "--strict")
    assert strict.returncode == 1
    assert strict.stdout.splitlines()[-1] == "1 transformed, 1 quarantined, 0 failed"


def test_a_folder_is_every_file_below_it(tmp_path: Path, inputs: dict[str, Path]) -> None:
    completed = run_cli(str(inputs["directory"]), "--out", str(tmp_path / "out"))
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines()[-1] == "1 transformed, 0 quarantined, 0 failed"
