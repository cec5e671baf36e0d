"""The public SSM parameters that name the AWS SDK for pandas layer, as localaws answers them.

Path format and values: https://aws-sdk-pandas.readthedocs.io/en/stable/install.html (AWS Lambda Layer, "SSM public
parameters") and https://aws-sdk-pandas.readthedocs.io/en/stable/layers.html (the per-region ARNs of each release).
"""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from localaws.ssm_parameters import find_parameter, layer_arn, parameter_names

LAYER_PARAMETER = "/aws/service/aws-sdk-pandas/{version}/{python}/{arch}/layer-arn"


@pytest.mark.parametrize(
    ("version", "python", "arch", "region", "arn"),
    [
        # rows of the 3.17.0 table in layers.rst
        (
            "3.17.0",
            "py3.12",
            "x86_64",
            "us-east-1",
            "arn:aws:lambda:us-east-1:336392948345:layer:AWSSDKPandas-Python312:29",
        ),
        (
            "3.17.0",
            "py3.12",
            "arm64",
            "us-east-1",
            "arn:aws:lambda:us-east-1:336392948345:layer:AWSSDKPandas-Python312-Arm64:29",
        ),
        (
            "3.17.0",
            "py3.13",
            "x86_64",
            "us-east-1",
            "arn:aws:lambda:us-east-1:336392948345:layer:AWSSDKPandas-Python313:14",
        ),
        (
            "3.17.0",
            "py3.12",
            "x86_64",
            "af-south-1",
            "arn:aws:lambda:af-south-1:336392948345:layer:AWSSDKPandas-Python312:28",
        ),
    ],
)
def test_layer_arn_is_the_documented_one(version, python, arch, region, arn) -> None:
    assert layer_arn(version, python, arch, region) == arn


def test_opt_in_regions_use_their_own_publishing_account() -> None:
    arn = layer_arn("3.17.0", "py3.12", "x86_64", "eu-central-2")
    assert arn is not None and ":336392948345:" not in arn


@pytest.mark.parametrize(
    "name",
    [
        "/aws/service/aws-sdk-pandas/9.9.9/py3.12/x86_64/layer-arn",  # no such release
        "/aws/service/aws-sdk-pandas/3.17.0/py3.8/x86_64/layer-arn",  # py3.8 layers ended before 3.17.0
        "/aws/service/aws-sdk-pandas/3.17.0/py3.12/x86_64",  # not a parameter
    ],
)
def test_unknown_names_are_not_found(name) -> None:
    assert find_parameter(name, "us-east-1") is None


def test_every_listed_name_resolves() -> None:
    names = parameter_names("us-east-1")
    assert LAYER_PARAMETER.format(version="3.4.0", python="py3.11", arch="x86_64") in names
    assert all(find_parameter(name, "us-east-1") is not None for name in names)


@pytest.fixture
def ssm(localaws_env: str):
    return boto3.client("ssm")


@pytest.mark.localaws
@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_get_parameter_answers_the_public_layer_parameter(ssm, arch) -> None:
    name = LAYER_PARAMETER.format(version="3.17.0", python="py3.12", arch=arch)

    parameter = ssm.get_parameter(Name=name)["Parameter"]

    suffix = "-Arm64" if arch == "arm64" else ""
    assert parameter["Value"] == f"arn:aws:lambda:us-east-1:336392948345:layer:AWSSDKPandas-Python312{suffix}:29"
    assert parameter["Name"] == name
    assert parameter["Type"] == "String"
    assert parameter["DataType"] == "text"
    assert parameter["ARN"] == f"arn:aws:ssm:us-east-1::parameter{name}"  # public parameters carry no account


@pytest.mark.localaws
def test_get_parameter_is_regional(localaws_env: str) -> None:
    name = LAYER_PARAMETER.format(version="3.17.0", python="py3.12", arch="x86_64")

    value = boto3.client("ssm", region_name="eu-west-1").get_parameter(Name=name)["Parameter"]["Value"]

    assert value.startswith("arn:aws:lambda:eu-west-1:336392948345:layer:AWSSDKPandas-Python312:")


@pytest.mark.localaws
def test_missing_layer_parameter_is_parameter_not_found(ssm) -> None:
    name = LAYER_PARAMETER.format(version="9.9.9", python="py3.12", arch="x86_64")

    with pytest.raises(ClientError) as raised:
        ssm.get_parameter(Name=name)

    assert raised.value.response["Error"]["Code"] == "ParameterNotFound"


@pytest.mark.localaws
def test_get_parameters_mixes_public_and_own_parameters(ssm) -> None:
    own = "/localaws-test/ssm-layer/setting"
    ssm.put_parameter(Name=own, Value="kept by moto", Type="String", Overwrite=True)
    public = LAYER_PARAMETER.format(version="3.16.0", python="py3.13", arch="x86_64")
    missing = LAYER_PARAMETER.format(version="3.16.0", python="py3.99", arch="x86_64")

    answer = ssm.get_parameters(Names=[own, public, missing, "/localaws-test/none"])

    values = {p["Name"]: p["Value"] for p in answer["Parameters"]}
    assert values[own] == "kept by moto"
    assert values[public].startswith("arn:aws:lambda:us-east-1:336392948345:layer:AWSSDKPandas-Python313:")
    assert sorted(answer["InvalidParameters"]) == sorted([missing, "/localaws-test/none"])


@pytest.mark.localaws
def test_get_parameters_by_path_lists_a_release(ssm) -> None:
    pages = ssm.get_paginator("get_parameters_by_path").paginate(
        Path="/aws/service/aws-sdk-pandas/3.17.0", Recursive=True
    )

    names = [p["Name"] for page in pages for p in page["Parameters"]]

    expected = {
        LAYER_PARAMETER.format(version="3.17.0", python=f"py3.{minor}", arch=arch)
        for minor in (10, 11, 12, 13, 14)
        for arch in ("x86_64", "arm64")
    }
    assert set(names) == expected and len(names) == len(expected)


@pytest.mark.localaws
def test_get_parameters_by_path_is_not_recursive_by_default(ssm) -> None:
    direct = ssm.get_parameters_by_path(Path="/aws/service/aws-sdk-pandas/3.17.0/py3.12/x86_64")["Parameters"]
    above = ssm.get_parameters_by_path(Path="/aws/service/aws-sdk-pandas/3.17.0")["Parameters"]

    assert [p["Name"] for p in direct] == [LAYER_PARAMETER.format(version="3.17.0", python="py3.12", arch="x86_64")]
    assert above == []
