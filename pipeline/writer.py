"""Spill and write: block tables go to Arrow IPC files in a temp dir while the file streams; once the merged schema
is known, each dataset is read back block by block, cast to that schema, passed through a pandas DataFrame with
Arrow-backed dtypes, and written as one Parquet file with row groups of about ROW_GROUP_BYTES.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
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


def spill_name(path: Path) -> str:
    return json.dumps(list(path), ensure_ascii=False)


@dataclass
class Spill:
    """The spilled blocks of one dataset level, in input order."""

    directory: FsPath
    prefix: str
    files: list[FsPath] = field(default_factory=list)
    rows: int = 0

    def add(self, columns: dict[str, pa.Array]) -> pa.Table:
        table = pa.table(columns)
        target = self.directory / f"{self.prefix}-{len(self.files):06d}.arrow"
        with pa.OSFile(str(target), "wb") as sink, pa.ipc.new_file(sink, table.schema, options=_IPC_OPTIONS) as out:
            out.write_table(table)
        self.files.append(target)
        self.rows += table.num_rows
        return table

    def tables(self):
        for path in self.files:
            with pa.OSFile(str(path)) as source:  # not mmap: mapped pages would count as our RSS
                yield pa.ipc.open_file(source).read_all()
            os.remove(path)


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

    def add(self, block: pa.Table) -> None:
        arrays = []
        for name, kind in self.columns:
            spilled = SYSTEM_PREFIX + name if SYSTEM_PREFIX + name in block.column_names else self.source_of.get(name)
            if spilled is not None and spilled in block.column_names:
                arrays.append(coltypes.cast_array(block.column(spilled), kind))
            else:
                arrays.append(pa.nulls(block.num_rows, coltypes.arrow_type(kind)))
        table = pa.Table.from_arrays(arrays, schema=self.schema)
        self.pending.append(table)
        self.pending_bytes += table.nbytes
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
) -> int:
    """Casts every spilled block to `columns` (name, hive type) and writes one Parquet file; returns its bytes."""
    output = ParquetOutput(destination, columns, plan, compression=compression, row_group_bytes=row_group_bytes)
    for block in spill.tables():
        output.add(block)
    return output.close()
