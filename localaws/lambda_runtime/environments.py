"""Execution environments: one worker process per environment, kept warm and reused, as Lambda reuses them.

https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html
- INIT: the worker imports the handler's module once. Lambda limits INIT to 10 s; locally the limit is
  max(LOCALAWS_LAMBDA_INIT_TIMEOUT (10 s), the function's timeout), so a slow laptop importing pandas under load
  is not failed where AWS would retry the INIT within the invocation.
- INVOKE: one request at a time, with the function's timeout; the worker's memory (RSS of the process tree, polled
  every 25 ms with psutil) must stay under MemorySize or the worker is killed, as Lambda's sandbox kills it.
  (RLIMIT_AS does not work for this: pyarrow's allocator reserves ~1.4 GB of address space for a tiny table
  whose RSS is 115 MB. Polling can miss a spike shorter than 25 ms.)
- An environment whose worker timed out, ran out of memory or exited is discarded; a healthy one goes back to the
  pool, and one idle for LOCALAWS_LAMBDA_IDLE_SECONDS (default 300) is shut down.
- Each environment has its own /tmp (TMPDIR, under localaws's cache folder). Lambda keeps /tmp when it resets an
  environment whose invocation timed out, ran out of memory or crashed ("Failures during the invoke phase" in
  lambda-runtime-environment.html), so the worker that replaces a dead one gets the same folder, with whatever the
  dead one left there. A folder is removed when its environment shuts down for any other reason, and a kept one
  that no worker took within LOCALAWS_LAMBDA_IDLE_SECONDS, so nothing is left behind for killed workers.
- An environment being initialized proactively (Executor.prewarm) is already one of the function's environments:
  an invocation that finds no idle one takes it over and waits for its INIT instead of starting another, so a burst
  that arrives during the proactive INIT starts no environment beyond its concurrency.
- `crash()` ends a running invocation as a timeout or an out-of-memory kill on demand: the fault injection of
  faults.py, so that tests choose the point where a handler dies instead of racing the clock.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from localaws.lambda_runtime import tmp_storage
from localaws.lambda_runtime.functions import FunctionSpec
from localaws.lambda_runtime.logs import LogLine, now_ms

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
POLL_SECONDS = 0.025
# Listing a worker's child processes reads /proc/<pid>/stat of every process on the machine (psutil.children), some
# milliseconds each time; the worker's own memory is read at every poll, its children are re-listed this often.
CHILDREN_SECONDS = 0.25
_SIGNAL_WORDS = {
    signal.SIGKILL: "killed",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGTERM: "terminated",
    signal.SIGBUS: "bus error",
}


@dataclass
class Attempt:
    """How one phase (INIT or one invocation) of a worker ended."""

    status: str  # "ok", "error" (the handler raised), "timeout", "oom", "exit" (the runtime died)
    duration_ms: float
    max_memory_mb: int
    payload: str | None = None
    error: dict[str, Any] | None = None
    exit_reason: str = ""
    output: list[LogLine] = field(default_factory=list)


class Environment:
    """A worker process running bootstrap.py for one FunctionSpec."""

    def __init__(
        self,
        spec: FunctionSpec,
        command_settings: dict[str, Any],
        env: dict[str, str],
        log_path: Path,
        tmp_dir: Path | None = None,
    ) -> None:
        self.spec = spec
        self.id = uuid.uuid4().hex
        self.log_stream = env["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.tmp_dir = tmp_dir  # its /tmp, owned by the pool (TMPDIR in `env`)
        self.session_token = env.get("AWS_SESSION_TOKEN", "")  # names this environment in the requests it signs
        self.invocations = 0
        self._crash: str | None = None  # "timeout" or "oom" once crash() killed the worker
        self.last_used = time.monotonic()
        self.max_memory_mb = 0
        self._log_path = log_path
        self._pending = b""
        self._closed = False
        control_read, control_write = os.pipe()
        log_file = open(log_path, "ab")  # noqa: SIM115 - the child keeps it; we close our copy right after spawning
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-S", "-u", str(BOOTSTRAP), str(control_write), json.dumps(command_settings)],
                stdin=subprocess.PIPE,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=command_settings["task_root"],
                pass_fds=(control_write,),
                start_new_session=True,
            )
        finally:
            log_file.close()
            os.close(control_write)
        self._control = control_read
        self._control_buffer = b""
        self._log_reader = open(log_path, "rb")  # noqa: SIM115 - closed in kill()
        self._ps = psutil.Process(self.process.pid)
        self._children: list[psutil.Process] = []
        self._children_listed = float("-inf")  # time.monotonic() of the last listing

    # -- phases -----------------------------------------------------------------------------------------------
    def wait_ready(self, limit_s: float) -> Attempt:
        return self._await("ready", limit_s, memory_mb=self.spec.memory_size)

    def invoke(self, request: dict[str, Any]) -> Attempt:
        self.last_used = time.monotonic()
        self.invocations += 1
        try:
            assert self.process.stdin is not None
            self.process.stdin.write((json.dumps(request) + "\n").encode())
            self.process.stdin.flush()
        except BrokenPipeError:
            pass  # the worker died between invocations; _await reports how it exited
        attempt = self._await("result", float(self.spec.timeout), memory_mb=self.spec.memory_size)
        self.last_used = time.monotonic()
        return attempt

    def _await(self, kind: str, limit_s: float, memory_mb: int) -> Attempt:
        started = time.monotonic()
        deadline = started + limit_s
        peak = 0
        output: list[LogLine] = []
        while True:
            peak = max(peak, self._rss_mb())
            self.max_memory_mb = max(self.max_memory_mb, peak)
            output += self._read_output()
            elapsed_ms = (time.monotonic() - started) * 1000
            if peak > memory_mb:
                self.kill()
                output += self._read_output(final=True)
                return Attempt("oom", elapsed_ms, memory_mb, exit_reason="signal: killed", output=output)
            if time.monotonic() >= deadline:
                self.kill()
                output += self._read_output(final=True)
                return Attempt("timeout", limit_s * 1000, peak, output=output)
            message = self._read_control(POLL_SECONDS)
            if message is None:
                continue
            if message.get("type") != kind:  # EOF: the worker exited without answering
                self.process.wait()
                output += self._read_output(final=True)
                if self._crash == "timeout":
                    return Attempt("timeout", limit_s * 1000, peak, output=output)
                if self._crash == "oom":
                    return Attempt("oom", elapsed_ms, memory_mb, exit_reason="signal: killed", output=output)
                return Attempt(
                    "exit", elapsed_ms, peak, exit_reason=_exit_reason(self.process.returncode), output=output
                )
            output += self._read_output(final=True)
            if kind == "ready":
                status = "error" if message.get("error") else "ok"
                return Attempt(status, elapsed_ms, peak, error=message.get("error"), output=output)
            if message["ok"]:
                return Attempt("ok", elapsed_ms, peak, payload=message["payload"], output=output)
            return Attempt("error", elapsed_ms, peak, error=message["error"], output=output)

    # -- plumbing ----------------------------------------------------------------------------------------------
    def _rss_mb(self) -> int:
        try:
            total = self._ps.memory_info().rss
        except psutil.NoSuchProcess:
            return 0
        now = time.monotonic()
        if now - self._children_listed >= CHILDREN_SECONDS:
            try:
                self._children = self._ps.children(recursive=True)
            except psutil.NoSuchProcess:
                self._children = []
            self._children_listed = now
        for child in self._children:
            try:
                total += child.memory_info().rss
            except psutil.NoSuchProcess:  # a child exited since it was listed; count what is left
                continue
        return total // (1024 * 1024)

    def _read_control(self, wait_s: float) -> dict[str, Any] | None:
        """The next complete control message, {} at EOF, or None if none arrived within `wait_s`."""
        while b"\n" not in self._control_buffer:
            ready, _, _ = select.select([self._control], [], [], wait_s)
            if not ready:
                return None
            chunk = os.read(self._control, 65536)
            if not chunk:
                return {}
            self._control_buffer += chunk
        line, _, self._control_buffer = self._control_buffer.partition(b"\n")
        return json.loads(line)

    def _read_output(self, final: bool = False) -> list[LogLine]:
        """New complete lines of the worker's stdout/stderr; `final` also takes a trailing partial line."""
        self._pending += self._log_reader.read()
        *complete, self._pending = self._pending.split(b"\n")
        if final and self._pending:
            complete.append(self._pending)
            self._pending = b""
        stamp = now_ms()
        # A logging record or an error report travels as one line with "\r" for its newlines (see bootstrap.py).
        return [LogLine(stamp, raw.decode("utf-8", "replace").replace("\r", "\n")) for raw in complete]

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def crash(self, how: str) -> None:
        """Kill the worker now and report the running invocation as `how`: "timeout" (Sandbox.Timedout, "Task timed
        out after <Timeout> seconds") or "oom" (Runtime.ExitError, "signal: killed", Max Memory Used = MemorySize).
        Returns once the worker is dead, so it can make no further call."""
        if how not in ("timeout", "oom"):
            raise ValueError(f"crash: 'timeout' or 'oom', not {how!r}")
        self._crash = how
        self.kill()

    def kill(self) -> None:
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.kill()
        if self.process.stdin:
            self.process.stdin.close()
        os.close(self._control)
        self._log_reader.close()
        self._log_path.unlink(missing_ok=True)


def _exit_reason(returncode: int) -> str:
    """Lambda's wording for how a runtime process ended ("signal: killed", "exit status 1")."""
    if returncode < 0:
        number = -returncode
        try:
            word = _SIGNAL_WORDS.get(signal.Signals(number), signal.Signals(number).name)
        except ValueError:
            word = str(number)
        return f"signal: {word}"
    return f"exit status {returncode}"


@dataclass(eq=False)
class Warming:
    """A proactive INIT of `key`'s function, registered before its environment is spawned; `claimed` once an
    invocation waits for it, `ready` once its environment is handed to that invocation."""

    key: tuple[Any, ...]
    environment: Environment | None = None
    done: threading.Event = field(default_factory=threading.Event)
    claimed: bool = False
    ready: bool = False


class EnvironmentPool:
    """Idle environments by FunctionSpec; a busy one is out of the pool until released."""

    def __init__(self, idle_seconds: float) -> None:
        self.idle_seconds = idle_seconds
        self._idle: dict[tuple[Any, ...], list[Environment]] = {}
        self._warming: dict[tuple[Any, ...], list[Warming]] = {}  # proactive INITs not yet claimed
        self._all: set[Environment] = set()
        self._kept_tmp: dict[tuple[Any, ...], list[tuple[Path, float]]] = {}  # /tmp of reset environments
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._retired: set[str] = set()  # busy environments of deleted functions, discarded when released
        self._reaper = threading.Thread(target=self._reap_forever, name="localaws-lambda-reaper", daemon=True)
        self._reaper.start()

    def take_warm(self, spec: FunctionSpec) -> Environment | None:
        """An idle environment of `spec`, else one in its proactive INIT once that INIT succeeded, else None."""
        stale: list[Environment] = []
        found = None
        warming = None
        with self._lock:
            # An update to the code or configuration retires the function's older environments.
            for key in [key for key in self._idle if key[0] == spec.arn and key != spec.environment_key]:
                stale += self._idle.pop(key)
            for key in [key for key in self._kept_tmp if key[0] == spec.arn and key != spec.environment_key]:
                _remove_all(self._kept_tmp.pop(key))
            while found is None and self._idle.get(spec.environment_key):
                candidate = self._idle[spec.environment_key].pop()
                if candidate.alive:
                    found = candidate
                else:
                    stale.append(candidate)
            if found is None and self._warming.get(spec.environment_key):
                warming = self._warming[spec.environment_key].pop(0)
                warming.claimed = True
        for environment in stale:
            self.discard(environment)
        if warming is not None:
            warming.done.wait()  # end_warming sets it, whatever way the INIT ends
            return warming.environment if warming.ready else None
        return found

    def begin_warming(self, spec: FunctionSpec) -> Warming:
        """Register a proactive INIT about to start, so an invocation arriving from now on takes it over."""
        warming = Warming(spec.environment_key)
        with self._lock:
            self._warming.setdefault(warming.key, []).append(warming)
        return warming

    def end_warming(self, warming: Warming, ready: bool) -> None:
        """The proactive INIT ended (`ready`: it succeeded): hand its environment to the invocation that claimed it,
        else to the pool, or shut it down if the INIT failed."""
        environment = warming.environment
        with self._lock:
            waiting = self._warming.get(warming.key, [])
            if warming in waiting:
                waiting.remove(warming)
            claimed = warming.claimed
            usable = ready and environment is not None and environment.alive and not self._closed.is_set()
            warming.ready = usable and claimed
        if environment is not None and not warming.ready:
            if usable:
                self.release(environment)
            else:
                self.discard(environment)
        warming.done.set()

    def running(self, session_token: str) -> Environment | None:
        """The busy environment whose worker signs its requests with `session_token`, if any."""
        with self._lock:
            idle = {id(env) for environments in self._idle.values() for env in environments}
            for environment in self._all:
                if environment.session_token == session_token and id(environment) not in idle:
                    return environment
        return None

    def track(self, environment: Environment) -> None:
        with self._lock:
            if not self._closed.is_set():
                self._all.add(environment)
                return
        environment.kill()  # spawned while localaws was stopping: never leave it running

    def retire(self, arn: str, version: str | None = None) -> int:
        """Stop the environments of a deleted function (`arn` unqualified; `version` only that one): idle ones now,
        busy ones when their invocation ends. Returns how many were stopped now."""

        def matches(environment: Environment) -> bool:
            return environment.spec.arn == arn and version in (None, environment.spec.version)

        with self._lock:
            idle = [env for environments in self._idle.values() for env in environments if matches(env)]
            for environments in self._idle.values():
                environments[:] = [env for env in environments if not matches(env)]
            self._retired |= {env.id for env in self._all if matches(env) and env not in idle}
        for environment in idle:
            self.discard(environment)
        return len(idle)

    def discard(self, environment: Environment) -> None:
        """Shut the environment down, with its /tmp."""
        with self._lock:
            self._all.discard(environment)
        environment.close()
        if environment.tmp_dir is not None:
            _remove_tmp(environment.tmp_dir)

    def reset(self, environment: Environment) -> None:
        """Shut the worker down but keep its /tmp for the next environment of the same function, as Lambda's reset
        after a failed invocation keeps it."""
        with self._lock:
            self._all.discard(environment)
            keep = environment.tmp_dir is not None and not self._closed.is_set()
            if keep:
                kept = self._kept_tmp.setdefault(environment.spec.environment_key, [])
                kept.append((environment.tmp_dir, time.monotonic()))
        environment.close()
        if not keep and environment.tmp_dir is not None:
            _remove_tmp(environment.tmp_dir)

    def tmp_dir(self, spec: FunctionSpec, root: Path) -> Path:
        """The /tmp for a new environment: one a reset environment of the same function left, or a new one."""
        with self._lock:
            kept = self._kept_tmp.get(spec.environment_key)
            if kept:
                return kept.pop()[0]
        path = root / "sandboxes" / uuid.uuid4().hex / "tmp"
        path.mkdir(parents=True)
        return path

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def release(self, environment: Environment) -> None:
        with self._lock:
            retired = environment.id in self._retired
            self._retired.discard(environment.id)
            if not self._closed.is_set() and environment.alive and not retired:
                self._idle.setdefault(environment.spec.environment_key, []).append(environment)
                return
        self.discard(environment)

    def _reap_forever(self) -> None:
        while not self._closed.wait(min(10.0, self.idle_seconds)):
            cutoff = time.monotonic() - self.idle_seconds
            expired: list[Environment] = []
            with self._lock:
                for environments in self._idle.values():
                    expired += [env for env in environments if env.last_used < cutoff]
                    environments[:] = [env for env in environments if env.last_used >= cutoff]
                for kept in self._kept_tmp.values():
                    _remove_all([(path, at) for path, at in kept if at < cutoff])
                    kept[:] = [(path, at) for path, at in kept if at >= cutoff]
            for environment in expired:
                self.discard(environment)

    def close(self) -> None:
        """Shut every environment down. A busy one is only killed: its invocation ends as "exit" and releases it."""
        self._closed.set()
        with self._lock:
            idle = [env for environments in self._idle.values() for env in environments]
            busy = self._all.difference(idle)
            self._all.clear()
            self._idle.clear()
            self._warming.clear()  # their INITs end as "exit" (killed below) and end_warming discards them
            for kept in self._kept_tmp.values():
                _remove_all(kept)
            self._kept_tmp.clear()
        for environment in idle:
            environment.close()
        for environment in busy:
            environment.kill()


def _remove_all(kept: list[tuple[Path, float]]) -> None:
    for path, _at in kept:
        _remove_tmp(path)


def _remove_tmp(path: Path) -> None:
    """An environment's /tmp folder, with the tmpfs that caps it (tmp_storage.py) and its sandbox folder."""
    tmp_storage.release(str(path))
    shutil.rmtree(path.parent, ignore_errors=True)
