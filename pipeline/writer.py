"""Spill and write: block tables go to Arrow IPC files in a temp dir while the file streams; once the merged schema
is known, each dataset is read back block by block, cast to that schema, passed through a pandas DataFrame with
Arrow-backed dtypes, and written as one Parquet file with row groups of about ROW_GROUP_BYTES.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path as FsPath

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import coltypes, config

Path = tuple[str, ...]
SYSTEM_PREFIX = "\x00sys:"  # spilled system columns; JSON-encoded paths can never start with a NUL
# Spills stay uncompressed: Arrow IPC compresses only with lz4_frame or zstd, and the AWS SDK for pandas layer's
# pyarrow is built without both (ARROW_WITH_LZ4=OFF, ARROW_WITH_ZSTD=OFF in building/lambda/build-lambda-layer.sh of
# aws/aws-sdk-pandas; aws/aws-sdk-pandas#2445). /tmp is sized for it: see EPHEMERAL_STORAGE_MB in kit/provisioning.py.
_IPC_OPTIONS = pa.ipc.IpcWriteOptions(compression=None)


@functools.lru_cache(maxsize=4096)  # every column of every block
def spill_name(path: Path) -> str:
    return json.dumps(list(path), ensure_ascii=False)


@dataclass(frozen=True)
class SpilledBlock:
    """One block of a dataset level: in an Arrow IPC file, or only in the early Parquet file (`path` None)."""

    rows: int
    nbytes: int  # its Arrow bytes as spilled: row groups are cut on these, however the block is read back
    path: FsPath | None = None
    in_early: bool = False  # its rows are in the early Parquet file (read back from there when `path` is None)
    types: tuple[tuple[str, pa.DataType], ...] = ()  # a held block's columns, to rebuild it from the early file


@dataclass(frozen=True)
class EarlyFile:
    """An early Parquet file kept to read blocks back from: its path and each spilled column's name in it."""

    path: FsPath
    column_of: dict[str, str]  # spilled column -> the file's column


@dataclass
class Spill:
    """The blocks of one dataset level, in input order: spilled to Arrow IPC (`write`), or held by the early Parquet
    file when it stores them column for column (`hold`), which saves writing and removing them here."""

    directory: FsPath
    prefix: str
    files: list[FsPath] = field(default_factory=list)
    blocks: list[SpilledBlock] = field(default_factory=list)
    rows: int = 0

    def write(self, table: pa.Table, *, in_early: bool = False) -> None:
        target = self.directory / f"{self.prefix}-{len(self.files):06d}.arrow"
        with pa.OSFile(str(target), "wb") as sink, pa.ipc.new_file(sink, table.schema, options=_IPC_OPTIONS) as out:
            out.write_table(table)
        self.files.append(target)
        self.blocks.append(SpilledBlock(table.num_rows, table.nbytes, target, in_early))
        self.rows += table.num_rows

    def hold(self, table: pa.Table) -> None:
        types = tuple(zip(table.column_names, table.schema.types, strict=True))
        self.blocks.append(SpilledBlock(table.num_rows, table.nbytes, None, True, types))
        self.rows += table.num_rows

    def tables(self, early: EarlyFile | None = None) -> Iterator[tuple[pa.Table, int]]:
        """Each block as spilled, with its Arrow bytes; held blocks are rebuilt from `early`'s row groups."""
        reader = _EarlyReader(early) if early is not None else None
        for block in self.blocks:
            if block.path is None:
                if reader is None:
                    raise ValueError(f"{self.prefix}: a block held by the early file, and no early file")
                yield reader.block(block), block.nbytes
                continue
            if block.in_early and reader is not None:
                reader.skip(block.rows)
            with pa.OSFile(str(block.path)) as source:  # not mmap: mapped pages would count as our RSS
                table = pa.ipc.open_file(source).read_all()
            os.remove(block.path)
            yield table, block.nbytes


class _EarlyReader:
    """Reads an early Parquet file's rows in order, one row group at a time (each holds whole blocks)."""

    def __init__(self, early: EarlyFile) -> None:
        self.file = pq.ParquetFile(str(early.path))
        self.column_of = early.column_of
        self.group = -1
        self.table: pa.Table | None = None
        self.at = 0  # next row of self.table

    def _rows(self, count: int) -> pa.Table:
        pieces = []
        while count > 0:
            if self.table is None or self.at >= self.table.num_rows:
                self.group += 1
                self.table = self.file.read_row_group(self.group)
                self.at = 0
            take = min(count, self.table.num_rows - self.at)
            pieces.append(self.table.slice(self.at, take))
            self.at += take
            count -= take
        if len(pieces) == 1:
            return pieces[0]
        return pa.concat_tables(pieces) if pieces else self.file.schema_arrow.empty_table()

    def skip(self, count: int) -> None:
        self._rows(count)

    def block(self, block: SpilledBlock) -> pa.Table:
        rows = self._rows(block.rows)
        arrays = []
        for name, arrow in block.types:
            if pa.types.is_null(arrow):  # written as typed nulls: the spilled block had no type for them
                arrays.append(pa.nulls(block.rows))
            else:
                column = rows.column(self.column_of[name])
                array = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
                arrays.append(array if array.type == arrow else array.cast(arrow))  # e.g. a list's item name
        return pa.Table.from_arrays(arrays, names=[name for name, _arrow in block.types])


class ParquetOutput:
    """One Parquet file being written: spilled blocks cast to `columns` (name, hive type), buffered into row groups
    of about `row_group_bytes` of Arrow data, each passed through a pandas DataFrame with Arrow-backed dtypes."""

    def __init__(
        self,
        destination: FsPath,
        columns: Sequence[tuple[str, str]],
        plan: dict[Path, tuple[str, str]],
        *,
        compression: str = config.PARQUET_COMPRESSION,
        row_group_bytes: int = config.ROW_GROUP_BYTES,
    ) -> None:
        self.destination = destination
        self.columns = list(columns)
        self.schema = pa.schema([pa.field(name, coltypes.arrow_type(kind)) for name, kind in columns])
        self.source_of = {name: spill_name(path) for path, (name, _kind) in plan.items()}
        # spilled column -> this file's column; system columns are spilled under SYSTEM_PREFIX + their name
        self.column_of = {source: name for name, source in self.source_of.items()}
        self.column_of.update((SYSTEM_PREFIX + name, name) for name, _kind in self.columns)
        self.kind_of = dict(self.columns)
        self.row_group_bytes = row_group_bytes
        self.pending: list[pa.Table] = []
        self.pending_bytes = 0
        self.pending_rows = 0
        destination.parent.mkdir(parents=True, exist_ok=True)
        self.writer = pq.ParquetWriter(
            str(destination),
            self.schema,
            compression=compression,
            dictionary_pagesize_limit=config.DICTIONARY_PAGE_BYTES,
        )

    def holds(self, block: pa.Table) -> bool:
        """Whether this file stores every column of `block` as it is (no cast), so the block can be read back from
        it: each column goes to a column of exactly its Arrow type, or is all-null of Arrow's null type."""
        for name, arrow in zip(block.column_names, block.schema.types, strict=True):
            if pa.types.is_null(arrow):
                continue
            column = self.column_of.get(name)
            if column is None or coltypes.arrow_type(self.kind_of[column]) != arrow:
                return False
        return True

    def add(self, block: pa.Table, nbytes: int) -> None:
        """Casts `block` to the file's columns and buffers it; `nbytes` (its Arrow bytes as spilled) counts towards
        the row group, so a block read back from anywhere cuts the row groups where the first write did."""
        index = {name: i for i, name in enumerate(block.column_names)}  # a table's names are built on each call
        arrays = []
        for name, kind in self.columns:
            at = index.get(SYSTEM_PREFIX + name, index.get(self.source_of.get(name)))
            if at is not None:
                arrays.append(coltypes.cast_array(block.column(at), kind))
            else:
                arrays.append(pa.nulls(block.num_rows, coltypes.arrow_type(kind)))
        table = pa.Table.from_arrays(arrays, schema=self.schema)
        self.pending.append(table)
        self.pending_bytes += nbytes
        self.pending_rows += table.num_rows
        if self.pending_bytes >= self.row_group_bytes or self.pending_rows >= config.ROW_GROUP_MAX_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self.pending:
            # the DataFrame stays in the path (flatten -> DataFrame -> Parquet); Arrow dtypes make it nearly free
            frame = pa.concat_tables(self.pending).to_pandas(types_mapper=pd.ArrowDtype)
            table = pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False)
            self.writer.write_table(table, row_group_size=config.ROW_GROUP_MAX_ROWS)
        self.pending, self.pending_bytes, self.pending_rows = [], 0, 0

    def close(self) -> int:
        """Writes the last row group and the footer; returns the file's size."""
        self._flush()
        self.writer.close()
        return self.destination.stat().st_size

    def abort(self) -> None:
        self.pending = []
        self.writer.close()
        self.destination.unlink(missing_ok=True)


def write_parquet(
    spill: Spill,
    destination: FsPath,
    columns: Sequence[tuple[str, str]],
    plan: dict[Path, tuple[str, str]],
    *,
    compression: str = config.PARQUET_COMPRESSION,
    row_group_bytes: int = config.ROW_GROUP_BYTES,
    early: EarlyFile | None = None,
) -> int:
    """Casts every spilled block to `columns` (name, hive type) and writes one Parquet file; returns its bytes.
    `early`: the early Parquet file that holds the blocks not spilled to Arrow IPC."""
    output = ParquetOutput(destination, columns, plan, compression=compression, row_group_bytes=row_group_bytes)
    for block, nbytes in spill.tables(early):
        output.add(block, nbytes)
    return output.close()
