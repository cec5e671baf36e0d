"""A function's /tmp holds exactly its EphemeralStorage (512 MB by default): a write beyond it fails inside the
handler with "No space left on device", as on AWS.
https://docs.aws.amazon.com/lambda/latest/dg/configuration-ephemeral-storage.html
"""

from __future__ import annotations

import boto3
import pytest
from test_lambda_runtime import create_function, invoke

from localaws.lambda_runtime import tmp_storage

pytestmark = [
    pytest.mark.localaws,
    pytest.mark.skipif(not tmp_storage.supported(), reason="this kernel refuses user namespaces: /tmp is not capped"),
]

TMP_SIZE = """
    import os
    import tempfile

    def handler(event, context):
        stats = os.statvfs(tempfile.gettempdir())
        return {"dir": tempfile.gettempdir(), "mb": stats.f_blocks * stats.f_frsize // 2**20}
"""

FILL_TMP = """
    import os
    import tempfile

    def handler(event, context):
        chunk = b"x" * 2**20
        path = os.path.join(tempfile.gettempdir(), "big")
        written = 0
        try:
            with open(path, "wb") as handle:
                while written < event["mb"]:
                    handle.write(chunk)
                    handle.flush()
                    written += 1
        finally:
            os.remove(path)  # the environment stays warm: leave /tmp as it was
        return written
"""


def test_tmp_is_the_size_of_the_function_s_ephemeral_storage(localaws_env):
    name = create_function(TMP_SIZE)
    _, default = invoke(name)
    assert default["mb"] == 512
    client = boto3.client("lambda")
    client.update_function_configuration(FunctionName=name, EphemeralStorage={"Size": 2048})
    client.get_waiter("function_updated_v2").wait(FunctionName=name)
    assert client.get_function_configuration(FunctionName=name)["EphemeralStorage"] == {"Size": 2048}
    _, resized = invoke(name)
    assert resized["mb"] == 2048


def test_writing_beyond_ephemeral_storage_fails_with_no_space_left(localaws_env):
    name = create_function(FILL_TMP, MemorySize=256, EphemeralStorage={"Size": 512}, Timeout=60)
    response, body = invoke(name, {"mb": 520})
    assert response["FunctionError"] == "Unhandled"
    assert (body["errorType"], body["errorMessage"]) == ("OSError", "[Errno 28] No space left on device")
    _, written = invoke(name, {"mb": 500})  # what fits is written, and the same environment is still usable
    assert written == 500
