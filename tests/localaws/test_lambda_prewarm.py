"""Proactive initialization: localaws initializes one environment when a function is created or updated, as Lambda
may do for on-demand functions, so the first invocation is warm.

https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html
"""

from __future__ import annotations

import base64
import json
import os
import threading
import urllib.request
from collections.abc import Iterator

import boto3
import pytest

from kit.local_endpoint import LocalAwsProcess
from kit.waiting import wait_until
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


GATED = """
    import os

    with open(os.environ["GATE"]) as gate:  # a FIFO: INIT waits here until the test lets it go on
        gate.read()

    def handler(event, context):
        return "ran"
"""


def running(endpoint: str, name: str) -> str:
    with urllib.request.urlopen(f"{endpoint}/_localaws/lambda-concurrency") as response:
        functions = json.load(response)["Functions"]
    count = sum(entry["Running"] for key, entry in functions.items() if key.endswith(f"/{name}"))
    return "running" if count else "waiting"


def test_an_invocation_during_the_proactive_init_takes_that_environment_over(prewarm_env, tmp_path):
    # A burst arriving while the proactive INIT runs must not start one environment more than its concurrency:
    # the invocation waits for the environment already initializing, whose INIT is not a cold start of its own.
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    name = create_function(GATED, Environment={"Variables": {"GATE": str(gate)}})
    results: list[tuple[dict, object]] = []
    caller = threading.Thread(target=lambda: results.append(invoke(name, LogType="Tail")))
    caller.start()
    wait_until(
        lambda: running(prewarm_env.endpoint, name),
        what="the invocation",
        success={"running"},
        timeout=60,
        interval=0.05,
        max_interval=0.2,
    )
    with open(gate, "w"):  # the proactive INIT reads end of file and goes on
        pass
    caller.join(120)
    response, result = results[0]
    assert result == "ran"
    assert "Init Duration" not in base64.b64decode(response["LogResult"]).decode()
    streams = boto3.client("logs").describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
    assert len(streams) == 1  # one environment, one log stream
