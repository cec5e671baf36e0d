"""Read a Parquet file's schema from its footer with ranged GETs only, never the data pages.

A Parquet file ends with the Thrift-encoded FileMetaData, its 4-byte little-endian length and the magic "PAR1"
(https://parquet.apache.org/docs/file-format/). Glue's Parquet classifier infers the schema from that metadata
(https://docs.aws.amazon.com/glue/latest/dg/add-classifier.html). So two suffix-range GETs per object: the last 8 bytes
(footer length and magic), then exactly the footer. No data page is ever fetched, however small the file.

Footers are cached by (bucket, key, ETag): an S3 object is immutable under its ETag, so a re-crawl reads only the
footers of new or changed objects (the cost Glue's incremental crawls avoid,
https://docs.aws.amazon.com/glue/latest/dg/incremental-crawls.html). The cache is a bounded LRU (localaws.lru,
LOCALAWS_FOOTER_CACHE_MB), so memory does not grow with every object ever crawled; an evicted footer is read again.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from localaws.glue_crawler.hive_types import columns_from_metadata
from localaws.lru import MISSING, LruCache, footer_cache_bytes

MAGIC = b"PAR1"
_TRAILER = 8  # footer length (4 bytes) + magic (4 bytes)


class UnreadableFile(Exception):
    """A file that claims to be Parquet (its tail has the magic) but whose footer cannot be parsed."""


@dataclass(frozen=True)
class Footer:
    columns: tuple[tuple[str, str], ...]
    num_rows: int


def read_footer(s3, bucket: str, key: str, size: int) -> Footer | None:
    """The schema and row count of a Parquet object, or None when the object is not Parquet."""
    if size < len(MAGIC) * 2 + 4:
        return None
    trailer = _get_tail(s3, bucket, key, _TRAILER)
    if trailer[-4:] != MAGIC:
        return None
    footer_length = int.from_bytes(trailer[:4], "little")
    if footer_length + _TRAILER + len(MAGIC) > size:
        raise UnreadableFile(f"s3://{bucket}/{key}: footer length {footer_length} exceeds the object size {size}")
    tail = _get_tail(s3, bucket, key, footer_length + _TRAILER)
    try:
        metadata = pq.read_metadata(io.BytesIO(tail))
        columns = columns_from_metadata(metadata)
    except (pa.ArrowException, OSError, ValueError) as error:
        raise UnreadableFile(f"s3://{bucket}/{key}: {error}") from error
    return Footer(tuple(columns), metadata.num_rows)


def footer_size(footer: Footer | None) -> int:
    """An estimate of the bytes a cached footer holds: the objects' overhead plus the column names and types."""
    if footer is None:
        return 64
    return 200 + sum(len(name) + len(kind) + 120 for name, kind in footer.columns)


class FooterCache:
    """Footers (or None: not Parquet) by (bucket, key, ETag), shared by every crawl of one localaws process."""

    def __init__(self, max_bytes: int | None = None) -> None:
        self.footers: LruCache[Footer | None] = LruCache(max_bytes or footer_cache_bytes(), footer_size)

    def read(self, s3, bucket: str, key: str, size: int, etag: str) -> Footer | None:
        """read_footer, unless this object's footer was read before; raises UnreadableFile as read_footer does."""
        cache_key = (bucket, key, etag)
        cached = self.footers.get(cache_key)
        if cached is not MISSING:
            return cached
        footer = read_footer(s3, bucket, key, size)
        self.footers.put(cache_key, footer)
        return footer


def _get_tail(s3, bucket: str, key: str, length: int) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=-{length}")["Body"].read()
