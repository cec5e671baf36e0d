"""Messy input parsed in two processes (pipeline/parse_ahead.py, parse_worker.py) gives the bytes one process gives.

Each messy input runs with ETL_PARSE_PROCESSES=1 and =2, in small blocks so that the worker takes many of them:
the Parquet files must be byte-identical, in the same order, with the same counts. A bad block raises the error the
single-process path raises, whichever process parsed it; a worker that dies or stalls loses nothing; a worker dies
with its parent.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pipeline_helpers import EVENT_TIME, ndjson

from kit.waiting import wait_until
from pipeline import blocks, config, parse_ahead, parse_worker
from pipeline.flatten import BlockTable, flatten_records
from pipeline.formats import InputFormatError
from pipeline.schema import MemorySchemaStore
from pipeline.transform import TransformResult, transform_file

pytestmark = pytest.mark.layer

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_MESSY = ROOT / "sample_data" / "messy"
BLOCK_BYTES = 4 << 10  # a few dozen records per block: many blocks for the worker


def messy_order(rng: random.Random, number: int, late: bool) -> dict[str, Any]:
    """An order with the drift of benchmarks/datagen.py's messy variant, and more: ints beyond int64, mixed arrays,
    an object that is sometimes a string, lone surrogates, NaN, empty objects and arrays."""
    order: dict[str, Any] = {
        "order_id": f"ORD-{number:06d}",
        "customer": {"id": rng.randrange(1000), "address": {"city": rng.choice(["Oslo", "Lyon"]), "postcode": "0150"}},
        "items": [
            {"sku": f"S{rng.randrange(99)}", "qty": rng.randint(1, 5), "tags": rng.sample(["a", "b", "c"], 2)}
            for _ in range(rng.randint(0, 3))
        ],
        "meta": {},
    }
    if rng.random() < 0.3:
        order["customer"]["address"]["postcode"] = rng.randrange(10_000, 99_999)
    if rng.random() < 0.05:
        order["customer"]["address"] = "12 Main Street, Oslo"
    for item in order["items"]:
        if rng.random() < 0.1:
            item["qty"] = str(item["qty"])
    roll = rng.random()
    order["discount"] = rng.choice([0.1, "10%", None, 5, True]) if roll < 0.3 else None
    if rng.random() < 0.02:
        order["big"] = 2**64 + number
    if rng.random() < 0.05:
        order["mixed"] = [1, "one", None, {"k": 1}, [2]]
    if rng.random() < 0.02:
        order["note"] = "\ud83d lone"
    if rng.random() < 0.02:
        order["ratio"] = float("nan")
    if late:
        order["loyalty"] = {"tier": rng.choice(["gold", "silver"]), "points": rng.randrange(10_000)}
    return order


def messy_ndjson(count: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    records = [messy_order(rng, number, late=number > count * 0.8) for number in range(count)]
    return b"".join(json.dumps(record).encode() + b"\n" for record in records)


def run(data: bytes, out_dir: Path, processes: int, block_bytes: int = BLOCK_BYTES) -> TransformResult:
    return transform_file(
        io.BytesIO(data),
        dataset="orders",
        out_dir=out_dir,
        source_key="raw/orders/messy.json",
        schema_store=MemorySchemaStore(),
        event_time=EVENT_TIME,
        identity="etag",
        settings=config.Settings(block_bytes=block_bytes, parse_processes=processes),
    )


def fingerprint(result: TransformResult) -> list[tuple[Any, ...]]:
    """The outputs in order: key, dataset, rows, columns and the SHA-256 of the Parquet bytes."""
    return [
        (o.key, o.dataset, o.rows, o.columns, o.bytes, hashlib.sha256(Path(o.path).read_bytes()).hexdigest())
        for o in result.outputs
    ]


def assert_same_in_two_processes(data: bytes, tmp_path: Path, block_bytes: int = BLOCK_BYTES) -> TransformResult:
    alone = run(data, tmp_path / "one", processes=1, block_bytes=block_bytes)
    shared = run(data, tmp_path / "two", processes=2, block_bytes=block_bytes)
    assert alone.worker_blocks == 0
    assert shared.worker_blocks > 0, "the worker parsed no block: the test proves nothing"
    assert fingerprint(shared) == fingerprint(alone)
    assert (shared.rows, shared.fast_blocks + shared.exact_blocks) == (
        alone.rows,
        alone.fast_blocks + alone.exact_blocks,
    )
    assert not multiprocessing.active_children(), "the worker was not reaped"
    return shared


@pytest.mark.parametrize("seed", [7, 8])
def test_messy_orders_give_the_same_bytes_in_two_processes(tmp_path: Path, seed: int) -> None:
    assert_same_in_two_processes(messy_ndjson(600, seed), tmp_path)


def test_messy_sample_files_give_the_same_bytes_in_two_processes(tmp_path: Path) -> None:
    # every record of sample_data/messy that parses (not the broken upload), repeated so that it spans many blocks
    lines = [
        json.dumps(record).encode()
        for name in ("export 2024-06-02.jsonl", "part-0001.json", "single_record.json")
        for record in _records_of(SAMPLE_MESSY / name)
    ]
    assert lines
    data = b"\n".join(lines * max(1, 20_000 // sum(map(len, lines)) + 1)) + b"\n"
    assert_same_in_two_processes(data, tmp_path, block_bytes=2 << 10)


def _records_of(path: Path) -> list[dict[str, Any]]:
    text = path.read_bytes().decode("utf-8-sig")
    try:
        value = json.loads(text)
    except ValueError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return value if isinstance(value, list) else [value]


def test_a_json_array_of_messy_records_gives_the_same_bytes(tmp_path: Path) -> None:
    records = [json.loads(line) for line in messy_ndjson(400, seed=3).splitlines()]
    data = json.dumps(records, indent=1).encode()
    assert_same_in_two_processes(data, tmp_path)


def test_a_clean_file_never_starts_a_worker(tmp_path: Path) -> None:
    data = ndjson([{"id": number, "name": f"n{number}", "tags": ["a"]} for number in range(2000)])
    result = run(data, tmp_path, processes=2)
    assert result.worker_blocks == 0
    assert result.fast_blocks > 2


def test_a_bad_line_in_a_worker_block_raises_the_single_process_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = messy_ndjson(600)
    # the first two blocks decline the fast path; once both are yielded (with PARSE_AHEAD more already submitted
    # here), the worker takes the next block: its first line is broken in place (same length, so the blocks stay
    # where they were)
    first_for_worker = parse_ahead.WORKERS_AFTER_DECLINES + parse_ahead.PARSE_AHEAD
    start = _block_starts(data, BLOCK_BYTES)[first_for_worker]
    assert data[start : start + 2] == b'{"'
    broken = data[:start] + b"{x" + data[start + 2 :]
    with pytest.raises(InputFormatError) as alone:
        run(broken, tmp_path / "one", processes=1)
    with caplog.at_level(logging.DEBUG, logger=parse_ahead.__name__), pytest.raises(InputFormatError) as shared:
        run(broken, tmp_path / "two", processes=2)
    assert shared.value.as_dict() == alone.value.as_dict()
    assert str(shared.value) == str(alone.value)
    assert "a worker failed on the block" in caplog.text
    assert not multiprocessing.active_children()


def _block_starts(data: bytes, block_bytes: int) -> list[int]:
    """Byte offsets of the NDJSON blocks iter_blocks makes (whole lines, about block_bytes each)."""
    from pipeline.formats import iter_blocks, open_input

    return [block.byte_offset for block in iter_blocks(open_input(io.BytesIO(data)), block_bytes)]


def _parse_in_child_then(action: str):
    """A BlockParser.parse that runs `action` in a forked worker (the test process parses as usual)."""
    test_pid = os.getpid()
    original = blocks.BlockParser.parse

    def parse(self: blocks.BlockParser, block: blocks.Block):
        if os.getpid() != test_pid:
            if action == "exit":
                os._exit(3)
            if action == "stall":
                signal.pause()  # never answers
        return original(self, block)

    return parse


def test_a_worker_that_dies_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    data = messy_ndjson(600)
    alone = run(data, tmp_path / "one", processes=1)
    monkeypatch.setattr(blocks.BlockParser, "parse", _parse_in_child_then("exit"))
    with caplog.at_level(logging.WARNING, logger=parse_ahead.__name__):
        shared = run(data, tmp_path / "two", processes=2)
    assert fingerprint(shared) == fingerprint(alone)
    assert shared.worker_blocks == 0
    assert "the parse worker exited (exit status 3)" in caplog.text
    assert not multiprocessing.active_children()


def test_a_stalled_worker_is_killed_and_loses_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = messy_ndjson(400)
    alone = run(data, tmp_path / "one", processes=1)
    monkeypatch.setattr(blocks.BlockParser, "parse", _parse_in_child_then("stall"))
    monkeypatch.setattr(parse_worker, "STALL_SECONDS", 0.2)  # the worker never answers, so any limit is reached
    shared = run(data, tmp_path / "two", processes=2)
    assert fingerprint(shared) == fingerprint(alone)
    assert not multiprocessing.active_children()


def test_an_error_in_the_loop_ends_the_worker_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline import transform as transform_module

    spilled = 0
    original = transform_module._spill_block

    def spill_then_fail(*args: Any, **kwargs: Any) -> int:
        nonlocal spilled
        spilled += 1
        if spilled == 6:
            raise OSError(28, "No space left on device")
        return original(*args, **kwargs)

    monkeypatch.setattr(transform_module, "_spill_block", spill_then_fail)
    with pytest.raises(OSError, match="No space left"):
        run(messy_ndjson(600), tmp_path, processes=2)
    assert not multiprocessing.active_children()


WORKER_ORPHAN = """
    import io, os, signal, sys
    sys.path[:0] = [{tests!r}]
    from test_parse_workers import messy_ndjson
    from pipeline import blocks, config
    from pipeline.transform import transform_file

    parent, original = os.getpid(), blocks.BlockParser.parse

    def parse(self, block):
        if os.getpid() != parent:
            print(os.getpid(), flush=True)  # the worker's pid, then it hangs
            signal.pause()
        return original(self, block)

    blocks.BlockParser.parse = parse
    settings = config.Settings(block_bytes={block_bytes}, parse_processes=2)
    transform_file(io.BytesIO(messy_ndjson(600)), dataset="orders", out_dir=sys.argv[1], settings=settings)
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="PR_SET_PDEATHSIG and /proc are Linux's")
def test_a_worker_dies_with_its_parent(tmp_path: Path) -> None:
    script = textwrap.dedent(WORKER_ORPHAN.format(tests=str(Path(__file__).parent), block_bytes=BLOCK_BYTES))
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        worker = int(parent.stdout.readline())
        assert _stat(worker)[1] == parent.pid
        parent.kill()  # as Lambda ends a timed-out invocation
        parent.wait()
        # gone (PR_SET_PDEATHSIG), not left running into the next invocation; a zombie until its reaper runs
        wait_until(lambda: _stat(worker)[0], what="the orphaned worker", success={"gone"}, timeout=60, interval=0.05)
    finally:
        parent.kill()
        parent.wait()


def _stat(pid: int) -> tuple[str, int]:
    """("running" or "gone", parent pid) of a process, from /proc/<pid>/stat (a zombie is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return "gone", 0
    return ("gone" if fields[0] in ("Z", "X") else "running"), int(fields[1])


def test_block_tables_survive_the_ipc_round_trip() -> None:
    records = [
        {"a": 1, "o": {"x": "s", "e": {}}, "items": [{"q": 1, "t": ["a"]}, None, {"q": "2"}], "m": [1, "x"]},
        {},
        {"a": None, "items": [], "o": "scalar", "n": [[1], {"k": 2}]},
    ]
    tables = flatten_records(records)
    tables[(("empty",),)] = BlockTable(rows=0, parent_index=pa.array([], pa.int64()), position=pa.array([]))
    tables[()].mixed.add(("m",))
    described, buffer = parse_worker.encode_tables(tables)
    back = parse_worker.decode_tables(json.loads(json.dumps(described)), buffer)
    assert list(back) == list(tables)
    for key, table in tables.items():
        copy = back[key]
        assert (copy.rows, list(copy.columns), copy.mixed) == (table.rows, list(table.columns), table.mixed)
        for path, array in table.columns.items():
            assert copy.columns[path].equals(array), path
        assert (copy.parent_index is None) == (table.parent_index is None)
        if table.parent_index is not None:
            assert copy.parent_index.equals(table.parent_index) and copy.position.equals(table.position)


def test_a_table_of_empty_objects_keeps_its_rows() -> None:
    tables = flatten_records([{}, {}, {"o": {}}])
    described, buffer = parse_worker.encode_tables(tables)
    assert parse_worker.decode_tables(described, buffer)[()].rows == 3


@pytest.mark.parametrize(
    ("memory_mb", "expected"),
    [("1024", 1), ("1769", 1), ("3008", 1), ("3538", 2), ("10240", 2)],
)
def test_lambda_memory_decides_the_processes(memory_mb: str, expected: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # one vCPU per 1,769 MB: https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3, 4, 5})
    monkeypatch.setattr(parse_ahead, "_cgroup_quota", lambda: None)
    assert parse_ahead.parse_processes(0, {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": memory_mb}) == expected


def test_affinity_and_setting_decide_outside_lambda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse_ahead, "_cgroup_quota", lambda: None)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {3})
    assert parse_ahead.parse_processes(0, {}) == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3})
    assert parse_ahead.parse_processes(0, {}) == parse_ahead.MAX_AUTO_PROCESSES
    assert parse_ahead.parse_processes(1, {}) == 1  # ETL_PARSE_PROCESSES=1: this process only
    assert parse_ahead.parse_processes(3, {}) == 3


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu.max": "50000 100000\n", "job/cpu.max": "400000 100000\n"}, 0.5),  # an ancestor's quota counts
    ],
)
def test_cgroup_v2_quota(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str], expected) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    membership = tmp_path / "self-cgroup"
    membership.write_text("0::/job\n")
    monkeypatch.setattr(parse_ahead, "_CGROUP", tmp_path)
    monkeypatch.setattr(parse_ahead, "_MEMBERSHIP", membership)
    assert parse_ahead._cgroup_quota() == expected


def test_cgroup_v1_quota(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "cpu,cpuacct"
    folder.mkdir()
    (folder / "cpu.cfs_quota_us").write_text("200000\n")
    (folder / "cpu.cfs_period_us").write_text("100000\n")
    membership = tmp_path / "self-cgroup"
    membership.write_text("4:memory:/\n3:cpu,cpuacct:/\n")
    monkeypatch.setattr(parse_ahead, "_CGROUP", tmp_path)
    monkeypatch.setattr(parse_ahead, "_MEMBERSHIP", membership)
    assert parse_ahead._cgroup_quota() == 2.0
    (folder / "cpu.cfs_quota_us").write_text("-1\n")
    assert parse_ahead._cgroup_quota() is None


@pytest.mark.parametrize(
    ("exitcode", "expected"),
    [(None, "still running"), (3, "exit status 3"), (-9, "signal SIGKILL"), (-40, "signal 40")],
)
def test_how_a_worker_ended_is_named(exitcode: int | None, expected: str) -> None:
    class Ended:
        pass

    ended = Ended()
    ended.exitcode = exitcode
    assert parse_worker._exit_of(ended) == expected  # a real-time signal has no name: no ValueError


def test_the_cpus_are_counted_only_for_messy_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading the cgroup files is a per-call cost: a clean input (a small file of a burst) never needs the count."""
    calls: list[int] = []
    monkeypatch.setattr(parse_ahead, "available_cpus", lambda environ=None: calls.append(1) or 2.0)
    clean = ndjson([{"id": number, "name": f"n{number}"} for number in range(400)])
    run(clean, tmp_path / "clean", processes=0)
    assert calls == []
    shared = run(messy_ndjson(600), tmp_path / "messy", processes=0)
    assert calls == [1] and shared.worker_blocks > 0
