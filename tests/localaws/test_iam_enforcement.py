"""IAM is enforced as AWS enforces it, for IAM users and STS sessions; the stand-in keys act as the account root.

Before enforcement the transform role's own credentials could write raw/, create IAM users and delete the bucket.
Evaluation logic: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
Denial messages: https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
Each kit role gets the policy provision.py attaches (kit.policies) and is shown one action just outside it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import botocore.exceptions
import pytest
from test_lambda_runtime import TRUST_POLICY, invoke, zipped

from kit.local_endpoint import LocalAwsProcess
from kit.policies import role_documents
from kit.stack import Stack

pytestmark = pytest.mark.localaws

ACCOUNT = "123456789012"


def _error(call) -> dict:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call()
    return raised.value.response["Error"]


def _denied(call, action: str, resource: str, principal: str) -> None:
    error = _error(call)
    assert error["Code"] in ("AccessDenied", "AccessDeniedException"), error
    assert error["Message"].startswith(f"User: {principal} is not authorized to perform: {action} on resource: "), error
    assert resource in error["Message"], error


def _session(credentials: dict) -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials.get("SessionToken"),
        region_name="us-east-1",
    )


@pytest.fixture(scope="module")
def stack(localaws) -> Stack:
    """A stack's bucket and its three roles with the kit's own policies, created with the root's stand-in keys."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in localaws.env().items():
            patch.setenv(name, value)
        stack = Stack(f"iam{uuid.uuid4().hex[:6]}", ACCOUNT, "us-east-1")
        boto3.client("s3").create_bucket(Bucket=stack.bucket)
        iam = boto3.client("iam")
        for purpose, (trust, permissions) in role_documents(stack).items():
            iam.create_role(RoleName=stack.role_name(purpose), AssumeRolePolicyDocument=json.dumps(trust))
            iam.put_role_policy(
                RoleName=stack.role_name(purpose),
                PolicyName=stack.policy_name(purpose),
                PolicyDocument=json.dumps(permissions),
            )
        return stack


def _role(stack: Stack, purpose: str) -> tuple[boto3.session.Session, str]:
    answer = boto3.client("sts").assume_role(RoleArn=stack.role_arn(purpose), RoleSessionName=f"{purpose}-probe")
    principal = f"arn:aws:sts::{ACCOUNT}:assumed-role/{stack.role_name(purpose)}/{purpose}-probe"
    return _session(answer["Credentials"]), principal


def test_the_transform_role_cannot_write_raw_create_users_or_delete_the_bucket(stack, localaws_env) -> None:
    session, principal = _role(stack, "transform")
    s3 = session.client("s3")
    s3.put_object(Bucket=stack.bucket, Key="processed/orders/part.parquet", Body=b"x")  # inside its policy
    boto3.client("s3").put_object(Bucket=stack.bucket, Key="raw/orders/a.json", Body=b"{}")
    assert s3.get_object(Bucket=stack.bucket, Key="raw/orders/a.json")["Body"].read() == b"{}"
    _denied(
        lambda: s3.put_object(Bucket=stack.bucket, Key="raw/orders/b.json", Body=b"{}"),
        "s3:PutObject",
        f'"arn:aws:s3:::{stack.bucket}/raw/orders/b.json" because no identity-based policy allows the s3:PutObject',
        principal,
    )
    _denied(
        lambda: session.client("iam").create_user(UserName="intruder"),
        "iam:CreateUser",
        f"arn:aws:iam::{ACCOUNT}:user/intruder",
        principal,
    )
    _denied(lambda: s3.delete_bucket(Bucket=stack.bucket), "s3:DeleteBucket", f"arn:aws:s3:::{stack.bucket}", principal)
    assert "intruder" not in {u["UserName"] for u in boto3.client("iam").list_users()["Users"]}


def test_the_crawler_trigger_role_starts_only_its_own_crawler(stack, localaws_env) -> None:
    session, principal = _role(stack, "crawler-trigger")
    glue = session.client("glue")
    error = _error(lambda: glue.get_crawler(Name=stack.crawler))  # allowed: the crawler just does not exist here
    assert error["Code"] == "EntityNotFoundException"
    other = f"arn:aws:glue:us-east-1:{ACCOUNT}:crawler/someone-elses-crawler"
    _denied(lambda: glue.start_crawler(Name="someone-elses-crawler"), "glue:StartCrawler", other, principal)
    _denied(
        lambda: session.client("s3").get_object(Bucket=stack.bucket, Key="raw/orders/a.json"),
        "s3:GetObject",
        f"arn:aws:s3:::{stack.bucket}/raw/orders/a.json",
        principal,
    )


def test_the_crawler_role_lists_and_reads_processed_only(stack, localaws_env) -> None:
    session, principal = _role(stack, "crawler")
    s3 = session.client("s3")
    assert s3.list_objects_v2(Bucket=stack.bucket, Prefix="processed/")["KeyCount"] >= 0  # s3:prefix condition holds
    _denied(
        lambda: s3.list_objects_v2(Bucket=stack.bucket, Prefix="raw/"),
        "s3:ListBucket",
        f"arn:aws:s3:::{stack.bucket}",
        principal,
    )
    _denied(
        lambda: s3.get_object(Bucket=stack.bucket, Key="raw/orders/a.json"),
        "s3:GetObject",
        f"arn:aws:s3:::{stack.bucket}/raw/orders/a.json",
        principal,
    )
    _denied(
        lambda: session.client("glue").create_database(DatabaseInput={"Name": "not_its_own"}),
        "glue:CreateDatabase",
        f"arn:aws:glue:us-east-1:{ACCOUNT}:",
        principal,
    )


def test_default_and_unknown_keys_act_as_the_account_root(stack, localaws_env) -> None:
    boto3.client("iam").create_user(UserName=f"made-by-root-{uuid.uuid4().hex[:6]}")
    unknown = boto3.session.Session(aws_access_key_id="AKIAUNKNOWN000000000", aws_secret_access_key="x")
    unknown.client("s3", region_name="us-east-1").put_object(Bucket=stack.bucket, Key="raw/root.json", Body=b"{}")


def _user(policies: list[dict], managed: list[dict] = ()) -> tuple[boto3.session.Session, str]:
    iam = boto3.client("iam")
    name = f"user-{uuid.uuid4().hex[:8]}"
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    for index, document in enumerate(policies):
        iam.put_user_policy(UserName=name, PolicyName=f"inline{index}", PolicyDocument=json.dumps(document))
    for index, document in enumerate(managed):
        policy = iam.create_policy(PolicyName=f"{name}-managed{index}", PolicyDocument=json.dumps(document))
        iam.attach_user_policy(UserName=name, PolicyArn=policy["Policy"]["Arn"])
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return _session(key), arn


def _allow(actions, resources, **extra) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resources, **extra}],
    }


def test_user_policies_inline_and_managed_wildcards_and_explicit_deny(stack, localaws_env) -> None:
    bucket = stack.bucket
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Deny", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/raw/secret?.json"}
        ],
    }
    session, arn = _user([_allow("s3:Put*", f"arn:aws:s3:::{bucket}/raw/*"), deny], [_allow("s3:GetObj*", "*")])
    s3 = session.client("s3")
    s3.put_object(Bucket=bucket, Key="raw/open.json", Body=b"{}")  # inline wildcard action and resource
    assert s3.get_object(Bucket=bucket, Key="raw/open.json")["Body"].read() == b"{}"  # managed policy
    error = _error(lambda: s3.put_object(Bucket=bucket, Key="raw/secret1.json", Body=b"{}"))
    assert error["Code"] == "AccessDenied"
    assert error["Message"].endswith("with an explicit deny in an identity-based policy")
    s3.put_object(Bucket=bucket, Key="raw/secret10.json", Body=b"{}")  # `?` is one character
    _denied(lambda: s3.delete_object(Bucket=bucket, Key="raw/open.json"), "s3:DeleteObject", bucket, arn)


def test_conditions_the_kit_uses(stack, localaws_env) -> None:
    listing = _allow("s3:ListBucket", f"arn:aws:s3:::{stack.bucket}", Condition={"StringLike": {"s3:prefix": ["a/*"]}})
    session, arn = _user([listing])
    s3 = session.client("s3")
    s3.list_objects_v2(Bucket=stack.bucket, Prefix="a/b")
    _denied(lambda: s3.list_objects_v2(Bucket=stack.bucket, Prefix="b/"), "s3:ListBucket", stack.bucket, arn)
    _denied(lambda: s3.list_objects_v2(Bucket=stack.bucket), "s3:ListBucket", stack.bucket, arn)  # no prefix: no match


def test_bucket_policies_grant_and_deny(localaws_env) -> None:
    s3 = boto3.client("s3")
    bucket = f"policy-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    session, arn = _user([_allow("s3:PutObject", f"arn:aws:s3:::{bucket}/*")])
    statements = [
        {
            "Effect": "Allow",
            "Principal": {"AWS": arn},
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
        },
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/locked/*"},
        {  # the kit's own TLS-only statement: localaws stands in for HTTPS, so it never denies
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    ]
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    mine = session.client("s3")
    mine.put_object(Bucket=bucket, Key="open/a", Body=b"a")
    assert mine.get_object(Bucket=bucket, Key="open/a")["Body"].read() == b"a"  # granted by the bucket policy only
    error = _error(lambda: mine.put_object(Bucket=bucket, Key="locked/a", Body=b"a"))
    assert error["Message"].endswith("with an explicit deny in a resource-based policy"), error


def test_lambda_resource_policies_grant_invoke(localaws_env) -> None:
    iam, lam = boto3.client("iam"), boto3.client("lambda")
    role = iam.create_role(RoleName=f"role-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument=TRUST_POLICY)["Role"][
        "Arn"
    ]
    name = f"fn-{uuid.uuid4().hex[:8]}"
    code = zipped({"app.py": "def handler(event, context):\n    return 'ok'\n"})
    lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="app.handler", Code={"ZipFile": code}
    )
    session, arn = _user([])
    caller = session.client("lambda")
    function_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
    _denied(lambda: caller.invoke(FunctionName=name), "lambda:InvokeFunction", function_arn, arn)
    lam.add_permission(FunctionName=name, StatementId="user", Action="lambda:InvokeFunction", Principal=arn)
    assert json.loads(caller.invoke(FunctionName=name)["Payload"].read()) == "ok"


def test_a_function_runs_with_its_execution_role(stack, localaws_env) -> None:
    code = """
        import boto3

        def handler(event, context):
            identity = boto3.client("sts").get_caller_identity()["Arn"]
            try:
                boto3.client("s3").put_object(Bucket=event["bucket"], Key="raw/from-lambda.json", Body=b"{}")
                outcome = "written"
            except Exception as error:
                outcome = error.response["Error"]["Code"]
            return {"identity": identity, "raw": outcome}
    """
    name = f"fn-{uuid.uuid4().hex[:8]}"
    boto3.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=stack.role_arn("transform"),
        Handler="app.handler",
        Code={"ZipFile": zipped({"app.py": code})},
    )
    _, body = invoke(name, {"bucket": stack.bucket})
    assert body == {
        "identity": f"arn:aws:sts::{ACCOUNT}:assumed-role/{stack.role_name('transform')}/{name}",
        "raw": "AccessDenied",
    }


def test_soft_mode_logs_and_allows(tmp_path: Path, monkeypatch) -> None:
    log_path = tmp_path / "localaws.log"
    server = LocalAwsProcess(log_path=log_path, env={"LOCALAWS_IAM": "soft"})
    try:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        bucket = f"soft-{uuid.uuid4().hex[:8]}"
        boto3.client("s3").create_bucket(Bucket=bucket)
        session, arn = _user([])
        session.client("s3").put_object(Bucket=bucket, Key="k", Body=b"v")
    finally:
        server.stop()
    log = log_path.read_text()
    assert f"iam (soft): would deny: User: {arn} is not authorized to perform: s3:PutObject" in log


def test_a_bad_mode_is_a_startup_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="exit code 1"):
        LocalAwsProcess(log_path=tmp_path / "localaws.log", env={"LOCALAWS_IAM": "maybe"})
    assert "LOCALAWS_IAM must be one of enforce, soft, off" in (tmp_path / "localaws.log").read_text()


def test_iam_report_shows_used_unused_and_the_smallest_policy(stack, localaws, localaws_env) -> None:
    session, _ = _role(stack, "transform")
    s3 = session.client("s3")
    s3.put_object(Bucket=stack.bucket, Key="processed/report/part.parquet", Body=b"x")
    _error(lambda: s3.put_object(Bucket=stack.bucket, Key="raw/report.json", Body=b"{}"))
    result = subprocess.run(
        [sys.executable, "-m", "localaws", "iam-report", "--endpoint", localaws.endpoint, "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    entry = json.loads(result.stdout)["principals"][stack.role_arn("transform")]
    processed = f"arn:aws:s3:::{stack.bucket}/processed/report/part.parquet"
    assert {"action": "s3:PutObject", "resource": processed} in [
        {"action": u["action"], "resource": u["resource"]} for u in entry["used"]
    ]
    denied = {(u["action"], u["resource"]) for u in entry["denied"]}
    assert ("s3:PutObject", f"arn:aws:s3:::{stack.bucket}/raw/report.json") in denied
    assert {"sqs:SendMessage"} <= {u["action"] for u in entry["allowed_but_unused"]}  # no failure reached the DLQ
    statements = entry["smallest_policy"]["Statement"]
    assert any(
        "s3:PutObject" in s["Action"] and f"arn:aws:s3:::{stack.bucket}/processed/*" in s["Resource"]
        for s in statements
    )
    text = subprocess.run(
        [sys.executable, "-m", "localaws", "iam-report", "--endpoint", localaws.endpoint],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert "smallest sufficient policy:" in text and stack.role_arn("transform") in text
