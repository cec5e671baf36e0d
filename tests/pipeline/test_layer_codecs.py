"""The transform works with the AWS SDK for pandas layer's pyarrow, which has snappy and gzip only.

https://github.com/aws/aws-sdk-pandas/blob/3.16.1/building/lambda/build-lambda-layer.sh (ARROW_WITH_ZSTD, _LZ4,
_BROTLI, _BZ2 OFF); https://github.com/aws/aws-sdk-pandas/issues/2445. Each check runs in a fresh interpreter with
the layer's codec set installed, as the local Lambda runtime does, so this session's full pyarrow is left alone.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pipeline import config

ROOT = Path(__file__).resolve().parents[2]


def run_on_layer_pyarrow(code: str) -> subprocess.CompletedProcess[str]:
    prelude = f"import sys; sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'tests')!r}]\nimport layer_pyarrow\n"
    prelude += "layer_pyarrow.install()\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True, timeout=300
    )


def test_the_transform_runs_on_the_layers_codecs(tmp_path):
    done = run_on_layer_pyarrow(f"""
        from pathlib import Path
        import pyarrow.parquet as pq
        from pipeline.transform import transform_file

        for source in sorted(Path({str(ROOT / "sample_data")!r}).glob("[oc]*/*.json*")):  # not messy/
            result = transform_file(source, dataset=source.parent.name, out_dir={str(tmp_path)!r})
            for output in result.outputs:
                codecs = {{pq.ParquetFile(output.path).metadata.row_group(0).column(0).compression}}
                assert codecs == {{"SNAPPY"}}, codecs
        print("ok")
    """)
    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr


def test_the_check_refuses_what_the_layer_lacks():
    # the pipeline's former spill options: on the layer they failed at import, before any event was handled
    done = run_on_layer_pyarrow("""
        import pyarrow as pa
        pa.ipc.IpcWriteOptions(compression="lz4")
    """)
    assert done.returncode == 1
    assert "ArrowNotImplementedError: Support for codec 'lz4' not built" in done.stderr


@pytest.mark.parametrize("name", ["zstd", "lz4", "brotli"])
def test_a_parquet_codec_the_layer_lacks_is_refused_in_the_settings(name):
    with pytest.raises(ValueError, match="supports only snappy, gzip, none"):
        config.Settings.from_env({"ETL_PARQUET_COMPRESSION": name})
    assert config.Settings.from_env({"ETL_PARQUET_COMPRESSION": "GZIP"}).compression == "gzip"
