"""localaws names each request's AWS operation from its SigV4 scope and the service's wire protocol."""

from __future__ import annotations

import pytest

from localaws.routing import identify


def _headers(signing_name: str, **extra: str) -> dict[str, str]:
    scope = f"AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/{signing_name}/aws4_request, SignedHeaders=host"
    return {"authorization": scope, **extra}


@pytest.mark.parametrize(
    ("method", "path", "query", "extra", "operation"),
    [
        ("PUT", "/bucket-1/raw/a b.json", "", {}, "PutObject"),
        ("PUT", "/bucket-1/k", "", {"x-amz-copy-source": "src/k"}, "CopyObject"),
        ("PUT", "/bucket-1/k", "partNumber=1&uploadId=2", {}, "UploadPart"),
        ("POST", "/bucket-1/k", "uploadId=2", {}, "CompleteMultipartUpload"),
        ("PUT", "/bucket-1", "notification", {}, "PutBucketNotificationConfiguration"),  # not the deprecated twin
        ("GET", "/bucket-1", "list-type=2", {}, "ListObjectsV2"),
        ("DELETE", "/bucket-1/k", "uploadId=3", {}, "AbortMultipartUpload"),
    ],
)
def test_s3_rest_xml_operations(method, path, query, extra, operation):
    route = identify(method, path, query, _headers("s3", **extra), b"")
    assert route is not None and route.operation == operation
    assert route.path_params["Bucket"] == "bucket-1"


def test_rest_json_lambda_invoke_with_its_path_parameter():
    route = identify("POST", "/2015-03-31/functions/etl-transform/invocations", "", _headers("lambda"), b"")
    assert (route.service, route.operation, route.path_params) == (
        "lambda",
        "Invoke",
        {"FunctionName": "etl-transform"},
    )


@pytest.mark.parametrize(
    ("signing_name", "target", "service", "operation"),
    [
        ("glue", "AWSGlue.StartCrawler", "glue", "StartCrawler"),
        ("athena", "AmazonAthena.StartQueryExecution", "athena", "StartQueryExecution"),
        ("tagging", "ResourceGroupsTaggingAPI_20170126.GetResources", "resourcegroupstaggingapi", "GetResources"),
    ],
)
def test_json_protocol_operations_come_from_the_target_header(signing_name, target, service, operation):
    route = identify("POST", "/", "", _headers(signing_name, **{"x-amz-target": target}), b"{}")
    assert (route.service, route.operation) == (service, operation)


def test_query_protocol_reads_the_action_from_the_body():
    route = identify("POST", "/", "", _headers("iam"), b"Action=CreateRole&Version=2010-05-08")
    assert (route.service, route.operation) == ("iam", "CreateRole")


def test_an_unsigned_request_is_not_named():
    assert identify("GET", "/bucket-1/k", "", {}, b"") is None
