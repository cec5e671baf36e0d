"""Shared fixtures. Tests are offline: fake credentials, moto in-process, or a real localaws server process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kit.local_endpoint import LocalAwsProcess

if os.environ.get("LAMBDA_LAYER_PYARROW") == "1":  # make test-layer: the tests run on the layer's codecs only
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import layer_pyarrow

    layer_pyarrow.install()

ROOT = Path(__file__).resolve().parent.parent
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_SESSION_TOKEN": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@pytest.fixture(autouse=True)
def _offline_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach real AWS by accident: fake credentials, no profile, no configured endpoint."""
    if os.environ.get("RUN_AWS_TESTS") == "1":
        return
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="session")
def localaws() -> Iterator[LocalAwsProcess]:
    """One localaws server process for the session (its log: .pytest_cache/localaws-<pid>.log); tests isolate themselves
    by unique stack, bucket or function names."""
    log_dir = ROOT / ".pytest_cache"
    log_dir.mkdir(exist_ok=True)
    # Proactive initialization off, so each test sees deterministic cold starts (test_lambda_prewarm covers it).
    server = LocalAwsProcess(log_path=log_dir / f"localaws-{os.getpid()}.log", env={"LOCALAWS_LAMBDA_PREWARM": "0"})
    yield server
    server.stop()


def point_clients_at(server: LocalAwsProcess, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point boto3 (and pyathena) in this test at a localaws server; returns its endpoint."""
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    return server.endpoint


@pytest.fixture
def localaws_env(localaws: LocalAwsProcess, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point boto3 (and pyathena) in this test at the session's localaws server; returns its endpoint."""
    return point_clients_at(localaws, monkeypatch)


def provision_stack(stack: str, stacks_dir: Path, *args: str) -> dict:
    """Run provision.py unchanged for `stack` (and any further `args`) against the endpoint in this process's
    environment (a test points it at localaws first); returns the stack's outputs file as a dict."""
    env = {**os.environ, "KIT_STACKS_DIR": str(stacks_dir)}
    provision = subprocess.run(
        [sys.executable, "provision.py", "--stack", stack, *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert provision.returncode == 0, provision.stdout + provision.stderr
    return json.loads((stacks_dir / f"{stack}.json").read_text())
