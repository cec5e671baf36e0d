"""The stack's IAM documents: exact actions, never a wildcard action, every resource scoped to the stack."""

from __future__ import annotations

import pytest

from kit import policies
from kit.stack import Stack

STACK = Stack("alice", "123456789012", "eu-west-1")
OTHER = Stack("bob", "123456789012", "eu-west-1")
DOCUMENTS = {purpose: documents[1] for purpose, documents in policies.role_documents(STACK).items()}
# The two account-level resources AWS itself fixes: Glue authorizes every catalog call on the account's catalog as
# well as on the database and table, and Glue writes every crawler's log to one group (each to its own stream).
ACCOUNT_LEVEL = {
    "arn:aws:glue:eu-west-1:123456789012:catalog",
    "arn:aws:logs:eu-west-1:123456789012:log-group:/aws-glue/crawlers",
}


def _statements(document):
    return document["Statement"]


def _listed(value):
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("purpose", list(DOCUMENTS))
def test_no_wildcard_actions(purpose):
    for statement in _statements(DOCUMENTS[purpose]):
        assert statement["Effect"] == "Allow"
        for action in _listed(statement["Action"]):
            assert "*" not in action, (purpose, action)


@pytest.mark.parametrize("purpose", list(DOCUMENTS))
def test_every_resource_is_scoped_to_the_stack(purpose):
    for statement in _statements(DOCUMENTS[purpose]):
        for resource in _listed(statement["Resource"]):
            assert resource != "*"
            assert ":123456789012:" in resource or resource.startswith("arn:aws:s3:::alice-123456789012-eu-west-1")
            assert "alice" in resource or resource in ACCOUNT_LEVEL, (purpose, resource)
            assert "bob" not in resource


def _allowed(purpose: str) -> set[tuple[str, str]]:
    return {
        (action, resource)
        for statement in _statements(DOCUMENTS[purpose])
        for action in _listed(statement["Action"])
        for resource in _listed(statement["Resource"])
    }


def test_transform_reads_raw_writes_processed_quarantine_and_schema_records():
    bucket = "arn:aws:s3:::alice-123456789012-eu-west-1"
    allowed = _allowed("transform")
    assert ("s3:GetObject", f"{bucket}/raw/*") in allowed
    assert ("s3:PutObject", f"{bucket}/processed/*") in allowed
    assert ("s3:PutObject", f"{bucket}/quarantine/*") in allowed
    assert {("s3:GetObject", f"{bucket}/schemas/*"), ("s3:PutObject", f"{bucket}/schemas/*")} <= allowed
    assert ("s3:PutObject", f"{bucket}/raw/*") not in allowed  # never writes where it is triggered (P2)
    # a new version or a deleted raw object removes the previous outputs; the manifests record what each key produced
    s3_actions = {(action, resource) for action, resource in allowed if action.startswith("s3:")}
    assert {(a, resource) for a, resource in s3_actions if a == "s3:DeleteObject"} == {
        ("s3:DeleteObject", f"{bucket}/processed/*"),
        ("s3:DeleteObject", f"{bucket}/quarantine/*"),
    }
    assert {("s3:GetObject", f"{bucket}/manifests/*"), ("s3:PutObject", f"{bucket}/manifests/*")} <= allowed
    assert ("s3:GetObject", f"{bucket}/processed/*") not in allowed
    # the stored quarantine report is read before it is replaced (a stale event must not overwrite a newer one)
    assert {resource for action, resource in allowed if action == "s3:GetObject"} == {
        f"{bucket}/raw/*",
        f"{bucket}/quarantine/*.error.json",
        f"{bucket}/schemas/*",
        f"{bucket}/manifests/*",
    }
    (listing,) = [s for s in _statements(DOCUMENTS["transform"]) if s["Action"] == ["s3:ListBucket"]]
    # No prefix condition: GetObject of a missing schema record must answer 404, and GetObject has no s3:prefix key.
    assert listing["Resource"] == [bucket] and "Condition" not in listing
    assert ("sqs:SendMessage", STACK.dlq_arn) in allowed
    assert ("logs:PutLogEvents", f"{STACK.log_group_arn('alice-transform')}:*") in allowed
    assert not any(action.startswith("logs:CreateLogGroup") for action, _ in allowed)


def test_crawler_trigger_may_start_its_crawler_consume_its_queue_and_register_partitions():
    allowed = _allowed("crawler-trigger")
    assert {("glue:StartCrawler", STACK.crawler_arn), ("glue:GetCrawler", STACK.crawler_arn)} <= allowed
    queue_actions = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"}
    assert {(action, STACK.catalog_queue_arn) for action in queue_actions} <= allowed
    table = f"arn:aws:glue:eu-west-1:123456789012:table/{STACK.glue_database}/*"
    assert {("glue:GetTable", table), ("glue:BatchCreatePartition", table)} <= allowed
    assert ("s3:GetObject", f"{STACK.bucket_arn}/schemas/*") in allowed
    assert {action for action, _ in allowed} == {
        "glue:StartCrawler",
        "glue:GetCrawler",
        "glue:GetTable",
        "glue:BatchCreatePartition",
        "s3:GetObject",
        "s3:ListBucket",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        *queue_actions,
    }


def test_crawler_mode_grows_the_trigger_by_nothing_but_its_queue():
    (_, permissions) = policies.role_documents(STACK, "crawler")["crawler-trigger"]
    actions = {action for statement in permissions["Statement"] for action in statement["Action"]}
    assert not actions & {"glue:GetTable", "glue:BatchCreatePartition", "s3:GetObject", "s3:ListBucket"}


def test_crawler_reads_processed_only_and_writes_its_own_database():
    bucket = "arn:aws:s3:::alice-123456789012-eu-west-1"
    allowed = _allowed("crawler")
    assert {resource for action, resource in allowed if action == "s3:GetObject"} == {f"{bucket}/processed/*"}
    (listing,) = [s for s in _statements(DOCUMENTS["crawler"]) if s["Action"] == ["s3:ListBucket"]]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["processed/", "processed/*"]}}
    glue_resources = {resource for action, resource in allowed if action.startswith("glue:")}
    assert glue_resources == {
        "arn:aws:glue:eu-west-1:123456789012:catalog",
        "arn:aws:glue:eu-west-1:123456789012:database/alice",
        "arn:aws:glue:eu-west-1:123456789012:table/alice/*",
    }
    assert {"glue:CreateTable", "glue:UpdateTable", "glue:BatchCreatePartition"} <= {a for a, _ in allowed}


@pytest.mark.parametrize(
    ("trust", "service"),
    [(policies.lambda_trust_policy, "lambda.amazonaws.com"), (policies.glue_trust_policy, "glue.amazonaws.com")],
)
def test_trust_policies_name_one_service_and_no_condition(trust, service):
    # Neither Lambda nor Glue documents setting aws:SourceAccount when it assumes a role, and a condition on a key
    # missing from the request context denies: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
    (statement,) = trust(STACK)["Statement"]
    assert statement == {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}


def test_bucket_policy_denies_plain_http_only():
    (statement,) = policies.deny_insecure_transport(STACK)["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_partition_follows_the_region():
    china = Stack("alice", "123456789012", "cn-north-1")
    assert policies.transform_policy(china)["Statement"][0]["Resource"][0].startswith("arn:aws-cn:s3:::")
