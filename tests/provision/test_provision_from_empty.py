"""From an empty account, provision builds every resource with its stated configuration and the stack's tags."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from kit.aws.glue import CRAWLER_CONFIGURATION, EXCLUSIONS
from kit.stack import load_outputs
from pipeline import config
from pipeline.config import Settings

TAGS = {"project": "serverless-etl-kit", "etl-kit-stack": "etl"}


@pytest.fixture
def built(cloud, provision_run):
    result = provision_run()
    assert result.code == 0, result.text
    return cloud.stack(), result


def test_bucket_is_private_encrypted_tls_only_and_expires_results(cloud, built):
    stack, _ = built
    s3 = cloud.client("s3")
    block = s3.get_public_access_block(Bucket=stack.bucket)["PublicAccessBlockConfiguration"]
    assert block == {name: True for name in block} and len(block) == 4
    assert s3.get_bucket_ownership_controls(Bucket=stack.bucket)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}
    ]
    rule = s3.get_bucket_encryption(Bucket=stack.bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    policy = json.loads(s3.get_bucket_policy(Bucket=stack.bucket)["Policy"])
    (deny,) = policy["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    (lifecycle,) = s3.get_bucket_lifecycle_configuration(Bucket=stack.bucket)["Rules"]
    assert lifecycle["Filter"]["Prefix"] == config.ATHENA_RESULTS_PREFIX and lifecycle["Expiration"]["Days"] == 7
    tags = {tag["Key"]: tag["Value"] for tag in s3.get_bucket_tagging(Bucket=stack.bucket)["TagSet"]}
    assert tags == TAGS


def test_log_groups_exist_up_front_with_seven_day_retention(cloud, built):
    stack, _ = built
    logs = cloud.client("logs")
    for function in stack.functions:
        (group,) = logs.describe_log_groups(logGroupNamePrefix=stack.log_group(function))["logGroups"]
        assert group["retentionInDays"] == 7
        assert logs.list_tags_for_resource(resourceArn=group["arn"].removesuffix(":*"))["tags"] == TAGS


@pytest.mark.parametrize(
    ("function", "handler", "memory", "timeout", "with_layer"),
    [
        ("etl-transform", "pipeline.lambda_transform.handler", 1024, 300, True),
        ("etl-crawler-trigger", "pipeline.lambda_crawler_trigger.handler", 256, 60, False),
    ],
)
def test_functions_have_handler_layer_environment_and_limits(
    cloud, built, function, handler, memory, timeout, with_layer
):
    stack, _ = built
    response = cloud.client("lambda").get_function(FunctionName=function)
    configuration = response["Configuration"]
    assert configuration["Handler"] == handler
    assert configuration["Runtime"] == "python3.12"
    assert configuration["Architectures"] == ["x86_64"]
    assert (configuration["MemorySize"], configuration["Timeout"]) == (memory, timeout)
    assert [layer["Arn"] for layer in configuration.get("Layers", [])] == ([cloud.layer_arn] if with_layer else [])
    expected = Settings(bucket=stack.bucket, glue_database="etl", crawler_name=stack.crawler)
    if function == stack.crawler_trigger_function:
        url = cloud.client("sqs").get_queue_url(QueueName=stack.catalog_queue)["QueueUrl"]
        expected = replace(expected, catalog_mode="partitions", catalog_queue_url=url)
    assert configuration["Environment"]["Variables"] == expected.as_env()
    assert response["Tags"] == TAGS


def test_async_invocation_retries_then_sends_to_the_dead_letter_queue(cloud, built):
    stack, _ = built
    invoke_config = cloud.client("lambda").get_function_event_invoke_config(FunctionName=stack.transform_function)
    assert invoke_config["MaximumRetryAttempts"] == 2
    assert invoke_config["MaximumEventAgeInSeconds"] == 3600
    assert invoke_config["DestinationConfig"]["OnFailure"]["Destination"] == stack.dlq_arn
    sqs = cloud.client("sqs")
    url = sqs.get_queue_url(QueueName=stack.dlq)["QueueUrl"]
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == TAGS


def test_s3_may_invoke_the_transform_only_from_this_bucket_and_account(cloud, built):
    stack, _ = built
    policy = json.loads(cloud.client("lambda").get_policy(FunctionName=stack.transform_function)["Policy"])
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == stack.bucket_arn
    assert statement["Condition"]["StringEquals"]["AWS:SourceAccount"] == stack.account


def test_the_crawler_trigger_is_not_invoked_by_s3_or_asynchronously(cloud, built):
    stack, _ = built
    lam = cloud.client("lambda")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_policy(FunctionName=stack.crawler_trigger_function)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_event_invoke_config(FunctionName=stack.crawler_trigger_function)


def test_the_catalog_queue_takes_only_this_buckets_events_and_redrives_to_its_dead_letter_queue(cloud, built):
    stack, _ = built
    sqs = cloud.client("sqs")
    url = sqs.get_queue_url(QueueName=stack.catalog_queue)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert int(attributes["VisibilityTimeout"]) == 6 * 60  # 6x the trigger's timeout (Lambda's SQS guide)
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == stack.catalog_dlq_arn and int(redrive["maxReceiveCount"]) == 100
    (statement,) = json.loads(attributes["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"} and statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {
        "ArnLike": {"aws:SourceArn": stack.bucket_arn},
        "StringEquals": {"aws:SourceAccount": stack.account},
    }
    for queue in (stack.catalog_queue, stack.catalog_dlq):
        assert sqs.list_queue_tags(QueueUrl=sqs.get_queue_url(QueueName=queue)["QueueUrl"])["Tags"] == TAGS


def test_the_trigger_takes_batches_from_the_catalog_queue_one_at_a_time(cloud, built):
    stack, _ = built
    lam = cloud.client("lambda")
    (mapping,) = lam.list_event_source_mappings(FunctionName=stack.crawler_trigger_function)["EventSourceMappings"]
    assert mapping["EventSourceArn"] == stack.catalog_queue_arn
    assert (mapping["BatchSize"], mapping["MaximumBatchingWindowInSeconds"]) == (1000, 2)
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert (
        lam.get_function_concurrency(FunctionName=stack.crawler_trigger_function)["ReservedConcurrentExecutions"] == 1
    )
    assert lam.list_tags(Resource=mapping["EventSourceMappingArn"])["Tags"] == TAGS


def test_one_notification_configuration_routes_raw_and_processed(cloud, built):
    stack, _ = built
    notification = cloud.client("s3").get_bucket_notification_configuration(Bucket=stack.bucket)
    routes = {
        (
            tuple(sorted((item["Name"].lower(), item["Value"]) for item in rule["Filter"]["Key"]["FilterRules"])),
            tuple(sorted(rule["Events"])),
        ): rule["LambdaFunctionArn"]
        for rule in notification["LambdaFunctionConfigurations"]
    } | {
        (
            tuple(sorted((item["Name"].lower(), item["Value"]) for item in rule["Filter"]["Key"]["FilterRules"])),
            tuple(sorted(rule["Events"])),
        ): rule["QueueArn"]
        for rule in notification["QueueConfigurations"]
    }
    # Every object under raw/, whatever its suffix (DATA.JSON, .txt, .bz2), created or removed: the transform decides
    # what it can read and quarantines the rest, and a removed object takes its rows with it.
    assert routes == {
        ((("prefix", config.RAW_PREFIX),), ("s3:ObjectCreated:*", "s3:ObjectRemoved:*")): stack.function_arn(
            stack.transform_function
        ),
        (
            (("prefix", config.PROCESSED_PREFIX), ("suffix", config.PARQUET_SUFFIX)),
            ("s3:ObjectCreated:*",),
        ): stack.catalog_queue_arn,
    }


def test_crawler_makes_one_table_per_dataset_folder(cloud, built):
    stack, result = built
    glue = cloud.client("glue")
    crawler = glue.get_crawler(Name=stack.crawler)["Crawler"]
    assert crawler["Role"] == stack.role_arn("crawler")
    assert crawler["DatabaseName"] == "etl"
    assert crawler["Targets"]["S3Targets"] == [{"Path": f"s3://{stack.bucket}/processed/", "Exclusions": EXCLUSIONS}]
    assert json.loads(crawler["Configuration"]) == CRAWLER_CONFIGURATION
    assert CRAWLER_CONFIGURATION["Grouping"] == {
        "TableGroupingPolicy": "CombineCompatibleSchemas",
        "TableLevelConfiguration": 3,
    }
    assert crawler["SchemaChangePolicy"] == {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "LOG"}
    assert crawler["RecrawlPolicy"] == {"RecrawlBehavior": "CRAWL_EVERYTHING"}
    assert glue.get_tags(ResourceArn=stack.crawler_arn)["Tags"] == TAGS
    assert glue.get_database(Name="etl")["Database"]["Name"] == "etl"
    assert glue.get_tags(ResourceArn=stack.glue_database_arn)["Tags"] == TAGS
    assert "schema changes: update the table in the catalog, deletions only logged" in result.text


def test_workgroup_enforces_encrypted_results_and_a_scan_cutoff(cloud, built):
    stack, _ = built
    athena = cloud.client("athena")
    configuration = athena.get_work_group(WorkGroup="etl")["WorkGroup"]["Configuration"]
    assert configuration["ResultConfiguration"] == {
        "OutputLocation": f"s3://{stack.bucket}/athena-results/",
        "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
    }
    assert configuration["EnforceWorkGroupConfiguration"] is True
    assert configuration["BytesScannedCutoffPerQuery"] == 1024 * 1024 * 1024
    assert configuration["EngineVersion"]["SelectedEngineVersion"] == "Athena engine version 3"
    tags = athena.list_tags_for_resource(ResourceARN=stack.workgroup_arn)["Tags"]
    assert {tag["Key"]: tag["Value"] for tag in tags} == TAGS


def test_roles_trust_their_service_and_carry_one_inline_policy(cloud, built):
    stack, _ = built
    iam = cloud.client("iam")
    for purpose, service in [
        ("transform", "lambda.amazonaws.com"),
        ("crawler-trigger", "lambda.amazonaws.com"),
        ("crawler", "glue.amazonaws.com"),
    ]:
        role = iam.get_role(RoleName=stack.role_name(purpose))["Role"]
        (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Service": service}
        assert {tag["Key"]: tag["Value"] for tag in role["Tags"]} == TAGS
        assert iam.list_role_policies(RoleName=stack.role_name(purpose))["PolicyNames"] == [stack.policy_name(purpose)]
        assert iam.list_attached_role_policies(RoleName=stack.role_name(purpose))["AttachedPolicies"] == []


def test_outputs_file_names_everything_the_notebooks_need(cloud, built):
    stack, result = built
    outputs = load_outputs("etl")
    assert outputs["bucket"] == stack.bucket
    assert outputs["region"] == "us-east-1" and outputs["account"] == stack.account
    assert outputs["endpoint"] is None
    assert outputs["functions"]["transform"]["arn"] == stack.function_arn("etl-transform")
    assert outputs["glue_database"] == "etl" and outputs["workgroup"] == "etl"
    assert outputs["athena_results"] == f"s3://{stack.bucket}/athena-results/"
    assert outputs["dlq"]["arn"] == stack.dlq_arn and outputs["dlq"]["url"].endswith("/etl-dlq")
    assert outputs["pandas_layer_arn"] == cloud.layer_arn
    assert outputs["prefixes"]["raw"] == "raw/"
    assert outputs["catalog"]["mode"] == "partitions" and outputs["catalog"]["queue"]["url"].endswith("/etl-catalog")
    assert "python teardown.py --stack etl" in result.text


def test_narration_numbers_steps_and_times_them(built):
    _, result = built
    assert result.lines[1].startswith("Account ")
    assert any(line.startswith("[1/16] Finding the AWS SDK for pandas layer") for line in result.lines)
    assert any(line.startswith("[16/16] Writing the outputs file") for line in result.lines)
    assert sum("done in" in line for line in result.lines) == 16
    assert "KiB zip" in result.text
