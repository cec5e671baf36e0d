"""IAM: the stack's roles, each with one inline least-privilege policy."""

from __future__ import annotations

import json
from urllib.parse import unquote

from botocore.exceptions import ClientError

from kit.aws import has_code, is_subset, tag_dict, tag_list
from kit.narrate import CREATED, UNCHANGED, updated


def _document(value: str | dict) -> dict:
    # boto3 decodes policy documents to dicts; some endpoints hand back the URL-encoded JSON string.
    return value if isinstance(value, dict) else json.loads(unquote(value))


def get_role(iam, name: str) -> dict | None:
    try:
        return iam.get_role(RoleName=name)["Role"]
    except ClientError as error:
        if has_code(error, "NoSuchEntity"):
            return None
        raise


def ensure_role(iam, name: str, trust_policy: dict, *, tags: dict[str, str], description: str) -> tuple[dict, str]:
    role = get_role(iam, name)
    if role is None:
        role = iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(trust_policy),
            Description=description,
            Tags=tag_list(tags),
        )["Role"]
        iam.get_waiter("role_exists").wait(RoleName=name)
        return role, CREATED
    changes = []
    if _document(role["AssumeRolePolicyDocument"]) != trust_policy:
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust_policy))
        changes.append("trust policy")
    if not is_subset(tags, tag_dict(role.get("Tags"))):
        iam.tag_role(RoleName=name, Tags=tag_list(tags))
        changes.append("tags")
    return role, updated(*changes) if changes else UNCHANGED


def get_role_policy(iam, role: str, policy_name: str) -> dict | None:
    try:
        return _document(iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"])
    except ClientError as error:
        if has_code(error, "NoSuchEntity"):
            return None
        raise


def ensure_role_policy(iam, role: str, policy_name: str, document: dict) -> tuple[dict, str]:
    current = get_role_policy(iam, role, policy_name)
    if current == document:
        return document, UNCHANGED
    iam.put_role_policy(RoleName=role, PolicyName=policy_name, PolicyDocument=json.dumps(document))
    return document, CREATED if current is None else updated("permissions")


def delete_role_policies_if_exist(iam, role: str) -> list[str]:
    """Delete every inline policy and detach every managed policy (IAM refuses to delete a role that has any)."""
    if get_role(iam, role) is None:
        return []
    removed = []
    for page in iam.get_paginator("list_role_policies").paginate(RoleName=role):
        for policy_name in page["PolicyNames"]:
            iam.delete_role_policy(RoleName=role, PolicyName=policy_name)
            removed.append(policy_name)
    for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=role):
        for attached in page["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=role, PolicyArn=attached["PolicyArn"])
            removed.append(attached["PolicyArn"])
    return removed


def delete_role_if_exists(iam, role: str) -> bool:
    if get_role(iam, role) is None:
        return False
    iam.delete_role(RoleName=role)
    return True


def list_role_tags(iam, role: str) -> dict[str, str]:
    return tag_dict(iam.list_role_tags(RoleName=role)["Tags"])
