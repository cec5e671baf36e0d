"""The AWS SDK for pandas layer's facts (aws_sdk_pandas_layer.json) for a function that uses the layer.

The layer ARN names its release through the SSM table (localaws/ssm_parameters); the facts file gives that release's
build: the codecs its pyarrow was built with, its Arrow version, and the packages it removes (boto3 & co: the
runtime's own SDK is what runs). The worker enforces the codec set with layer_pyarrow.py.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from localaws import ssm_parameters

FACTS = Path(__file__).with_name("aws_sdk_pandas_layer.json")
HOOK = Path(__file__).with_name("layer_pyarrow.py")


@cache
def facts() -> dict[str, Any]:
    return json.loads(FACTS.read_text())


def release_facts(arn: str) -> dict[str, Any]:
    """The build facts of the release that published layer `arn` (default_release's when the ARN is unknown)."""
    data = facts()
    release = ssm_parameters.release_of(arn) or data["default_release"]
    return {"release": release, **data["releases"].get(release, data["releases"][data["default_release"]])}


def worker_settings(arn: str) -> dict[str, Any]:
    """What bootstrap.py needs to give a function the layer's pyarrow: the hook's path and the codecs built."""
    found = release_facts(arn)
    return {"hook": str(HOOK), "codecs_built": found["codecs_built"], "release": found["release"]}
