"""The README's claim (a 1 GB NDJSON file) fits in the transform's /tmp: TRANSFORM_EPHEMERAL_STORAGE_MB.

Everything the transform writes to /tmp is measured on a small file of the benchmark's orders: the spilled Arrow IPC
blocks (all on disk at once before the Parquet is written) plus the Parquet outputs. Their sum per input byte,
times 1 GB, must leave a quarter of the function's EphemeralStorage free. Lambda fails a write beyond it with
"No space left on device": https://docs.aws.amazon.com/lambda/latest/dg/configuration-ephemeral-storage.html
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kit.provisioning import TRANSFORM_EPHEMERAL_STORAGE_MB
from pipeline import config, writer
from pipeline.early_write import EarlyWriter
from pipeline.schema import MemorySchemaStore
from pipeline.transform import transform_file

ROOT = Path(__file__).resolve().parents[2]
README_CLAIM_BYTES = 1_000_000_000  # "a 1 GB NDJSON file"
SAMPLE_BYTES = 6_000_000


@pytest.fixture
def spilled_bytes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The worst case: the early write stops at the first block, so every block is spilled to Arrow IPC (a block the
    early Parquet file holds is not spilled, and that file is smaller than the spill)."""
    sizes: list[int] = []
    write = writer.Spill.write

    def measured_write(self: writer.Spill, table, **kwargs):
        write(self, table, **kwargs)
        sizes.append(self.files[-1].stat().st_size)

    monkeypatch.setattr(writer.Spill, "write", measured_write)
    monkeypatch.setattr(EarlyWriter, "offer", lambda self, schemas, spilled: None)
    return sizes


def test_a_1_gb_file_fits_in_the_transform_s_tmp(tmp_path, spilled_bytes):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import datagen

    source = tmp_path / "orders.jsonl"
    source.write_text("".join(datagen.ndjson_lines("clean", SAMPLE_BYTES)))
    result = transform_file(
        source,
        dataset="orders",
        out_dir=tmp_path / "out",
        schema_store=MemorySchemaStore(),
        settings=config.Settings(block_bytes=1 << 20),
    )
    assert len(spilled_bytes) > 4  # several blocks were spilled
    output_bytes = sum(Path(output.path).stat().st_size for output in result.outputs)
    per_input_byte = (sum(spilled_bytes) + output_bytes) / source.stat().st_size
    needed_mb = per_input_byte * README_CLAIM_BYTES / 2**20
    print(f"{per_input_byte:.3f} bytes in /tmp per input byte: {needed_mb:.0f} MB for 1 GB")
    assert needed_mb <= 0.75 * TRANSFORM_EPHEMERAL_STORAGE_MB, (per_input_byte, needed_mb)
    assert needed_mb > 512  # and Lambda's default /tmp would not have held it: the setting matters
