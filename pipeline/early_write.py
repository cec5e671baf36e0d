"""Early writing: the Parquet files are written while the input is still being parsed, on a guessed schema.

The merged schema of a file is only known at its end, so the transform spills every block and writes the Parquet
files afterwards: on clean input that last step is a third of the wall time, on one core. Most files never change
their schema after the first block, though. So a writer thread casts each spilled block to the merge of the schema
record (read once) with the file's columns seen so far, and writes it right away, overlapping the parse. At the end
the real merge (committed as before) is compared with that guess: the same columns, types, sources and dataset
names mean the same bytes the late write would produce, and the early files are kept. Otherwise (a late field, a
widened type, a record changed meanwhile) the early write stops as soon as the guess changes, and the spill is
written the usual way.

A block the early file stores column for column (no cast: `ParquetOutput.holds`) is not spilled at all: if the
guess fails, the late write reads it back from the early file (writer.py `Spill.hold`). On clean input that is
every block, so nothing goes to Arrow IPC and back.

The writer thread starts with the second block: a one-block input (a small file, most of a burst) is written in
the caller's thread when it finishes, with nothing to overlap and no thread to start.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path as FsPath
from typing import Any, TypeVar

import pyarrow as pa

from pipeline.flatten import TableKey
from pipeline.schema import FileSchema, MergeResult, SchemaStore
from pipeline.writer import EarlyFile, ParquetOutput

log = logging.getLogger(__name__)
_T = TypeVar("_T")
MAX_QUEUED_BLOCKS = 4  # bounds the memory of blocks waiting for the writer threads (a row group flush takes ~4)
# Writer threads: each file is written by one of them, in block order, so the parent's and a child dataset's row
# groups are encoded side by side (one after the other, they were the tail of the run after the parse)
WRITE_LANES = 2

Merge = Callable[[dict[str, Any] | None, str, TableKey, dict[TableKey, FileSchema]], MergeResult]


def merge_all(
    record_of: Callable[[str], dict[str, Any] | None], dataset: str, schemas: dict[TableKey, FileSchema], merge: Merge
) -> tuple[dict[TableKey, str], dict[TableKey, MergeResult]]:
    """Every level's merge, parents first (they name their child datasets)."""
    datasets: dict[TableKey, str] = {(): dataset}
    merges: dict[TableKey, MergeResult] = {}
    for key in sorted(schemas, key=len):
        merges[key] = merged = merge(record_of(datasets[key]), datasets[key], key, schemas)
        for path, child_dataset in merged.child_datasets.items():
            datasets[(*key, path)] = child_dataset
    return datasets, merges


def same_plan(
    a: tuple[dict[TableKey, str], dict[TableKey, MergeResult]],
    b: tuple[dict[TableKey, str], dict[TableKey, MergeResult]],
) -> bool:
    (datasets_a, merges_a), (datasets_b, merges_b) = a, b
    return (
        datasets_a == datasets_b
        and merges_a.keys() == merges_b.keys()
        and all(merges_a[k].columns == merges_b[k].columns and merges_a[k].plan == merges_b[k].plan for k in merges_a)
    )


class EarlyWriter:
    """Writes spilled blocks to Parquet in a thread while the guess of the final schema holds."""

    def __init__(
        self, store: SchemaStore, dataset: str, merge: Merge, directory: FsPath, compression: str, row_group_bytes: int
    ) -> None:
        self.store, self.dataset, self.merge, self.directory = store, dataset, merge, directory
        self.compression, self.row_group_bytes = compression, row_group_bytes
        self.records: dict[str, dict[str, Any] | None] = {}
        self.guess: tuple[dict[TableKey, str], dict[TableKey, MergeResult]] | None = None
        self.seen: dict[TableKey, dict[Any, Any]] | None = None  # the file's columns when the guess was last checked
        self.outputs: dict[TableKey, ParquetOutput] = {}
        self.kept: dict[TableKey, EarlyFile] = {}  # after a failed guess: the files the late write reads back
        self.queued: deque[list[Future[None]]] = deque()  # each block's adds
        self.running = True  # False once retired or aborted: no more blocks are written early
        self.lanes: list[ThreadPoolExecutor] = []  # the writer threads, started by the second block (module docstring)
        self.lane_of: dict[TableKey, int] = {}
        self.first_block: list[tuple[TableKey, ParquetOutput, pa.Table]] = []  # the first block's adds, until then
        self.blocks = 0

    @property
    def alive(self) -> bool:
        return self.running

    def _record(self, dataset: str) -> dict[str, Any] | None:
        if dataset not in self.records:
            self.records[dataset] = self.store.load(dataset)[0]
        return self.records[dataset]

    def offer(self, schemas: dict[TableKey, FileSchema], spilled: dict[TableKey, pa.Table]) -> dict[TableKey, bool]:
        """A block about to be spilled (its tables by level), with the file's schemas including it. Returns the
        levels written early, each with whether its file holds the table as it is (then it need not be spilled)."""
        if not self.running:
            return {}
        seen = {key: dict(schema.columns) for key, schema in schemas.items()}
        if seen != self.seen:  # most blocks add nothing to the file's schema: the guess stands without a merge
            self.seen = seen
            guess = merge_all(self._record, self.dataset, schemas, self.merge)
            if self.guess is None:
                self.guess = guess
            elif not same_plan(self.guess, guess):
                log.debug("early write stopped: the file's schema changed")
                self.retire()
                return {}
        guess = self.guess
        self.blocks += 1
        if self.blocks == 2:
            self.lanes = [
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="early-write") for _ in range(WRITE_LANES)
            ]
            self.queued.append(
                [self._submit(key, output.add, table, table.nbytes) for key, output, table in self.first_block]
            )
            self.first_block = []
        written: dict[TableKey, bool] = {}
        adds: list[Future[None]] = []
        for key, table in spilled.items():
            output = self.outputs.get(key)
            if output is None:
                merged = guess[1][key]
                output = ParquetOutput(
                    self.directory / f"early-{len(self.outputs):03d}.parquet",
                    merged.columns,
                    merged.plan,
                    compression=self.compression,
                    row_group_bytes=self.row_group_bytes,
                )
                self.outputs[key] = output
                self.lane_of[key] = len(self.lane_of) % WRITE_LANES
            written[key] = output.holds(table)
            if not self.lanes:
                self.first_block.append((key, output, table))
            else:
                adds.append(self._submit(key, output.add, table, table.nbytes))
        if adds:
            self.queued.append(adds)
        while len(self.queued) > MAX_QUEUED_BLOCKS:
            for add in self.queued.popleft():
                add.result()
        return written

    def _submit(self, key: TableKey, work: Callable[..., _T], *args: Any) -> Future[_T]:
        """`work(*args)` on the writer thread of `key`'s file (after that file's earlier work)."""
        return self.lanes[self.lane_of[key]].submit(work, *args)

    def finish(
        self, final: tuple[dict[TableKey, str], dict[TableKey, MergeResult]]
    ) -> dict[TableKey, tuple[FsPath, int]] | None:
        """The early files and sizes if the final plan is the guessed one; otherwise None (the files stay in `kept`
        for the late write to read held blocks back)."""
        if not self.running or self.guess is None or not same_plan(self.guess, final):
            self.retire()
            return None
        # each file's last row group is written after the parse, on its writer thread (side by side), or here when
        # no second block started them. A close is queued behind its own file's adds only: waiting for every lane's
        # adds first left a lane idle while the other encoded a row group (~0.09 s of the wall on 100 MB)
        closing = {key: self._submit(key, output.close) for key, output in self.outputs.items() if self.lanes}
        try:
            self._drain()
        except BaseException:
            wait(closing.values())  # the closes end before abort() drops the files
            raise
        sizes = {key: future.result() for key, future in closing.items()}
        if not self.lanes:
            sizes = {key: output.close() for key, output in self.outputs.items()}
        written = {key: (output.destination, sizes[key]) for key, output in self.outputs.items()}
        self._stop()
        return written

    def wait_idle(self) -> None:
        """Returns once the writer threads have nothing queued or running (the parse forks only then)."""
        self._drain()

    def retire(self) -> None:
        """Stops early writing: the files written so far are completed and kept (`kept`) as the spill of the blocks
        they hold."""
        if not self.running:
            return
        try:
            self._drain()
            for key, output in self.outputs.items():
                output.close()
                self.kept[key] = EarlyFile(output.destination, output.column_of)
        except BaseException:
            self.abort()
            raise
        self.outputs = {}
        self._stop()

    def abort(self) -> None:
        """Stops early writing and drops its files (on an error: the transform fails)."""
        if not self.running:
            return
        self.first_block = []  # not written yet: nothing to finish before the files go
        try:
            self._drain()
        finally:
            for output in self.outputs.values():
                output.abort()
            self._stop()

    def _drain(self) -> None:
        while self.first_block:  # a one-block input, written here (the order of the adds is the file's)
            _key, output, table = self.first_block.pop(0)
            output.add(table, table.nbytes)
        while self.queued:
            for add in self.queued.popleft():
                add.result()

    def _stop(self) -> None:
        for lane in self.lanes:
            lane.shutdown(wait=True, cancel_futures=True)
        self.lanes = []
        self.running = False
        self.first_block = []
        self.outputs = {}
