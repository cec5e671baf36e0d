"""Start and stop a localaws server process: what `make demo`, `make lab` and the tests use for the local world.

localaws is run as its own process (`python -m localaws`), never imported, so the kit stays plain AWS client code.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_SESSION_TOKEN": "test",
}
DEFAULT_REGION = "us-east-1"
_READY = re.compile(r"localaws ready on (http://127\.0\.0\.1:\d+)")


class LocalAwsProcess:
    """A running `python -m localaws`; `env` is what a client process needs to reach it."""

    def __init__(
        self, port: int = 0, log_path: Path | None = None, quiet: bool = False, env: dict[str, str] | None = None
    ) -> None:
        command = [sys.executable, "-m", "localaws", "--port", str(port)]
        if quiet:
            command.append("--quiet")
        self._log = open(log_path, "w") if log_path else None  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env={**_without_endpoint(os.environ), **(env or {})},
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        for line in self.process.stdout:
            match = _READY.search(line)
            if match:
                self.endpoint = match[1]
                break
        else:
            raise RuntimeError(
                f"localaws exited before it was ready (exit code {self.process.wait()}); "
                "run `python -m localaws` by itself to see why"
            )

    def env(self) -> dict[str, str]:
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
        return {
            **FAKE_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
        }

    def wait_idle(self, timeout: float = 60) -> bool:
        """True once localaws has no event, invocation or crawl pending (its /_localaws/idle endpoint)."""
        return wait_idle(self.endpoint, timeout)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self._log:
            self._log.close()
        return self.process.wait()


def wait_idle(endpoint: str, timeout: float = 60) -> bool:
    """Ask a localaws endpoint to answer once no data-plane work is pending; False if it is still busy."""
    url = f"{endpoint}/_localaws/idle?timeout={timeout}"
    try:
        with urllib.request.urlopen(url, timeout=timeout + 10) as response:
            return response.status == 200
    except urllib.error.HTTPError as err:
        if err.code == 408:
            return False
        raise


def console_url(endpoint: str, stack: str | None = None) -> str:
    """The localaws console's page (/_localaws/console), filtered to `stack` when given."""
    return f"{endpoint.rstrip('/')}/_localaws/console" + (f"?stack={stack}" if stack else "")


def is_localaws(endpoint: str | None) -> bool:
    """True when `endpoint` answers localaws' health check (so AWS_ENDPOINT_URL points at localaws)."""
    if not endpoint:
        return False
    try:
        with urllib.request.urlopen(f"{endpoint}/_localaws/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def running_localaws(port: int = 0, log_path: Path | None = None, quiet: bool = False) -> Iterator[LocalAwsProcess]:
    server = LocalAwsProcess(port=port, log_path=log_path, quiet=quiet)
    try:
        yield server
    finally:
        server.stop()


def _without_endpoint(environ: os._Environ[str] | dict[str, str]) -> dict[str, str]:
    env = dict(environ)
    env.pop("AWS_ENDPOINT_URL", None)
    return env
