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
_IPC_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4")


def spill_name(path: Path) -> str:
    return json.dumps(list(path), ensure_ascii=False)


@dataclass
class Spill:
    """The spilled blocks of one dataset level, in input order."""

    directory: FsPath
    prefix: str
    files: list[FsPath] = field(default_factory=list)
    rows: int = 0

    def add(self, columns: dict[str, pa.Array]) -> None:
        table = pa.table(columns)
        target = self.directory / f"{self.prefix}-{len(self.files):06d}.arrow"
        with pa.OSFile(str(target), "wb") as sink, pa.ipc.new_file(sink, table.schema, options=_IPC_OPTIONS) as out:
            out.write_table(table)
        self.files.append(target)
        self.rows += table.num_rows

    def tables(self):
        for path in self.files:
            with pa.OSFile(str(path)) as source:  # not mmap: mapped pages would count as our RSS
                yield pa.ipc.open_file(source).read_all()
            os.remove(path)


def write_parquet(
    spill: Spill,
    destination: FsPath,
    columns: Sequence[tuple[str, str]],
    plan: dict[Path, tuple[str, str]],
    *,
    compression: str = "zstd",
    row_group_bytes: int = config.ROW_GROUP_BYTES,
) -> int:
    """Casts every spilled block to `columns` (name, hive type) and writes one Parquet file; returns its bytes."""
    schema = pa.schema([pa.field(name, coltypes.arrow_type(kind)) for name, kind in columns])
    source_of = {name: spill_name(path) for path, (name, _kind) in plan.items()}
    destination.parent.mkdir(parents=True, exist_ok=True)
    pending: list[pa.Table] = []
    pending_bytes = 0
    with pq.ParquetWriter(str(destination), schema, compression=compression) as writer:

        def flush() -> None:
            nonlocal pending, pending_bytes
            if pending:
                # the DataFrame stays in the path (flatten -> DataFrame -> Parquet); Arrow dtypes make it nearly free
                frame = pa.concat_tables(pending).to_pandas(types_mapper=pd.ArrowDtype)
                table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
                writer.write_table(table, row_group_size=config.ROW_GROUP_MAX_ROWS)
            pending, pending_bytes = [], 0

        for block in spill.tables():
            arrays = []
            for name, kind in columns:
                spilled = SYSTEM_PREFIX + name if SYSTEM_PREFIX + name in block.column_names else source_of.get(name)
                if spilled is not None and spilled in block.column_names:
                    arrays.append(coltypes.cast_array(block.column(spilled), kind))
                else:
                    arrays.append(pa.nulls(block.num_rows, coltypes.arrow_type(kind)))
            table = pa.Table.from_arrays(arrays, schema=schema)
            pending.append(table)
            pending_bytes += table.nbytes
            if pending_bytes >= row_group_bytes or sum(t.num_rows for t in pending) >= config.ROW_GROUP_MAX_ROWS:
                flush()
        flush()
    return destination.stat().st_size
