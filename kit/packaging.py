"""The Lambda deployment package: a zip of pipeline/'s Python code, built in memory, byte-for-byte reproducible.

Code only: pandas and pyarrow come from the AWS SDK for pandas layer, boto3 from the runtime (pitfall P5).
Fixed timestamps and order make the same code give the same CodeSha256, so provision updates code only when it changed.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from kit.stack import ROOT

PIPELINE_DIR = ROOT / "pipeline"
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Package:
    zip_bytes: bytes
    files: tuple[str, ...]

    @property
    def size(self) -> int:
        return len(self.zip_bytes)

    @property
    def code_sha256(self) -> str:
        """Lambda's CodeSha256: base64 of the SHA-256 of the zip."""
        return base64.b64encode(hashlib.sha256(self.zip_bytes).digest()).decode()


def code_files(source: Path) -> list[Path]:
    return sorted(
        path for path in source.rglob("*.py") if "__pycache__" not in path.parts and not path.name.startswith(".")
    )


def build_package(source: Path | None = None, package_name: str = "pipeline") -> Package:
    source = source or PIPELINE_DIR
    buffer = io.BytesIO()
    names = []
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in code_files(source):
            name = f"{package_name}/{path.relative_to(source).as_posix()}"
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
            names.append(name)
    if not names:
        raise FileNotFoundError(f"no Python files under {source} to package")
    return Package(buffer.getvalue(), tuple(names))
