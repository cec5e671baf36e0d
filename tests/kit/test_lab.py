"""kit.lab (`make lab`): the environment it gives the kernels, the JupyterLab command, the AWS credential check, and a
whole local run with a stand-in for JupyterLab (the browser part is verified by hand)."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path

import pytest

from kit import lab
from kit.local_endpoint import is_localaws


def test_local_env_points_every_client_at_localaws_with_fake_credentials() -> None:
    base = {
        "PATH": "/bin",
        "AWS_PROFILE": "prod",
        "AWS_ACCESS_KEY_ID": "AKIAREAL",
        "AWS_ENDPOINT_URL_S3": "https://s3.example",
    }
    env = lab.lab_env(base, stack="alice", endpoint="http://127.0.0.1:4566")
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    assert env["ETL_STACK"] == "alice" and env["PATH"] == "/bin"
    assert env["AWS_ACCESS_KEY_ID"] == "test" and env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    # a profile would win over the fake credentials, a per-service endpoint over AWS_ENDPOINT_URL
    assert "AWS_PROFILE" not in env and "AWS_ENDPOINT_URL_S3" not in env


def test_aws_env_keeps_the_users_credentials_and_drops_any_endpoint() -> None:
    base = {"AWS_PROFILE": "prod", "AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_ENDPOINT_URL_S3": "http://x"}
    env = lab.lab_env(base, stack="etl", endpoint=None)
    assert env == {"AWS_PROFILE": "prod", "ETL_STACK": "etl"}


def test_jupyter_binds_loopback_and_opens_the_notebooks_folder() -> None:
    command = lab.jupyter_command(8899, open_browser=False)
    assert command[:3] == [sys.executable, "-m", "jupyterlab"]
    assert "--ServerApp.ip=127.0.0.1" in command and "--ServerApp.port=8899" in command
    assert command[command.index("--notebook-dir") + 1] == str(lab.ROOT / "notebooks")
    assert "--no-browser" in command and "--no-browser" not in lab.jupyter_command(8899, open_browser=True)
    assert ("--allow-root" in command) == (os.geteuid() == 0)  # JupyterLab refuses root otherwise


def test_aws_target_without_credentials_names_the_choices(monkeypatch, capsys) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert lab.main(["--target", "aws", "--stack", "etl"]) == 2
    message = capsys.readouterr().err
    assert "aws configure" in message and "AWS_PROFILE" in message and "make lab" in message


def test_invalid_stack_name_is_refused_before_anything_starts() -> None:
    with pytest.raises(ValueError, match="stack name"):
        lab.main(["--stack", "Not_Valid"])


def test_ctrl_c_stops_jupyterlab(tmp_path: Path) -> None:
    """Ctrl-C reaches kit.lab only (JupyterLab runs in its own session); kit.lab then stops JupyterLab itself."""
    ready = tmp_path / "ready"
    child = [sys.executable, "-c", f"import pathlib, time; pathlib.Path({str(ready)!r}).touch(); time.sleep(600)"]
    interrupter = threading.Thread(target=_interrupt_when_exists, args=(ready,), daemon=True)
    interrupter.start()
    assert lab.run_jupyter(child, os.environ) == 0
    interrupter.join()


def _interrupt_when_exists(path: Path) -> None:
    while not path.exists():
        threading.Event().wait(0.05)
    os.kill(os.getpid(), signal.SIGINT)  # what the terminal sends on Ctrl-C


@pytest.mark.localaws
@pytest.mark.slow
def test_local_lab_provisions_hands_its_environment_to_jupyter_and_stops_localaws(monkeypatch, tmp_path) -> None:
    """`make lab` end to end, with a stand-in for JupyterLab that records what a kernel would see."""
    monkeypatch.setenv("KIT_STACKS_DIR", str(tmp_path / "stacks"))
    seen = tmp_path / "seen.json"
    stand_in = (
        "import json, os, sys, boto3\n"
        "outputs = json.load(open(os.path.join(os.environ['KIT_STACKS_DIR'], os.environ['ETL_STACK'] + '.json')))\n"
        "boto3.client('s3').head_bucket(Bucket=outputs['bucket'])\n"
        "seen = {name: os.environ.get(name) for name in ('AWS_ENDPOINT_URL', 'ETL_STACK')}\n"
        "json.dump(seen, open(sys.argv[1], 'w'))\n"
    )
    monkeypatch.setattr(lab, "jupyter_command", lambda port, open_browser: [sys.executable, "-c", stand_in, str(seen)])
    assert lab.main(["--stack", "labtest", "--target", "local", "--no-browser"]) == 0
    kernel_env = json.loads(seen.read_text())
    assert kernel_env["ETL_STACK"] == "labtest" and kernel_env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert not is_localaws(kernel_env["AWS_ENDPOINT_URL"]), "localaws is still running after the lab ended"
