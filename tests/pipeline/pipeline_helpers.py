"""Helpers shared by the pipeline tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pyarrow.parquet as pq

from pipeline.transform import TransformResult

EVENT_TIME = datetime(2024, 5, 1, 12, 30, 45, tzinfo=UTC)


def ndjson(records: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(record).encode() + b"\n" for record in records)


def read_outputs(result: TransformResult) -> dict[str, list[dict[str, Any]]]:
    """dataset -> rows of its Parquet file."""
    return {output.dataset: pq.ParquetFile(output.path).read().to_pylist() for output in result.outputs}
