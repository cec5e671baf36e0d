"""Safety: dry runs change nothing, no credentials means no call, and any failed step is named and resumable."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError
from provision_helpers import provision, run_script


def test_dry_run_on_an_empty_account_makes_no_mutating_call(cloud, calls, provision_run):
    result = provision_run("--dry-run")
    assert result.code == 0, result.text
    assert calls.mutating() == []
    assert "Dry run: nothing will be created or changed." in result.text
    assert "bucket s3://etl-123456789012-us-east-1: would be created" in result.text
    assert "function etl-transform: would be created" in result.text
    assert cloud.client("s3").list_buckets()["Buckets"] == []


def test_missing_credentials_stop_before_any_call(cloud, calls, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = run_script(provision.main)
    assert result.code == 2
    assert "No AWS credentials found, so nothing was called." in result.text
    assert "aws configure" in result.text and "AWS_PROFILE" in result.text and "make demo" in result.text
    assert calls.all() == []


def test_unknown_profile_names_the_choices(cloud, calls):
    result = run_script(provision.main, "--profile", "no-such-profile")
    assert result.code == 2
    assert "no-such-profile" in result.text and "aws configure" in result.text
    assert calls.all() == []


def test_region_defaults_to_us_east_1_when_nothing_names_one(cloud, monkeypatch):
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    result = run_script(provision.main, "--dry-run")
    assert "Stack etl in us-east-1 (region from default (set AWS_REGION or --region to change it))" in result.text


def test_invalid_stack_name_is_refused_before_any_call(cloud, calls):
    result = run_script(provision.main, "--stack", "Bad_Name")
    assert result.code == 2
    assert "stack name 'Bad_Name'" in result.text
    assert calls.all() == []


def test_missing_pandas_layer_fails_early_with_the_parameter_name(cloud, calls):
    result = run_script(provision.main, "--pandas-layer-version", "0.0.0")
    assert result.code == 1
    assert "No AWS SDK for pandas layer found in us-east-1 for python3.12 x86_64" in result.text
    assert "/aws/service/aws-sdk-pandas/0.0.0/py3.12/x86_64/layer-arn" in result.text
    assert "--pandas-layer-arn" in result.text
    assert calls.mutating() == []


def test_access_denied_names_action_resource_and_permission(cloud, calls):
    message = (
        "User: arn:aws:iam::123456789012:user/student is not authorized to perform: iam:CreateRole on resource: "
        "arn:aws:iam::123456789012:role/etl-transform-role because no identity-based policy allows the "
        "iam:CreateRole action"
    )
    calls.fail_on = ("CreateRole", ClientError({"Error": {"Code": "AccessDenied", "Message": message}}, "CreateRole"))
    result = run_script(provision.main)
    assert result.code == 1
    assert "Access denied at step 7/16 (Checking/creating the IAM roles (least privilege))" in result.text
    assert "needs the IAM permission iam:CreateRole on arn:aws:iam::123456789012:role/etl-transform-role" in (
        result.text
    )


# A first-run call in every step that changes something (and two that fail half-way through a step).
FAILURE_POINTS = [
    ("CreateBucket", "3/16 (Checking/creating the bucket"),
    ("PutBucketPolicy", "3/16 (Checking/creating the bucket"),
    ("CreateQueue", "4/16 (Checking/creating the dead-letter queue"),
    ("GetQueueAttributes", "4/16 (Checking/creating the dead-letter queue"),
    ("CreateLogGroup", "6/16 (Checking/creating the log groups"),
    ("CreateRole", "7/16 (Checking/creating the IAM roles"),
    ("CreateDatabase", "8/16 (Checking/creating the Glue database"),
    ("CreateCrawler", "9/16 (Checking/creating the Glue crawler"),
    ("CreateFunction", "10/16 (Checking/creating the function etl-transform"),
    ("PutFunctionEventInvokeConfig", "10/16 (Checking/creating the function etl-transform"),
    ("PutFunctionConcurrency", "11/16 (Checking/creating the function etl-crawler-trigger"),
    ("CreateEventSourceMapping", "12/16 (Mapping etl-catalog to etl-crawler-trigger"),
    ("AddPermission", "13/16 (Allowing S3 to invoke etl-transform"),
    ("PutBucketNotificationConfiguration", "14/16 (Writing the notification configuration"),
    ("CreateWorkGroup", "15/16 (Checking/creating the Athena workgroup"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("operation", "step"), FAILURE_POINTS, ids=[op for op, _ in FAILURE_POINTS])
def test_a_failure_at_each_step_is_named_and_a_rerun_completes(cloud, calls, provision_run, operation, step):
    injected = ClientError({"Error": {"Code": "InternalFailure", "Message": "injected failure"}}, operation)
    calls.fail_on = (operation, injected)
    failed = provision_run()
    assert failed.code == 1
    assert f"Failed at step {step}" in failed.text
    assert f"{operation} returned InternalFailure: injected failure" in failed.text
    assert "re-run `.venv/bin/python provision.py`; it resumes from this step" in failed.text
    rerun = provision_run()
    assert rerun.code == 0, rerun.text
    assert "Stack etl ready" in rerun.text
    # It resumed: nothing the failed run created is created again.
    created_before = _created(failed.lines)
    assert not created_before & _created(rerun.lines)


def _created(lines: list[str]) -> set[str]:
    return {line.strip().rsplit(": ", 1)[0] for line in lines if line.endswith(": created")}


@pytest.mark.slow
@pytest.mark.parametrize("operation", ["DeleteFunction", "DeleteCrawler", "DeleteBucket", "DeleteRole"])
def test_a_teardown_failure_is_named_and_a_rerun_completes(cloud, calls, provision_run, teardown_run, operation):
    assert provision_run().code == 0
    calls.fail_on = (operation, ClientError({"Error": {"Code": "InternalFailure", "Message": "x"}}, operation))
    failed = teardown_run("--yes")
    assert failed.code == 1
    assert "Failed at step" in failed.text and "teardown.py" in failed.text
    rerun = teardown_run("--yes")
    assert rerun.code == 0, rerun.text
    assert "nothing tagged etl-kit-stack=etl remains" in rerun.text


def test_an_account_that_cannot_reserve_concurrency_bounds_the_trigger_by_its_queue_mapping(
    cloud, calls, provision_run
):
    """A new account's quota of 10 is all unreserved minimum, so PutFunctionConcurrency is refused; provision goes on
    and caps the mapping at its minimum maximum concurrency, 2, instead."""
    message = (
        "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution "
        "below its minimum value of [10]."
    )
    error = ClientError({"Error": {"Code": "InvalidParameterValueException", "Message": message}}, "x")
    calls.fail_on = ("PutFunctionConcurrency", error)
    result = provision_run()
    assert result.code == 0, result.text
    assert "reserved concurrency 1: not reserved" in result.text
    lam = cloud.client("lambda")
    (mapping,) = lam.list_event_source_mappings(FunctionName="etl-crawler-trigger")["EventSourceMappings"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 2}
    # Once the account can spare it, a re-run reserves the concurrency and removes the fallback (a mapping maximum
    # of 2 above a reservation of 1 would only have Lambda's poller throttled); the run after that changes nothing.
    calls.fail_on = None
    calls.clear()
    rerun = provision_run()
    assert rerun.code == 0, rerun.text
    assert calls.mutating() == ["PutFunctionConcurrency", "UpdateEventSourceMapping"]
    assert "reserved concurrency 1: created" in rerun.text
    assert "no maximum concurrency: reserved concurrency 1 bounds it): updated in place (ScalingConfig)" in rerun.text
    assert lam.get_function_concurrency(FunctionName="etl-crawler-trigger")["ReservedConcurrentExecutions"] == 1
    (mapping,) = lam.list_event_source_mappings(FunctionName="etl-crawler-trigger")["EventSourceMappings"]
    assert not mapping.get("ScalingConfig")
    calls.clear()
    assert provision_run().code == 0
    assert calls.mutating() == []


def test_ready_in_counts_from_before_the_session_and_the_identity_check(cloud, monkeypatch):
    """`make demo` timed provision.py at 2.96 s while it said "ready in 2.1 s": the clock started after the AWS
    session and sts:GetCallerIdentity, which take most of a second."""
    checked: list[float] = []
    narrators: list[provision.Narrator] = []
    check = provision.check_credentials

    def timed_check(session):
        checked.append(time.monotonic())
        return check(session)

    class RecordingNarrator(provision.Narrator):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            narrators.append(self)

    monkeypatch.setattr(provision, "check_credentials", timed_check)
    monkeypatch.setattr(provision, "Narrator", RecordingNarrator)
    assert run_script(provision.main, "--dry-run").code == 0
    assert narrators[0].started <= checked[0]
