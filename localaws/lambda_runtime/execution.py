"""Run one invocation of a function in an execution environment, and log it as Lambda does.

The results mirror Lambda's (https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html,
https://docs.aws.amazon.com/lambda/latest/dg/python-exceptions.html):
- success: the handler's JSON result;
- a handler error: FunctionError "Unhandled" and {"errorMessage", "errorType", "requestId", "stackTrace"};
- a timeout: {"errorType": "Sandbox.Timedout", "errorMessage": "RequestId: … Error: Task timed out after N.NN seconds"}
  (https://docs.aws.amazon.com/lambda/latest/dg/troubleshooting-invocation.html#troubleshooting-timeouts);
- out of memory or a dead runtime: {"errorType": "Runtime.ExitError",
  "errorMessage": "RequestId: … Error: Runtime exited with error: signal: killed"}, Max Memory Used = Memory Size.
The function runs on the local interpreter: python3.12 is approximated by whatever Python serves localaws.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localaws.iam import principals as iam_principals
from localaws.lambda_runtime import layers, no_dev_shm, tmp_storage
from localaws.lambda_runtime.concurrency import Concurrency
from localaws.lambda_runtime.environments import Attempt, Environment, EnvironmentPool, Warming
from localaws.lambda_runtime.functions import CodeCache, FunctionSpec
from localaws.lambda_runtime.logs import (
    LogLine,
    LogSink,
    end_line,
    new_stream_name,
    now_ms,
    report_line,
    start_line,
    tail,
)

log = logging.getLogger("localaws")

SESSION_TOKEN_PREFIX = "localaws-lambda-"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_SESSION_TOKEN": "test"}


@dataclass
class Invocation:
    request_id: str
    status: str  # "ok", "error", "timeout", "oom", "exit"
    payload: bytes  # the response payload: the handler's result or the error document
    executed_version: str
    log_tail: str

    @property
    def function_error(self) -> str | None:
        return None if self.status == "ok" else "Unhandled"


class Executor:
    def __init__(
        self,
        app: Any,
        cache: CodeCache,
        pool: EnvironmentPool,
        init_timeout_s: float,
        concurrency: Concurrency | None = None,
    ) -> None:
        self.app = app
        self.cache = cache
        self.pool = pool
        self.init_timeout_s = init_timeout_s
        self.concurrency = concurrency or Concurrency(app)

    def run(
        self,
        spec: FunctionSpec,
        code: bytes,
        payload: str,
        invoked_arn: str,
        request_id: str | None = None,
        client_context: str | None = None,
    ) -> Invocation:
        """Run one invocation; concurrency.Throttled (before anything runs) when the function or the account has no
        concurrency left."""
        with self.app.activity.tracking(), self.concurrency.slot(spec):
            return self._run(spec, code, payload, invoked_arn, request_id or str(uuid.uuid4()), client_context)

    def _run(
        self,
        spec: FunctionSpec,
        code: bytes,
        payload: str,
        invoked_arn: str,
        request_id: str,
        client_context: str | None,
    ) -> Invocation:
        started = time.monotonic()
        environment = self.pool.take_warm(spec)
        cold = environment is None
        if environment is None:
            environment = self._spawn(spec, code)
        try:
            attempt, init, lines = self._attempt(environment, cold, payload, invoked_arn, request_id, client_context)
        except BaseException:
            self.pool.discard(environment)  # never hand on an environment in an unknown state
            raise
        body, trailer = _outcome(attempt, request_id, spec)
        lines.append(LogLine(now_ms(), end_line(request_id)))
        max_memory = spec.memory_size if attempt.status == "oom" else max(1, environment.max_memory_mb)
        init_ms = init.duration_ms if init is not None and init is not attempt else None
        report = report_line(request_id, attempt.duration_ms, spec.memory_size, max_memory, init_ms)
        lines.append(LogLine(now_ms(), report))
        lines += [LogLine(now_ms(), text) for text in trailer]
        LogSink(self.app, spec.account, spec.region, spec.log_group, environment.log_stream).write(lines)
        if attempt.status in ("ok", "error") and init is not attempt:
            self.pool.release(environment)
        elif init is not attempt:
            self.pool.reset(environment)  # the invocation timed out, ran out of memory or crashed: keep its /tmp
        else:
            self.pool.discard(environment)
        log.info(
            "lambda %s %.1f s %s (%s, %d MB)",
            spec.name,
            time.monotonic() - started,
            attempt.status,
            "cold" if cold else "warm",
            max_memory,
        )
        return Invocation(request_id, attempt.status, body, spec.version, tail(lines))

    def prewarm(self, spec: FunctionSpec, code: bytes, warming: Warming | None = None) -> bool:
        """Initialize one execution environment before any invocation and keep it warm; True if INIT succeeded.

        Lambda may proactively initialize environments of on-demand functions, so their first invocation need not
        be a cold start: https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html
        """
        warming = warming or self.pool.begin_warming(spec)  # an invocation arriving meanwhile takes this one over
        ready = False
        try:
            if self.pool.closed:
                return False
            environment = warming.environment = self._spawn(spec, code)
            init = environment.wait_ready(max(self.init_timeout_s, float(spec.timeout)))
            LogSink(self.app, spec.account, spec.region, spec.log_group, environment.log_stream).write(init.output)
            ready = init.status == "ok"
        finally:
            self.pool.end_warming(warming, ready)
        if ready:
            log.info("lambda %s initialized proactively (%d ms)", spec.name, init.duration_ms)
        return ready

    def _attempt(
        self,
        environment: Environment,
        cold: bool,
        payload: str,
        invoked_arn: str,
        request_id: str,
        client_context: str | None,
    ) -> tuple[Attempt, Attempt | None, list[LogLine]]:
        """INIT on a cold start, then the invocation: (how it ended, the INIT attempt or None, its log lines)."""
        spec = environment.spec
        lines: list[LogLine] = []
        init = None
        if cold:
            init = environment.wait_ready(max(self.init_timeout_s, float(spec.timeout)))
            lines += init.output
        lines.append(LogLine(now_ms(), start_line(request_id, spec.version)))
        if init is not None and init.status != "ok":
            return init, init, lines
        request = {
            "request_id": request_id,
            "payload": payload,
            "deadline_ms": now_ms() + spec.timeout * 1000,
            "invoked_function_arn": invoked_arn,
            "client_context": client_context,
        }
        attempt = environment.invoke(request)
        return attempt, init, lines + attempt.output

    def _spawn(self, spec: FunctionSpec, code: bytes) -> Environment:
        task_root = self.cache.extract("functions", code)
        # localaws's addition: the environment's own /tmp, as each Lambda execution environment has one
        tmp_dir = self.pool.tmp_dir(spec, self.cache.root)
        settings = {
            "task_root": str(task_root),
            "layer_paths": layers.layer_paths(self.app, self.cache, spec),
            "runtime_paths": layers.runtime_paths(),
            "blocked_packages": layers.blocked_packages(spec),
            "pandas_layer": layers.pandas_layer_settings(spec),
            "handler": spec.handler,
            "tmp_storage": self._tmp_storage(spec, tmp_dir),
            "no_dev_shm": no_dev_shm.__file__,  # Lambda's environments have no /dev/shm: no POSIX semaphores
        }
        stream = new_stream_name(spec.version)
        variables = self._environment_variables(spec, str(task_root), stream)
        variables["TMPDIR"] = str(tmp_dir)
        environment = Environment(
            spec, settings, variables, self.cache.root / f"{uuid.uuid4().hex}.log", tmp_dir=tmp_dir
        )
        self.pool.track(environment)
        return environment

    def _tmp_storage(self, spec: FunctionSpec, tmp_dir: Path) -> dict[str, Any] | None:
        """What the worker joins to see `tmp_dir` as a tmpfs of the function's EphemeralStorage (tmp_storage.py)."""
        if not tmp_storage.supported():
            log.warning(
                "lambda %s: /tmp not capped at %d MB (no user namespaces here)", spec.name, spec.ephemeral_storage
            )
            return None
        return {"hook": tmp_storage.__file__, "holder": tmp_storage.hold(str(tmp_dir), spec.ephemeral_storage)}

    def _environment_variables(self, spec: FunctionSpec, task_root: str, stream: str) -> dict[str, str]:
        """The function's variables, then Lambda's reserved ones, which a function cannot override:
        https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime"""
        reserved = {
            "_HANDLER": spec.handler,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "LAMBDA_TASK_ROOT": task_root,
            "LAMBDA_RUNTIME_DIR": os.path.dirname(os.path.abspath(__file__)),
            "TZ": ":UTC",
            "LANG": "en_US.UTF-8",
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            # localaws's own additions: the endpoint, stand-in credentials, and no config files from the host.
            "AWS_ENDPOINT_URL": self.app.endpoint,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            **self._role_credentials(spec),
        }
        return {**dict(spec.environment), **reserved}

    def _role_credentials(self, spec: FunctionSpec) -> dict[str, str]:
        """A session of the function's execution role, as Lambda assumes it through STS for each environment
        (https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html), so the handler runs under
        its role's policies (localaws.iam). Each environment has its own session: faults.py tells by the
        X-Amz-Security-Token header which environment made a request."""
        if not spec.role:
            return {**FAKE_CREDENTIALS, "AWS_SESSION_TOKEN": f"{SESSION_TOKEN_PREFIX}{uuid.uuid4().hex}"}
        with self.app.moto_lock:
            return iam_principals.assume_role(
                spec.account, spec.region, spec.role, spec.name, token_prefix=SESSION_TOKEN_PREFIX
            )


def _outcome(attempt: Attempt, request_id: str, spec: FunctionSpec) -> tuple[bytes, list[str]]:
    """The response payload, and the lines Lambda logs after REPORT."""
    if attempt.status == "ok":
        return (attempt.payload or "null").encode(), []
    if attempt.status == "error":
        error = attempt.error or {}
        document = {
            "errorMessage": error.get("errorMessage"),
            "errorType": error.get("errorType"),
            "requestId": request_id,
            "stackTrace": error.get("stackTrace", []),
        }
        return json.dumps(document).encode(), []
    if attempt.status == "timeout":
        seconds = f"{attempt.duration_ms / 1000:.2f}"
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{now_ms() % 1000:03d}Z"
        document = {
            "errorType": "Sandbox.Timedout",
            "errorMessage": f"RequestId: {request_id} Error: Task timed out after {seconds} seconds",
        }
        return json.dumps(document).encode(), [f"{stamp} {request_id} Task timed out after {seconds} seconds"]
    message = f"RequestId: {request_id} Error: Runtime exited with error: {attempt.exit_reason}"
    document = {"errorType": "Runtime.ExitError", "errorMessage": message}
    return json.dumps(document).encode(), [f"{message}\nRuntime.ExitError"]
