"""The transform: one JSON object (bytes) -> one Parquet file per dataset level (parent + child datasets).

1. decode and stream the input in blocks (formats.py), parse each block fast or exactly (blocks.py);
2. flatten each block into tables keyed by field path (flatten.py), add lineage ids, spill them (writer.py);
3. fold the file's column types into each dataset's schema record, conditionally (schema.py);
4. write each dataset cast to its merged schema, via a pandas DataFrame, as `<dataset>/dt=<date>/<name>.parquet`.

`transform_file` is the Python API; `python -m pipeline.transform INPUT... --out DIR` is the CLI over it.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import functools
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path as FsPath
from typing import IO, Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc

from pipeline import coltypes, config, lineage, naming
from pipeline.blocks import BlockParser
from pipeline.early_write import EarlyWriter, Merge, merge_all
from pipeline.flatten import BlockTables, TableKey
from pipeline.formats import InputFormatError, iter_blocks, open_input
from pipeline.parse_ahead import parse_blocks, parse_processes
from pipeline.schema import (
    CHILD_SYSTEM_COLUMNS,
    PARENT_SYSTEM_COLUMNS,
    DirectorySchemaStore,
    FileSchema,
    MemorySchemaStore,
    MergeResult,
    ReadOnceSchemaStore,
    SchemaStore,
    claim_dataset,
    commit_schema,
    merge_schema,
)
from pipeline.scratch import scratch_dir
from pipeline.writer import SYSTEM_PREFIX, Spill, spill_name, write_parquet

log = logging.getLogger(__name__)
# Writing the parent and child datasets side by side was ~100 MB more peak RSS on 1 GB of NDJSON (388 vs 284 MB)
# for no measurable speed-up on a loaded 2-core box: one writer keeps the 400 MB budget safe. With one, the late
# write runs in the caller's thread (no thread to start per call).
WRITE_THREADS = 1
MALLOC_MMAP_THRESHOLD = 32 << 20  # see use_system_allocator
MALLOC_TRIM_THRESHOLD = 64 << 20
MALLOC_ARENAS = 2
_INPUT_SUFFIXES = re.compile(r"(\.(json|jsonl|ndjson|gz|gzip|bz2|xz|zst|txt))+$", re.IGNORECASE)


@dataclass(frozen=True)
class OutputName:
    """Names every output of one source object: `<dataset>/dt=<date>/<stem>_<UTC timestamp>_<hash>.parquet`."""

    stem: str
    event_time: datetime
    short_hash: str  # from the source key and the object's ETag/version/sequencer: a replay gives the same name

    def key(self, dataset: str) -> str:
        moment = self.event_time.astimezone(UTC)
        return (
            f"{dataset}/{naming.PARTITION_KEY}={moment:%Y-%m-%d}/{self.stem}_{moment:%Y%m%dT%H%M%SZ}_{self.short_hash}"
            f"{config.PARQUET_SUFFIX}"
        )


def output_name(source_key: str, event_time: datetime, *identity: str) -> OutputName:
    """The output name of a source object; `identity` is its ETag, version id and/or event sequencer."""
    base = source_key.rsplit("/", 1)[-1]
    stem = naming.object_stem(_INPUT_SUFFIXES.sub("", base))
    digest = hashlib.sha1("\n".join((source_key, *identity)).encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return OutputName(stem=stem, event_time=event_time, short_hash=digest)


@dataclass
class OutputFile:
    dataset: str
    key: str  # relative: <dataset>/dt=.../<name>.parquet (the Lambda prefixes processed/)
    path: str  # where it was written locally
    rows: int
    columns: dict[str, str]  # column name -> Hive type
    bytes: int


@dataclass
class TransformResult:
    source_key: str
    dataset: str
    rows: int  # records of the parent dataset
    bytes_in: int
    outputs: list[OutputFile] = field(default_factory=list)  # by nesting depth: the top-level dataset first
    fast_blocks: int = 0
    exact_blocks: int = 0
    worker_blocks: int = 0  # of the blocks above, parsed by a worker process (parse_ahead.py)
    ms: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "key": self.source_key,
            "dataset": self.dataset,
            "rows": self.rows,
            "columns": sum(len(output.columns) for output in self.outputs),
            "bytes_in": self.bytes_in,
            "bytes_out": sum(output.bytes for output in self.outputs),
            "ms": self.ms,
            "outputs": [output.key for output in self.outputs],
            "fast_blocks": self.fast_blocks,
            "exact_blocks": self.exact_blocks,
            "worker_blocks": self.worker_blocks,
        }


class _CountingReader:
    """Counts the raw (possibly compressed) bytes read from the source."""

    def __init__(self, source: IO[bytes]) -> None:
        self.source = source
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.count += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        """Straight into the reader's buffer where the source can (files, botocore's StreamingBody): one copy less,
        and no 4 MB allocation to free per block, which the system allocator returns to the kernel each time."""
        readinto = getattr(self.source, "readinto", None)
        if readinto is None:
            data = self.source.read(len(buffer))
            buffer[: len(data)] = data
            size = len(data)
        else:
            size = readinto(buffer) or 0
        self.count += size
        return size


def transform_stream(
    source: IO[bytes] | BinaryIO,
    *,
    dataset: str,
    name: OutputName,
    source_key: str,
    schema_store: SchemaStore,
    work_dir: str | os.PathLike[str],
    settings: config.Settings | None = None,
    spill_dir: str | os.PathLike[str] | None = None,
) -> TransformResult:
    """The core: streams `source`, writes Parquet files under `work_dir` at their relative keys.

    Spilled blocks go to `spill_dir`, a folder this call creates and removes, inside a scratch folder the caller
    holds (the Lambda's, beside `work_dir`: one scratch folder per event); by default, to a scratch folder of its
    own under `settings.tmp_dir` (scratch.py).

    Each schema record is read once (pass the `ReadOnceSchemaStore` that already read the top-level record, as the
    Lambda does after claiming the dataset) and changed only by conditional writes."""
    settings = settings or config.Settings()
    if not isinstance(schema_store, ReadOnceSchemaStore):
        schema_store = ReadOnceSchemaStore(schema_store)
    started = time.monotonic()
    counter = _CountingReader(source)
    stream = open_input(counter)
    parser = BlockParser()
    spills: dict[TableKey, Spill] = {}
    schemas: dict[TableKey, FileSchema] = {}
    parent_rows = 0
    with _spill_folder(spill_dir, settings) as spill_dir:
        early = EarlyWriter(
            schema_store, dataset, _merge, FsPath(spill_dir), settings.compression, settings.row_group_bytes
        )
        try:
            processes = functools.partial(parse_processes, settings.parse_processes)  # only if the input is messy
            blocks = iter_blocks(stream, settings.block_bytes)
            parsed = parse_blocks(blocks, parser, processes=processes, scratch=spill_dir, quiesce=early.wait_idle)
            with contextlib.closing(parsed):  # on an error here, the workers end before the spill folder goes
                for tables in parsed:
                    spilled: dict[TableKey, pa.Table] = {}
                    parent_rows += _spill_block(
                        tables, parent_rows, name.short_hash, source_key, spills, schemas, spill_dir, spilled
                    )
                    _spill(spills, spilled, early.offer(schemas, spilled))
            result = TransformResult(source_key=source_key, dataset=dataset, rows=parent_rows, bytes_in=counter.count)
            if parent_rows:
                # the records are read, merged and written one level at a time, parents first (as merge_all reads)
                datasets, merges = merge_all(lambda _dataset: None, dataset, schemas, _committing(schema_store))
                early_files = early.finish((datasets, merges))
        finally:
            early.abort()
        if parent_rows:

            def write(key: TableKey) -> OutputFile:
                relative = name.key(datasets[key])
                destination = FsPath(work_dir) / relative
                if early_files is not None:
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    written, size = early_files[key]
                    shutil.move(written, destination)
                else:
                    size = write_parquet(
                        spills[key],
                        destination,
                        merges[key].columns,
                        merges[key].plan,
                        compression=settings.compression,
                        row_group_bytes=settings.row_group_bytes,
                        early=early.kept.get(key),
                    )
                return OutputFile(
                    dataset=datasets[key],
                    key=relative,
                    path=str(destination),
                    rows=spills[key].rows,
                    columns=dict(merges[key].columns),
                    bytes=size,
                )

            levels = sorted(spills, key=len)
            if WRITE_THREADS == 1:
                result.outputs.extend(map(write, levels))
            else:
                with ThreadPoolExecutor(max_workers=WRITE_THREADS) as pool:
                    result.outputs.extend(pool.map(write, levels))
    result.fast_blocks, result.exact_blocks = parser.stats.fast_blocks, parser.stats.exact_blocks
    result.worker_blocks = parser.stats.worker_blocks
    result.ms = int((time.monotonic() - started) * 1000)
    return result


@contextlib.contextmanager
def _spill_folder(path: str | os.PathLike[str] | None, settings: config.Settings) -> Iterator[str]:
    if path is None:
        with scratch_dir(settings.tmp_dir or None, "spill-") as folder:
            yield folder
        return
    os.mkdir(path)  # a new folder: whatever is in it is this call's
    try:
        yield os.fspath(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)


def use_system_allocator() -> None:
    """Arrow's default mimalloc/jemalloc pools keep freed pages; the system allocator returns them, which keeps the
    peak RSS of a long streaming run near one block's worth (measured: 290 vs 400 MB on 300 MB of NDJSON).

    It is process-wide, so only entry points call it (the Lambda module, the CLI, the benchmark), never the library
    functions a notebook imports.

    glibc's malloc is then tuned (`mallopt`, where the C library is glibc, as in Lambda's Amazon Linux): by default
    it maps each buffer over its dynamic threshold afresh and gives the top of its heap back early, so every block's
    4 MB buffers were faulted in and zeroed again. Buffers below 32 MB now come from the heap and are reused, which
    keeps up to 64 MB free before trimming, in at most two arenas. Measured on 1 GB of NDJSON: 210,000 -> 39,000
    page faults, 1.1 -> 0.6 s of system time, peak RSS 277 -> 271 MB.
    """
    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())
    _tune_glibc_malloc()


def _tune_glibc_malloc() -> None:
    """See `use_system_allocator` (glibc's malloc.h: M_TRIM_THRESHOLD -1, M_MMAP_THRESHOLD -3, M_ARENA_MAX -8)."""
    if sys.platform != "linux":
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl)
        return
    for parameter, value in ((-3, MALLOC_MMAP_THRESHOLD), (-1, MALLOC_TRIM_THRESHOLD), (-8, MALLOC_ARENAS)):
        mallopt(ctypes.c_int(parameter), ctypes.c_int(value))


def _merge(
    record: dict[str, Any] | None, dataset: str, key: TableKey, schemas: dict[TableKey, FileSchema]
) -> MergeResult:
    """One level's merge of the file's columns into its dataset's record (pure)."""
    system = CHILD_SYSTEM_COLUMNS if key else PARENT_SYSTEM_COLUMNS
    child_paths = [other[-1] for other in schemas if len(other) == len(key) + 1 and other[:-1] == key]
    return merge_schema(record, dataset, schemas[key].columns, child_paths, system)


def _committing(store: SchemaStore) -> Merge:
    """`_merge` against the stored record, committed with a conditional write (re-merged on a lost race)."""

    def commit(_record: dict[str, Any] | None, dataset: str, key: TableKey, schemas: dict[TableKey, FileSchema]):
        return commit_schema(store, dataset, lambda record: _merge(record, dataset, key, schemas))

    return commit


def _spill(spills: dict[TableKey, Spill], tables: dict[TableKey, pa.Table], early: dict[TableKey, bool] | None) -> None:
    """Each level's table to Arrow IPC, unless the early Parquet file holds it as it is (`EarlyWriter.offer`)."""
    early = early or {}
    for key, table in tables.items():
        if early.get(key):
            spills[key].hold(table)
        else:
            spills[key].write(table, in_early=key in early)


def _spill_block(
    tables: BlockTables,
    first_index: int,
    short_hash: str,
    source_key: str,
    spills: dict[TableKey, Spill],
    schemas: dict[TableKey, FileSchema],
    spill_dir: str,
    spilled: dict[TableKey, pa.Table],
) -> int:
    """Adds lineage columns to a block's tables and records their types; the tables go into `spilled`, for `_spill`.
    Returns parent rows."""
    record_ids: dict[TableKey, lineage.RecordIds] = {}
    for key in sorted(tables, key=len):
        table = tables[key]
        if key not in spills:
            spills[key] = Spill(FsPath(spill_dir), f"level{len(spills):03d}")
            schemas[key] = FileSchema()
        columns: dict[str, pa.Array] = {}
        if not key:
            ids = lineage.parent_ids(short_hash, first_index, table.rows)
            columns[SYSTEM_PREFIX + "_source_key"] = lineage.repeated(source_key, table.rows)
        else:
            parent_ids, ids = lineage.child_ids(record_ids[key[:-1]], table.parent_index, table.position)
            columns[SYSTEM_PREFIX + "_parent_record_id"] = parent_ids
            columns[SYSTEM_PREFIX + "_position"] = table.position
        record_ids[key] = ids
        columns[SYSTEM_PREFIX + "_record_id"] = ids.ids
        for path, array in table.columns.items():
            kind = coltypes.hive_type_of_arrow(array.type)
            biggest, empty_only = 0, False
            if kind == coltypes.BIGINT and array.null_count < len(array):
                biggest = max(abs(pc.min(array).as_py()), abs(pc.max(array).as_py()))
            elif coltypes.element_of(kind) is not None:
                empty_only = len(array.flatten()) == 0
            schemas[key].add(path, kind, biggest, empty_only)
            columns[spill_name(path)] = array
        spilled[key] = pa.table(columns)
    return tables[()].rows if () in tables else 0


def transform_file(
    source: str | os.PathLike[str] | BinaryIO,
    *,
    dataset: str,
    out_dir: str | os.PathLike[str],
    source_key: str | None = None,
    schema_store: SchemaStore | None = None,
    event_time: datetime | None = None,
    identity: str | None = None,
    settings: config.Settings | None = None,
) -> TransformResult:
    """Transforms a local file or binary stream into Parquet under `out_dir`, at the Lambda's relative keys.

    Without `event_time`/`identity`, a path uses its modification time and size+mtime (a stream: now and nothing).
    Without `schema_store`, the file's own schema is the table's (a fresh in-memory record).
    """
    if isinstance(source, str | os.PathLike):
        path = FsPath(source)
        stat = path.stat()
        source_key = source_key or path.name
        event_time = event_time or datetime.fromtimestamp(stat.st_mtime, UTC)
        identity = identity if identity is not None else f"{stat.st_size}-{stat.st_mtime_ns}"
        with open(path, "rb") as stream:
            return transform_file(
                stream,
                dataset=dataset,
                out_dir=out_dir,
                source_key=source_key,
                schema_store=schema_store,
                event_time=event_time,
                identity=identity,
                settings=settings,
            )
    source_key = source_key or "stream"
    name = output_name(source_key, event_time or datetime.now(UTC), identity or "")
    return transform_stream(
        source,
        dataset=dataset,
        name=name,
        source_key=source_key,
        schema_store=schema_store if schema_store is not None else MemorySchemaStore(),
        work_dir=out_dir,
        settings=settings,
    )


def error_report(error: InputFormatError, *, source_key: str, dataset: str, **extra: Any) -> dict[str, Any]:
    """The `.error.json` written beside a quarantined copy (same shape from the CLI and the Lambda)."""
    return {"source_key": source_key, "dataset": dataset, "error": type(error).__name__, **error.as_dict(), **extra}


def _cli_inputs(inputs: list[str]) -> Iterator[FsPath]:
    for item in inputs:
        path = FsPath(item)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        else:
            yield path


def main(argv: list[str] | None = None) -> int:
    """Transforms every input, whatever happens to the others; one line per input that was quarantined or failed.

    Exit status: 0 when every input was transformed or quarantined; 1 when any input failed (the transform could
    not run on it: unreadable, disk full, an unexpected error), or, with --strict, was quarantined.
    """
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.transform",
        description="Transform JSON files (arrays, NDJSON, concatenated objects; gzip, bzip2, xz; UTF-8/16/32) into "
        "the Parquet files the Lambda would write. Every input is processed; each failure is one line.",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="files (or folders of files) to transform")
    parser.add_argument("--out", required=True, help="output folder: <dataset>/dt=.../*.parquet, quarantine/, schemas/")
    parser.add_argument("--dataset", help="dataset name (default: each input's parent folder name)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if any input was quarantined")
    args = parser.parse_args(argv)
    use_system_allocator()
    logging.basicConfig(level=os.environ.get("ETL_LOG_LEVEL", "WARNING"))
    out = FsPath(args.out)
    store = DirectorySchemaStore(out / config.SCHEMAS_PREFIX)
    counts = {"transformed": 0, "quarantined": 0, "failed": 0}
    for path in _cli_inputs(args.inputs):
        try:
            folder = args.dataset or path.resolve().parent.name or config.DEFAULT_DATASET
            dataset, holder = claim_dataset(store, folder, naming.dataset_name(folder))
            if dataset != folder:
                print(
                    f"{path}: folder {folder!r} -> dataset {dataset!r}" + (f" ({holder!r} was first)" if holder else "")
                )
            try:
                result = transform_file(path, dataset=dataset, out_dir=out, source_key=path.name, schema_store=store)
            except InputFormatError as error:
                target = _cli_quarantine(path, out, dataset, error)
                counts["quarantined"] += 1
                print(f"{path}: QUARANTINED -> {target} ({error})", flush=True)
                continue
        except Exception as error:  # the CLI's per-input boundary: report it, go on to the next input
            counts["failed"] += 1
            message = " ".join(str(error).split())
            print(f"{path}: FAILED ({type(error).__name__}: {message})", file=sys.stderr, flush=True)
            continue
        counts["transformed"] += 1
        print(f"{path}: {result.rows} records, {result.bytes_in} bytes in, {result.ms} ms")
        for output in result.outputs:
            print(f"  {output.key}: {output.rows} rows, {output.bytes} bytes")
            for column, kind in output.columns.items():
                print(f"    {column}: {kind}")
    print(", ".join(f"{count} {status}" for status, count in counts.items()), flush=True)
    return 1 if counts["failed"] or (counts["quarantined"] and args.strict) else 0


def _cli_quarantine(path: FsPath, out: FsPath, dataset: str, error: InputFormatError) -> FsPath:
    target = out / config.QUARANTINE_PREFIX / dataset / path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target)
    report = error_report(error, source_key=str(path), dataset=dataset)
    FsPath(f"{target}.error.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return target


if __name__ == "__main__":
    sys.exit(main())
