"""The pipeline's settings: every environment variable the Lambdas read, with its default, in one place.

provision.py sets these on each function; the transform CLI and the tests use the defaults.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

RAW_PREFIX = "raw/"
PROCESSED_PREFIX = "processed/"
QUARANTINE_PREFIX = "quarantine/"
SCHEMAS_PREFIX = "schemas/"  # one JSON schema record per dataset: the drift design's source of truth
MANIFESTS_PREFIX = "manifests/"  # one JSON manifest per raw key: what its latest version produced (source_objects.py)
ATHENA_RESULTS_PREFIX = "athena-results/"

# The transform is notified of every object created or removed under raw/ (a prefix, no suffix filter): it decides
# from the bytes what it can read, and quarantines the rest with a reason, so no file is ignored without a trace.
RAW_EVENTS = ("s3:ObjectCreated:*", "s3:ObjectRemoved:*")
PARQUET_SUFFIX = ".parquet"

DEFAULT_DATASET = "default"  # the dataset of a file placed directly under raw/

# Transform tuning (the core's defaults; Settings below lets a Lambda override the ones worth tuning).
BLOCK_BYTES = 4 << 20  # NDJSON is parsed in blocks of whole lines of about this size
ARRAY_BLOCK_RECORDS = 5000  # records per block when streaming a JSON array
MAX_RECORD_BYTES = 64 << 20  # one NDJSON line or array element larger than this is rejected as bad input
# Deeper records are bad input, checked on the bytes before any parser runs (pipeline/depth.py): pyarrow's reader
# segfaults near 10,000 levels and Python's parsers and flatteners recurse (RecursionError near 1,000 frames).
MAX_NESTING_DEPTH = 500
ROW_GROUP_BYTES = 32 << 20  # Arrow bytes buffered per row group (~5-10 MB of snappy Parquet); bounds memory
ROW_GROUP_MAX_ROWS = 1_000_000
# A column chunk's dictionary may grow to this size before the writer falls back to plain encoding (Arrow's default is
# 1 MB). High-cardinality strings (ids, timestamps, lineage ids) stop hashing sooner: on the benchmark's orders the
# write took 25% less CPU and the files came out 8% smaller; low-cardinality columns still fit in their dictionary.
DICTIONARY_PAGE_BYTES = 256 << 10
# The Lambda's pyarrow (the AWS SDK for pandas layer) is built with snappy and zlib only: ARROW_WITH_ZSTD, _LZ4,
# _BROTLI and _BZ2 are OFF in building/lambda/build-lambda-layer.sh of aws/aws-sdk-pandas (aws/aws-sdk-pandas#2445,
# "Support for codec 'zstd' not built"). Snappy is also Athena's default for Parquet.
PARQUET_COMPRESSION = "snappy"
PARQUET_CODECS = ("snappy", "gzip", "none")  # what ETL_PARQUET_COMPRESSION may name
SCHEMA_WRITE_ATTEMPTS = 8  # conditional-write retries of a schema record before giving up (transient)

# How the catalog learns about new Parquet files (provision.py --catalog; docs/transform.md "The catalog updater"):
# "partitions" registers a new dt= partition itself when the table and its schema are unchanged and crawls only a new
# table or a changed schema; "crawler" crawls for every change, as the seed did.
CATALOG_MODES = ("partitions", "crawler")
DEFAULT_CATALOG_MODE = "partitions"
# With ETL_CATALOG_MODE=crawler, at most one crawl starts per this many seconds: every crawl is billed for at least
# 10 minutes of DPU time (https://aws.amazon.com/glue/pricing/), so a trickle of files landing over minutes is
# gathered into a crawl a minute instead of one per batch. An AWS crawl lasts a minute or two, so there it seldom
# delays anything; files keep coming back from the queue meanwhile (catalog_plan.crawl_interval_wait_s).
CRAWL_INTERVAL_S = 60


@dataclass(frozen=True)
class Settings:
    """What a Lambda needs to know about its stack, read from its environment."""

    bucket: str = ""  # ETL_BUCKET: where processed/, quarantine/ and schemas/ live (default: the event's bucket)
    glue_database: str = ""  # ETL_GLUE_DATABASE: the catalog database holding one table per dataset
    crawler_name: str = ""  # ETL_CRAWLER_NAME: the crawler the crawler-trigger Lambda starts
    catalog_mode: str = DEFAULT_CATALOG_MODE  # ETL_CATALOG_MODE: one of CATALOG_MODES
    catalog_queue_url: str = ""  # ETL_CATALOG_QUEUE_URL: the queue of processed/ events the crawler trigger consumes
    crawl_interval_s: int = CRAWL_INTERVAL_S  # ETL_CRAWL_INTERVAL_S: crawler mode's least time between crawl starts
    default_dataset: str = DEFAULT_DATASET  # ETL_DEFAULT_DATASET
    compression: str = PARQUET_COMPRESSION  # ETL_PARQUET_COMPRESSION: one of PARQUET_CODECS
    log_level: str = "INFO"  # ETL_LOG_LEVEL
    tmp_dir: str = ""  # ETL_TMP_DIR: where the transform spills Arrow batches (default: the system temp dir)
    block_bytes: int = BLOCK_BYTES  # ETL_BLOCK_BYTES
    row_group_bytes: int = ROW_GROUP_BYTES  # ETL_ROW_GROUP_BYTES
    parse_processes: int = 0  # ETL_PARSE_PROCESSES: processes parsing messy input (0: by the CPUs; parse_ahead.py)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            bucket=env.get("ETL_BUCKET", ""),
            glue_database=env.get("ETL_GLUE_DATABASE", ""),
            crawler_name=env.get("ETL_CRAWLER_NAME", ""),
            catalog_mode=catalog_mode(env.get("ETL_CATALOG_MODE", DEFAULT_CATALOG_MODE)),
            catalog_queue_url=env.get("ETL_CATALOG_QUEUE_URL", ""),
            crawl_interval_s=int(env.get("ETL_CRAWL_INTERVAL_S", CRAWL_INTERVAL_S)),
            default_dataset=env.get("ETL_DEFAULT_DATASET", DEFAULT_DATASET),
            compression=parquet_compression(env.get("ETL_PARQUET_COMPRESSION", PARQUET_COMPRESSION)),
            log_level=env.get("ETL_LOG_LEVEL", "INFO"),
            tmp_dir=env.get("ETL_TMP_DIR", ""),
            block_bytes=int(env.get("ETL_BLOCK_BYTES", BLOCK_BYTES)),
            row_group_bytes=int(env.get("ETL_ROW_GROUP_BYTES", ROW_GROUP_BYTES)),
            parse_processes=int(env.get("ETL_PARSE_PROCESSES", 0)),
        )

    def as_env(self) -> dict[str, str]:
        """The environment variables provision.py sets on a function (empty values left out)."""
        pairs = {
            "ETL_BUCKET": self.bucket,
            "ETL_GLUE_DATABASE": self.glue_database,
            "ETL_CRAWLER_NAME": self.crawler_name,
            "ETL_CATALOG_MODE": self.catalog_mode,
            "ETL_CATALOG_QUEUE_URL": self.catalog_queue_url,
            "ETL_CRAWL_INTERVAL_S": str(self.crawl_interval_s) if self.crawl_interval_s != CRAWL_INTERVAL_S else "",
            "ETL_DEFAULT_DATASET": self.default_dataset,
            "ETL_PARQUET_COMPRESSION": self.compression,
            "ETL_LOG_LEVEL": self.log_level,
            "ETL_TMP_DIR": self.tmp_dir,
            "ETL_BLOCK_BYTES": str(self.block_bytes) if self.block_bytes != BLOCK_BYTES else "",
            "ETL_ROW_GROUP_BYTES": str(self.row_group_bytes) if self.row_group_bytes != ROW_GROUP_BYTES else "",
            "ETL_PARSE_PROCESSES": str(self.parse_processes) if self.parse_processes else "",
        }
        return {key: value for key, value in pairs.items() if value}


def parquet_compression(name: str) -> str:
    """`name` if the layer's pyarrow can write it (one of PARQUET_CODECS, any case), else ValueError."""
    codec = name.strip().lower()
    if codec not in PARQUET_CODECS:
        raise ValueError(
            f"ETL_PARQUET_COMPRESSION={name!r}: the AWS SDK for pandas layer's pyarrow supports only "
            f"{', '.join(PARQUET_CODECS)}"
        )
    return codec


def catalog_mode(name: str) -> str:
    """`name` if it is one of CATALOG_MODES (any case), else ValueError."""
    mode = name.strip().lower()
    if mode not in CATALOG_MODES:
        raise ValueError(f"ETL_CATALOG_MODE={name!r}: expected one of {', '.join(CATALOG_MODES)}")
    return mode
