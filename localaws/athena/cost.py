"""What a query reads, from Parquet footers: the files of the selected partitions, the type check, the bytes billed.

- Athena reads only the partitions registered in Glue; every file under each partition location is read.
- A Parquet column whose type the table's type cannot read fails the query with HIVE_BAD_DATA (never coerced).
- DataScannedInBytes is the compressed size of the projected columns' chunks in those files, as Athena counts
  Parquet scans: the real figure. What Athena bills for it (at least 10 MB per query) is aws_prices's, the one
  function the console and kit/ share.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from localaws.athena import pseudo_columns
from localaws.athena.athena_types import arrow_to_athena
from localaws.athena.catalog import Table, split_s3_url
from localaws.athena.errors import QueryFailed
from localaws.lru import MISSING, LruCache, footer_cache_bytes

log = logging.getLogger("localaws.athena")


@dataclass(frozen=True)
class DataFile:
    path: str  # bucket/key, as pyarrow.fs names it
    size: int
    etag: str
    partition: dict[str, str]
    modified: datetime | None = None  # S3 LastModified, for "$file_modified_time"


# Decoded FileMetaData takes several times its Thrift size in memory; the factor keeps the bound honest.
_DECODED_FACTOR = 4


def metadata_size(metadata: pq.FileMetaData) -> int:
    return 256 + metadata.serialized_size * _DECODED_FACTOR


class FooterCache:
    """Parquet footers by (path, etag): a file is immutable once written, so its footer never changes. A bounded LRU
    (localaws.lru, LOCALAWS_FOOTER_CACHE_MB): memory stays bounded however many files the tables hold."""

    def __init__(self, max_bytes: int | None = None) -> None:
        self.footers: LruCache[pq.FileMetaData] = LruCache(max_bytes or footer_cache_bytes(), metadata_size)

    def get(self, fs: pafs.FileSystem, file: DataFile) -> pq.FileMetaData:
        key = (file.path, file.etag)
        cached = self.footers.get(key)
        if cached is not MISSING:
            return cached
        with fs.open_input_file(file.path) as handle:
            metadata = pq.ParquetFile(handle).metadata
        self.footers.put(key, metadata)
        return metadata


def list_files(s3, location: str, partition: dict[str, str]) -> list[DataFile]:
    """Every data file under a location; names starting with '_' or '.' are hidden from Hive readers."""
    bucket, prefix = split_s3_url(location)
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    files = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            name = item["Key"].rsplit("/", 1)[-1]
            if item["Size"] == 0 or name.startswith(("_", ".")) or name.endswith("$folder$"):
                continue
            files.append(
                DataFile(f"{bucket}/{item['Key']}", item["Size"], item["ETag"], partition, item.get("LastModified"))
            )
    return files


def partition_values(table: Table, partition: dict) -> dict[str, str]:
    names = [key["Name"].lower() for key in table.partition_keys]
    return dict(zip(names, partition["Values"], strict=False))


# Widenings the Hive Parquet reader of Athena engine v3 accepts (file type -> table type).
def _readable(file_type: pa.DataType, table_type: pa.DataType) -> bool:
    if file_type == table_type or pa.types.is_null(file_type):
        return True
    if pa.types.is_dictionary(file_type):
        return _readable(file_type.value_type, table_type)
    string_like = (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view)
    if any(check(table_type) for check in string_like):
        return any(check(file_type) for check in string_like)
    if pa.types.is_integer(table_type):
        return pa.types.is_integer(file_type) and file_type.bit_width <= table_type.bit_width
    if pa.types.is_floating(table_type):
        return pa.types.is_floating(file_type) and file_type.bit_width <= table_type.bit_width
    if pa.types.is_timestamp(table_type):
        return pa.types.is_timestamp(file_type)
    if pa.types.is_decimal(table_type):
        return pa.types.is_decimal(file_type) and file_type.scale == table_type.scale
    if pa.types.is_binary(table_type):
        return pa.types.is_binary(file_type) or pa.types.is_large_binary(file_type)
    if pa.types.is_list(table_type) or pa.types.is_large_list(table_type):
        is_list = pa.types.is_list(file_type) or pa.types.is_large_list(file_type)
        return is_list and _readable(file_type.value_type, table_type.value_type)
    if pa.types.is_map(table_type):
        return (
            pa.types.is_map(file_type)
            and _readable(file_type.key_type, table_type.key_type)
            and _readable(file_type.item_type, table_type.item_type)
        )
    if pa.types.is_struct(table_type):
        if not pa.types.is_struct(file_type):
            return False
        members = {f.name.lower(): f.type for f in file_type}
        return all(_readable(members[f.name.lower()], f.type) for f in table_type if f.name.lower() in members)
    return False


def _parquet_type_name(metadata: pq.FileMetaData, column: str, file_type: pa.DataType) -> str:
    """The name Athena's message uses: the Parquet physical type of a primitive column (INT64, BINARY, ...)."""
    schema = metadata.schema
    for index in range(len(schema)):
        if schema.column(index).path.lower() == column:
            physical = schema.column(index).physical_type
            return "BINARY" if physical == "BYTE_ARRAY" else physical  # parquet-mr's name, as Athena prints it
    return arrow_to_athena(file_type)


def check_types(table: Table, file: DataFile, metadata: pq.FileMetaData, columns: set[str]) -> None:
    file_schema = metadata.schema.to_arrow_schema()
    by_name = {f.name.lower(): f for f in file_schema}
    for field in table.schema:
        if field.name not in columns or field.name not in by_name:
            continue
        file_type = by_name[field.name].type
        if not _readable(file_type, field.type):
            physical = _parquet_type_name(metadata, field.name, file_type)
            raise QueryFailed(
                f"HIVE_BAD_DATA: Field {field.name}'s type {physical} in parquet is incompatible with type "
                f"{arrow_to_athena(field.type)} defined in table schema",
                error_type=1002,
            )


def scanned_bytes(metadata: pq.FileMetaData, columns: set[str]) -> int:
    """Compressed bytes of the chunks of the projected columns (a nested column counts all its leaves)."""
    total = 0
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for index in range(row_group.num_columns):
            chunk = row_group.column(index)
            top = chunk.path_in_schema.split(".", 1)[0].lower()
            if top in columns:
                total += chunk.total_compressed_size
    return total


@dataclass
class TableScan:
    dataset: ds.Dataset
    bytes_scanned: int
    files: int


def partition_expression(schema: pa.Schema, file: DataFile, hidden: bool) -> pc.Expression | None:
    """A fragment's constants: its partition's values, typed as the catalog types them, and with `hidden` the
    pseudo-columns of its file (pseudo_columns.py)."""
    expression = None
    for name, value in file.partition.items():
        term = pc.field(name) == pa.scalar(value).cast(schema.field(name).type)
        expression = term if expression is None else expression & term
    return pseudo_columns.expression(file, expression) if hidden else expression


def build_scan(
    table: Table,
    files: list[DataFile],
    columns: set[str],
    fs: pafs.FileSystem,
    footers: FooterCache,
    hidden: bool = False,
) -> TableScan:
    """Check each file's footer against the table, count the bytes, and make one dataset of the files.

    Each fragment carries its partition's values as an expression, so the partition columns read as the catalog
    types them (a `dt` string stays a string) whatever the directory is called; with `hidden`, the pseudo-columns
    ("$path", ...) ride along the same way.
    """
    schema = pa.schema([*table.schema, *pseudo_columns.fields()]) if hidden else table.schema
    partition_names = {key["Name"].lower() for key in table.partition_keys}
    data_columns = columns - partition_names
    file_format = ds.ParquetFileFormat()
    fragments, total = [], 0
    for file in files:
        metadata = footers.get(fs, file)
        check_types(table, file, metadata, data_columns)
        total += scanned_bytes(metadata, data_columns)
        expression = partition_expression(schema, file, hidden)
        source, source_fs = _fragment_source(file.path, fs)
        fragments.append(
            file_format.make_fragment(source, source_fs, partition_expression=expression)
            if expression is not None
            else file_format.make_fragment(source, source_fs)
        )
    dataset = ds.FileSystemDataset(fragments, schema, file_format, fs)
    return TableScan(dataset, total, len(files))


def _fragment_source(path: str, fs: pafs.FileSystem) -> tuple[str | pa.Buffer, pafs.FileSystem | None]:
    """(what a fragment reads, its filesystem). A filesystem written in Python (localaws's in-process reads of moto's
    store, s3_reads.py) is read here, up front, into a buffer: DuckDB scans a dataset through Scanner.to_reader, which
    holds the GIL while Arrow's I/O threads wait for it to call back into Python, a deadlock that hung a whole localaws
    server. A buffer needs no Python during the scan; the object was read whole into memory either way."""
    if isinstance(fs, pafs.PyFileSystem):
        with fs.open_input_file(path) as source:
            return pa.py_buffer(source.read()), None
    return path, fs
