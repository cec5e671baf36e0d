"""Writing a query's rows as a table's Parquet files in S3, as CTAS, INSERT INTO and UNLOAD do, and undoing it.

Layout: Hive partition folders `<location>/<key>=<value>/` (NULL as __HIVE_DEFAULT_PARTITION__), one file per partition
and bucket named after the query id, so a failed statement can remove exactly what it wrote.
https://docs.aws.amazon.com/athena/latest/ug/create-table-as.html (partitioned_by, bucketed_by, bucket_count,
write_compression), https://docs.aws.amazon.com/athena/latest/ug/ctas-partitioning-and-bucketing.html
"""

from __future__ import annotations

import contextlib
import zlib
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from localaws.athena.catalog import split_s3_url
from localaws.athena.errors import QueryFailed
from localaws.athena.results import format_value

HIVE_DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
# write_compression values Athena takes for Parquet, as pyarrow names them; Athena's default for Parquet is GZIP.
COMPRESSION = {"GZIP": "gzip", "SNAPPY": "snappy", "ZSTD": "zstd", "LZ4": "lz4", "NONE": "none", "UNCOMPRESSED": "none"}
DEFAULT_COMPRESSION = "GZIP"


@dataclass
class Layout:
    """Where and how rows go: the folder, the partition columns (last in the rows), the buckets, the codec."""

    location: str  # s3://bucket/prefix/
    partitioned_by: list[str]
    bucketed_by: list[str]
    bucket_count: int = 0
    compression: str = DEFAULT_COMPRESSION


@dataclass
class Written:
    files: list[str]  # s3:// URLs
    partitions: dict[tuple[str, ...], str]  # partition values -> the partition's folder (s3:// URL, ending in /)
    rows: int


def compression_codec(name: str) -> str:
    codec = COMPRESSION.get(name.upper())
    if codec is None:
        raise QueryFailed(f"INVALID_TABLE_PROPERTY: Unsupported compression codec for PARQUET: {name}")
    return codec


def partition_text(value, dtype: pa.DataType) -> str:
    """A partition value as its folder name and Glue value hold it (Hive writes NULL as __HIVE_DEFAULT_PARTITION__)."""
    text = format_value(value, dtype)
    return HIVE_DEFAULT_PARTITION if text is None else text


def write(fs: pafs.FileSystem, rows: pa.Table, layout: Layout, query_id: str, folders=None) -> Written:
    """Write `rows` (partition columns last) under `layout.location`; `folders` maps partition values to the folder of
    an already registered partition. On any failure the files written so far are deleted before the error goes on."""
    bucket, prefix = split_s3_url(layout.location.rstrip("/") + "/")
    folders = dict(folders or {})
    data_names = [n for n in rows.column_names if n not in layout.partitioned_by]
    written = Written([], {}, rows.num_rows)
    try:
        for values, part in _partitions(rows, layout.partitioned_by):
            folder = folders.get(values)
            if folder is None:
                relative = "".join(f"{k}={v}/" for k, v in zip(layout.partitioned_by, values, strict=True))
                folder = f"s3://{bucket}/{prefix}{relative}"
            written.partitions[values] = folder
            data = part.select(data_names)
            for suffix, chunk in _buckets(data, layout):
                url = f"{folder.rstrip('/')}/{query_id}{suffix}.parquet"
                file_bucket, key = split_s3_url(url)
                with fs.open_output_stream(f"{file_bucket}/{key}") as stream:
                    pq.write_table(chunk, stream, compression=compression_codec(layout.compression))
                written.files.append(url)
    except BaseException:
        delete(fs, written.files)
        raise
    return written


def delete(fs: pafs.FileSystem, urls: list[str]) -> None:
    """Remove files a failed statement wrote (a missing file is already gone)."""
    for url in urls:
        bucket, key = split_s3_url(url)
        with contextlib.suppress(FileNotFoundError):
            fs.delete_file(f"{bucket}/{key}")


def _partitions(rows: pa.Table, keys: list[str]):
    if rows.num_rows == 0:
        return  # no rows, no files (awswrangler then takes the columns from the table in Glue)
    if not keys:
        yield (), rows
        return
    texts = [
        [partition_text(v, rows.schema.field(k).type) for v in rows.column(k).to_pylist()] for k in keys
    ]  # one list per key
    groups: dict[tuple[str, ...], list[int]] = {}
    for index, values in enumerate(zip(*texts, strict=True)):
        groups.setdefault(values, []).append(index)
    for values in sorted(groups):
        yield values, rows.take(pa.array(groups[values], pa.int64()))


def _buckets(rows: pa.Table, layout: Layout):
    """Hive bucketing: a row goes to bucket hash(bucket columns) mod bucket_count; one file per non-empty bucket."""
    if not layout.bucketed_by or not layout.bucket_count:
        yield "", rows
        return
    keys = [rows.column(k).to_pylist() for k in layout.bucketed_by]
    numbers = [zlib.crc32(repr(values).encode()) % layout.bucket_count for values in zip(*keys, strict=True)]
    column = pa.array(numbers, pa.int64())
    for number in sorted(set(numbers)):
        yield f"_bucket-{number:05d}", rows.filter(pc.equal(column, number))


def manifest_bytes(files: list[str]) -> bytes:
    """`<query id>-manifest.csv`: the S3 URL of every file the statement wrote, one a line."""
    return "".join(f"{url}\n" for url in files).encode()
