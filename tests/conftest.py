"""Shared fixtures. Tests are offline: fake credentials, moto in-process, or a real localaws server process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_SESSION_TOKEN": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
_READY = re.compile(r"localaws ready on (http://127\.0\.0\.1:\d+)")


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


class LocalAwsProcess:
    """A real `python -m localaws` server process on a free loopback port."""

    def __init__(self) -> None:
        env = {**os.environ, **FAKE_CREDENTIALS}
        env.pop("AWS_ENDPOINT_URL", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "localaws", "--port", "0"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=open(ROOT / ".pytest_cache" / "localaws.log", "w") if (ROOT / ".pytest_cache").is_dir() else None,
            text=True,
        )
        for line in self.process.stdout:
            match = _READY.search(line)
            if match:
                self.endpoint = match[1]
                break
        else:
            raise RuntimeError(f"localaws exited before it was ready (code {self.process.wait()})")

    def env(self) -> dict[str, str]:
        return {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}

    def stop(self) -> int:
        self.process.terminate()
        return self.process.wait(timeout=30)


@pytest.fixture(scope="session")
def localaws() -> Iterator[LocalAwsProcess]:
    """One localaws server process for the session; tests isolate themselves by unique stack or bucket names."""
    server = LocalAwsProcess()
    yield server
    server.stop()


@pytest.fixture
def localaws_env(localaws: LocalAwsProcess, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point boto3 (and pyathena) in this test at the localaws server; returns its endpoint."""
    for name, value in localaws.env().items():
        monkeypatch.setenv(name, value)
    return localaws.endpoint
