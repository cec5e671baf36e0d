"""docs/student-iam-policy.json allows every call provision.py and teardown.py make, scoped to the student's own
stack (${aws:username}-*), and nothing account-wide but a few read-only listings.

localaws stores IAM policies without enforcing them yet, so this checks the actions the scripts really call (recorded
in moto) against the policy's statements; the resource scoping is checked by pattern.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase

from test_teardown import _add_data

from kit.stack import ROOT

POLICY = json.loads((ROOT / "docs" / "student-iam-policy.json").read_text())
# API operation -> IAM action, where the two differ
# (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html and others).
IAM_ACTION = {
    "s3:HeadBucket": "s3:ListBucket",
    "s3:ListBuckets": "s3:ListAllMyBuckets",
    "s3:ListObjectVersions": "s3:ListBucketVersions",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:DeleteObjects": "s3:DeleteObjectVersion",
    "s3:GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "s3:PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "s3:GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "s3:PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "s3:GetBucketNotificationConfiguration": "s3:GetBucketNotification",
    "s3:PutBucketNotificationConfiguration": "s3:PutBucketNotification",
    "s3:GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "s3:PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "tagging:GetResources": "tag:GetResources",
}
DISCOVERY = "ReadOnlyCallsWithoutResourceScope"


def _allowed(action: str) -> bool:
    for statement in POLICY["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if statement["Effect"] == "Allow" and any(fnmatchcase(action, pattern) for pattern in actions):
            return True
    return False


def test_every_call_of_provision_and_teardown_is_allowed(cloud, calls, provision_run, teardown_run):
    assert provision_run().code == 0
    assert provision_run().code == 0  # a re-run reads every setting back
    _add_data(cloud)  # a used stack: object versions, a table with partitions, the crawler's log stream
    assert teardown_run("--yes").code == 0
    assert teardown_run("--all", answer="all").code == 0
    operations = {f"{service}:{operation}" for service, operation in calls.all()}
    actions = {IAM_ACTION.get(operation, operation) for operation in operations}
    missing = sorted(action for action in actions if not _allowed(action))
    assert missing == []


def test_no_wildcard_actions_and_everything_but_listings_is_scoped_to_the_student():
    for statement in POLICY["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not any(action.endswith(":*") or action == "*" for action in actions), statement["Sid"]
        if statement["Sid"] == DISCOVERY:
            assert all(action.split(":")[1].startswith(("List", "Get", "Describe")) for action in actions)
            continue
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        # CreateEventSourceMapping has no resource type: it is scoped by the lambda:FunctionArn condition instead
        # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awslambda.html)
        scoped_by_condition = "lambda:FunctionArn" in json.dumps(statement.get("Condition", {}))
        assert "*" not in resources or scoped_by_condition, statement["Sid"]


def test_roles_can_be_passed_only_to_lambda_and_glue():
    passing = [s for s in POLICY["Statement"] if s["Action"] == "iam:PassRole"]
    assert len(passing) == 1
    assert passing[0]["Condition"]["StringEquals"]["iam:PassedToService"] == [
        "lambda.amazonaws.com",
        "glue.amazonaws.com",
    ]
