"""A scan over localaws's in-process reads of moto's store (athena/s3_reads.py, a filesystem written in Python) makes
no Python filesystem call once DuckDB scans: DuckDB reads a dataset through Scanner.to_reader, which holds the GIL
while Arrow's I/O threads wait to call back into Python. That deadlock hung a whole localaws server (every later
request queued behind it); the files are now read into buffers before the scan."""

from __future__ import annotations

import threading

import duckdb
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from localaws.athena.catalog import Table
from localaws.athena.cost import DataFile, FooterCache, build_scan


class RecordingLocalReads(pafs.FileSystemHandler):
    """Local files, read through Python as s3_reads.MotoS3Reads reads moto's store; records every open."""

    def __init__(self) -> None:
        self.local = pafs.LocalFileSystem()
        self.opened: list[tuple[str, str]] = []

    def open_input_file(self, path):
        self.opened.append((path, threading.current_thread().name))
        return pa.PythonFile(pa.BufferReader(self.local.open_input_file(path).readall()), mode="r")

    def open_input_stream(self, path):
        return self.open_input_file(path)

    def get_file_info(self, paths):
        return self.local.get_file_info(paths)

    def get_type_name(self):
        return "recording-local"

    def equals(self, other):
        return other is self

    def normalize_path(self, path):
        return path

    def _read_only(self, *args, **kwargs):  # the scan never lists, writes or moves
        raise NotImplementedError("read-only")

    get_file_info_selector = create_dir = delete_dir = delete_dir_contents = delete_root_dir_contents = _read_only
    delete_file = move = copy_file = open_output_stream = open_append_stream = _read_only


def test_a_scan_over_a_python_filesystem_makes_no_python_call_while_duckdb_reads(tmp_path) -> None:
    files = []
    for n in range(6):
        path = tmp_path / f"part-{n}.parquet"
        pq.write_table(pa.table({"amount": [n, n + 1]}), path)
        files.append(DataFile(str(path), path.stat().st_size, f"etag-{n}", {"dt": f"2026-11-0{n + 1}"}))
    table = Table(
        "db",
        "orders",
        {
            "StorageDescriptor": {"Columns": [{"Name": "amount", "Type": "bigint"}]},
            "PartitionKeys": [{"Name": "dt", "Type": "string"}],
        },
    )
    reads = RecordingLocalReads()

    scan = build_scan(table, files, {"amount", "dt"}, pafs.PyFileSystem(reads), FooterCache())
    reads.opened.clear()  # footers are read up front, in this thread
    relation = duckdb.from_arrow(scan.dataset)
    answer = relation.aggregate("count(*), sum(amount), min(dt), max(dt)").fetchall()

    assert answer == [(12, 36, "2026-11-01", "2026-11-06")]
    assert reads.opened == []
