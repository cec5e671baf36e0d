"""Who signed a request, and the policies that apply to them, read from moto's IAM and STS state.

moto is right about where policies live: `IAMUserAccessKey` / `AssumedRoleAccessKey` (moto.iam.access_control) collect
a user's inline, attached and group policies and a role session's inline and attached ones; `IAMPolicy` reads a managed
policy's default version. localaws uses those, and does its own evaluation (evaluation.py).
Call every function here with the app's moto lock held.

- `test` (the kit's stand-in key) and any key moto does not know act as the account root, as in LocalStack, so every
  script keeps working. So do unsigned requests.
- An IAM user's access key, or an STS session's key with its session token, is that principal.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from moto.awslambda.exceptions import UnknownFunctionException
from moto.awslambda.models import lambda_backends
from moto.iam.access_control import AssumedRoleAccessKey, IAMPolicy, IAMUserAccessKey
from moto.iam.models import iam_backends
from moto.s3.models import s3_backends
from moto.sts.models import sts_backends

from localaws.iam.evaluation import Document, Principal

PARTITION = "aws"
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


def access_key_of(headers: dict[str, str], query: dict[str, list[str]]) -> str | None:
    """The access key id a request is signed with (Authorization header or presigned URL), None when unsigned."""
    match = _CREDENTIAL.search(headers.get("authorization", ""))
    if match:
        return match[1]
    credential = (query.get("X-Amz-Credential") or [""])[0]
    return credential.split("/", 1)[0] or None


def root(account: str) -> Principal:
    arn = f"arn:{PARTITION}:iam::{account}:root"
    return Principal(arn=arn, account=account, kind="root", names=(arn, account))


def _documents(policies: list[Any]) -> tuple[Document, ...]:
    return tuple(IAMPolicy(policy)._policy_json for policy in policies)


def resolve(account: str, access_key: str | None, session_token: str | None) -> Principal | str:
    """The principal behind `access_key`, or an error code ("InvalidClientTokenId") for a session key whose token does
    not match. Unknown keys are the account root."""
    if not access_key or access_key == "test":
        return root(account)
    for session in sts_backends[account][PARTITION].assumed_roles:
        if session.access_key_id != access_key:
            continue
        if session_token != session.session_token:
            return "InvalidClientTokenId"
        key = AssumedRoleAccessKey(account, PARTITION, access_key, {"X-Amz-Security-Token": session_token})
        role_name = session.role_arn.split("/")[-1]
        arn = f"arn:{PARTITION}:sts::{account}:assumed-role/{role_name}/{session.session_name}"
        session_policy = json.loads(session.policy) if session.policy else None
        return Principal(
            arn=arn,
            account=account,
            kind="assumed-role",
            role_arn=session.role_arn,
            identity_policies=_documents(key.collect_policies()),
            session_policy=session_policy,
            names=(arn, session.role_arn),
        )
    backend = iam_backends[account][PARTITION]
    for user in backend.users.values():
        if any(k.access_key_id == access_key for k in user.access_keys):
            key = IAMUserAccessKey(account, PARTITION, access_key, {})
            return Principal(
                arn=user.arn, account=account, kind="user", identity_policies=_documents(key.collect_policies()),
                names=(user.arn,),
            )  # fmt: skip
    return root(account)


def assume_role(account: str, region: str, role_arn: str, session_name: str, token_prefix: str = "") -> dict[str, str]:
    """Credentials of a new STS session of `role_arn` (moto's AssumeRole), as a service assumes its role: the Lambda
    runtime for a function's execution role, Glue for a crawler's role. `token_prefix` marks the session token so the
    caller can recognise requests signed with it. Returns the three AWS_* credential variables."""
    session = sts_backends[account][PARTITION].assume_role(
        region_name=region,
        role_session_name=session_name[:64],
        role_arn=role_arn,
        policy=None,
        duration=43200,
        external_id=None,
    )
    if token_prefix:
        session.session_token = f"{token_prefix}{uuid.uuid4().hex}"
    return {
        "AWS_ACCESS_KEY_ID": session.access_key_id,
        "AWS_SECRET_ACCESS_KEY": session.secret_access_key,
        "AWS_SESSION_TOKEN": session.session_token,
    }


def bucket_policy(account: str, bucket: str) -> Document | None:
    found = s3_backends[account][PARTITION].buckets.get(bucket)
    if found is None or not found.policy:
        return None
    text = found.policy.decode() if isinstance(found.policy, bytes) else found.policy
    return json.loads(text)


def function_policy(account: str, region: str, function: str) -> Document | None:
    backend = lambda_backends[account][region]
    try:
        fn = backend.get_function(function, None)
    except UnknownFunctionException:
        return None
    if fn.policy is None or not fn.policy.statements:
        return None
    return fn.policy.get_policy()["Policy"]


def role_principal(account: str, role_arn: str) -> Principal | None:
    """The role itself as a principal (its inline and attached policies, as a session of it would have), for the
    checks a service makes of a role before it assumes it; None when the role does not exist."""
    from moto.iam.exceptions import NotFoundException

    backend = iam_backends[account][PARTITION]
    try:
        role = backend.get_role_by_arn(role_arn)
    except NotFoundException:
        return None
    documents = [backend.get_role_policy(role.name, name)[1] for name in backend.list_role_policies(role.name)]
    documents += backend.list_attached_role_policies(role.name)[0]
    return Principal(
        arn=role.arn,
        account=account,
        kind="assumed-role",
        role_arn=role.arn,
        identity_policies=_documents(documents),
        names=(role.arn,),
    )
