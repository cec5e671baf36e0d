"""benchmarks/transform.py's harness: engines measured round by round, and a process tree's RSS summed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import transform as bench


def test_engines_are_measured_side_by_side_round_by_round(monkeypatch, tmp_path: Path) -> None:
    order: list[str] = []

    def measure_once(engine: str, source: Path) -> tuple[dict, float, str]:
        order.append(engine)
        if engine == "duckdb":
            return None, 50.0, "failed: out of memory"
        return {"seconds": 1.0, "cpu_seconds": 1.5, "rows": 3, "out_bytes": 10}, 100.0, ""

    monkeypatch.setattr(bench, "measure_once", measure_once)
    source = tmp_path / "input.jsonl"
    source.write_text('{"a": 1}\n')
    runs = [(bench.Run("ndjson", 1, engine), repeat) for engine, repeat in [("baseline", 1), ("pyarrow", 3)]]
    runs.append((bench.Run("ndjson", 1, "duckdb"), 3))
    runs.append((bench.Run("ndjson", 1, "transform"), 3))
    for _round in range(3):
        bench.measure_round(runs, source)
    assert order == ["baseline", "pyarrow", "duckdb", "transform", "pyarrow", "transform", "pyarrow", "transform"]
    assert [len(run.seconds) for run, _repeat in runs] == [1, 3, 0, 3]
    assert runs[2][0].failure == "failed: out of memory"


def test_the_tree_rss_counts_a_child_process(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import subprocess, sys
        hold = "b = b'x' * (300 << 20); print('ready', flush=True); input()"
        child = subprocess.Popen([sys.executable, "-c", hold], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        child.stdout.readline()
        print("ready", flush=True)
        sys.stdin.readline()
        child.communicate("")
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    tree = bench.TreeRss(parent.pid)
    try:
        assert parent.stdout.readline() == "ready\n"
        never = threading.Event()
        for _ in range(600):  # wait on the state (a sample that includes the child's 300 MB), for at most 30 s
            if tree.peak_mb >= 300:
                break
            never.wait(0.05)
        assert tree.peak_mb >= 300
    finally:
        tree.stop()
        parent.communicate("\n")
