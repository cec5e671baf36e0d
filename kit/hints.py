"""Next steps that fit the world a script runs in: localaws, another endpoint, or an AWS account.

The world is found from the endpoint alone: no AWS_ENDPOINT_URL means AWS; an endpoint that answers localaws' health
check is localaws. A learner on localaws is never sent to `make lab TARGET=aws`, which would bill their account.
"""

from __future__ import annotations

from enum import Enum

from kit.local_endpoint import is_localaws


class WorldKind(Enum):
    AWS = "AWS"
    LOCALAWS = "localaws"
    OTHER_ENDPOINT = "another endpoint"


def world_kind(endpoint: str | None) -> WorldKind:
    """AWS without an endpoint; localaws when the endpoint answers its health check; otherwise another endpoint."""
    if not endpoint:
        return WorldKind.AWS
    return WorldKind.LOCALAWS if is_localaws(endpoint) else WorldKind.OTHER_ENDPOINT


def aws_cli(endpoint: str | None) -> str:
    """The aws CLI prefix that reaches `endpoint`: `--endpoint-url` works in CLI v1 and v2 alike."""
    return f"aws --endpoint-url {endpoint}" if endpoint else "aws"


def next_steps(outputs: dict, endpoint: str | None) -> str:
    """The closing lines of provision.py: upload a sample, open the notebooks, remove the stack, in this world.

    outputs: the stack's outputs (provision.py's outputs file); endpoint: AWS_ENDPOINT_URL, or None for AWS.
    """
    stack, bucket = outputs["stack"], outputs["bucket"]
    kind = world_kind(endpoint)
    upload = f"{aws_cli(endpoint)} s3 cp sample_data/orders/ s3://{bucket}/raw/orders/ --recursive"
    teardown = f".venv/bin/python teardown.py --stack {stack}"
    if kind is WorldKind.AWS:
        return "\n".join(
            [
                f"Next, in AWS account {outputs['account']} ({outputs['region']}); these resources are billed "
                "until you remove them:",
                f"  upload     {upload}",
                f"  notebooks  make lab TARGET=aws STACK={stack}",
                f"  remove     {teardown}",
            ]
        )
    if kind is WorldKind.LOCALAWS:
        return "\n".join(
            [
                f"Next, on localaws at {endpoint} (nothing is billed; it keeps nothing after it stops):",
                f"  upload     {upload}",
                f"  notebooks  make lab ENDPOINT={endpoint} STACK={stack}   (plain `make lab` starts its own localaws)",
                f"  remove     AWS_ENDPOINT_URL={endpoint} {teardown}",
            ]
        )
    return "\n".join(
        [
            f"Next, on the endpoint {endpoint} (not localaws; the notebooks expect localaws or AWS):",
            f"  upload     {upload}",
            f"  remove     AWS_ENDPOINT_URL={endpoint} {teardown}",
        ]
    )
