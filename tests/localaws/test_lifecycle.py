"""localaws stops cleanly and deleted things stop running.

- SIGTERM / SIGINT stop localaws and remove its Lambda workers and temp folder, even when the kernel hands the signal
  to a thread other than the main one (which is what made a bare Event.wait() sleep through SIGTERM in 2 of 16 runs).
- A startup error is one line on stderr and exit code 1 (it was "terminate called…", exit code 134).
- DeleteFunction stops the function's warm workers (https://docs.aws.amazon.com/lambda/latest/api/API_DeleteFunction.html).
- A deleted workgroup takes its query history with it; ListQueryExecutions on a missing workgroup is
  InvalidRequestException (https://docs.aws.amazon.com/athena/latest/APIReference/API_ListQueryExecutions.html).
- Real AWS credentials in localaws' environment reach no worker.
"""

from __future__ import annotations

import ctypes
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import botocore.exceptions
import psutil
import pytest
from test_lambda_runtime import create_function, invoke

from kit.local_endpoint import REPO_ROOT, LocalAwsProcess
from localaws.__main__ import drop_credentials

pytestmark = pytest.mark.localaws

STOP_BOUND_SECONDS = 5  # the promise: a signal stops localaws within 5 s (a bound on waiting, not a measurement)
_TGKILL = {"x86_64": 234, "aarch64": 131}.get(platform.machine())

ENV_DUMP = """
    import os

    def handler(event, context):
        return dict(os.environ)
"""


def wait_until(predicate, bound: float = 30.0) -> bool:
    """Poll `predicate` until it holds or `bound` seconds pass (a generous bound, never a timing assertion)."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def workers_of(server_pid: int, function_name: str | None = None) -> list[psutil.Process]:
    found = []
    for child in psutil.Process(server_pid).children(recursive=True):
        try:
            if "bootstrap.py" not in " ".join(child.cmdline()):
                continue
            if function_name is None or child.environ().get("AWS_LAMBDA_FUNCTION_NAME") == function_name:
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _accepts(pid: int, tid: str, number: int) -> bool:
    """False for a thread that blocks the signal (DuckDB's jemalloc thread blocks all): the kernel never picks it."""
    try:
        status = Path(f"/proc/{pid}/task/{tid}/status").read_text()
    except FileNotFoundError:
        return False
    blocked = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigBlk:")), 16)
    return not blocked & (1 << (number - 1))


def signal_a_non_main_thread(pid: int, number: int) -> None:
    """Deliver `number` to one of the process's other threads, as the kernel may do with a process-wide signal."""
    threads = [int(tid) for tid in os.listdir(f"/proc/{pid}/task") if int(tid) != pid and _accepts(pid, tid, number)]
    assert threads, "localaws runs several threads that accept the signal"
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.syscall(_TGKILL, pid, threads[0], number) == 0, os.strerror(ctypes.get_errno())


@pytest.mark.skipif(_TGKILL is None, reason="tgkill's syscall number is known for x86_64 and aarch64 only")
@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_localaws_and_removes_workers_and_temp_folders(tmp_path: Path, monkeypatch, number) -> None:
    server = LocalAwsProcess(log_path=tmp_path / "localaws.log", env={"LOCALAWS_LAMBDA_PREWARM": "0"})
    try:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        name = create_function(ENV_DUMP)
        invoke(name)
        workers = workers_of(server.process.pid, name)
        assert workers, "a warm worker after the first invocation"
        code_root = Path(workers[0].cwd()).parent.parent  # <cache root>/functions/<sha256>
        assert code_root.name.startswith("localaws-lambda-") and code_root.is_dir()
        signal_a_non_main_thread(server.process.pid, number)
        assert server.process.wait(timeout=STOP_BOUND_SECONDS) == 0
        assert wait_until(lambda: all(gone(w) for w in workers), bound=STOP_BOUND_SECONDS)
        assert not code_root.exists()
    finally:
        server.stop()


def _start_and_fail(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "localaws", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "LOCALAWS_LAMBDA_PREWARM": "0"},
    )


def test_a_port_in_use_is_a_one_line_error_with_exit_code_1() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _start_and_fail("--port", str(port))
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"localaws: cannot start on 127.0.0.1:{port}:")
    assert "ready" not in result.stdout


def test_a_non_loopback_host_is_a_one_line_error_with_exit_code_1() -> None:
    result = _start_and_fail("--host", "0.0.0.0", "--port", "0")
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "loopback only" in lines[0], result.stderr


def test_delete_function_stops_its_workers(localaws, localaws_env) -> None:
    name = create_function(ENV_DUMP)
    other = create_function(ENV_DUMP)
    invoke(name)
    invoke(other)
    workers = workers_of(localaws.process.pid, name)
    assert workers
    boto3.client("lambda").delete_function(FunctionName=name)
    assert wait_until(lambda: all(gone(w) for w in workers))
    assert workers_of(localaws.process.pid, other), "another function's worker stays warm"


def test_deleting_a_workgroup_deletes_its_history(localaws, localaws_env) -> None:
    athena = boto3.client("athena")
    bucket = f"wg-{uuid.uuid4().hex[:10]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    name = f"wg-{uuid.uuid4().hex[:10]}"
    configuration = {"ResultConfiguration": {"OutputLocation": f"s3://{bucket}/results/"}}
    athena.create_work_group(Name=name, Configuration=configuration)
    query_id = athena.start_query_execution(QueryString="SELECT 1", WorkGroup=name)["QueryExecutionId"]
    assert athena.list_query_executions(WorkGroup=name)["QueryExecutionIds"] == [query_id]
    athena.delete_work_group(WorkGroup=name, RecursiveDeleteOption=True)
    with pytest.raises(botocore.exceptions.ClientError) as missing:
        athena.list_query_executions(WorkGroup=name)
    assert missing.value.response["Error"]["Code"] == "InvalidRequestException"
    with pytest.raises(botocore.exceptions.ClientError) as forgotten:
        athena.get_query_execution(QueryExecutionId=query_id)
    assert forgotten.value.response["Error"]["Code"] == "InvalidRequestException"
    athena.create_work_group(Name=name, Configuration=configuration)
    assert athena.list_query_executions(WorkGroup=name)["QueryExecutionIds"] == []


def test_list_query_executions_of_a_missing_workgroup_is_invalid_request(localaws, localaws_env) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as error:
        boto3.client("athena").list_query_executions(WorkGroup=f"missing-{uuid.uuid4().hex[:8]}")
    assert error.value.response["Error"]["Code"] == "InvalidRequestException"
    assert "is not found" in error.value.response["Error"]["Message"]


REAL_LOOKING = {
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_SESSION_TOKEN": "real-session-token",
    "AWS_PROFILE": "production",
    "MY_SHELL_SECRET": "do-not-leak",
}


def test_no_worker_sees_localaws_environment_or_real_credentials(tmp_path: Path, monkeypatch) -> None:
    server = LocalAwsProcess(log_path=tmp_path / "localaws.log", env={**REAL_LOOKING, "LOCALAWS_LAMBDA_PREWARM": "0"})
    try:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        _, environment = invoke(create_function(ENV_DUMP))
        for name, value in REAL_LOOKING.items():
            assert value not in environment.values(), name
        assert "MY_SHELL_SECRET" not in environment and "AWS_PROFILE" not in environment
    finally:
        server.stop()


def test_drop_credentials_removes_real_credentials_and_profiles() -> None:
    environ = {**REAL_LOOKING, "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.2/x", "HOME": "/home/me"}
    dropped = drop_credentials(environ)
    assert set(dropped) == {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    }
    assert environ["HOME"] == "/home/me" and environ["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull
    assert environ["AWS_EC2_METADATA_DISABLED"] == "true"
