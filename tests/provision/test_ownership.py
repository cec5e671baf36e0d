"""Provision and teardown touch only the stack's own resources: those tagged etl-kit-stack=<stack>.

Reserved names are refused before anything is called: Athena's `primary` workgroup
(https://docs.aws.amazon.com/athena/latest/ug/workgroups-create-update-delete.html), the Data Catalog's `default`
database, and bucket prefixes S3 reserves (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
"""

from __future__ import annotations

import pytest

from kit.stack import StackNameError, validate_stack_name


@pytest.mark.parametrize("name", ["primary", "default", "sthree", "sthree-lab", "amzn-s3-demo"])
def test_reserved_stack_names_are_refused(name):
    with pytest.raises(StackNameError, match=r"reserved|reserves"):
        validate_stack_name(name)


@pytest.mark.parametrize("script", ["provision", "teardown"])
@pytest.mark.parametrize("name", ["primary", "default"])
def test_the_scripts_refuse_a_reserved_name_before_any_call(cloud, calls, provision_run, teardown_run, script, name):
    run = provision_run if script == "provision" else teardown_run
    result = run("--stack", name, "--yes") if script == "teardown" else run("--stack", name)
    assert result.code == 2
    assert "is reserved" in result.text
    assert calls.all() == []


def test_provision_refuses_to_adopt_an_untagged_queue_with_the_stack_s_name(cloud, calls, provision_run):
    cloud.client("sqs").create_queue(QueueName="etl-dlq")
    result = provision_run()
    assert result.code == 2
    assert "queue etl-dlq (untagged)" in result.text and "not tagged etl-kit-stack=etl" in result.text
    assert "CreateBucket" not in calls.mutating()  # it stopped before building anything


def test_provision_refuses_another_stack_s_resource(cloud, provision_run):
    cloud.client("athena").create_work_group(Name="etl", Tags=[{"Key": "etl-kit-stack", "Value": "other"}])
    result = provision_run()
    assert result.code == 2
    assert "workgroup etl (etl-kit-stack=other)" in result.text


def test_an_empty_untagged_bucket_left_by_an_interrupted_run_is_adopted(cloud, provision_run):
    stack = cloud.stack()
    cloud.client("s3").create_bucket(Bucket=stack.bucket)
    assert provision_run().code == 0
    tags = cloud.client("s3").get_bucket_tagging(Bucket=stack.bucket)["TagSet"]
    assert {"Key": "etl-kit-stack", "Value": "etl"} in tags


def test_an_untagged_bucket_holding_data_is_not_adopted(cloud, provision_run):
    stack = cloud.stack()
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket=stack.bucket)
    s3.put_object(Bucket=stack.bucket, Key="someone-else.txt", Body=b"keep me")
    result = provision_run()
    assert result.code == 2
    assert f"bucket s3://{stack.bucket} (untagged)" in result.text


def test_teardown_leaves_a_resource_that_is_not_the_stack_s_alone(cloud, provision_run, teardown_run):
    assert provision_run().code == 0
    logs = cloud.client("logs")
    group = "/aws/lambda/etl-crawler-trigger"
    arn = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["arn"].removesuffix(":*")
    logs.untag_resource(resourceArn=arn, tagKeys=["etl-kit-stack"])  # now it is someone else's log group
    result = teardown_run("--yes")
    assert result.code == 0, result.text
    assert f"{group}: not tagged as this stack's: left alone" in result.text
    assert [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]] == [group]
    assert cloud.client("lambda").list_functions()["Functions"] == []  # the stack's own resources are gone
