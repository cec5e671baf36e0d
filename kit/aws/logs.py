"""CloudWatch Logs: each function's log group, created up front with a retention so nothing grows forever."""

from __future__ import annotations

from botocore.exceptions import ClientError

from kit.aws import has_code, is_subset
from kit.narrate import CREATED, UNCHANGED, updated


def get_log_group(logs, name: str) -> dict | None:
    for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=name):
        for group in page["logGroups"]:
            if group["logGroupName"] == name:
                return group
    return None


def _arn(group: dict) -> str:
    arn = group["arn"]
    return arn[:-2] if arn.endswith(":*") else arn  # tagging wants the ARN without the trailing ":*"


def ensure_log_group(logs, name: str, *, retention_days: int, tags: dict[str, str]) -> tuple[dict, str]:
    group = get_log_group(logs, name)
    created = group is None
    if created:
        logs.create_log_group(logGroupName=name, tags=tags)
        group = get_log_group(logs, name)
    changes = []
    if group.get("retentionInDays") != retention_days:
        logs.put_retention_policy(logGroupName=name, retentionInDays=retention_days)
        changes.append("retention")
    if not created and not is_subset(tags, logs.list_tags_for_resource(resourceArn=_arn(group)).get("tags", {})):
        logs.tag_resource(resourceArn=_arn(group), tags=tags)
        changes.append("tags")
    if created:
        return group, CREATED
    return group, updated(*changes) if changes else UNCHANGED


def delete_log_group_if_exists(logs, name: str) -> bool:
    if get_log_group(logs, name) is None:
        return False
    try:
        logs.delete_log_group(logGroupName=name)
    except ClientError as error:
        if has_code(error, "ResourceNotFoundException"):
            return False
        raise
    return True


def get_log_stream(logs, group: str, stream: str) -> dict | None:
    """The log stream named `stream` in `group`, or None when either is missing (DescribeLogStreams)."""
    try:
        pages = logs.get_paginator("describe_log_streams").paginate(logGroupName=group, logStreamNamePrefix=stream)
        for page in pages:
            for item in page["logStreams"]:
                if item["logStreamName"] == stream:
                    return item
    except ClientError as error:
        if has_code(error, "ResourceNotFoundException"):
            return None
        raise
    return None


def delete_log_stream_if_exists(logs, group: str, stream: str) -> bool:
    """Delete one stream of a shared log group (such as the crawler's in /aws-glue/crawlers), leaving the group."""
    if get_log_stream(logs, group, stream) is None:
        return False
    try:
        logs.delete_log_stream(logGroupName=group, logStreamName=stream)
    except ClientError as error:
        if has_code(error, "ResourceNotFoundException"):
            return False
        raise
    return True


def list_tags_for_resource(logs, group: dict) -> dict[str, str]:
    """The tags of a log group (as get_log_group returns it)."""
    return logs.list_tags_for_resource(resourceArn=_arn(group)).get("tags", {})
