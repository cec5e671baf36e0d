"""Parsing ahead: the next blocks are parsed while the caller spills the current one, in input order.

- Always: two threads parse the next two blocks, each block whole on one thread (pyarrow's parse frees the GIL, so
  they overlap each other and the caller's spill and write; one block split into chunks over Arrow's pool left the
  cores idle between blocks, and joining the chunks cost a copy). What a block's parse learns (the fast path's
  explicit schema, the declines in a row) is passed on in input order, so every run parses each block the same way
  (`_Chain`). They start with the second block: a one-block input (a small file) is parsed in the caller's thread,
  with nothing to overlap and no thread to start.
- On messy input, when CPUs are to spare: worker processes (parse_worker.py) parse blocks too. Messy blocks take
  the exact path, which holds the GIL, so only another process can use another core for them. The workers start
  once the fast path declined `WORKERS_AFTER_DECLINES` blocks in a row (clean files never fork), and each new block
  goes to whichever parser (this process's thread or a worker) has the fewest blocks in hand.

The tables of a block do not depend on which parser read it (each path gives the same tables; what a parser has
learned only changes its speed), and they are yielded in input order, so the output is the same bytes whatever the
number of processes. When a worker fails on a block, the block is parsed here again: a bad block raises the
error the single-process path raises, and a dead or stuck worker loses nothing.

How many processes: `parse_processes` below. A Lambda function gets CPU in proportion to its memory, one vCPU at
1,769 MB (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html): at 1 GB (~0.58 vCPU) a second
process would only share the same fraction of a core and add its memory, so the single-process path stays the one
used there, and it is the fallback wherever fewer than two whole CPUs are available.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.blocks import BlockParser
from pipeline.flatten import BlockTables
from pipeline.formats import Block
from pipeline.parse_worker import ParseWorker, WorkerFailed

log = logging.getLogger(__name__)
PARSE_AHEAD = 2  # blocks parsed ahead of the one being spilled, by this process's threads alone (one each)
AHEAD_PER_PARSER = 2  # with workers: blocks in hand per parser, so none waits for the caller between blocks
WORKERS_AFTER_DECLINES = 2  # the fast path declined this many blocks in a row: the input is messy
MAX_AUTO_PROCESSES = 2  # what was measured (benchmarks/README.md); ETL_PARSE_PROCESSES may ask for more
LAMBDA_MB_PER_VCPU = 1769  # https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html
_CGROUP = Path("/sys/fs/cgroup")
_MEMBERSHIP = Path("/proc/self/cgroup")


def available_cpus(environ: dict[str, str] | None = None) -> float:
    """The CPUs this process may use: the fewest of its CPU affinity, its cgroup's CPU quota (v2 `cpu.max`, v1
    `cpu.cfs_quota_us`) and, in a Lambda function, its share by memory (AWS_LAMBDA_FUNCTION_MEMORY_SIZE / 1,769 MB:
    inside Lambda the quota is applied outside the sandbox, so the memory size is the only sign of it)."""
    env = os.environ if environ is None else environ
    limits = [float(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)]
    quota = _cgroup_quota()
    if quota is not None:
        limits.append(quota)
    memory_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
    if memory_mb.isdigit():
        limits.append(int(memory_mb) / LAMBDA_MB_PER_VCPU)
    return min(limits)


def parse_processes(setting: int = 0, environ: dict[str, str] | None = None) -> int:
    """How many processes parse messy blocks: `setting` (ETL_PARSE_PROCESSES) if positive, else one per whole
    available CPU, at most MAX_AUTO_PROCESSES; 1 means this process alone."""
    if setting > 0:
        return setting
    return max(1, min(MAX_AUTO_PROCESSES, int(available_cpus(environ))))


def _cgroup_quota() -> float | None:
    """The CPU quota of this process's cgroup and its ancestors (CPUs), or None when unlimited or unreadable."""
    try:
        membership = _MEMBERSHIP.read_text().splitlines()
    except OSError:
        return None
    quotas = []
    for line in membership:
        _id, controllers, path = line.split(":", 2)
        if controllers == "":  # v2: "0::/path", cpu.max is "max 100000" or "<quota> <period>"
            folders, names = [_CGROUP], ("cpu.max",)
        elif "cpu" in controllers.split(","):  # v1: cpu.cfs_quota_us (-1: none) over cpu.cfs_period_us
            folders, names = [_CGROUP / controllers, _CGROUP / "cpu"], ("cpu.cfs_quota_us", "cpu.cfs_period_us")
        else:
            continue
        for folder in folders:
            node = folder / path.lstrip("/")
            while True:
                quotas += [quota for quota in [_read_quota(node, names)] if quota is not None]
                if node == folder:
                    break
                node = node.parent
    return min(quotas, default=None)


def _read_quota(folder: Path, names: tuple[str, ...]) -> float | None:
    try:
        if len(names) == 1:
            quota, period = (folder / names[0]).read_text().split()
        else:
            quota, period = ((folder / name).read_text().strip() for name in names)
    except (OSError, ValueError):
        return None
    if quota in ("max", "-1") or not quota.lstrip("-").isdigit() or int(period) <= 0:
        return None
    return int(quota) / int(period)


def parse_blocks(
    blocks: Iterator[Block],
    parser: BlockParser,
    *,
    processes: int | Callable[[], int] = 1,
    scratch: str | os.PathLike[str] = "",
    quiesce: Callable[[], None] = lambda: None,
) -> Iterator[BlockTables]:
    """Each block's tables, in input order. With `processes` > 1 (or a function giving it, called only once the
    input proves messy: `parse_processes` reads the cgroup files, a cost clean inputs skip), workers join in then,
    exchanging blocks and tables through files in `scratch` (a folder removed after the loop); `quiesce` must
    return once the caller's own threads are idle (they are forked with it). When the loop ends, the workers' block
    counts are added to `parser.stats`. Close the generator (contextlib.closing) to end the workers at once if the
    caller stops early."""
    pending: deque[_Pending] = deque()
    workers: list[ParseWorker] = []
    local: _Chain | None = None
    declined = 0  # blocks in a row the fast path declined, among those yielded (so the same blocks on every run)
    finished = False
    first: Block | None = None  # held until the next block is read: a one-block input is parsed here
    try:
        for block in blocks:
            if local is None:
                if first is None:
                    first = block
                    continue
                local = _Chain(parser)
                pending.append((local.submit(first), first, None))
                first = None
            if not workers and scratch and declined >= WORKERS_AFTER_DECLINES:
                if callable(processes):
                    processes = processes()
                if processes > 1:
                    wait([entry[0] for entry in pending])  # no parse of ours in flight when forking
                    quiesce()
                    workers = [ParseWorker(parser, scratch) for _ in range(processes - 1)]
                    log.info("messy input: %d worker process(es) parse blocks too", len(workers))
            worker = _least_busy(workers, pending)
            future = worker.submit(block) if worker is not None else local.submit(block)
            pending.append((future, block, worker))
            while len(pending) > (AHEAD_PER_PARSER * (len(workers) + 1) if workers else PARSE_AHEAD):
                tables, declined = _result(pending.popleft(), local, parser, declined)
                yield tables
        if first is not None:
            yield parser.parse(first)
        while pending:
            tables, declined = _result(pending.popleft(), local, parser, declined)
            yield tables
        finished = True
    finally:
        for entry in pending:
            entry[0].cancel()
        if local is not None:
            local.shutdown()
        for worker in workers:
            worker.close(abandon=not finished)
            parser.stats.fast_blocks += worker.stats.fast_blocks
            parser.stats.exact_blocks += worker.stats.exact_blocks
            parser.stats.worker_blocks += worker.stats.fast_blocks + worker.stats.exact_blocks


# a block in hand: what will parse it (this process's futures give the tables and the parser's declines in a row)
_Pending = tuple[Future[Any], Block, ParseWorker | None]


class _Step:
    """One block in this process's chain of parses: what its parse passes on to the blocks after it."""

    def __init__(self, block: Block | None, previous: _Step | None, earlier: _Step | None) -> None:
        self.block = block
        self.records = block is not None and block.records is not None  # parsed records: no fast attempt
        self.previous = previous  # the block before it, and the one before that
        self.earlier = earlier
        self.settled = threading.Event()  # `schema` and `declines` are known
        self.done = threading.Event()  # its tables are made (or it failed): the next block may take the exact path
        self.schema: pa.Schema | None = None  # the fast path's explicit schema after this block
        self.declines = 0  # the fast path's declines in a row after this block


class _Chain:
    """This process's parses, PARSE_AHEAD blocks at a time, each on its own thread.

    Each block's fast attempt reads with the explicit schema learned up to two blocks before it (the block just
    before may still be parsing), and is tried or not by the declines in a row up to the block before it (waiting
    for that block only when its outcome decides). The exact path takes its blocks in input order, since it learns
    drift repairs. So which path parses a block, and with what, never depends on the threads' timing; the tables do
    not depend on it anyway. The parser's `schema` and `declines_in_a_row` follow the blocks in input order (a
    forked worker starts from them)."""

    def __init__(self, parser: BlockParser) -> None:
        self.parser = parser
        self.threads = ThreadPoolExecutor(max_workers=PARSE_AHEAD, thread_name_prefix="parse-ahead")
        self.last: _Step | None = None  # the last two blocks submitted
        self.before_last: _Step | None = None

    def submit(self, block: Block) -> Future[tuple[BlockTables, int]]:
        threads = self.last is None  # the first block of a file is parsed by all cores at once: most are one block
        if self.last is None:  # the chain starts from what the parser knows
            self.last = _Step(None, None, None)
            self.last.schema, self.last.declines = self.parser.schema, self.parser.declines_in_a_row
            self.last.settled.set()
            self.last.done.set()
        step = _Step(block, self.last, self.before_last)
        self.before_last, self.last = self.last, step
        return self.threads.submit(self._parse, step, threads)

    def shutdown(self) -> None:
        self.threads.shutdown(wait=True, cancel_futures=True)

    def _parse(self, step: _Step, threads: bool) -> tuple[BlockTables, int]:
        parser, block, previous, earlier = self.parser, step.block, step.previous, step.earlier
        assert block is not None and previous is not None
        tables: BlockTables | None = None
        try:
            tried = False
            if not step.records:
                base = earlier or previous  # settled long ago, unless it is the chain's start (settled at once)
                base.settled.wait()
                if _worth_trying(previous, earlier):
                    tried = True
                    tables, step.schema = parser.fast(block, base.schema, threads=threads)
            previous.settled.wait()
            if not tried:
                step.schema = previous.schema
            step.declines = 0 if tables is not None else previous.declines + (0 if step.records else 1)
            parser.schema, parser.declines_in_a_row = step.schema, step.declines
            step.settled.set()
            if tables is None:
                previous.done.wait()
                tables = parser.exact(block)
            return tables, step.declines
        finally:
            if not step.settled.is_set():  # it failed: the file fails, the blocks after it only need to end
                step.schema, step.declines = previous.schema, previous.declines + 1
                step.settled.set()
            step.done.set()
            step.block = step.previous = step.earlier = None  # the chain holds no more than the blocks in hand


def _worth_trying(previous: _Step, earlier: _Step | None) -> bool:
    """Whether to try the fast path on the block after `previous`: by the declines in a row after it, known, or
    the same for every outcome `previous` can have after the (settled) `earlier`; else waits for `previous`."""
    if earlier is not None and not previous.settled.is_set():
        if previous.records:  # no fast attempt: the declines stay as they were
            outcomes = {earlier.declines}
        elif BlockParser.fast_worth_trying(earlier.declines):  # tried: it succeeds (0) or declines (one more)
            outcomes = {0, earlier.declines + 1}
        else:  # not tried: one more
            outcomes = {earlier.declines + 1}
        decisions = {BlockParser.fast_worth_trying(declines) for declines in outcomes}
        if len(decisions) == 1:
            return decisions.pop()
    previous.settled.wait()
    return BlockParser.fast_worth_trying(previous.declines)


def _least_busy(workers: list[ParseWorker], pending: deque[_Pending]) -> ParseWorker | None:
    """Who parses the next block: a live worker with fewer than AHEAD_PER_PARSER unfinished blocks (the fewest
    first), else this process's thread if it is idle, else the least busy of all. None is the thread. The workers
    come first because this process also spills and writes every block."""
    if not workers:
        return None
    load: dict[ParseWorker | None, int] = {worker: 0 for worker in workers if not worker.dead}
    load[None] = 0
    for future, _block, worker in pending:
        if worker in load and not future.done():
            load[worker] += 1
    free = [worker for worker in load if worker is not None and load[worker] < AHEAD_PER_PARSER]
    if free:
        return min(free, key=load.__getitem__)
    if load[None] == 0:
        return None
    return min(load, key=lambda parser: (load[parser], parser is None))


def _result(entry: _Pending, local: _Chain, parser: BlockParser, declined: int) -> tuple[BlockTables, int]:
    """The block's tables, and the declines in a row after it (unchanged by a worker's block)."""
    future, block, worker = entry
    if worker is None:
        return future.result()
    try:
        return future.result(), declined
    except WorkerFailed as failure:
        if worker.dead:
            log.warning("parsing here what the worker could not (%s)", failure)
        else:
            log.debug("a worker failed on the block at line %d (%s): parsing it here", block.first_line, failure)
        # in this process's chain: the parser's exact path takes one block at a time
        return local.submit(block).result()[0], declined
