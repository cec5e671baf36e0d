"""Bucket policy conditions are evaluated as S3 does (moto alone ignores them).

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
"""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from localaws.s3_bucket_policy import REQUEST_CONTEXT, applicable_policy, condition_holds


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        ({}, True),
        ({"Bool": {"aws:SecureTransport": "false"}}, False),
        ({"Bool": {"aws:SecureTransport": "true"}}, True),
        ({"Bool": {"aws:SecureTransport": ["false", "true"]}}, True),
        ({"StringEquals": {"aws:SourceVpce": "vpce-1"}}, False),  # key absent from the request: no match
        ({"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}, True),  # negated operator on an absent key matches
        ({"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1"}}, True),
        ({"NumericLessThan": {"aws:SecureTransport": "1"}}, False),  # unknown operator fails closed
    ],
)
def test_condition_evaluation(condition, holds):
    assert condition_holds(condition, REQUEST_CONTEXT) is holds


def test_only_statements_whose_conditions_hold_are_kept():
    deny_plain_http = {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    deny_all = {"Effect": "Deny"}
    policy = {"Version": "2012-10-17", "Statement": [deny_plain_http, deny_all]}
    assert applicable_policy(policy, REQUEST_CONTEXT)["Statement"] == [deny_all]


def _deny(bucket: str, condition: dict | None) -> str:
    statement = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
    }
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.mark.localaws
def test_a_deny_non_tls_policy_lets_requests_through_and_a_plain_deny_does_not(localaws_env):
    s3 = boto3.client("s3")
    bucket = f"policy-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=_deny(bucket, {"Bool": {"aws:SecureTransport": "false"}}))
    s3.put_object(Bucket=bucket, Key="raw/a.json", Body=b"{}")

    s3.put_bucket_policy(Bucket=bucket, Policy=_deny(bucket, None))
    with pytest.raises(ClientError) as denied:
        s3.put_object(Bucket=bucket, Key="raw/b.json", Body=b"{}")
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
