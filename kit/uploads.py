"""Upload local sample files to raw/<dataset>/<file>, the layout the transform Lambda expects."""

from __future__ import annotations

from pathlib import Path

from pipeline.config import RAW_PREFIX


def sample_files(sample_dir: Path) -> list[Path]:
    """Every file under sample_data/<dataset>/, in a stable order (hidden files left out)."""
    return sorted(path for path in sample_dir.glob("*/*") if path.is_file() and not path.name.startswith("."))


def raw_key(path: Path) -> str:
    """sample_data/orders/x.json -> raw/orders/x.json"""
    return f"{RAW_PREFIX}{path.parent.name}/{path.name}"


def upload_file(s3, bucket: str, path: Path, key: str | None = None) -> str:
    key = key or raw_key(path)
    s3.upload_file(str(path), bucket, key)
    return key


def upload_sample_data(s3, bucket: str, sample_dir: Path) -> list[str]:
    """Upload every sample file; returns the keys written."""
    return [upload_file(s3, bucket, path) for path in sample_files(sample_dir)]
