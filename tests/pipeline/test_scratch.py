"""Scratch folders are removed on every exit path, and those of killed processes by the next sweep (issue 9, #12).

A process that holds a scratch folder keeps an flock on it; the kernel drops the lock when the process dies, so a
sweep tells a killed attempt's folder from a living one's without timing or process ids.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.scratch import SCRATCH_PREFIX, remove_stale_scratch_dirs, scratch_dir

HOLDER = """
import sys
from pipeline.scratch import scratch_dir
with scratch_dir(sys.argv[1], "spill-") as path:
    open(f"{path}/block-000.arrow", "wb").write(b"x" * 1024)
    print(path, flush=True)
    sys.stdin.read()  # hold the folder until the test closes stdin or kills this process
"""


def scratch_folders(parent: Path) -> list[str]:
    return sorted(entry.name for entry in parent.iterdir() if entry.name.startswith(SCRATCH_PREFIX))


def holder(parent: Path) -> tuple[subprocess.Popen[str], Path]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(parent)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    return process, Path(process.stdout.readline().strip())


def test_a_scratch_folder_is_removed_on_return_and_on_error(tmp_path: Path):
    with scratch_dir(tmp_path, "out-") as path:
        assert Path(path).is_dir() and Path(path).name.startswith(f"{SCRATCH_PREFIX}out-")
    with pytest.raises(RuntimeError), scratch_dir(tmp_path) as path:
        raise RuntimeError("upload failed")
    assert scratch_folders(tmp_path) == []


def test_the_folder_of_a_killed_process_is_swept_and_a_living_ones_is_not(tmp_path: Path):
    killed, killed_path = holder(tmp_path)
    living, living_path = holder(tmp_path)
    os.kill(killed.pid, signal.SIGKILL)  # as Lambda ends a timed-out or out-of-memory invocation
    killed.wait()
    with scratch_dir(tmp_path) as own:  # this process's own folder is in use too
        assert remove_stale_scratch_dirs(tmp_path) == [str(killed_path)]
        assert sorted([living_path.name, Path(own).name]) == scratch_folders(tmp_path)
    living.communicate("")  # a clean exit removes its own folder
    assert scratch_folders(tmp_path) == []
    assert remove_stale_scratch_dirs(tmp_path) == []


def test_a_sweep_of_a_missing_folder_finds_nothing(tmp_path: Path):
    assert remove_stale_scratch_dirs(tmp_path / "absent") == []
