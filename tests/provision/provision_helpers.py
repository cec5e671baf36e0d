"""Helpers for provision/teardown tests: moto in-process, the pandas layer's public SSM parameter, a call log."""

from __future__ import annotations

import datetime
import importlib.util
import io
import sys
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ssm.models import Parameter, ssm_backends

import kit.packaging
import kit.session
from kit.aws.ssm import DEFAULT_PANDAS_LAYER_VERSION, pandas_layer_parameter
from kit.stack import ROOT, Stack


def load_script(name: str) -> ModuleType:
    """The top-level scripts are files, not package modules; load them by path (tests/provision shadows the name)."""
    spec = importlib.util.spec_from_file_location(f"{name}_script", ROOT / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


provision = load_script("provision")
teardown = load_script("teardown")
ACCOUNT = DEFAULT_ACCOUNT_ID
REGION = "us-east-1"


def put_public_parameter(name: str, value: str, region: str = REGION) -> None:
    """AWS publishes /aws/service/... parameters itself; moto refuses them through the API, so seed its backend."""
    ssm_backends[ACCOUNT][region]._parameters[name].append(
        Parameter(
            account_id=ACCOUNT,
            name=name,
            value=value,
            parameter_type="String",
            description=None,
            allowed_pattern=None,
            keyid=None,
            last_modified_date=datetime.datetime.now(datetime.UTC),
            version=1,
            data_type="text",
        )
    )


def publish_stand_in_layer(region: str = REGION) -> str:
    """moto refuses layer ARNs of other accounts (AWS's is 336392948345), so the test account publishes one."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("python/README.txt", "stand-in for the AWS SDK for pandas layer")
    response = boto3.client("lambda", region_name=region).publish_layer_version(
        LayerName="AWSSDKPandas-Python312", Content={"ZipFile": buffer.getvalue()}, CompatibleRuntimes=["python3.12"]
    )
    return response["LayerVersionArn"]


@dataclass
class Calls:
    """Every API call of every kit session (recorded by the before-call botocore event hook in kit.session)."""

    logs: list[kit.session.CallLog] = field(default_factory=list)
    fail_on: tuple[str, ClientError] | None = None

    def all(self) -> list[tuple[str, str]]:
        return [(service, operation) for log in self.logs for service, operation, _ in log.calls]

    def mutating(self) -> list[str]:
        return [operation for log in self.logs for _, operation in log.mutating()]

    def clear(self) -> None:
        self.logs.clear()


@dataclass
class Cloud:
    layer_arn: str
    stacks_dir: Path

    @staticmethod
    def client(service: str):
        return boto3.client(service, region_name=REGION)

    @staticmethod
    def stack(name: str = "etl") -> Stack:
        return Stack(name, ACCOUNT, REGION)


@contextmanager
def mocked_cloud(monkeypatch: pytest.MonkeyPatch, stacks_dir: Path) -> Iterator[Cloud]:
    monkeypatch.setenv("KIT_STACKS_DIR", str(stacks_dir))
    with mock_aws():
        layer_arn = publish_stand_in_layer()
        put_public_parameter(pandas_layer_parameter(DEFAULT_PANDAS_LAYER_VERSION, "python3.12", "x86_64"), layer_arn)
        yield Cloud(layer_arn, stacks_dir)


@dataclass
class Run:
    code: int
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def run_script(main: Callable, *argv: str, **kwargs) -> Run:
    lines: list[str] = []
    code = main(list(argv), out=lines.append, **kwargs)
    return Run(code, lines)


FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_SESSION_TOKEN": "test",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
