"""One error boundary for every script: a stopped endpoint, missing or expired credentials, AccessDenied or a missing
region ends as one line naming the next step and a non-zero exit code, never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    TokenRetrievalError,
)
from provision_helpers import provision, run_script, teardown

from kit import lab
from kit.errors import ENVIRONMENT_EXIT_CODE, script_boundary
from kit.stack import ROOT


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released), so a connection is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _script_env(endpoint: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_REGION="us-east-1",
        AWS_MAX_ATTEMPTS="1",  # a refused connection is not retried: the test waits on nothing
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    )
    return env


@pytest.mark.parametrize("script", ["provision.py", "teardown.py"])
def test_a_stopped_endpoint_is_one_line_naming_make_localaws(script, tmp_path):
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    env = {**_script_env(endpoint), "KIT_STACKS_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, script, "--yes"] if script == "teardown.py" else [sys.executable, script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == ENVIRONMENT_EXIT_CODE, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and done.stderr == ""
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith(f"Nothing answers at AWS_ENDPOINT_URL={endpoint}")
    assert "`make localaws`" in last and "check AWS_ENDPOINT_URL" in last


def test_the_lab_on_a_stopped_endpoint_says_start_localaws(capsys):
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    assert lab.main(["--endpoint", endpoint, "--no-browser"]) == 2
    assert "make localaws" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("ExpiredToken", "(ExpiredToken: they are expired or invalid)"),
        ("InvalidClientTokenId", "`aws configure`"),
        ("UnrecognizedClientException", "`aws sso login`"),
    ],
)
def test_expired_or_invalid_credentials_name_aws_configure(cloud, calls, code, expected):
    calls.fail_on = ("GetCallerIdentity", ClientError({"Error": {"Code": code, "Message": "x"}}, "GetCallerIdentity"))
    result = run_script(provision.main)
    assert result.code != 0
    assert expected in result.lines[-1]
    assert calls.mutating() == []


def test_expired_credentials_mid_teardown_are_one_line(cloud, calls, provision_run, teardown_run):
    assert provision_run().code == 0
    error = ClientError({"Error": {"Code": "ExpiredTokenException", "Message": "x"}}, "DeleteFunction")
    calls.fail_on = ("DeleteFunction", error)
    result = teardown_run("--yes")
    assert result.code != 0
    assert result.lines[-1].startswith("AWS refused your credentials at step 4/14")


def test_access_denied_on_the_first_call_is_one_line_with_the_permission(cloud, calls):
    message = (
        "User: arn:aws:iam::123456789012:user/s is not authorized to perform: sts:GetCallerIdentity on resource: *"
    )
    calls.fail_on = (
        "GetCallerIdentity",
        ClientError({"Error": {"Code": "AccessDenied", "Message": message}}, "GetCallerIdentity"),
    )
    result = run_script(teardown.main, "--yes")
    assert result.code != 0
    assert len(result.lines[-1].splitlines()) == 1
    assert "needs the IAM permission sts:GetCallerIdentity" in result.lines[-1]
    assert "docs/classroom.md" in result.lines[-1]


@pytest.mark.parametrize(
    ("error", "next_step"),
    [
        (NoCredentialsError(), "`aws configure`"),
        (NoRegionError(), "AWS_REGION"),
        (TokenRetrievalError(provider="sso", error_msg="expired"), "`aws sso login`"),
        (EndpointConnectionError(endpoint_url="https://sts.us-esat-1.amazonaws.com/"), "check the region name"),
    ],
    ids=["no credentials", "no region", "expired sso", "unknown region"],
)
def test_the_boundary_turns_each_environment_error_into_one_line(monkeypatch, error, next_step):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    lines: list[str] = []

    def main() -> int:
        raise error

    assert script_boundary(main, script="make demo", out=lines.append) == ENVIRONMENT_EXIT_CODE
    assert len(lines) == 1 and len(lines[0].splitlines()) == 1
    assert next_step in lines[0]


def test_an_error_the_boundary_cannot_name_keeps_its_traceback():
    def main() -> int:
        raise ClientError({"Error": {"Code": "InternalFailure", "Message": "x"}}, "CreateBucket")

    with pytest.raises(ClientError):
        script_boundary(main, script="provision.py", out=print)
