"""Proactive initialization: localaws initializes one environment when a function is created or updated, as Lambda
may do for on-demand functions, so the first invocation is warm.

https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import boto3
import pytest

from kit.local_endpoint import LocalAwsProcess
from tests.conftest import point_clients_at
from tests.localaws.test_lambda_runtime import create_function, invoke, log_messages

pytestmark = pytest.mark.localaws

COUNTING = """
    print("initializing module")
    invocations = 0

    def handler(event, context):
        global invocations
        invocations += 1
        return invocations
"""


@pytest.fixture(scope="module")
def prewarming_localaws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAwsProcess]:
    server = LocalAwsProcess(log_path=tmp_path_factory.mktemp("prewarm") / "localaws.log")
    yield server
    server.stop()


@pytest.fixture
def prewarm_env(prewarming_localaws: LocalAwsProcess, monkeypatch: pytest.MonkeyPatch) -> LocalAwsProcess:
    point_clients_at(prewarming_localaws, monkeypatch)
    return prewarming_localaws


def test_a_new_function_is_initialized_before_its_first_invocation(prewarm_env):
    name = create_function(COUNTING)
    assert prewarm_env.wait_idle(60)  # the proactive INIT counts as pending work
    assert "initializing module" in log_messages(name)  # INIT output reaches the function's log stream
    response, count = invoke(name, LogType="Tail")
    assert count == 1
    assert "Init Duration" not in base64.b64decode(response["LogResult"]).decode()


def test_an_update_initializes_the_new_code(prewarm_env):
    name = create_function(COUNTING)
    assert prewarm_env.wait_idle(60)
    invoke(name)
    boto3.client("lambda").update_function_configuration(FunctionName=name, Environment={"Variables": {"V": "2"}})
    assert prewarm_env.wait_idle(60)
    response, count = invoke(name, LogType="Tail")
    assert count == 1  # a fresh environment with the new configuration, initialized ahead of the call
    assert "Init Duration" not in base64.b64decode(response["LogResult"]).decode()
