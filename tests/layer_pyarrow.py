"""The AWS SDK for pandas layer's pyarrow for tests: the codec restrictions localaws gives a layer function.

Loaded by path (no localaws import), from the same facts file and hook the local Lambda runtime uses, so the
Lambda-layer test environment (`make test-layer`) and the subprocess checks run under exactly the layer's codecs.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

RUNTIME = Path(__file__).resolve().parent.parent / "localaws" / "lambda_runtime"
FACTS = RUNTIME / "aws_sdk_pandas_layer.json"
HOOK = RUNTIME / "layer_pyarrow.py"


def codecs_built() -> list[str]:
    facts = json.loads(FACTS.read_text())
    return facts["releases"][facts["default_release"]]["codecs_built"]


def install() -> None:
    """From now on this process's pyarrow refuses the codecs the layer lacks, as the layer's build does."""
    spec = importlib.util.spec_from_file_location("_localaws_layer_pyarrow", HOOK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    module.install(codecs_built())
