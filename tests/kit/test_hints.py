"""Next steps fit the world they run in, found from the endpoint: a localaws learner is never sent to AWS."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from kit import hints
from kit.lab import lab_env
from kit.local_endpoint import running_localaws
from kit.stack import ROOT

OUTPUTS = {"stack": "alice", "bucket": "alice-123456789012-us-east-1", "account": "123456789012", "region": "us-east-1"}


def test_on_aws_the_hints_name_the_account_the_bill_and_target_aws():
    text = hints.next_steps(OUTPUTS, None)
    assert "AWS account 123456789012" in text and "billed" in text
    assert "make lab TARGET=aws STACK=alice" in text
    assert "aws s3 cp sample_data/orders/ s3://alice-123456789012-us-east-1/raw/orders/ --recursive" in text
    assert ".venv/bin/python teardown.py --stack alice" in text


def test_on_localaws_the_hints_stay_local(monkeypatch):
    monkeypatch.setattr(hints, "is_localaws", lambda endpoint: True)
    text = hints.next_steps(OUTPUTS, "http://127.0.0.1:4566")
    assert "TARGET=aws" not in text and "billed" in text  # "nothing is billed"
    assert "aws --endpoint-url http://127.0.0.1:4566 s3 cp" in text  # CLI v1 ignores AWS_ENDPOINT_URL
    assert "make lab ENDPOINT=http://127.0.0.1:4566 STACK=alice" in text
    assert "AWS_ENDPOINT_URL=http://127.0.0.1:4566 .venv/bin/python teardown.py --stack alice" in text


def test_on_another_endpoint_the_hints_do_not_send_anyone_to_aws(monkeypatch):
    monkeypatch.setattr(hints, "is_localaws", lambda endpoint: False)
    text = hints.next_steps(OUTPUTS, "http://127.0.0.1:9999")
    assert "TARGET=aws" not in text and "not localaws" in text


@pytest.mark.localaws
@pytest.mark.slow
def test_provision_on_localaws_closes_with_local_next_steps(tmp_path):
    with running_localaws(log_path=tmp_path / "localaws.log", quiet=True) as server:
        env = {**lab_env(os.environ, stack="hints", endpoint=server.endpoint), "KIT_STACKS_DIR": str(tmp_path)}
        done = subprocess.run(
            [sys.executable, "provision.py", "--stack", "hints"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    closing = done.stdout.split("Next, ", 1)[1]
    assert closing.startswith(f"on localaws at {server.endpoint}")
    assert "TARGET=aws" not in done.stdout
    assert f"make lab ENDPOINT={server.endpoint} STACK=hints" in closing
