"""Where a function's layers come from locally, and which packages it may not import without them.

- A layer published into localaws (PublishLayerVersion) is extracted, and its `python/` directory goes on sys.path,
  as Lambda mounts layers at /opt and puts /opt/python on the path:
  https://docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html#packaging-layers-paths
- A managed layer (the AWS SDK for pandas) is served by the local environment's site-packages, with the layer's own
  limits: its pyarrow's codecs (aws_sdk_pandas_layer.json, enforced in the worker by layer_pyarrow.py).
- Lambda's Python runtime ships boto3 but not pandas, pyarrow or numpy; without a layer that brings them, the worker
  blocks them (unless the function's own zip vendors them), so "works locally, ImportModuleError on AWS" cannot
  happen for them; the same goes for the local-only tools installed next to localaws (duckdb, moto, ...).
"""

from __future__ import annotations

import sysconfig
from typing import Any

from localaws.lambda_runtime import pandas_layer
from localaws.lambda_runtime.functions import (
    PANDAS_LAYER_PACKAGES,
    CodeCache,
    FunctionSpec,
    is_pandas_layer,
    layer_version_zip,
)


def runtime_paths() -> list[str]:
    """The local interpreter's site-packages: the stand-in for the runtime's own packages and for managed layers."""
    paths = sysconfig.get_paths()
    return list(dict.fromkeys([paths["purelib"], paths["platlib"]]))


def layer_paths(app: Any, cache: CodeCache, spec: FunctionSpec) -> list[str]:
    found = []
    for arn in spec.layers:
        code = layer_version_zip(app, spec.account, spec.region, arn)
        if code:
            root = cache.extract("layers", code)
            found += [str(root / "python"), str(root)]
    return found


# Installed here for localaws, the tests and the notebooks, but neither in Lambda's Python runtime nor in the
# AWS SDK for pandas layer: a function that imports them would fail on AWS, so it fails locally too.
LOCAL_ONLY_PACKAGES = (
    "duckdb",
    "sqlglot",
    "pyathena",
    "moto",
    "werkzeug",
    "cheroot",
    "flask",
    "matplotlib",
    "IPython",
    "jupyterlab",
    "nbclient",
    "pytest",
    "localaws",
    "kit",
)


def blocked_packages(spec: FunctionSpec) -> list[str]:
    if any(is_pandas_layer(arn) for arn in spec.layers):
        return list(LOCAL_ONLY_PACKAGES)
    return [*LOCAL_ONLY_PACKAGES, *PANDAS_LAYER_PACKAGES]


def pandas_layer_settings(spec: FunctionSpec) -> dict[str, Any] | None:
    """The AWS SDK for pandas layer's pyarrow restrictions for the worker, if the function uses that layer."""
    arn = next((arn for arn in spec.layers if is_pandas_layer(arn)), None)
    return pandas_layer.worker_settings(arn) if arn else None
