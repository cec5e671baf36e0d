"""Bucket policies with their Condition blocks, as S3 evaluates them.

moto evaluates a bucket policy's Effect, Action and Resource but ignores Condition, so the standard "deny requests
that are not TLS" statement (Condition Bool aws:SecureTransport false) denies every request. localaws stands in for
AWS's HTTPS endpoints, so its requests carry aws:SecureTransport=true, and conditions are evaluated against that
request context before moto decides. A condition key the context lacks matches nothing, except under the negated and
...IfExists operators, as the IAM policy evaluation logic documents:
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html (enforce encryption in transit)
"""

from __future__ import annotations

import fnmatch
import json
from functools import lru_cache
from typing import Any

from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.s3.models import FakeBucket

from localaws.server import LocalAws

REQUEST_CONTEXT = {"aws:securetransport": "true"}

_MATCHERS = {
    "StringEquals": lambda actual, wanted: actual == wanted,
    "StringEqualsIgnoreCase": lambda actual, wanted: actual.lower() == wanted.lower(),
    "StringLike": lambda actual, wanted: fnmatch.fnmatchcase(actual, wanted),
    "Bool": lambda actual, wanted: actual.lower() == wanted.lower(),
    "ArnEquals": lambda actual, wanted: actual == wanted,
    "ArnLike": lambda actual, wanted: fnmatch.fnmatchcase(actual, wanted),
}


def condition_holds(condition: dict[str, Any], context: dict[str, str]) -> bool:
    """True when every operator/key pair of a statement's Condition block matches the request context."""
    for operator, pairs in condition.items():
        base = operator.removesuffix("IfExists")
        negated = "Not" in base
        matcher = _MATCHERS.get(base.replace("Not", ""))
        for key, wanted in pairs.items():
            actual = context.get(key.lower())
            if actual is None:
                if operator.endswith("IfExists") or negated:
                    continue
                return False
            if matcher is None:  # an operator this emulation cannot evaluate never matches: fail closed
                return False
            values = wanted if isinstance(wanted, list) else [wanted]
            matched = any(matcher(actual, str(value)) for value in values)
            if matched == negated:
                return False
    return True


def applicable_policy(policy: dict[str, Any], context: dict[str, str]) -> dict[str, Any]:
    """The policy with only the statements whose conditions hold for this request."""
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    kept = [s for s in statements if condition_holds(s.get("Condition", {}), context)]
    return {**policy, "Statement": kept}


def bucket_permission(bucket: FakeBucket, action: str, resource: str) -> PermissionResult:
    """moto's FakeBucket.get_permission, with the policy's conditions evaluated first."""
    if bucket.policy is None:
        return PermissionResult.NEUTRAL
    return IAMPolicy(_applicable_policy_text(bucket.policy)).is_action_permitted(action, resource)


@lru_cache(maxsize=64)
def _applicable_policy_text(policy: str | bytes) -> str:
    """The request context is the same for every request, so a policy's applicable statements are found once: every
    object request of a bucket with a policy asks (a TLS-only policy for the pipeline's bucket)."""
    return json.dumps(applicable_policy(json.loads(policy), REQUEST_CONTEXT))


def install(app: LocalAws) -> None:
    del app
    FakeBucket.get_permission = bucket_permission
