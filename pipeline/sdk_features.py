"""The SDK the Lambda really has: checked once, when the S3 client is made, for what the transform relies on.

The AWS SDK for pandas layer deletes its own boto3 and botocore (building/lambda/build-lambda-layer.sh of
aws/aws-sdk-pandas: `rm -rf python/boto*`), so the transform runs on the SDK bundled with Lambda's Python runtime,
whose version depends on the runtime and the region's rollout:
https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html (the runtime includes the SDK for Python).
Schema records and manifests are S3 conditional writes, which botocore only sends from these versions on
(https://github.com/boto/botocore/blob/develop/CHANGELOG.rst: 1.35.2 S3 conditional writes, If-None-Match;
1.35.69 ETag-based conditional writes, If-Match). An older botocore refuses the parameters with a
ParamValidationError on every event; this check says why, once, at the cold start.
"""

from __future__ import annotations

from typing import Any

# put_object parameter -> the first botocore version that has it
CONDITIONAL_WRITE_PARAMETERS = {"IfNoneMatch": "1.35.2", "IfMatch": "1.35.69"}


class SdkTooOld(RuntimeError):
    """The runtime's botocore lacks a put_object parameter the transform needs."""


def missing_put_object_parameters(client: Any) -> list[str]:
    """The conditional-write parameters this S3 client's model lacks (by its service model, not a version number)."""
    members = client.meta.service_model.operation_model("PutObject").input_shape.members
    return [name for name in CONDITIONAL_WRITE_PARAMETERS if name not in members]


def check_conditional_writes(client: Any, botocore_version: str) -> None:
    """SdkTooOld naming the versions needed, if `client` cannot send If-None-Match / If-Match on PutObject."""
    missing = missing_put_object_parameters(client)
    if missing:
        needs = ", ".join(f"{name} needs botocore >= {CONDITIONAL_WRITE_PARAMETERS[name]}" for name in missing)
        raise SdkTooOld(
            f"This Lambda runtime's botocore {botocore_version} cannot send S3 conditional writes ({needs}); the "
            "transform's schema records depend on them. Use a newer runtime, or ship boto3 and botocore >= 1.35.69 "
            "in the function's package or a layer of your own."
        )
