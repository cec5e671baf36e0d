"""SSM public parameters: where AWS publishes the AWS SDK for pandas layer ARN for each region (P16).

Parameter name format, from aws/aws-sdk-pandas docs/source/install.rst (and issue #2434):
/aws/service/aws-sdk-pandas/<library version>/py<X.Y>/<architecture>/layer-arn
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from kit.aws import has_code

# The layer's build (own pyarrow, snappy and gzip only; no boto3): localaws/lambda_runtime/aws_sdk_pandas_layer.json
DEFAULT_PANDAS_LAYER_VERSION = "3.16.1"


def pandas_layer_parameter(version: str, runtime: str, architecture: str) -> str:
    python = runtime.removeprefix("python")  # "python3.12" -> "3.12"
    return f"/aws/service/aws-sdk-pandas/{version}/py{python}/{architecture}/layer-arn"


def get_parameter_value(ssm, name: str) -> str | None:
    try:
        return ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ClientError as error:
        if has_code(error, "ParameterNotFound"):
            return None
        raise
