"""Where a function's layers come from locally, and which packages it may not import without them.

- A layer published into localaws (PublishLayerVersion) is extracted, and its `python/` directory goes on sys.path,
  as Lambda mounts layers at /opt and puts /opt/python on the path:
  https://docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html#packaging-layers-paths
- A managed layer (the AWS SDK for pandas) is served by the local environment's site-packages.
- Lambda's Python runtime ships boto3 but not pandas, pyarrow or numpy; without a layer that brings them, the worker
  blocks them (unless the function's own zip vendors them), so "works locally, ImportModuleError on AWS" cannot happen.
"""

from __future__ import annotations

import re
import sysconfig
import time
from typing import Any

from localaws.lambda_runtime.functions import (
    PANDAS_LAYER_ACCOUNT,
    PANDAS_LAYER_PACKAGES,
    CodeCache,
    FunctionSpec,
    is_pandas_layer,
    layer_version_zip,
)
from localaws.server import Request, Response, json_response


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


def blocked_packages(spec: FunctionSpec) -> list[str]:
    if any(is_pandas_layer(arn) for arn in spec.layers):
        return []
    return list(PANDAS_LAYER_PACKAGES)


# The public SSM parameter AWS publishes for the AWS SDK for pandas layer of each region, library version, Python
# version and architecture (https://aws-sdk-pandas.readthedocs.io/en/stable/layers.html). Locally it answers with a
# managed-layer ARN of the right name; the layer version number (1) is a local stand-in, as numbers differ per region.
_PANDAS_LAYER_PARAMETER = re.compile(
    r"^/aws/service/aws-sdk-pandas/(?P<library>3\.\d+\.\d+)/py3\.(?P<minor>9|1[0-3])/(?P<arch>x86_64|arm64)/layer-arn$"
)


def answer_pandas_layer_parameter(request: Request) -> Response | None:
    """Answer GetParameter for the pandas layer's public parameter (moto does not hold /aws/service/aws-sdk-pandas)."""
    name = request.json().get("Name", "")
    match = _PANDAS_LAYER_PARAMETER.match(name)
    if not match:
        return None
    region = request.route.region
    suffix = "-Arm64" if match["arch"] == "arm64" else ""
    arn = f"arn:aws:lambda:{region}:{PANDAS_LAYER_ACCOUNT}:layer:AWSSDKPandas-Python3{match['minor']}{suffix}:1"
    parameter = {
        "Name": name,
        "Type": "String",
        "Value": arn,
        "Version": 1,
        "LastModifiedDate": time.time(),
        "ARN": f"arn:aws:ssm:{region}::parameter{name}",
        "DataType": "text",
    }
    return json_response({"Parameter": parameter})
