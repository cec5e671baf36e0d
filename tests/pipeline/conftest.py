"""Fixtures for the pipeline tests: run the transform on in-memory JSON, with the fast path on or off."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from pipeline_helpers import EVENT_TIME

from pipeline import blocks, config
from pipeline.schema import MemorySchemaStore, SchemaStore
from pipeline.transform import TransformResult, transform_file


@pytest.fixture(params=["fast", "exact"])
def parse_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a test with the pyarrow fast path enabled, and again with every block on the exact path."""
    if request.param == "exact":
        monkeypatch.setattr(blocks.BlockParser, "_fast", lambda self, block, schema, threads: (None, schema))
        monkeypatch.setattr(blocks, "_converted", lambda records: None)
    return request.param


@pytest.fixture
def transform(tmp_path: Path) -> Callable[..., TransformResult]:
    """transform(data_bytes, dataset="orders", store=None, key="raw/orders/x.json") -> TransformResult."""
    counter = iter(range(10_000))

    def run(
        data: bytes,
        dataset: str = "orders",
        store: SchemaStore | None = None,
        key: str | None = None,
        block_bytes: int = config.BLOCK_BYTES,
    ) -> TransformResult:
        number = next(counter)
        return transform_file(
            io.BytesIO(data),
            dataset=dataset,
            out_dir=tmp_path / f"out{number}",
            source_key=key or f"raw/{dataset}/file{number}.json",
            schema_store=store if store is not None else MemorySchemaStore(),
            event_time=EVENT_TIME,
            identity=f"etag{number}",
            settings=config.Settings(block_bytes=block_bytes),
        )

    return run
