"""The policy evaluation itself, table-driven, from the IAM User Guide's evaluation logic and condition operators:
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
"""

from __future__ import annotations

import pytest

from localaws.iam.evaluation import Effect, Principal, condition_holds, decide, evaluate, wildcard_match

ROLE = Principal(
    arn="arn:aws:sts::123456789012:assumed-role/r/s",
    account="123456789012",
    kind="assumed-role",
    role_arn="arn:aws:iam::123456789012:role/r",
    names=("arn:aws:sts::123456789012:assumed-role/r/s", "arn:aws:iam::123456789012:role/r"),
)


def policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


@pytest.mark.parametrize(
    ("pattern", "value", "ignore_case", "expected"),
    [
        ("s3:Get*", "s3:GetObject", True, True),
        ("S3:getobject", "s3:GetObject", True, True),
        ("arn:aws:s3:::b/raw/*", "arn:aws:s3:::b/raw/x/y.json", False, True),
        ("arn:aws:s3:::b/raw/*", "arn:aws:s3:::b/RAW/x", False, False),
        ("arn:aws:s3:::b/a?", "arn:aws:s3:::b/ab", False, True),
        ("arn:aws:s3:::b/a?", "arn:aws:s3:::b/abc", False, False),
        ("arn:aws:s3:::b.c/*", "arn:aws:s3:::bxc/k", False, False),  # "." is literal
    ],
)
def test_wildcards(pattern, value, ignore_case, expected) -> None:
    assert wildcard_match(pattern, value, ignore_case) is expected


@pytest.mark.parametrize(
    ("condition", "context", "expected"),
    [
        ({"StringLike": {"s3:prefix": ["raw/", "raw/*"]}}, {"s3:prefix": ["raw/x"]}, True),
        ({"StringLike": {"s3:prefix": "raw/*"}}, {}, False),  # absent key: no match
        ({"StringNotEquals": {"aws:SourceAccount": "1"}}, {}, True),  # negated: absent key holds
        ({"StringEqualsIfExists": {"s3:prefix": "a"}}, {}, True),
        ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:securetransport": ["true"]}, False),
        ({"Bool": {"aws:SecureTransport": False}}, {"aws:securetransport": ["false"]}, True),
        ({"Null": {"s3:prefix": "true"}}, {}, True),
        ({"Null": {"s3:prefix": "false"}}, {}, False),
        ({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::b*"}}, {"aws:sourcearn": ["arn:aws:s3:::bucket"]}, True),
        ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": ["5"]}, True),
        (
            {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
            {"aws:currenttime": ["2026-01-01T00:00:00Z"]},
            True,
        ),
        ({"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}, {"aws:sourceip": ["127.0.0.1"]}, True),
        ({"ForAllValues:StringEquals": {"k": ["a", "b"]}}, {"k": ["a", "b"]}, True),
        ({"ForAllValues:StringEquals": {"k": ["a"]}}, {"k": ["a", "b"]}, False),
        ({"ForAnyValue:StringEquals": {"k": ["b"]}}, {"k": ["a", "b"]}, True),
        ({"NoSuchOperator": {"k": "a"}}, {"k": ["a"]}, False),  # unknown operators fail closed
    ],
)
def test_conditions(condition, context, expected) -> None:
    assert condition_holds(condition, context) is expected


def test_an_allow_whose_condition_fails_does_not_deny() -> None:
    """moto reads a failed condition on an Allow as a Deny; AWS just skips the statement."""
    conditional = allow("s3:ListBucket", Condition={"StringLike": {"s3:prefix": "raw/*"}})
    assert (
        evaluate([policy(conditional, allow("s3:ListBucket"))], "s3:ListBucket", "arn:aws:s3:::b", {}) is Effect.ALLOW
    )


def test_explicit_deny_wins_and_not_resource_and_not_action() -> None:
    both = policy(allow("s3:*"), {"Effect": "Deny", "NotAction": "s3:Get*", "NotResource": "arn:aws:s3:::b/public/*"})
    assert evaluate([both], "s3:PutObject", "arn:aws:s3:::b/private/k", {}) is Effect.DENY
    assert evaluate([both], "s3:GetObject", "arn:aws:s3:::b/private/k", {}) is Effect.ALLOW
    assert evaluate([both], "s3:PutObject", "arn:aws:s3:::b/public/k", {}) is Effect.ALLOW


def test_decisions_and_their_reasons() -> None:
    role = Principal(**{**ROLE.__dict__, "identity_policies": (policy(allow("s3:GetObject")),)})
    assert decide(role, "s3:GetObject", "arn:aws:s3:::b/k", {}).allowed
    denied = decide(role, "s3:PutObject", "arn:aws:s3:::b/k", {})
    assert not denied.allowed and denied.reason == "because no identity-based policy allows the s3:PutObject action"
    bucket = policy({"Effect": "Allow", "Principal": {"AWS": ROLE.role_arn}, "Action": "s3:PutObject", "Resource": "*"})
    assert decide(role, "s3:PutObject", "arn:aws:s3:::b/k", {}, [bucket]).allowed
    other = policy({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/x"}, "Action": "*"})
    assert not decide(role, "s3:PutObject", "arn:aws:s3:::b/k", {}, [other]).allowed
    session = Principal(**{**role.__dict__, "session_policy": policy(allow("s3:ListBucket"))})
    assert decide(session, "s3:GetObject", "arn:aws:s3:::b/k", {}).reason.startswith("because no session policy")


# -- what a request asks for (localaws.iam.requests), for the actions of SQS batches and event source mappings ----
def _ask(service: str, operation: str, body: dict, path_params: dict | None = None):
    import json

    from localaws.iam.requests import describe
    from localaws.routing import Route
    from localaws.server import Request

    route = Route(service, operation, "us-east-1", path_params or {})
    request = Request(route, "POST", "/", {}, {"content-type": "application/x-amz-json-1.0"}, json.dumps(body).encode())
    return describe(request, "123456789012")


@pytest.mark.parametrize(
    ("operation", "action"),
    [
        ("SendMessageBatch", "sqs:SendMessage"),
        ("DeleteMessageBatch", "sqs:DeleteMessage"),
        ("ChangeMessageVisibilityBatch", "sqs:ChangeMessageVisibility"),
        ("ReceiveMessage", "sqs:ReceiveMessage"),
    ],
)
def test_sqs_batches_are_authorized_as_the_action_they_batch(operation, action) -> None:
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsqs.html
    ask = _ask("sqs", operation, {"QueueUrl": "http://localhost/123456789012/q"})
    assert [(c.action, c.resource) for c in ask.checks] == [(action, "arn:aws:sqs:us-east-1:123456789012:q")]


def test_event_source_mapping_operations_act_on_the_mapping_with_the_function_as_condition() -> None:
    # https://docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html
    created = _ask("lambda", "CreateEventSourceMapping", {"FunctionName": "trigger", "EventSourceArn": "arn:q"})
    assert [(c.action, c.resource) for c in created.checks] == [
        ("lambda:CreateEventSourceMapping", "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:*")
    ]
    assert created.context["lambda:functionarn"] == ["arn:aws:lambda:us-east-1:123456789012:function:trigger"]
    deleted = _ask("lambda", "DeleteEventSourceMapping", {}, {"UUID": "abc"})
    assert [c.resource for c in deleted.checks] == ["arn:aws:lambda:us-east-1:123456789012:event-source-mapping:abc"]
    assert [c.resource for c in _ask("lambda", "ListEventSourceMappings", {}).checks] == ["*"]
