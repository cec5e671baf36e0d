"""IAM policy evaluation for one account, as AWS documents it.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
- An explicit Deny in any applicable policy (identity, session or resource-based) wins.
- Otherwise an Allow in an identity-based policy, or in a resource-based policy naming the principal, allows;
  a session policy (AssumeRole's Policy) must allow as well.
- Otherwise the request is implicitly denied.
Statement matching: Action / NotAction (case-insensitive, `*` and `?` wildcards), Resource / NotResource (wildcards,
case-sensitive), Principal / NotPrincipal for resource-based policies, and the Condition operators below
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html), with the
...IfExists suffix, the Not forms, Null, and the ForAnyValue: / ForAllValues: set qualifiers. A condition key the
request context lacks matches nothing, except under ...IfExists and the negated operators; an operator this emulation
does not know never matches, so an unknown condition fails closed.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from typing import Any

Document = dict[str, Any]
Context = dict[str, list[str]]  # lowercase condition key -> values


class Effect(Enum):
    NONE = "none"
    ALLOW = "allow"
    DENY = "deny"


@cache
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{regex}$", re.I | re.S if ignore_case else re.S)


def wildcard_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    return bool(_wildcard(pattern, ignore_case).match(value))


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _numbers(actual: str, wanted: str) -> tuple[float, float] | None:
    try:
        return float(actual), float(wanted)
    except ValueError:
        return None


def _dates(actual: str, wanted: str) -> tuple[dt.datetime, dt.datetime] | None:
    def parse(text: str) -> dt.datetime:
        if re.fullmatch(r"\d+(\.\d+)?", text):
            return dt.datetime.fromtimestamp(float(text), dt.UTC)
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)

    try:
        return parse(actual), parse(wanted)
    except ValueError:
        return None


def _compare(pair: tuple | None, test) -> bool:
    return pair is not None and test(*pair)


def _ip(actual: str, wanted: str) -> bool:
    try:
        return ipaddress.ip_address(actual) in ipaddress.ip_network(wanted, strict=False)
    except ValueError:
        return False


MATCHERS = {
    "StringEquals": lambda a, w: a == w,
    "StringEqualsIgnoreCase": lambda a, w: a.lower() == w.lower(),
    "StringLike": lambda a, w: wildcard_match(w, a),
    "ArnEquals": lambda a, w: a == w,
    "ArnLike": lambda a, w: wildcard_match(w, a),
    "Bool": lambda a, w: a.lower() == w.lower(),
    "NumericEquals": lambda a, w: _compare(_numbers(a, w), lambda x, y: x == y),
    "NumericLessThan": lambda a, w: _compare(_numbers(a, w), lambda x, y: x < y),
    "NumericLessThanEquals": lambda a, w: _compare(_numbers(a, w), lambda x, y: x <= y),
    "NumericGreaterThan": lambda a, w: _compare(_numbers(a, w), lambda x, y: x > y),
    "NumericGreaterThanEquals": lambda a, w: _compare(_numbers(a, w), lambda x, y: x >= y),
    "DateEquals": lambda a, w: _compare(_dates(a, w), lambda x, y: x == y),
    "DateLessThan": lambda a, w: _compare(_dates(a, w), lambda x, y: x < y),
    "DateLessThanEquals": lambda a, w: _compare(_dates(a, w), lambda x, y: x <= y),
    "DateGreaterThan": lambda a, w: _compare(_dates(a, w), lambda x, y: x > y),
    "DateGreaterThanEquals": lambda a, w: _compare(_dates(a, w), lambda x, y: x >= y),
    "IpAddress": _ip,
}
# Negated forms: the condition holds when no wanted value matches.
NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
    "NotIpAddress": "IpAddress",
}


def condition_holds(condition: Document | None, context: Context) -> bool:
    """True when every operator/key pair of a statement's Condition block holds for the request context."""
    for operator, pairs in (condition or {}).items():
        qualifier, _, name = operator.rpartition(":")
        if_exists = name.endswith("IfExists")
        name = name.removesuffix("IfExists")
        for key, wanted in pairs.items():
            actual = context.get(key.lower())
            wanted_values = [str(v).lower() if isinstance(v, bool) else str(v) for v in _as_list(wanted)]
            if name == "Null":  # "true": the key is absent; "false": it is present
                if (actual is None) != (wanted_values[0].lower() == "true"):
                    return False
                continue
            negated = name in NEGATED
            matcher = MATCHERS.get(NEGATED.get(name, name))
            if matcher is None:
                return False
            if actual is None:
                if if_exists or negated:
                    continue
                return False

            def value_matches(value: str, matcher=matcher, wanted_values=wanted_values) -> bool:
                return any(matcher(value, w) for w in wanted_values)

            if qualifier == "ForAllValues":
                holds = all(value_matches(v) != negated for v in actual)
            else:  # a single-valued key, or ForAnyValue
                hits = [value_matches(v) for v in actual]
                holds = not any(hits) if negated else any(hits)
            if not holds:
                return False
    return True


def statements(policy: Document) -> list[Document]:
    return _as_list(policy.get("Statement"))


def _action_matches(statement: Document, action: str) -> bool:
    if "NotAction" in statement:
        return not any(wildcard_match(p, action, ignore_case=True) for p in _as_list(statement["NotAction"]))
    return any(wildcard_match(p, action, ignore_case=True) for p in _as_list(statement.get("Action")))


def _resource_matches(statement: Document, resource: str) -> bool:
    if "NotResource" in statement:
        return not any(wildcard_match(p, resource) for p in _as_list(statement["NotResource"]))
    if "Resource" not in statement:
        return True  # trust policies name no resource
    return any(wildcard_match(p, resource) for p in _as_list(statement["Resource"]))


@dataclass(frozen=True)
class Principal:
    """Who signed the request: an IAM user, an assumed-role session, or the account root."""

    arn: str  # arn:aws:iam::<account>:user/NAME | arn:aws:sts::<account>:assumed-role/ROLE/SESSION | ...:root
    account: str
    kind: str  # "root" | "user" | "assumed-role"
    role_arn: str | None = None  # the role behind an assumed-role session
    identity_policies: tuple[Document, ...] = ()
    session_policy: Document | None = None
    names: tuple[str, ...] = field(default=())  # ARNs a resource policy may name it by

    @property
    def is_root(self) -> bool:
        return self.kind == "root"


def _principal_matches(statement: Document, principal: Principal) -> bool:
    def names(element: Any) -> list[str]:
        if isinstance(element, str):  # "*", or an ARN as moto stores AddPermission's principal
            return [element]
        if isinstance(element, dict):
            return [str(v) for v in _as_list(element.get("AWS"))]
        return []

    if "NotPrincipal" in statement:
        return not any(p == "*" or p in principal.names for p in names(statement["NotPrincipal"]))
    return any(p == "*" or p in principal.names for p in names(statement.get("Principal")))


def evaluate(
    policies: Iterable[Document], action: str, resource: str, context: Context, principal: Principal | None = None
) -> Effect:
    """The combined effect of `policies` for one action on one resource (resource-based when `principal` is given)."""
    effect = Effect.NONE
    for policy in policies:
        for statement in statements(policy):
            if not _action_matches(statement, action) or not _resource_matches(statement, resource):
                continue
            if principal is not None and not _principal_matches(statement, principal):
                continue
            if not condition_holds(statement.get("Condition"), context):
                continue
            if statement.get("Effect") == "Deny":
                return Effect.DENY
            if statement.get("Effect") == "Allow":
                effect = Effect.ALLOW
    return effect


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # AWS's "because ..." clause when denied, "" when allowed


def decide(
    principal: Principal, action: str, resource: str, context: Context, resource_policies: Iterable[Document] = ()
) -> Decision:
    """AWS's evaluation for a principal of the resource's own account. The account root is always allowed."""
    if principal.is_root:
        return Decision(True, "")
    resource_policies = list(resource_policies)
    identity = evaluate(principal.identity_policies, action, resource, context)
    if identity is Effect.DENY:
        return Decision(False, "with an explicit deny in an identity-based policy")
    by_resource = evaluate(resource_policies, action, resource, context, principal)
    if by_resource is Effect.DENY:
        return Decision(False, "with an explicit deny in a resource-based policy")
    if principal.session_policy is not None:
        session = evaluate([principal.session_policy], action, resource, context)
        if session is Effect.DENY:
            return Decision(False, "with an explicit deny in a session policy")
        if session is not Effect.ALLOW and by_resource is not Effect.ALLOW:
            return Decision(False, f"because no session policy allows the {action} action")
    if Effect.ALLOW in (identity, by_resource):
        return Decision(True, "")
    return Decision(False, f"because no identity-based policy allows the {action} action")
