"""The AWS SDK for pandas layer's facts: one data file, with its sources, and the release each layer ARN comes from."""

from __future__ import annotations

from localaws import ssm_parameters
from localaws.lambda_runtime import pandas_layer


def test_the_facts_cite_the_build_script_and_list_only_snappy_and_gzip():
    facts = pandas_layer.facts()
    assert "building/lambda/build-lambda-layer.sh" in facts["sources"]["build_script"]
    assert "aws-sdk-pandas/issues/2445" in facts["sources"]["codec_issue"]
    for release in facts["releases"].values():
        assert release["codecs_built"] == ["snappy", "gzip"]
        off = {flag for flag, value in release["cmake_flags"].items() if value == "OFF"}
        assert off == {"ARROW_WITH_ZSTD", "ARROW_WITH_LZ4", "ARROW_WITH_BROTLI", "ARROW_WITH_BZ2"}
        assert {"boto3", "botocore"} <= set(release["removed_packages"])


def test_a_layer_arn_resolves_to_its_release():
    assert (
        ssm_parameters.release_of("arn:aws:lambda:us-east-1:336392948345:layer:AWSSDKPandas-Python312:27") == "3.16.1"
    )
    assert (
        pandas_layer.release_facts("arn:aws:lambda:us-east-1:336392948345:layer:AWSSDKPandas-Python312:27")[
            "arrow_version"
        ]
        == "22.0.0"
    )
    assert ssm_parameters.release_of("arn:aws:lambda:us-east-1:123456789012:layer:mine:1") is None
    unknown = pandas_layer.release_facts("arn:aws:lambda:us-east-1:336392948345:layer:AWSSDKPandas-Python312:999")
    assert unknown["release"] == pandas_layer.facts()["default_release"]
