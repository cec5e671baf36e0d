"""What S3 checks at PutBucketNotificationConfiguration before it stores anything.

https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketNotificationConfiguration.html
- Every destination must exist and its resource policy must let s3.amazonaws.com deliver from this bucket, otherwise
  InvalidArgument "Unable to validate the following destination configurations", naming each failing destination in
  ArgumentName<n>/ArgumentValue<n> elements (the shape seen in awslabs/aws-lambda-redshift-loader#219).
- Two rules that could both fire for one object are refused as "ambiguously defined":
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-filtering.html
"""

from __future__ import annotations

import json
import secrets
from fnmatch import fnmatchcase
from typing import Any

from localaws.s3_events.rules import LAMBDA, QUEUE, TOPIC, NotificationRule, find_overlap
from localaws.server import Response, _xml_escape

S3_PRINCIPAL = "s3.amazonaws.com"
UNABLE_TO_VALIDATE = "Unable to validate the following destination configurations"
AMBIGUOUS = (
    "Configuration is ambiguously defined. Cannot have overlapping suffixes in two rules if the prefixes are "
    "overlapping for the same event type."
)
# Two rules without any key filter that share an event type get this one instead, with the two events named
# (S3's response quoted in minio/minio#2472).
SHARED_EVENT_TYPE = "Configurations overlap. Configurations on the same bucket cannot share a common event type."
_DELIVERY_ACTION = {LAMBDA: "lambda:InvokeFunction", QUEUE: "sqs:SendMessage", TOPIC: "sns:Publish"}


def delivery_action(kind: str) -> str:
    """The action S3 performs on a destination of this kind: lambda:InvokeFunction, sqs:SendMessage, sns:Publish."""
    return _DELIVERY_ACTION[kind]


def invalid_argument(message: str, arguments: list[tuple[str, str]] = (), numbered: bool = False) -> Response:
    """S3's InvalidArgument error (HTTP 400) with its ArgumentName/ArgumentValue details.

    One detail is <ArgumentName>; a list of destinations is numbered <ArgumentName1>, <ArgumentName2>, ...
    """
    details = ""
    for n, (name, value) in enumerate(arguments, start=1):
        suffix = str(n) if numbered else ""
        details += f"<ArgumentName{suffix}>{_xml_escape(name)}</ArgumentName{suffix}>"
        details += f"<ArgumentValue{suffix}>{_xml_escape(value)}</ArgumentValue{suffix}>"
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>InvalidArgument</Code><Message>{_xml_escape(message)}</Message>{details}"
        f"<RequestId>{secrets.token_hex(8).upper()}</RequestId></Error>"
    )
    return Response(400, [("Content-Type", "application/xml")], body.encode())


def refusal_reason(kind: str, arn: str) -> str:
    """The ArgumentValue S3 gives for a destination it could not validate."""
    if kind == LAMBDA:
        return f"Not authorized to invoke function [{arn}]"
    noun = "queue" if kind == QUEUE else "topic"
    return f"Permissions on the destination {noun} do not allow S3 to publish notifications from this bucket"


def policy_allows(policy: dict[str, Any] | None, action: str, source_arn: str, source_account: str) -> bool:
    """Whether a resource policy lets the S3 service principal perform `action` for this bucket.

    Evaluated as IAM does for these statements: an explicit Deny wins; an Allow needs the principal, the action and
    every condition to match. Condition keys other than aws:SourceArn / aws:SourceAccount are not satisfied by S3.
    """
    if not policy:
        return False
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    context = {"aws:sourcearn": source_arn, "aws:sourceaccount": source_account}
    applicable = [
        s for s in statements if _principal_is_s3(s.get("Principal")) and _action_matches(s.get("Action"), action)
    ]
    matching = [s for s in applicable if _conditions_hold(s.get("Condition", {}), context)]
    if any(s.get("Effect") == "Deny" for s in matching):
        return False
    return any(s.get("Effect") == "Allow" for s in matching)


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _principal_is_s3(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return any(p in (S3_PRINCIPAL, "*") for key in ("Service", "AWS") for p in _as_list(principal.get(key, [])))
    return principal == S3_PRINCIPAL


def _action_matches(actions: Any, action: str) -> bool:
    return any(fnmatchcase(action.lower(), str(pattern).lower()) for pattern in _as_list(actions or []))


def _conditions_hold(conditions: dict[str, dict[str, Any]], context: dict[str, str]) -> bool:
    for operator, tests in conditions.items():
        for key, expected in tests.items():
            actual = context.get(key.lower())
            if actual is None or not _condition_holds(operator, actual, _as_list(expected)):
                return False
    return True


def _condition_holds(operator: str, actual: str, expected: list[str]) -> bool:
    if operator in ("ArnLike", "StringLike"):
        return any(fnmatchcase(actual, pattern) for pattern in expected)
    if operator in ("ArnEquals", "StringEquals"):
        return actual in expected
    if operator == "StringEqualsIgnoreCase":
        return actual.lower() in (value.lower() for value in expected)
    return False


def destination_problems(
    rules: list[NotificationRule], bucket: str, owner_account: str, policy_of
) -> list[tuple[str, str]]:
    """(ArgumentName, ArgumentValue) for every destination S3 could not validate.

    `policy_of(rule)` returns the destination's resource policy as a dict, {} when it has none, or None when the
    destination does not exist (S3 reports both the same way).
    """
    problems = []
    bucket_arn = f"arn:aws:s3:::{bucket}"
    for rule in rules:
        policy = policy_of(rule)
        if not policy_allows(policy, _DELIVERY_ACTION[rule.kind], bucket_arn, owner_account):
            problems.append((f"{rule.arn}, {rule.id or 'null'}", refusal_reason(rule.kind, rule.arn)))
    return problems


def ambiguity(rules: list[NotificationRule]) -> Response | None:
    overlap = find_overlap(rules)
    if overlap is None:
        return None
    if overlap.unfiltered:
        return invalid_argument(SHARED_EVENT_TYPE, [("Event", ", ".join(overlap.events))])
    return invalid_argument(AMBIGUOUS)


def load_json_policy(text: str | None) -> dict[str, Any]:
    return json.loads(text) if text else {}
