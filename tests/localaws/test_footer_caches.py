"""The footer caches stay bounded (issue 13: localaws's memory must not grow with every file it has ever read).

The crawler's cache (glue_crawler/footer.py) and Athena's (athena/cost.py) are least-recently-used caches bounded by
an estimate of their bytes (localaws/lru.py, LOCALAWS_FOOTER_CACHE_MB).
"""

from __future__ import annotations

import io

import boto3
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from moto import mock_aws

from localaws.athena.cost import DataFile, metadata_size
from localaws.athena.cost import FooterCache as AthenaFooters
from localaws.glue_crawler.footer import FooterCache as CrawlerFooters
from localaws.glue_crawler.footer import footer_size, read_footer
from localaws.lru import MISSING, LruCache


def test_lru_drops_the_least_recently_used_once_over_its_bytes() -> None:
    cache: LruCache[str | None] = LruCache(max_bytes=10, size_of=lambda value: len(value or "n"))
    cache.put("a", "aaaa")
    cache.put("b", "bbbb")
    assert cache.get("a") == "aaaa"  # now "b" is the least recently used
    cache.put("c", "cccc")
    assert ("a" in cache, "b" in cache, "c" in cache) == (True, False, True)
    assert cache.bytes == 8 and cache.evictions == 1
    cache.put("big", "x" * 11)  # larger than the whole cache: not kept, nothing else dropped
    assert "big" not in cache and len(cache) == 2
    assert cache.get("b") is MISSING
    cache.put("n", None)  # None is a value (a file that is not Parquet), not a miss
    assert cache.get("n") is None


def _parquet(columns: int) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.table({f"c{i}": [i] for i in range(columns)}), sink)
    return sink.getvalue()


@mock_aws
def test_the_crawler_footer_cache_is_bounded() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="lake")
    objects = {}
    for n in range(5):
        body = _parquet(10)
        s3.put_object(Bucket="lake", Key=f"processed/t/part-{n}.parquet", Body=body)
        objects[f"processed/t/part-{n}.parquet"] = len(body)
    one = footer_size(read_footer(s3, "lake", "processed/t/part-0.parquet", objects["processed/t/part-0.parquet"]))
    cache = CrawlerFooters(max_bytes=2 * one)

    for key, size in objects.items():
        assert cache.read(s3, "lake", key, size, etag=key).columns[0] == ("c0", "bigint")

    assert len(cache.footers) == 2 and cache.footers.bytes <= 2 * one
    assert cache.footers.evictions == 3


def test_the_athena_footer_cache_is_bounded(tmp_path) -> None:
    files = []
    for n in range(4):
        path = tmp_path / f"part-{n}.parquet"
        path.write_bytes(_parquet(20))
        files.append(DataFile(str(path), path.stat().st_size, f"etag-{n}", {}))
    fs = pafs.LocalFileSystem()
    one = metadata_size(pq.ParquetFile(str(files[0].path)).metadata)
    cache = AthenaFooters(max_bytes=3 * one)

    for file in files + files[-2:]:
        assert cache.get(fs, file).num_columns == 20

    assert len(cache.footers) == 3 and cache.footers.bytes <= 3 * one
    assert files[0].path not in {key[0] for key in list(cache.footers._entries)}  # the oldest went first
