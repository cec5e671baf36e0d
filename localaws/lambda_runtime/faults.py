"""Fault injection: kill a function's worker at a chosen call it makes, as a timeout or an out-of-memory kill would.

A test must not hope that real work is slow enough to be cut by a short timeout: on a fast machine it finishes, on a
busy one it does not. Instead it arms a fault, and localaws kills the worker at an exact point of the handler's work:
when the handler makes its Nth matching AWS call (say, the 2nd S3 PutObject under `processed/`), either *before*
the call reaches S3 (nothing of it is stored) or *after* S3 stored it (the handler never sees the answer). The
invocation then ends exactly as Lambda ends one that timed out or ran out of memory (execution.py has the shapes:
"Task timed out after <Timeout>.00 seconds" / Sandbox.Timedout, or "Runtime exited with error: signal: killed" /
Runtime.ExitError), the environment is reset, and an asynchronous event is retried and finally sent to its
on-failure destination. A fault can also answer the call with an S3 error instead of killing (Effect "error"),
for the failures a handler catches. The function's code learns nothing: the hook sees only the requests it sends
to localaws, told apart by the session token each execution environment gets (execution.py).

This is localaws's own control, with no AWS API behind it:
- POST   /_localaws/lambda-faults   arm one fault; body (JSON):
    {"FunctionName": "etl-transform",      # required: the function whose workers are watched
     "Operation": "PutObject",             # required: the API verb of the call, as routing.identify names it
     "Service": "s3",                      # default "s3"
     "KeyPrefix": "processed/",            # only S3 calls on keys under this prefix count (default: every key)
     "Nth": 2,                             # the call that kills, counted per invocation from 1 (default 1)
     "When": "before",                     # "before" S3 stores it, or "after" (counting successful calls only)
     "Effect": "timeout",                  # "timeout", "oom", or "error": answer with ErrorCode ("before" only)
     "ErrorCode": "AccessDenied",          # with "error": AccessDenied (403), InternalError (500), SlowDown (503);
                                           # botocore retries 5xx, so those fail the handler only if every try fails
     "Times": 1}                           # invocations it kills, then it is spent (default: every invocation)
  answers 201 with {"FaultId": ...};
- GET    /_localaws/lambda-faults   the armed faults, each with "Fired" (how many invocations it killed);
- DELETE /_localaws/lambda-faults[?FunctionName=name]   disarm them (all, or the function's).
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from localaws.lambda_runtime.environments import Environment, EnvironmentPool
from localaws.server import LocalAws, Request, Response, json_error, json_response, xml_error

log = logging.getLogger("localaws")

EFFECTS = ("timeout", "oom", "error")
WHEN = ("before", "after")
# https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList
ERRORS = {
    "AccessDenied": (403, "Access Denied"),
    "InternalError": (500, "We encountered an internal error. Please try again."),
    "SlowDown": (503, "Please reduce your request rate."),
}


@dataclass
class Fault:
    FunctionName: str
    Operation: str
    Service: str = "s3"
    KeyPrefix: str = ""
    Nth: int = 1
    When: str = "before"
    Effect: str = "timeout"
    ErrorCode: str = "AccessDenied"
    Times: int | None = None
    FaultId: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    Fired: int = 0
    _calls: dict[tuple[str, int], int] = field(default_factory=dict, repr=False)  # (environment, invocation) -> n

    @classmethod
    def parse(cls, document: dict[str, Any]) -> Fault:
        known = {name for name in cls.__dataclass_fields__ if not name.startswith("_")} - {"FaultId", "Fired"}
        unknown = set(document) - known
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}; known: {sorted(known)}")
        fault = cls(**document)
        if not fault.FunctionName or not fault.Operation:
            raise ValueError("FunctionName and Operation are required")
        if fault.Effect not in EFFECTS or fault.When not in WHEN:
            raise ValueError(f"Effect must be one of {EFFECTS} and When one of {WHEN}")
        if fault.ErrorCode not in ERRORS or (fault.Effect == "error" and fault.When != "before"):
            raise ValueError(f"Effect 'error' answers before the call, with an ErrorCode of {sorted(ERRORS)}")
        if fault.Nth < 1 or (fault.Times is not None and fault.Times < 1):
            raise ValueError("Nth and Times count from 1")
        return fault

    @property
    def spent(self) -> bool:
        return self.Times is not None and self.Fired >= self.Times

    def describe(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if not key.startswith("_")}


class FaultInjector:
    def __init__(self, app: LocalAws, pool: EnvironmentPool) -> None:
        self.app = app
        self.pool = pool
        self._faults: list[Fault] = []
        self._hooked: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def install(self) -> None:
        self.app.control("lambda-faults", self.serve)

    # -- the control endpoint ---------------------------------------------------------------------------------
    def serve(self, method: str, query: dict[str, list[str]], body: bytes) -> Response:
        if method == "GET":
            with self._lock:
                return json_response({"Faults": [fault.describe() for fault in self._faults]})
        if method == "DELETE":
            name = (query.get("FunctionName") or [None])[0]
            with self._lock:
                self._faults = [fault for fault in self._faults if name is not None and fault.FunctionName != name]
            return json_response({}, 200)
        if method != "POST":
            return json_error("MethodNotAllowed", f"{method} is not served here: GET, POST or DELETE", 405)
        try:
            fault = Fault.parse(json.loads(body or b"{}"))
        except (ValueError, TypeError) as error:
            return json_error("InvalidParameterValueException", str(error), 400)
        self.arm(fault)
        return json_response({"FaultId": fault.FaultId}, 201)

    def arm(self, fault: Fault) -> None:
        route = (fault.Service, fault.Operation)
        with self._lock:
            self._faults.append(fault)
            hook = route not in self._hooked
            self._hooked.add(route)
        if hook:  # the server's own extension points: a validator runs before moto, an after hook once it answered
            self.app.validate(*route, lambda request: self._on_call(request, "before"))
            self.app.after(*route, lambda request, _response: self._on_call(request, "after"))

    # -- the hook ---------------------------------------------------------------------------------------------
    def _on_call(self, request: Request, when: str) -> Response | None:
        token = request.headers.get("x-amz-security-token", "")
        if not token.startswith("localaws-lambda-"):
            return None
        environment = self.pool.running(token)
        if environment is None:
            return None
        fault = self._count(environment, request, when)
        if fault is None:
            return None
        if fault.Effect == "error":
            log.info(
                "lambda %s: fault %s answers %s %s call #%d with %s",
                environment.spec.name,
                fault.FaultId,
                fault.Service,
                fault.Operation,
                fault.Nth,
                fault.ErrorCode,
            )
            status, message = ERRORS[fault.ErrorCode]
            return xml_error(fault.ErrorCode, message, status)
        log.info(
            "lambda %s: fault %s kills the worker %s %s %s call #%d (%s)",
            environment.spec.name,
            fault.FaultId,
            when,
            fault.Service,
            fault.Operation,
            fault.Nth,
            fault.Effect,
        )
        environment.crash(fault.Effect)
        # Nobody reads this answer: the caller is dead. "before" must not let moto store the call.
        return xml_error("InternalError", "localaws fault injection killed the caller") if when == "before" else None

    def _count(self, environment: Environment, request: Request, when: str) -> Fault | None:
        key = request.route.path_params.get("Key", "")
        with self._lock:
            for fault in self._faults:
                if (
                    fault.spent
                    or fault.When != when
                    or fault.FunctionName != environment.spec.name
                    or (fault.Service, fault.Operation) != (request.route.service, request.route.operation)
                    or not key.startswith(fault.KeyPrefix)
                ):
                    continue
                invocation = (environment.id, environment.invocations)
                fault._calls[invocation] = calls = fault._calls.get(invocation, 0) + 1
                if calls == fault.Nth:
                    fault.Fired += 1
                    return fault
        return None
