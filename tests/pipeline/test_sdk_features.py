"""The transform checks, once, that the runtime's botocore can send S3 conditional writes (IfNoneMatch >= 1.35.2,
IfMatch >= 1.35.69: https://github.com/boto/botocore/blob/develop/CHANGELOG.rst), and says so clearly if not."""

from __future__ import annotations

from types import SimpleNamespace

import boto3
import botocore.loaders
import botocore.model
import pytest

from pipeline import lambda_transform
from pipeline.sdk_features import SdkTooOld, check_conditional_writes, missing_put_object_parameters


def _client_without(*parameters: str) -> SimpleNamespace:
    """A stand-in S3 client whose PutObject model is this botocore's minus `parameters`, as an older botocore's is."""
    data = botocore.loaders.create_loader().load_service_model("s3", "service-2")
    shape = data["shapes"][data["operations"]["PutObject"]["input"]["shape"]]
    for name in parameters:
        del shape["members"][name]
    return SimpleNamespace(meta=SimpleNamespace(service_model=botocore.model.ServiceModel(data, "s3")))


def test_this_botocore_has_both_parameters():
    assert missing_put_object_parameters(boto3.client("s3", region_name="us-east-1")) == []


def test_a_botocore_without_if_match_fails_with_the_version_it_needs():
    client = _client_without("IfMatch")
    assert missing_put_object_parameters(client) == ["IfMatch"]
    with pytest.raises(SdkTooOld, match=r"botocore 1\.35\.50 cannot send .*IfMatch needs botocore >= 1\.35\.69"):
        check_conditional_writes(client, "1.35.50")


def test_a_botocore_without_either_names_both():
    with pytest.raises(SdkTooOld, match=r"IfNoneMatch needs botocore >= 1\.35\.2, IfMatch needs botocore >= 1\.35\.69"):
        check_conditional_writes(_client_without("IfNoneMatch", "IfMatch"), "1.34.0")


def test_the_lambda_checks_its_client_when_it_makes_it(monkeypatch):
    monkeypatch.setattr(lambda_transform, "_clients", {})
    monkeypatch.setattr(boto3, "client", lambda *args, **kwargs: _client_without("IfMatch"))
    with pytest.raises(SdkTooOld):
        lambda_transform.s3_client()
