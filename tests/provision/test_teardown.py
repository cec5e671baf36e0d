"""teardown.py removes everything provision built, in reverse order, idempotently, one stack at a time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError
from provision_helpers import FAKE_CREDENTIALS, Cloud, mocked_cloud, provision, run_script, teardown

from kit.stack import outputs_path


def _gone(call, *codes: str) -> bool:
    try:
        call()
    except ClientError as error:
        return error.response["Error"]["Code"] in codes
    return False


def _workgroup_gone(athena) -> bool:
    try:
        return not athena.get_work_group(WorkGroup="etl").get("WorkGroup")
    except ClientError as error:
        return error.response["Error"]["Code"] == "InvalidRequestException"


RESOURCE_GONE = {
    "bucket": lambda c, s: _gone(lambda: c("s3").head_bucket(Bucket=s.bucket), "404", "NoSuchBucket"),
    "transform function": lambda c, s: _gone(
        lambda: c("lambda").get_function(FunctionName=s.transform_function), "ResourceNotFoundException"
    ),
    "crawler-trigger function": lambda c, s: _gone(
        lambda: c("lambda").get_function(FunctionName=s.crawler_trigger_function), "ResourceNotFoundException"
    ),
    "log groups": lambda c, s: c("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/etl-")["logGroups"] == [],
    "dead-letter queue": lambda c, s: _gone(
        lambda: c("sqs").get_queue_url(QueueName=s.dlq), "AWS.SimpleQueueService.NonExistentQueue"
    ),
    "catalog queue": lambda c, s: _gone(
        lambda: c("sqs").get_queue_url(QueueName=s.catalog_queue), "AWS.SimpleQueueService.NonExistentQueue"
    ),
    "catalog dead-letter queue": lambda c, s: _gone(
        lambda: c("sqs").get_queue_url(QueueName=s.catalog_dlq), "AWS.SimpleQueueService.NonExistentQueue"
    ),
    "queue mapping": lambda c, s: (
        c("lambda").list_event_source_mappings(EventSourceArn=s.catalog_queue_arn)["EventSourceMappings"] == []
    ),
    "crawler": lambda c, s: _gone(lambda: c("glue").get_crawler(Name=s.crawler), "EntityNotFoundException"),
    "database": lambda c, s: _gone(lambda: c("glue").get_database(Name="etl"), "EntityNotFoundException"),
    "workgroup": lambda c, s: _workgroup_gone(c("athena")),
    "roles": lambda c, s: all(
        _gone(lambda p=p: c("iam").get_role(RoleName=s.role_name(p)), "NoSuchEntity") for p in s.role_purposes
    ),
    "crawler log stream": lambda c, s: (
        c("logs").describe_log_streams(logGroupName="/aws-glue/crawlers", logStreamNamePrefix=s.crawler)["logStreams"]
        == []
    ),
    "another stack's crawler log stream (kept)": lambda c, s: (
        len(
            c("logs").describe_log_streams(logGroupName="/aws-glue/crawlers", logStreamNamePrefix="other-")[
                "logStreams"
            ]
        )
        == 1
    ),
    "outputs file": lambda c, s: not outputs_path("etl").exists(),
}


def _add_data(cloud) -> None:
    """What a used stack holds: versioned objects with delete markers, and a crawled table with partitions."""
    stack = cloud.stack()
    s3, glue = cloud.client("s3"), cloud.client("glue")
    # moto applies bucket policies without their conditions, so the TLS-only Deny would refuse these HTTPS writes;
    # real S3 (and localaws) evaluate aws:SecureTransport. Teardown does not depend on the policy.
    s3.delete_bucket_policy(Bucket=stack.bucket)
    # Keys outside the notification filters: moto would try to run the function in Docker.
    s3.put_bucket_versioning(Bucket=stack.bucket, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"one", b"two"):
        s3.put_object(Bucket=stack.bucket, Key="processed/orders/dt=2024-06-01/part.bin", Body=body)
    s3.delete_object(Bucket=stack.bucket, Key="processed/orders/dt=2024-06-01/part.bin")
    columns = {"Columns": [{"Name": "id", "Type": "bigint"}], "Location": f"s3://{stack.bucket}/processed/orders/"}
    glue.create_table(
        DatabaseName="etl",
        TableInput={
            "Name": "orders",
            "StorageDescriptor": columns,
            "PartitionKeys": [{"Name": "dt", "Type": "string"}],
        },
    )
    glue.batch_create_partition(
        DatabaseName="etl",
        TableName="orders",
        PartitionInputList=[{"Values": ["2024-06-01"], "StorageDescriptor": columns}],
    )
    # A crawl logs to a stream named after its crawler in the account's shared /aws-glue/crawlers group.
    logs = cloud.client("logs")
    if not logs.describe_log_groups(logGroupNamePrefix="/aws-glue/crawlers")["logGroups"]:
        logs.create_log_group(logGroupName="/aws-glue/crawlers")
    for crawler in (stack.crawler, "other-processed-crawler"):
        if not logs.describe_log_streams(logGroupName="/aws-glue/crawlers", logStreamNamePrefix=crawler)["logStreams"]:
            logs.create_log_stream(logGroupName="/aws-glue/crawlers", logStreamName=crawler)


@pytest.fixture
def torn_down(cloud, provision_run, teardown_run):
    assert provision_run().code == 0
    _add_data(cloud)
    result = teardown_run("--yes")
    assert result.code == 0, result.text
    return result


@pytest.fixture(scope="module")
def torn_down_once(tmp_path_factory) -> Iterator[Cloud]:
    """One provision + use + teardown shared by the per-resource checks (each check only reads)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, value in FAKE_CREDENTIALS.items():
            monkeypatch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
            monkeypatch.delenv(name, raising=False)
        with mocked_cloud(monkeypatch, tmp_path_factory.mktemp("stacks")) as cloud:
            assert run_script(provision.main).code == 0
            _add_data(cloud)
            result = run_script(teardown.main, "--yes")
            assert result.code == 0, result.text
            yield cloud


@pytest.mark.parametrize("resource", list(RESOURCE_GONE))
def test_every_resource_is_gone(torn_down_once, resource):
    assert RESOURCE_GONE[resource](torn_down_once.client, torn_down_once.stack())


def test_nothing_tagged_with_the_stack_remains(cloud, torn_down):
    tagging = cloud.client("resourcegroupstaggingapi")
    left = tagging.get_resources(TagFilters=[{"Key": "etl-kit-stack", "Values": ["etl"]}])["ResourceTagMappingList"]
    assert left == []
    assert "nothing tagged etl-kit-stack=etl remains" in torn_down.text
    assert "3 object versions and delete markers deleted" in torn_down.text
    assert "1 tables, 1 partitions deleted" in torn_down.text


def test_steps_run_in_the_reverse_order_of_provision(torn_down):
    titles = [line.split("] ", 1)[1].rstrip("…") for line in torn_down.lines if line.startswith("[")]
    assert [title.split()[0:3] for title in titles] == [
        ["Removing", "the", "notification"],
        ["Removing", "S3's", "permission"],
        ["Removing", "the", "mapping"],
        ["Deleting", "the", "functions,"],
        ["Deleting", "the", "log"],
        ["Deleting", "the", "queues"],
        ["Deleting", "the", "crawler"],
        ["Deleting", "the", "tables"],
        ["Deleting", "the", "Glue"],
        ["Deleting", "the", "Athena"],
        ["Deleting", "every", "object"],
        ["Deleting", "the", "bucket"],
        ["Deleting", "the", "roles'"],
        ["Deleting", "the", "roles"],
    ]


def test_second_teardown_is_harmless(cloud, torn_down, teardown_run, calls):
    calls.clear()
    again = teardown_run("--yes")
    assert again.code == 0, again.text
    assert calls.mutating() == []
    assert "nothing tagged etl-kit-stack=etl remains" in again.text


def test_teardown_finds_the_stack_without_its_outputs_file(cloud, provision_run, teardown_run):
    assert provision_run().code == 0
    outputs_path("etl").unlink()
    result = teardown_run("--yes")
    assert result.code == 0, result.text
    assert RESOURCE_GONE["bucket"](cloud.client, cloud.stack())
    assert RESOURCE_GONE["roles"](cloud.client, cloud.stack())


def test_two_stacks_are_independent(cloud, provision_run, teardown_run):
    assert provision_run("--stack", "alice").code == 0
    assert provision_run("--stack", "bob").code == 0
    result = teardown_run("--stack", "alice", answer="alice")
    assert result.code == 0, result.text
    bob = cloud.stack("bob")
    assert cloud.client("s3").head_bucket(Bucket=bob.bucket)
    assert cloud.client("lambda").get_function(FunctionName="bob-transform")
    assert cloud.client("glue").get_crawler(Name=bob.crawler)
    assert outputs_path("bob").exists() and not outputs_path("alice").exists()
    again = provision_run("--stack", "bob")
    assert "(0 changes)" in again.text


def test_wrong_confirmation_deletes_nothing(cloud, provision_run, teardown_run, calls):
    assert provision_run().code == 0
    calls.clear()
    result = teardown_run(answer="yes")
    assert result.code == 1
    assert "Not confirmed; nothing deleted." in result.text
    assert calls.mutating() == []


def test_all_lists_every_stack_by_tag_and_removes_them_after_asking(cloud, provision_run, teardown_run):
    assert provision_run("--stack", "alice").code == 0
    assert provision_run("--stack", "bob").code == 0
    outputs_path("bob").unlink()  # found by its tags alone
    result = teardown_run("--all", answer="all")
    assert result.code == 0, result.text
    assert "Stack alice in account" in result.text and "Stack bob in account" in result.text
    for name in ("alice", "bob"):
        assert RESOURCE_GONE["bucket"](cloud.client, cloud.stack(name))


def test_dry_run_lists_resources_and_deletes_nothing(cloud, provision_run, teardown_run, calls):
    assert provision_run().code == 0
    calls.clear()
    result = teardown_run("--dry-run")
    assert result.code == 0
    assert calls.mutating() == []
    assert "bucket s3://etl-123456789012-us-east-1" in result.text and "Dry run: nothing deleted." in result.text
