"""kit.lab (`make lab`): the environment it gives the kernels, the JupyterLab command, the AWS credential check, and a
whole local run with a stand-in for JupyterLab (the browser part is verified by hand)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
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


def test_jupyter_never_moves_to_another_port_than_the_one_printed() -> None:
    assert "--ServerApp.port_retries=0" in lab.jupyter_command(8899, open_browser=False)


def test_a_taken_port_asked_for_is_refused_with_a_free_one_named() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(lab.PortTaken, match=rf"Port {port} is taken .*make lab PORT=\d+"):
            lab.free_port(port)


def test_a_taken_default_port_moves_to_the_next_free_one(monkeypatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setattr(lab, "DEFAULT_JUPYTER_PORT", port)
        chosen = lab.free_port(None)
        assert chosen != port and lab.port_is_free(chosen)


@pytest.mark.parametrize(("answer", "provisioned"), [("", False), ("no", False), ("yes", True)])
def test_aws_target_asks_before_creating_billable_resources(monkeypatch, capsys, answer, provisioned) -> None:
    created: list[str] = []
    prompts: list[str] = []
    monkeypatch.setattr(lab, "aws_account", lambda env: "123456789012")
    monkeypatch.setattr(lab, "stack_exists", lambda stack: False)
    monkeypatch.setattr(lab, "provision", lambda stack, env: created.append(stack) or 0)
    monkeypatch.setattr(lab, "run_jupyter", lambda command, env: 0)
    code = lab.run_aws("etl", 8888, False, ask=lambda prompt: prompts.append(prompt) or answer)
    assert created == (["etl"] if provisioned else [])
    assert code == (0 if provisioned else 1)
    assert "billable" in prompts[0] and "123456789012" in prompts[0]
    if not provisioned:
        assert "nothing was created" in capsys.readouterr().out


def test_aws_target_with_yes_does_not_ask(monkeypatch) -> None:
    created: list[str] = []
    monkeypatch.setattr(lab, "aws_account", lambda env: "123456789012")
    monkeypatch.setattr(lab, "stack_exists", lambda stack: False)
    monkeypatch.setattr(lab, "provision", lambda stack, env: created.append(stack) or 0)
    monkeypatch.setattr(lab, "run_jupyter", lambda command, env: 0)

    def ask(prompt: str) -> str:
        raise AssertionError(f"asked although --yes: {prompt}")

    assert lab.run_aws("etl", 8888, False, assume_yes=True, ask=ask) == 0
    assert created == ["etl"]


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
def test_local_lab_provisions_hands_its_environment_to_jupyter_and_stops_localaws(
    monkeypatch, tmp_path, capsys
) -> None:
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
    assert (
        f"localaws console (the pipeline, live): {kernel_env['AWS_ENDPOINT_URL']}/_localaws/console?stack=labtest"
        in (capsys.readouterr().out)
    )


def test_make_lab_passes_port_no_browser_endpoint_and_yes() -> None:
    variables = ["PORT=8890", "NO_BROWSER=1", "ENDPOINT=http://127.0.0.1:4566", "YES=1", "TARGET=aws", "STACK=bob"]
    dry = subprocess.run(["make", "-n", "lab", *variables], cwd=lab.ROOT, capture_output=True, text=True, check=True)
    command = " ".join(dry.stdout.replace("\\\n", " ").split())
    assert "-m kit.lab --stack bob --target aws --port 8890 --no-browser --endpoint http://127.0.0.1:4566 --yes" in (
        command
    )
