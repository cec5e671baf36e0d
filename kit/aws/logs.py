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
