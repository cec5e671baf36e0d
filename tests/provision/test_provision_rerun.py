"""Re-running provision is safe: nothing changes unless something differs, and then only that is updated."""

from __future__ import annotations


def test_second_run_makes_no_mutating_call_and_reports_unchanged(cloud, calls, provision_run):
    assert provision_run().code == 0
    calls.clear()
    second = provision_run()
    assert second.code == 0, second.text
    assert calls.mutating() == []
    outcomes = [line for line in second.lines if line.startswith("      ") and ": " in line and "done in" not in line]
    resources = [line for line in outcomes if line.endswith(": already exists, kept")]
    # bucket, 3 queues (dead-letter, catalog, catalog dead-letter), 2 log groups, 3 roles and their 3 policies,
    # database, crawler, 2 functions, the transform's async invocation config, the trigger's reserved concurrency and
    # its queue mapping, the transform's permission, the notification configuration, the workgroup
    assert len(resources) == 22
    assert "created" not in second.text.replace("Checking/creating", "")
    assert "updated" not in second.text
    assert "(0 changes)" in second.text


def test_each_step_says_it_checks_and_each_resource_says_what_happened(cloud, provision_run):
    """A re-run used to print "Creating the bucket X…" for a bucket that existed: a step now says it checks or
    creates, and each resource line names the resource and says "created" (first run) or "already exists, kept"."""
    first = provision_run()
    assert first.code == 0, first.text
    second = provision_run()
    assert second.code == 0, second.text
    stack = cloud.stack()
    for run in (first, second):
        titles = [line for line in run.lines if line.startswith("[")]
        assert not [title for title in titles if "] Creating" in title], titles
        assert f"[3/16] Checking/creating the bucket {stack.bucket}…" in titles
        assert f"[10/16] Checking/creating the function {stack.transform_function} (a new one waits" in "\n".join(
            titles
        )
    assert f"      s3://{stack.bucket}: created" in first.lines
    assert f"      {stack.glue_database}: created" in first.lines
    assert f"      s3://{stack.bucket}: already exists, kept" in second.lines
    assert f"      {stack.glue_database}: already exists, kept" in second.lines
    assert f"      {stack.dlq}: already exists, kept" in second.lines


def test_changed_memory_updates_only_that_function_setting(cloud, calls, provision_run):
    assert provision_run().code == 0
    calls.clear()
    result = provision_run("--transform-memory", "2048")
    assert result.code == 0, result.text
    assert calls.mutating() == ["UpdateFunctionConfiguration"]
    assert "etl-transform (2048 MB, 300 s, /tmp 2048 MB): updated in place (MemorySize)" in result.text
    configuration = cloud.client("lambda").get_function_configuration(FunctionName="etl-transform")
    assert configuration["MemorySize"] == 2048


def test_changed_pipeline_code_updates_only_the_function_code(cloud, calls, provision_run, pipeline_copy):
    assert provision_run().code == 0
    before = cloud.client("lambda").get_function_configuration(FunctionName="etl-transform")["CodeSha256"]
    with (pipeline_copy / "config.py").open("a") as source:
        source.write("\n# a change to the pipeline code\n")
    calls.clear()
    result = provision_run()
    assert result.code == 0, result.text
    assert calls.mutating() == ["UpdateFunctionCode", "UpdateFunctionCode"]
    assert "updated in place (code)" in result.text
    after = cloud.client("lambda").get_function_configuration(FunctionName="etl-transform")["CodeSha256"]
    assert after != before


def test_changed_layer_is_updated_in_place(cloud, calls, provision_run):
    assert provision_run().code == 0
    calls.clear()
    result = provision_run("--pandas-layer-arn", cloud.layer_arn.rsplit(":", 1)[0] + ":1")
    assert result.code == 0, result.text
    assert calls.mutating() == []  # the same ARN given explicitly changes nothing
    assert "layer (from --pandas-layer-arn)" in result.text


def test_a_foreign_notification_rule_on_the_bucket_is_kept(cloud, provision_run):
    assert provision_run().code == 0
    stack = cloud.stack()
    s3 = cloud.client("s3")
    current = s3.get_bucket_notification_configuration(Bucket=stack.bucket)
    current.pop("ResponseMetadata")
    foreign = {
        "Id": "someone-else",
        "LambdaFunctionArn": stack.function_arn(stack.transform_function),
        "Events": ["s3:ObjectRemoved:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "other/"}]}},
    }
    current["LambdaFunctionConfigurations"].append(foreign)
    s3.put_bucket_notification_configuration(Bucket=stack.bucket, NotificationConfiguration=current)
    # Drop one of ours (the processed/ -> catalog queue rule): the re-run restores it and keeps the foreign rule
    # (one read-modify-write put).
    current.pop("QueueConfigurations")
    s3.put_bucket_notification_configuration(Bucket=stack.bucket, NotificationConfiguration=current)
    result = provision_run()
    assert "updated in place (filters)" in result.text
    restored = s3.get_bucket_notification_configuration(Bucket=stack.bucket)
    ids = {rule["Id"] for kind in ("LambdaFunctionConfigurations", "QueueConfigurations") for rule in restored[kind]}
    assert ids == {"someone-else", "etl-etl-raw", "etl-etl-processed.parquet"}


def test_a_rerun_without_catalog_keeps_the_deployed_mode(cloud, calls, provision_run):
    assert provision_run("--catalog", "crawler").code == 0
    calls.clear()
    rerun = provision_run()
    assert rerun.code == 0, rerun.text
    assert "Catalog mode crawler, as deployed (pass --catalog to change it)." in rerun.text
    assert calls.mutating() == []
    lam = cloud.client("lambda")
    variables = lam.get_function_configuration(FunctionName="etl-crawler-trigger")["Environment"]["Variables"]
    assert variables["ETL_CATALOG_MODE"] == "crawler"
    assert provision_run("--catalog", "partitions").code == 0
    variables = lam.get_function_configuration(FunctionName="etl-crawler-trigger")["Environment"]["Variables"]
    assert variables["ETL_CATALOG_MODE"] == "partitions"
