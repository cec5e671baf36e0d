"""This process parses two blocks at once (pipeline/parse_ahead.py `_Chain`): whatever the threads' timing, each block
takes the same path with the same explicit schema, so the counts and the Parquet bytes never vary, and the rows are
the ones one parse at a time gives.
"""

from __future__ import annotations

import hashlib
import io
import random
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import EVENT_TIME, ndjson, read_outputs

from pipeline import blocks, config, parse_ahead
from pipeline.blocks import BlockParser
from pipeline.flatten import BlockTables
from pipeline.formats import InputFormatError, iter_blocks, open_input
from pipeline.schema import MemorySchemaStore
from pipeline.transform import TransformResult, transform_file

pytestmark = pytest.mark.layer

BLOCK_BYTES = 2 << 10  # a few dozen records per block


def drifting_ndjson(count: int = 1500) -> bytes:
    """Clean stretches and messy ones (a field that is a number and a string in one block, an int beyond int64,
    late fields), so the fast path succeeds, declines once, declines many times in a row and recovers."""
    rng = random.Random(3)
    records = []
    for number in range(count):
        record: dict[str, Any] = {
            "id": number,
            "customer": {"name": f"c{rng.randrange(50)}", "address": {"city": rng.choice(["Oslo", "Lyon"])}},
            "items": [{"sku": f"S{rng.randrange(9)}", "qty": rng.randint(1, 5)} for _ in range(rng.randint(0, 3))],
        }
        if 200 <= number < 230 or 500 <= number < 900 or number % 97 == 0:
            record["customer"]["address"]["postcode"] = rng.choice([1234, "0150"])
        if 600 <= number < 620:
            record["big"] = 2**64 + number
        if number > 1200:
            record["loyalty"] = {"tier": rng.choice(["gold", "silver"])}
        if number % 10 == 0:  # a new field every block or so: each block's explicit schema is a different one
            record[f"late_{number // 10}"] = number
        records.append(record)
    return ndjson(records)


def _jitter(monkeypatch: pytest.MonkeyPatch, seed: int) -> dict[str, list[int]]:
    """Random pauses before each block's fast and exact parse, so the two threads finish in varying orders.
    Returns, filled as they run, the first lines of the blocks each half was called on (with the schema given)."""
    rng = random.Random(seed)
    lock = threading.Lock()
    fast, exact = BlockParser.fast, BlockParser.exact
    calls: dict[str, list[Any]] = {"fast": [], "exact": []}

    def pause(half: str, block: blocks.Block, *noted: Any) -> None:
        with lock:
            seconds = rng.choice([0, 0, 0.001, 0.004])
            calls[half].append((block.first_line, *noted))
        time.sleep(seconds)

    def paused_fast(self: BlockParser, block: blocks.Block, schema: Any, **kwargs: Any) -> Any:
        pause("fast", block, None if schema is None else str(schema))
        return fast(self, block, schema, **kwargs)

    def paused_exact(self: BlockParser, block: blocks.Block) -> Any:
        pause("exact", block)
        return exact(self, block)

    monkeypatch.setattr(BlockParser, "fast", paused_fast)
    monkeypatch.setattr(BlockParser, "exact", paused_exact)
    return calls


def _chained(data: bytes) -> tuple[list[BlockTables], BlockParser]:
    parser = BlockParser()
    tables = list(parse_ahead.parse_blocks(iter_blocks(open_input(io.BytesIO(data)), BLOCK_BYTES), parser))
    return tables, parser


def test_every_block_takes_the_same_path_whatever_the_timing(monkeypatch: pytest.MonkeyPatch) -> None:
    data = drifting_ndjson()
    runs = []
    for seed in range(4):
        with monkeypatch.context() as patch:
            calls = _jitter(patch, seed)
            tables, parser = _chained(data)
        runs.append(
            (
                sorted(calls["fast"]),
                calls["exact"],  # in input order
                parser.stats,
                [[(key, list(table.columns)) for key, table in block.items()] for block in tables],
            )
        )
    fast, exact, _stats, _columns = runs[0]
    tried = {line for line, _names in fast}
    assert len(exact) > 10 and any(line not in tried for (line,) in exact), "the input must exercise every path"
    assert all(run == runs[0] for run in runs[1:])


def _transform(data: bytes, out_dir: Path) -> TransformResult:
    return transform_file(
        io.BytesIO(data),
        dataset="orders",
        out_dir=out_dir,
        source_key="raw/orders/drift.json",
        schema_store=MemorySchemaStore(),
        event_time=EVENT_TIME,
        identity="etag",
        settings=config.Settings(block_bytes=BLOCK_BYTES, parse_processes=1),
    )


def _fingerprint(result: TransformResult) -> list[tuple[Any, ...]]:
    return [(o.key, o.rows, o.columns, hashlib.sha256(Path(o.path).read_bytes()).hexdigest()) for o in result.outputs]


class _OneAtATime:
    """The chain's interface over `BlockParser.parse`: each block parsed when submitted, with what the block just
    before it taught (the single-threaded parse this process did before the chain)."""

    def __init__(self, parser: BlockParser) -> None:
        self.parser = parser

    def submit(self, block: blocks.Block) -> Future[tuple[BlockTables, int]]:
        future: Future[tuple[BlockTables, int]] = Future()
        future.set_result((self.parser.parse(block), self.parser.declines_in_a_row))
        return future

    def shutdown(self) -> None:
        pass


def test_two_blocks_at_once_write_the_same_bytes_whatever_the_timing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = drifting_ndjson()
    runs = []
    for seed in range(3):
        with monkeypatch.context() as patch:
            _jitter(patch, seed)
            runs.append(_transform(data, tmp_path / str(seed)))
    assert runs[0].exact_blocks > 0
    assert all(_fingerprint(run) == _fingerprint(runs[0]) for run in runs[1:])
    assert all((run.fast_blocks, run.exact_blocks) == (runs[0].fast_blocks, runs[0].exact_blocks) for run in runs)


def test_two_blocks_at_once_write_the_rows_of_one_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Not always the same bytes: a block whose first records bring several new columns orders them by first
    # appearance on the fast path, but by name on the converter path with the Lambda layer's older pyarrow
    # (`pa.array` of dicts), and a block may take another path here, having read with another explicit schema.
    data = drifting_ndjson()
    two = _transform(data, tmp_path / "two")
    monkeypatch.setattr(parse_ahead, "_Chain", _OneAtATime)
    one = _transform(data, tmp_path / "one")
    assert [(o.key, o.rows, o.columns) for o in two.outputs] == [(o.key, o.rows, o.columns) for o in one.outputs]
    assert _by_column(read_outputs(two)) == _by_column(read_outputs(one))


def _by_column(outputs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, list[Any]]]:
    return {dataset: {name: [row[name] for row in rows] for name in rows[0]} for dataset, rows in outputs.items()}


def test_a_bad_line_among_blocks_parsed_at_once_raises_its_own_error(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = drifting_ndjson().split(b"\n")
    lines[700] = b'{"id": 700, "customer": '  # in a messy stretch: the exact path reports it
    lines[1000] = b'{"id": 1000 "x": 1}'
    data = b"\n".join(lines)
    _jitter(monkeypatch, 1)
    with pytest.raises(InputFormatError) as error:
        _chained(data)
    assert error.value.line == 701


def test_a_failed_fast_attempt_does_not_leave_later_blocks_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    failing = 5
    calls = 0
    fast = BlockParser.fast

    def fast_then_fail(self: BlockParser, block: blocks.Block, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == failing:
            raise MemoryError("out of memory")
        return fast(self, block, *args, **kwargs)

    monkeypatch.setattr(BlockParser, "fast", fast_then_fail)
    with pytest.raises(MemoryError):
        _chained(drifting_ndjson())
