"""The AWS SDK for pandas layer's facts (aws_sdk_pandas_layer.json) for a function that uses the layer.

The layer ARN names its release through the SSM table (localaws/ssm_parameters); the facts file gives that release's
build: the codecs its pyarrow was built with, its Arrow version, and the packages it removes (boto3 & co: the
runtime's own SDK is what runs). The worker enforces the codec set with layer_pyarrow.py.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
from functools import cache
from pathlib import Path
from typing import Any

from localaws import ssm_parameters

log = logging.getLogger("localaws")
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


def pyarrow_major_difference(release: str) -> tuple[int, int] | None:
    """(the layer's pyarrow major, the local one) when they differ, else None."""
    data = facts()
    layer = int(data["releases"].get(release, data["releases"][data["default_release"]])["arrow_version"].split(".")[0])
    local = int(importlib.metadata.version("pyarrow").split(".")[0])
    return (layer, local) if layer != local else None


@cache
def _warn_once(release: str) -> None:
    difference = pyarrow_major_difference(release)
    if difference:
        log.warning(
            "AWS SDK for pandas layer %s has pyarrow %d; localaws runs its functions on pyarrow %d with the layer's "
            "codecs only (make test-layer runs the pipeline tests on an older pyarrow and pandas 2.x)",
            release,
            *difference,
        )


def worker_settings(arn: str) -> dict[str, Any]:
    """What bootstrap.py needs to give a function the layer's pyarrow: the hook's path and the codecs built."""
    found = release_facts(arn)
    _warn_once(found["release"])
    return {"hook": str(HOOK), "codecs_built": found["codecs_built"], "release": found["release"]}
