"""Benchmark: our JSON -> Parquet transform against the naive pandas baseline and two peers, on nested order data.

Steps:
  1. generate (or reuse from benchmarks/data/) seeded inputs per size: clean NDJSON, the same as a JSON array,
     and a messy NDJSON variant (type drift, object-vs-scalar, late fields);
  2. run each engine on each input in its own subprocess, so the peak RSS (ru_maxrss from wait4) and the CPU time
     are that tool's alone;
     - baseline: json.load (json.loads per line for NDJSON) + pandas.json_normalize + DataFrame.to_parquet;
     - pyarrow (peer): pyarrow.json.read_json, Table.flatten() until no struct column is left, pq.write_table;
     - duckdb (peer): read_json_auto -> COPY ... (FORMAT parquet), nesting kept;
     - transform: pipeline.transform.transform_file, which writes the parent and child datasets;
  3. print a table (MB/s of input, CPU time, peak RSS, speed-up over the baseline, and wall / CPU / RSS each as a
     ratio to the best peer), check the targets, and write benchmarks/results.md naming the machine.

Run: make bench   or   .venv/bin/python benchmarks/transform.py [--sizes 10,100,1000] [--quick] [--repeat N]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

# Run as a script, so benchmarks/ is on sys.path and its datagen module imports directly.
import marked
import psutil
from datagen import DATA_DIR, MB, ensure_input

ROOT = Path(__file__).resolve().parent.parent
RESULTS_FILE = Path(__file__).resolve().parent / "results.md"
VARIANTS = ("ndjson", "array", "messy")
ENGINES = ("baseline", "pyarrow", "duckdb", "transform", "transform-1p")
# clean input never starts the parse worker, so the one-process row would repeat the transform's: messy only
MESSY_ONLY_ENGINES = ("transform-1p",)
PEERS = ("pyarrow", "duckdb")
BASELINE_RAM_FACTOR = 11  # pandas peaks at 10.5-11.6x the input (shared/notes/transform-performance.md)
RUN_TIMEOUT_S = 3600
TREE_POLL_SECONDS = 0.02
# Listing a process's descendants reads every /proc/<pid>/stat of the machine: done every 20 ms it took ~8% of a
# core from the engine being measured (and more from one that keeps both cores busy). Reading the known processes'
# RSS is one small read each, so only the listing is spaced out, as localaws does for a Lambda's tree.
TREE_LIST_SECONDS = 0.25

TARGET_CLEAN_RATIO = 12.0
TARGET_CLEAN_MBPS = 60.0
TARGET_MESSY_MBPS = 20.0
TARGET_RSS_1GB_MB = 400.0
TARGET_PEER_WALL_RATIO = 1.0  # issue 15: at least as fast as the pyarrow peer in wall time
TARGET_PEER_CPU_RATIO = 1.2  # issue 15: no more than 1.2x the pyarrow peer's CPU time
TARGET_ARRAY_SLOWDOWN = 1.3  # issue 15: JSON arrays within 1.3x of NDJSON's speed
TARGET_MESSY_VS_SEED = 3.0  # issue 15: messy data at >= 3x the seed's (the baseline's) clean-data speed


# ---------------------------------------------------------------- child side: one engine on one input


def run_baseline(source: Path, out_dir: Path) -> int:
    import pandas as pd

    with source.open(encoding="utf-8") as handle:
        if source.suffix == ".jsonl":
            records = [json.loads(line) for line in handle if line.strip()]
        else:
            records = json.load(handle)
    frame = pd.json_normalize(records)
    frame.to_parquet(out_dir / "baseline.parquet")
    return len(frame)


def run_transform(source: Path, out_dir: Path) -> int:
    from pipeline.transform import transform_file, use_system_allocator

    use_system_allocator()  # as the Lambda and the CLI entry points do
    result = transform_file(source, dataset="orders", out_dir=out_dir)
    return parquet_rows(out_dir) if result is not None else 0


def run_transform_one_process(source: Path, out_dir: Path) -> int:
    """The transform without its parse worker (ETL_PARSE_PROCESSES=1), as a Lambda function below 3,538 MB runs it
    (less than two vCPUs: pipeline/parse_ahead.py)."""
    from pipeline import config
    from pipeline.transform import transform_file, use_system_allocator

    use_system_allocator()
    settings = config.Settings(parse_processes=1)
    result = transform_file(source, dataset="orders", out_dir=out_dir, settings=settings)
    return parquet_rows(out_dir) if result is not None else 0


def run_pyarrow(source: Path, out_dir: Path) -> int:
    """The simplest pyarrow peer: read the whole file, flatten structs level by level, write one Parquet file.

    pyarrow.json reads NDJSON only (a JSON array fails), and one type change in a column fails the read.
    """
    import pyarrow.json as pa_json
    import pyarrow.parquet as pq
    from pyarrow import types

    table = pa_json.read_json(source)
    while any(types.is_struct(column.type) for column in table.schema):
        table = table.flatten()
    pq.write_table(table, out_dir / "pyarrow.parquet")  # snappy by default, like the transform
    return table.num_rows


def run_duckdb(source: Path, out_dir: Path) -> int:
    """The DuckDB peer: read_json_auto straight into COPY ... (FORMAT parquet), structs and lists kept nested."""
    import duckdb

    def literal(path: Path) -> str:
        return "'" + str(path).replace("'", "''") + "'"

    with duckdb.connect() as connection:
        # DuckDB's Parquet default codec is snappy, like the transform's and pyarrow's.
        copied = connection.execute(
            f"COPY (SELECT * FROM read_json_auto({literal(source)})) TO {literal(out_dir / 'duckdb.parquet')}"
            " (FORMAT parquet)"
        ).fetchone()
    return int(copied[0])


RUNNERS = {
    "baseline": run_baseline,
    "pyarrow": run_pyarrow,
    "duckdb": run_duckdb,
    "transform": run_transform,
    "transform-1p": run_transform_one_process,
}
# Imported before the timed section (a warm Lambda has them already); each engine only what it uses, so a peer's
# peak RSS is not inflated by pandas. pipeline.transform is ~0.1 s of imports, as much as a 10 MB run's parse.
ENGINE_IMPORTS = {
    "baseline": ("pandas", "pyarrow.parquet"),  # pandas.to_parquet imports pyarrow.parquet lazily
    "pyarrow": ("pyarrow.json", "pyarrow.parquet"),
    "duckdb": ("duckdb",),
    "transform": ("pandas", "pyarrow.parquet", "pipeline.transform"),
    "transform-1p": ("pandas", "pyarrow.parquet", "pipeline.transform"),
}


def parquet_rows(out_dir: Path) -> int:
    """Rows of the parent dataset written under out_dir (child datasets are counted separately)."""
    import pyarrow.parquet as pq

    files = [path for path in out_dir.rglob("*.parquet") if path.parent.parent.name == "orders"]
    return sum(pq.read_metadata(path).num_rows for path in files)


def children_cpu() -> float:
    """User+sys CPU seconds of this process's children that have ended and been waited for."""
    times = os.times()
    return times.children_user + times.children_system


def child_main(engine: str, source: Path, out_dir: Path) -> None:
    """Runs in the subprocess: prints one JSON line with the work's wall time (imports excluded)."""
    runner = RUNNERS[engine]
    for module in ENGINE_IMPORTS[engine]:
        importlib.import_module(module)

    started, cpu_started, children_started = time.perf_counter(), time.process_time(), children_cpu()
    rows = runner(source, out_dir)
    seconds = time.perf_counter() - started
    # the transform's parse worker (a child process, joined before transform_file returns) counts too
    cpu_seconds = time.process_time() - cpu_started + children_cpu() - children_started
    out_bytes = sum(path.stat().st_size for path in out_dir.rglob("*.parquet"))
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "rows": rows, "out_bytes": out_bytes}))


# ---------------------------------------------------------------- parent side: measure, tabulate, report


@dataclass
class Run:
    variant: str
    size_mb: int
    engine: str
    input_bytes: int = 0
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    rows: int = 0
    out_bytes: int = 0
    failure: str = ""

    @property
    def mb_per_s(self) -> float:
        return self.input_bytes / MB / statistics.median(self.seconds) if self.seconds else 0.0

    @property
    def mb_per_cpu_s(self) -> float:
        """Input MB per CPU-second: less sensitive than MB/s to other load on the machine, blind to parallelism."""
        return self.input_bytes / MB / statistics.median(self.cpu_seconds) if self.cpu_seconds else 0.0


def measure_once(engine: str, source: Path) -> tuple[dict | None, float, str]:
    """One subprocess run: (its JSON result or None, its peak RSS in MB, a failure reason or '').

    The child is reaped with os.wait4, whose ru_maxrss (KiB on Linux) is the largest of that child and of the
    processes it waited for, not their sum; so the RSS of the child's process tree (the transform's parse worker) is
    also summed every TREE_POLL_SECONDS, as localaws polls a Lambda's, and the peak is the larger of the two. The sum
    counts pages a forked worker shares with its parent twice: it is an upper bound.
    """
    out_dir = Path(tempfile.mkdtemp(prefix=f"out-{engine}-", dir=DATA_DIR))
    command = [sys.executable, __file__, "--child", engine, str(source), str(out_dir)]
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        child = subprocess.Popen(command, cwd=ROOT, stdout=stdout, stderr=stderr, text=True)
        watchdog = threading.Timer(RUN_TIMEOUT_S, child.kill)
        watchdog.start()
        tree = TreeRss(child.pid)
        try:
            _, status, usage = os.wait4(child.pid, 0)
        finally:
            tree.stop()
            watchdog.cancel()
            shutil.rmtree(out_dir, ignore_errors=True)
        child.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        output, errors = stdout.read(), stderr.read()
    rss_mb = max(usage.ru_maxrss / 1024, tree.peak_mb)
    if child.returncode != 0:
        return None, rss_mb, "failed: " + failure_reason(errors, child.returncode)
    return json.loads(output.strip().splitlines()[-1]), rss_mb, ""


class TreeRss:
    """Polls the summed RSS of a process and its descendants in a thread until stopped; `peak_mb` is the largest.
    The RSS is read every TREE_POLL_SECONDS; the descendants are listed again every TREE_LIST_SECONDS."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak_mb = 0.0
        self._descendants: list[psutil.Process] = []
        self._listed = 0.0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="tree-rss", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stopped.wait(TREE_POLL_SECONDS):
            now = time.monotonic()
            try:
                if now - self._listed >= TREE_LIST_SECONDS:
                    self._descendants, self._listed = self.process.children(recursive=True), now
                total = self.process.memory_info().rss
            except psutil.Error:  # the process ended: nothing more to sample
                continue
            for process in self._descendants:
                try:
                    total += process.memory_info().rss
                except psutil.Error:  # a descendant ended since it was listed; count what is left
                    continue
            self.peak_mb = max(self.peak_mb, total / 2**20)  # MiB, as ru_maxrss / 1024

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()


def failure_reason(stderr: str, exit_code: int) -> str:
    """The child's last exception line (a hint line may follow it), without file paths, cut to fit a table cell."""
    lines = stderr.strip().splitlines()
    errors = [line for line in lines if re.match(r"^[\w.]+(Error|Exception|Invalid)\w*: ", line)]
    reason = (errors or lines or [f"exit code {exit_code}"])[-1]
    return re.sub(r' in file "[^"]+",', "", reason)[:180]


def measure_round(runs: list[tuple[Run, int]], source: Path) -> None:
    """One more run of each engine on `source` that still has repeats to go (`runs`: each with its repeat count),
    one after the other: engines are measured side by side, round by round, so a slow spell of the machine
    touches them alike instead of all the repeats of one of them."""
    for run, repeat in runs:
        if run.failure or len(run.seconds) >= repeat:
            continue
        run.input_bytes = source.stat().st_size
        result, rss_mb, failure = measure_once(run.engine, source)
        run.rss_mb.append(rss_mb)
        if failure:
            run.failure = failure
            continue
        run.seconds.append(result["seconds"])
        run.cpu_seconds.append(result["cpu_seconds"])
        run.rows, run.out_bytes = result["rows"], result["out_bytes"]


def baseline_skip_reason(size_mb: int, limit_mb: int) -> str:
    need_gb = size_mb * BASELINE_RAM_FACTOR / 1000
    available_gb = psutil.virtual_memory().available / 1e9
    if size_mb > limit_mb or need_gb > 0.7 * available_gb:
        return f"skipped: needs ~{BASELINE_RAM_FACTOR}x input RAM (~{need_gb:.0f} GB) and minutes (--baseline-max-mb)"
    return ""


def peer_ratios(run: Run, peers: list[Run]) -> str:
    """Wall time, CPU time and peak RSS of run, each over the best (lowest) peer's on the same input.

    A ratio above 1 means run costs more than that peer; the peer is named after each ratio.
    """
    measured = [peer for peer in peers if peer.seconds]
    if run.failure or not run.seconds or not measured:
        return ""
    figures = (
        ("wall", lambda r: statistics.median(r.seconds)),
        ("CPU", lambda r: statistics.median(r.cpu_seconds)),
        ("RSS", lambda r: max(r.rss_mb)),
    )
    parts = []
    for label, figure in figures:
        best = min(measured, key=figure)
        parts.append(f"{label} {figure(run) / figure(best):.2f}x {best.engine}")
    return " / ".join(parts)


def fmt_row(run: Run, baseline: Run | None, peers: list[Run] | None = None) -> list[str]:
    size = f"{run.input_bytes / MB:.0f} MB"
    if run.failure:
        rss = f"{max(run.rss_mb, default=0):.0f} MB" if run.rss_mb else ""
        return [run.variant, size, run.engine, run.failure, "", "", "", "", rss, "", "", ""]
    ratio = ""
    if run.engine.startswith("transform") and baseline is not None:
        if baseline.seconds:
            ratio = f"{run.mb_per_s / baseline.mb_per_s:.1f}x (CPU: {run.mb_per_cpu_s / baseline.mb_per_cpu_s:.1f}x)"
        else:
            ratio = "n/a (baseline skipped)" if baseline.failure.startswith("skipped") else "n/a (baseline failed)"
    return [
        run.variant,
        size,
        run.engine,
        f"{run.mb_per_s:.1f}",
        f"{statistics.median(run.seconds):.2f} s",
        f"{statistics.median(run.cpu_seconds):.2f} s",
        f"{run.mb_per_cpu_s:.1f}",
        f"{run.rows:,}",
        f"{max(run.rss_mb):.0f} MB",
        f"{run.out_bytes / MB:.1f} MB",
        ratio,
        peer_ratios(run, peers or []),
    ]


def markdown_table(runs: list[Run]) -> str:
    header = [
        "input",
        "size",
        "engine",
        "MB/s",
        "time",
        "CPU time",
        "MB/CPU-s",
        "rows",
        "peak RSS",
        "parquet",
        "vs baseline",
        "vs best peer (wall / CPU / peak RSS)",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    baselines = {(run.variant, run.size_mb): run for run in runs if run.engine == "baseline"}
    for run in runs:
        peers = [
            peer for peer in runs if peer.engine in PEERS and (peer.variant, peer.size_mb) == (run.variant, run.size_mb)
        ]
        lines.append("| " + " | ".join(fmt_row(run, baselines.get((run.variant, run.size_mb)), peers)) + " |")
    return "\n".join(lines)


def target_checks(runs: list[Run]) -> list[str]:
    """One line per target: measured value, the target, and whether it is met (only where it was measured)."""
    ours = {(run.variant, run.size_mb): run for run in runs if run.engine == "transform" and not run.failure}
    base = {(run.variant, run.size_mb): run for run in runs if run.engine == "baseline" and run.seconds}
    pyarrow = {(run.variant, run.size_mb): run for run in runs if run.engine == "pyarrow" and run.seconds}
    one_process = {(run.variant, run.size_mb): run for run in runs if run.engine == "transform-1p" and run.seconds}
    checks = []
    for (variant, size_mb), run in sorted(ours.items(), key=lambda item: (item[0][1], VARIANTS.index(item[0][0]))):
        if variant in ("ndjson", "array"):
            line = (
                f"clean {variant} {size_mb} MB: {run.mb_per_s:.1f} MB/s (target >= {TARGET_CLEAN_MBPS:.0f};"
                f" {run.mb_per_cpu_s:.1f} MB per CPU-s)"
            )
            ok = run.mb_per_s >= TARGET_CLEAN_MBPS
            if (variant, size_mb) in base:
                ratio = run.mb_per_s / base[(variant, size_mb)].mb_per_s
                cpu_ratio = run.mb_per_cpu_s / base[(variant, size_mb)].mb_per_cpu_s
                line += f", {ratio:.1f}x baseline (target >= {TARGET_CLEAN_RATIO:.0f}x; {cpu_ratio:.1f}x by CPU time)"
                ok = ok and ratio >= TARGET_CLEAN_RATIO
        else:
            line = (
                f"messy {size_mb} MB: {run.mb_per_s:.1f} MB/s (target >= {TARGET_MESSY_MBPS:.0f};"
                f" {run.mb_per_cpu_s:.1f} MB per CPU-s)"
            )
            ok = run.mb_per_s >= TARGET_MESSY_MBPS
        checks.append(f"{'met ' if ok else 'MISS'} {line}")
        peer = pyarrow.get((variant, size_mb))
        if variant == "ndjson" and peer is not None:
            wall = statistics.median(run.seconds) / statistics.median(peer.seconds)
            cpu = statistics.median(run.cpu_seconds) / statistics.median(peer.cpu_seconds)
            ok = wall <= TARGET_PEER_WALL_RATIO and cpu <= TARGET_PEER_CPU_RATIO
            checks.append(
                f"{'met ' if ok else 'MISS'} clean ndjson {size_mb} MB vs the pyarrow peer: {wall:.2f}x its wall time"
                f" (target <= {TARGET_PEER_WALL_RATIO:.1f}x), {cpu:.2f}x its CPU time"
                f" (target <= {TARGET_PEER_CPU_RATIO:.1f}x)"
            )
        if variant == "array" and ("ndjson", size_mb) in ours:
            slowdown = ours[("ndjson", size_mb)].mb_per_s / run.mb_per_s
            cpu_slowdown = ours[("ndjson", size_mb)].mb_per_cpu_s / run.mb_per_cpu_s
            checks.append(
                f"{'met ' if slowdown <= TARGET_ARRAY_SLOWDOWN else 'MISS'} array {size_mb} MB within"
                f" {TARGET_ARRAY_SLOWDOWN}x of NDJSON's speed: {slowdown:.2f}x ({cpu_slowdown:.2f}x by CPU time)"
            )
        if variant == "messy" and ("ndjson", size_mb) in base:
            seed = base[("ndjson", size_mb)]
            speedup = run.mb_per_s / seed.mb_per_s
            line = (
                f"{'met ' if speedup >= TARGET_MESSY_VS_SEED else 'MISS'} messy {size_mb} MB at"
                f" >= {TARGET_MESSY_VS_SEED:.0f}x the seed's clean-NDJSON speed: {speedup:.1f}x"
                f" ({run.mb_per_cpu_s / seed.mb_per_cpu_s:.1f}x by CPU time)"
            )
            alone = one_process.get((variant, size_mb))
            if alone is not None:
                line += (
                    f"; in one process (a Lambda below 3,538 MB) {alone.mb_per_s / seed.mb_per_s:.1f}x"
                    f" ({alone.mb_per_cpu_s / seed.mb_per_cpu_s:.1f}x by CPU time)"
                )
            checks.append(line)
        if variant == "ndjson" and size_mb >= 1000:
            rss = max(run.rss_mb)
            verdict = "met " if rss <= TARGET_RSS_1GB_MB else "MISS"
            checks.append(
                f"{verdict} peak RSS at {size_mb} MB NDJSON: {rss:.0f} MB (target <= {TARGET_RSS_1GB_MB:.0f})"
            )
    return checks


def machine_description() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        models = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if "model name" in line]
        cpu = models[0] if models else cpu
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in ("pandas", "pyarrow", "numpy"))
    ram_gib = psutil.virtual_memory().total / 2**30
    return (
        f"{os.cpu_count()} cores ({cpu}), {ram_gib:.0f} GiB RAM, {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, {versions}"
    )


def code_version() -> str:
    """The commit measured, and whether pipeline/ had uncommitted changes (the transform is imported per run)."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "pipeline"], cwd=ROOT, capture_output=True, text=True)
    commit = head.stdout.strip() or "unknown"
    return f"{commit} (pipeline/ with uncommitted changes)" if dirty.stdout.strip() else commit


def write_results(runs: list[Run], checks: list[str], args: argparse.Namespace, version: str) -> None:
    text = "\n".join(
        [
            "# Transform benchmark results",
            "",
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `{' '.join(['transform.py', *sys.argv[1:]])}`"
            f" (repeats: {args.repeat} below 1 GB, {args.repeat_large} at 1 GB and above,"
            f" at most {args.repeat_baseline} for the baseline).",
            "",
            f"Machine: {machine_description()}.",
            "",
            f"Code: commit {version} at the start of the run.",
            "",
            f"Load average (1/5/15 min) when the run ended: {' / '.join(f'{load:.2f}' for load in os.getloadavg())}"
            " (other work on the machine adds noise; compare ratios, and treat differences under ~20% as ties).",
            *(
                [
                    "",
                    f"**The load exceeded the {os.cpu_count()} cores**, so each run got a fraction of a core:",
                    "wall-clock MB/s understates throughput, and MB/CPU-s is the comparable figure",
                    "(it does not credit the transform's use of a second core).",
                ]
                if os.getloadavg()[1] > (os.cpu_count() or 1)
                else []
            ),
            "",
            "MB/s is input bytes over the run's wall time (median of the repeats, imports excluded); CPU time is",
            "the process's user+sys time over the same section (all threads, and the transform's parse worker",
            "process); peak RSS is the subprocess's ru_maxrss or, if larger, the peak of its process tree's summed",
            "RSS polled every 20 ms (max of the repeats); parquet is the total size written. The baseline is json.load",
            "(json.loads per line for NDJSON) + pandas.json_normalize + DataFrame.to_parquet; the transform is",
            "`pipeline.transform.transform_file` writing the parent and child datasets.",
            "",
            "The peers run in the same run, each as its own process: pyarrow is `pyarrow.json.read_json`,",
            "`Table.flatten()` until no struct column is left, `pq.write_table`; duckdb is `read_json_auto` ->",
            "`COPY ... (FORMAT parquet)` with the nesting kept. Each writes snappy Parquet, as the transform does.",
            "Neither does what the transform does besides (child tables with lineage ids, the schema record and",
            'drift handling, exact handling of messy data). "vs best peer" divides each figure (wall time, CPU',
            "time, peak RSS) by the lowest of the peers' on the same input and names that peer; above 1 costs more.",
            "",
            "What Lambda bills: duration, i.e. wall time (rounded up to 1 ms) times the configured memory",
            "(https://aws.amazon.com/lambda/pricing/). CPU is not billed separately, but it is allocated in",
            "proportion to memory, one vCPU at 1,769 MB",
            "(https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html), so at 1 GB (~0.58 vCPU) a",
            "CPU-bound run's billed duration is about its CPU time / 0.58. Here, with the shared machine loaded,",
            "the CPU-time ratios are the figure to compare; the wall figures are noisy.",
            "",
            markdown_table(runs),
            "",
            "Targets:",
            "",
            *[f"- {check}" for check in checks],
            "",
        ]
    )
    # The burst benchmark's sections (burst.py --record) are carried over, not erased.
    kept = (
        marked.sections(RESULTS_FILE.read_text(encoding="utf-8"), marked.BURST_PREFIX) if RESULTS_FILE.exists() else []
    )
    RESULTS_FILE.write_text(text + "".join(f"\n{section}" for section in kept), encoding="utf-8")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,100,1000", help="input sizes in MB, comma-separated")
    parser.add_argument("--quick", action="store_true", help="10 MB only")
    parser.add_argument(
        "--repeat", type=int, default=5, help="runs per cell, engines taking turns; the table shows the median"
    )
    parser.add_argument("--repeat-large", type=int, default=3, help="runs per cell at 1 GB and above")
    parser.add_argument(
        "--repeat-baseline", type=int, default=1, help="at most this many baseline runs per cell (~7x slower)"
    )
    parser.add_argument("--variants", default=",".join(VARIANTS), help="any of ndjson,array,messy")
    parser.add_argument(
        "--engines",
        default=",".join(ENGINES),
        help="any of baseline,pyarrow,duckdb,transform,transform-1p (the transform in one process: messy input only)",
    )
    parser.add_argument("--large-variants", default=",".join(VARIANTS), help="the variants run at 1 GB and above")
    parser.add_argument(
        "--baseline-max-mb", type=int, default=200, help="skip the baseline above this size (it needs ~11x RAM)"
    )
    parser.add_argument("--no-results-file", action="store_true", help=f"don't rewrite {RESULTS_FILE.name}")
    args = parser.parse_args(argv)
    args.sizes = [10] if args.quick else [int(size) for size in args.sizes.split(",")]
    args.variants = [variant for variant in args.variants.split(",") if variant]
    args.engines = [engine for engine in args.engines.split(",") if engine]
    args.large_variants = [variant for variant in args.large_variants.split(",") if variant]
    return args


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child_main(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
        return
    args = parse_args()
    version = code_version()
    runs: list[Run] = []
    for size_mb in args.sizes:
        for variant in args.variants if size_mb < 1000 else [v for v in args.variants if v in args.large_variants]:
            source, created = ensure_input(variant, size_mb)
            print(f"{'generated' if created else 'reusing'} {source.name} ({source.stat().st_size / MB:.0f} MB)")
            cell: list[Run] = []
            measured: list[tuple[Run, int]] = []
            for engine in args.engines:
                if engine in MESSY_ONLY_ENGINES and variant != "messy":
                    continue
                run = Run(variant, size_mb, engine)
                skip = baseline_skip_reason(size_mb, args.baseline_max_mb) if engine == "baseline" else ""
                if skip:
                    run.input_bytes, run.failure = source.stat().st_size, skip
                else:
                    repeat = args.repeat if size_mb < 1000 else args.repeat_large
                    measured.append((run, min(repeat, args.repeat_baseline) if engine == "baseline" else repeat))
                cell.append(run)
            print(f"  running {', '.join(run.engine for run, _ in measured)} on {source.name}, round by round ...")
            for _round in range(max((repeat for _run, repeat in measured), default=0)):
                measure_round(measured, source)
            for run in cell:
                print("  " + " | ".join(fmt_row(run, None)), flush=True)  # peer ratios come in the table
            runs.extend(cell)
    print()
    print(markdown_table(runs))
    checks = target_checks(runs)
    print()
    print("\n".join(checks))
    print(f"\nmachine: {machine_description()}")
    if not args.no_results_file:
        write_results(runs, checks, args, version)
        print(f"wrote {RESULTS_FILE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
