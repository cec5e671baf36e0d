"""Roles for tests about the Lambda runtime, the crawler and S3 events, not about IAM.

localaws enforces IAM (test_iam_enforcement.py proves the kit's least-privilege policies), so a function or a crawler
acts with its role's policies. These tests' roles may do anything, so that each test checks only its own subject.
"""

from __future__ import annotations

import json

ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


def allow_everything(iam, role_name: str) -> None:
    iam.put_role_policy(RoleName=role_name, PolicyName="tests-allow-all", PolicyDocument=ALLOW_ALL)
