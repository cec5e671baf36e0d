"""A function using the AWS SDK for pandas layer gets the layer's pyarrow: only the codecs the layer was built with.

The layer's pyarrow is built with ARROW_WITH_SNAPPY and ARROW_WITH_ZLIB only (ZSTD, LZ4, BROTLI, BZ2 OFF):
https://github.com/aws/aws-sdk-pandas/blob/3.16.1/building/lambda/build-lambda-layer.sh, and
https://github.com/aws/aws-sdk-pandas/issues/2445 ("Support for codec 'zstd' not built" on the layer).
"""

from __future__ import annotations

import pytest
from test_lambda_runtime import PANDAS_LAYER, create_function, invoke

pytestmark = pytest.mark.localaws

IPC_LZ4_AT_IMPORT = """
    import pyarrow as pa

    OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4")  # what pipeline/writer.py did at import

    def handler(event, context):
        return "unreachable on the layer"
"""

CODECS = """
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    def handler(event, context):
        outcome = {"available": {name: pa.Codec.is_available(name) for name in ("snappy", "gzip", "zstd", "lz4")}}
        for codec in ("snappy", "gzip", "zstd", "lz4", "brotli"):
            try:
                pq.write_table(pa.table({"a": [1]}), io.BytesIO(), compression=codec)
                outcome[codec] = "ok"
            except pa.ArrowNotImplementedError as error:
                outcome[codec] = f"{type(error).__name__}: {error}"
        return outcome
"""


def test_a_codec_the_layer_lacks_fails_init_as_on_aws(localaws_env):
    name = create_function(IPC_LZ4_AT_IMPORT, Layers=[PANDAS_LAYER], Timeout=60, MemorySize=1024)
    response, body = invoke(name)
    assert response["FunctionError"] == "Unhandled"
    assert (body["errorType"], body["errorMessage"]) == (
        "ArrowNotImplementedError",
        "Support for codec 'lz4' not built",
    )


def test_parquet_codecs_on_the_layer(localaws_env):
    name = create_function(CODECS, Layers=[PANDAS_LAYER], Timeout=60, MemorySize=1024)
    _, body = invoke(name)
    assert body == {
        "available": {"snappy": True, "gzip": True, "zstd": False, "lz4": False},
        "snappy": "ok",
        "gzip": "ok",
        "zstd": "ArrowNotImplementedError: Support for codec 'zstd' not built",
        "lz4": "ArrowNotImplementedError: Support for codec 'lz4_hadoop' not built",
        "brotli": "ArrowNotImplementedError: Support for codec 'brotli' not built",
    }
