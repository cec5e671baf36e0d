"""A second process for the exact path: on messy input it parses and repairs blocks beside this one.

Why a process: the exact path (json.loads, drift repairs, `pa.array` over Python objects) holds the GIL almost all
the time, so a thread cannot use a second core for it. The worker is a fork of the transform's process
(`multiprocessing.Process` with the "fork" start method) that talks over a `multiprocessing.Pipe`; both work in
AWS Lambda, where `multiprocessing.Pool` and `Queue` do not, since they need /dev/shm, which Lambda lacks
(https://aws.amazon.com/blogs/compute/parallel-processing-in-python-with-aws-lambda/).

- Forked, not spawned: the child inherits the imported modules and the parser's learned state (the fast path's
  schema, the drift repairs), so it starts at full speed, and it needs nothing the Lambda runtime or localaws set up
  for the parent (import hooks, layers). The caller forks at a quiet point: no parse or write of its own in flight.
- A block goes to the worker as a pickle file in the transform's spill folder, its tables come back as a file of
  Arrow IPC streams, one per dataset level; the pipe carries only their names and a description of the tables.
- The child dies with its parent (PR_SET_PDEATHSIG, and end of file on the pipe), and the parent joins it when the
  file ends, so no process outlives an invocation.
- Any failure on a block (bad input, or the worker dying or stalling) is `WorkerFailed`: the caller then parses
  that block itself, so the error it raises is the one the single-process path raises, and nothing is lost.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import pickle
import signal
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path as FsPath
from typing import Any

import pyarrow as pa

from pipeline.blocks import BlockParser, ParseStats
from pipeline.flatten import BlockTable, BlockTables
from pipeline.formats import Block

log = logging.getLogger(__name__)
# A block takes well under a second; a worker that answers nothing for this long is taken for stuck (a fork-time
# deadlock, say) and killed, and the caller parses its blocks itself.
STALL_SECONDS = 120.0
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


class WorkerFailed(Exception):
    """The worker did not return a block's tables: the block raised there, or the worker died or stalled."""


class ParseWorker:
    """One forked process parsing blocks with its own copy of `parser`, in submission order.

    Blocks and tables travel through files in `scratch` (the transform's spill folder); the pipe carries only their
    names. A pipe moves 4 MB in ~200 KB writes, each needing the GIL back, which the parsing threads of this process
    hold most of the time: a file takes one write and one read, with the GIL released."""

    def __init__(self, parser: BlockParser, scratch: str | os.PathLike[str]) -> None:
        context = multiprocessing.get_context("fork")
        self._conn, child_end = context.Pipe()
        self._scratch = FsPath(scratch)
        self.process = context.Process(
            target=_serve, args=(child_end, self._conn, parser, os.getpid()), name="etl-parse-worker", daemon=True
        )
        with warnings.catch_warnings():
            # Python 3.12+ warns that forking a multi-threaded process may deadlock the child: the caller forks
            # while its own threads are idle, and a child that stalls anyway is killed (STALL_SECONDS).
            warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
            self.process.start()
        child_end.close()
        self.stats = ParseStats()
        self.dead = False
        self._sent = 0
        # one thread waits for the answers (the GIL is free while it waits) and reads them, in order
        self._answers = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parse-worker-answers")

    def submit(self, block: Block) -> Future[BlockTables]:
        """The block's tables, or WorkerFailed; blocks are answered in the order they were submitted."""
        sequence = self._sent
        self._sent += 1
        path = self._scratch / f"worker{self.process.pid}-block{sequence:06d}.pickle"
        try:
            if self.dead:
                raise WorkerFailed("the parse worker is gone")
            path.write_bytes(pickle.dumps(block, protocol=pickle.HIGHEST_PROTOCOL))
            self._conn.send((sequence, str(path)))
        except (OSError, WorkerFailed) as error:  # a broken pipe: it died; a full disk: parsed here, as before
            self.dead = self.dead or isinstance(error, BrokenPipeError)
            failed: Future[BlockTables] = Future()
            failed.set_exception(WorkerFailed(f"the block was not sent to the parse worker ({error})"))
            return failed
        return self._answers.submit(self._answer, sequence)

    def _answer(self, sequence: int) -> BlockTables:
        if self.dead:
            raise WorkerFailed("the parse worker is gone")
        try:
            if not self._conn.poll(STALL_SECONDS):
                self._kill()
                raise WorkerFailed(f"the parse worker answered nothing for {STALL_SECONDS:.0f} s")
            header = self._conn.recv()
        except (EOFError, OSError) as error:  # it died: end of file, or a reset connection
            self.dead = True
            self.process.join()  # its end of the pipe closes only when it exits
            raise WorkerFailed(f"the parse worker exited ({_exit_of(self.process)})") from error
        if header["sequence"] != sequence:  # cannot happen: one pipe, one thread at each end
            self._kill()
            raise WorkerFailed(f"the parse worker answered block {header['sequence']} for block {sequence}")
        if "error" in header:
            raise WorkerFailed(header["error"])
        with pa.OSFile(header["path"]) as source:  # one read, not a memory map: mapped pages would count as RSS
            buffer = source.read_buffer()
        os.remove(header["path"])
        self.stats.fast_blocks += header["fast"]
        self.stats.exact_blocks += header["exact"]
        return decode_tables(header["tables"], buffer)

    def _kill(self) -> None:
        self.dead = True
        self.process.kill()
        self.process.join()

    def close(self, *, abandon: bool = False) -> None:
        """Ends the worker: end of file on its pipe once it answered every block, or SIGKILL at once with `abandon`
        (the caller stopped early and wants no more answers)."""
        if abandon and self.process.is_alive():
            self._kill()
        self._answers.shutdown(wait=True, cancel_futures=True)
        self._conn.close()
        self.process.join()
        if self.process.exitcode != 0 and not self.dead:
            log.warning("the parse worker ended with %s", _exit_of(self.process))


def _exit_of(process: multiprocessing.process.BaseProcess) -> str:
    code = process.exitcode
    if code is None:
        return "still running"
    if code >= 0:
        return f"exit status {code}"
    try:
        return f"signal {signal.Signals(-code).name}"
    except ValueError:  # a real-time signal has no name
        return f"signal {-code}"


def _serve(conn: Connection, parent_end: Connection, parser: BlockParser, parent_pid: int) -> None:
    """The worker's loop: a block in, its tables out, until the parent closes the pipe."""
    parent_end.close()  # else the child would hold the parent's end open and never see end of file
    _die_with_parent(parent_pid)
    while True:
        try:
            sequence, path = conn.recv()
        except EOFError:
            return
        before = (parser.stats.fast_blocks, parser.stats.exact_blocks)
        header: dict[str, Any] = {"sequence": sequence}
        try:
            block = pickle.loads(FsPath(path).read_bytes())
            os.remove(path)
            tables = parser.parse(block)
            described, payload = encode_tables(tables)
            answer = f"{path.removesuffix('.pickle')}.arrow"
            with pa.OSFile(answer, "wb") as sink:
                sink.write(payload)
        except Exception as error:  # whatever it is, the parent parses the block again and raises its own error
            header["error"] = f"{type(error).__name__}: {error}"
        else:
            header.update(
                path=answer,
                tables=described,
                fast=parser.stats.fast_blocks - before[0],
                exact=parser.stats.exact_blocks - before[1],
            )
        try:
            conn.send(header)
        except OSError:  # the parent closed the pipe: it wants nothing more
            return


def _die_with_parent(parent_pid: int) -> None:
    """Asks Linux to SIGKILL this process when the thread that forked it ends (Lambda stops the parent on a timeout;
    the worker must not live on into the next invocation). Outside Linux, end of file on the pipe ends it."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


# ---------------------------------------------------------------- BlockTables <-> Arrow IPC


def encode_tables(tables: BlockTables) -> tuple[list[dict[str, Any]], pa.Buffer]:
    """Each level's arrays as an Arrow IPC stream (one record batch), back to back in one buffer, and a
    JSON-able description: key, rows, column paths, mixed paths, whether the batch ends with parent_index and
    position, and where its stream lies in the buffer."""
    described = []
    sink = pa.BufferOutputStream()
    for key, table in tables.items():
        arrays = list(table.columns.values())
        linked = table.parent_index is not None
        if linked:
            arrays += [table.parent_index, table.position]
        start = sink.tell()
        if arrays:
            batch = pa.RecordBatch.from_arrays(arrays, names=[str(index) for index in range(len(arrays))])
            with pa.ipc.new_stream(sink, batch.schema) as writer:
                writer.write_batch(batch)
        described.append(
            {
                "key": [list(path) for path in key],
                "rows": table.rows,
                "paths": [list(path) for path in table.columns],
                "mixed": [list(path) for path in table.mixed],
                "linked": linked,
                "stream": [start, sink.tell() - start],
            }
        )
    return described, sink.getvalue()


def decode_tables(described: list[dict[str, Any]], buffer: pa.Buffer) -> BlockTables:
    """The inverse of `encode_tables`; the arrays point into `buffer` (no copy)."""
    tables: BlockTables = {}
    for entry in described:
        start, size = entry["stream"]
        arrays: list[pa.Array] = []
        if size:
            arrays = pa.ipc.open_stream(buffer.slice(start, size)).read_next_batch().columns
        paths = [tuple(path) for path in entry["paths"]]
        table = BlockTable(rows=entry["rows"], columns=dict(zip(paths, arrays[: len(paths)], strict=True)))
        if entry["linked"]:
            table.parent_index, table.position = arrays[-2], arrays[-1]
        table.mixed = {tuple(path) for path in entry["mixed"]}
        tables[tuple(tuple(path) for path in entry["key"])] = table
    return tables
