"""The deployment package: pipeline/'s code only, reproducible, so CodeSha256 changes only with the code."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile

from kit.packaging import build_package


def test_package_holds_python_code_only_under_pipeline(pipeline_copy):
    (pipeline_copy / "__pycache__").mkdir(exist_ok=True)
    (pipeline_copy / "__pycache__" / "config.cpython-311.pyc").write_bytes(b"compiled")
    (pipeline_copy / "notes.txt").write_text("not code")
    package = build_package()
    names = zipfile.ZipFile(io.BytesIO(package.zip_bytes)).namelist()
    assert "pipeline/__init__.py" in names and "pipeline/config.py" in names
    assert all(name.startswith("pipeline/") and name.endswith(".py") for name in names)
    assert package.size < 1024 * 1024


def test_same_code_same_sha_changed_code_new_sha(pipeline_copy):
    first, second = build_package(), build_package()
    assert first.zip_bytes == second.zip_bytes
    assert first.code_sha256 == base64.b64encode(hashlib.sha256(first.zip_bytes).digest()).decode()
    (pipeline_copy / "config.py").write_text((pipeline_copy / "config.py").read_text() + "\n# changed\n")
    assert build_package().code_sha256 != first.code_sha256
