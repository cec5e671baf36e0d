"""Lambda concurrency: the account's limit, each function's reserved concurrency, and throttling beyond them.

https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html
https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
- Every running invocation holds one unit of concurrency until it ends, whoever invoked it (Invoke, the async queue,
  an event source mapping).
- A function with reserved concurrency R runs at most R invocations at once (R = 0 stops it); the others share what
  is left of the account's limit, "unreserved concurrency". Over either, Lambda throttles: a synchronous Invoke gets
  429 TooManyRequestsException with Reason ReservedFunctionConcurrentInvocationLimitExceeded (the function's
  reservation) or ConcurrentInvocationLimitExceeded (the account's unreserved pool); callers that retry (the async
  queue, event source mappings) back off and try again.
- The account limit is 1,000 per Region by default; new accounts may get less (LOCALAWS_ACCOUNT_CONCURRENCY=10
  mimics one). PutFunctionConcurrency refuses a reservation that leaves less than the minimum unreserved, which is 100
  (or the whole limit, when the limit is lower: an account limited to 10 cannot reserve anything), with
  InvalidParameterValueException "Specified ReservedConcurrentExecutions for function decreases account's
  UnreservedConcurrentExecution below its minimum value of [100]."
- GetAccountSettings reports the limit and the unreserved concurrency (moto does not implement it).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote

from localaws.lambda_runtime.functions import FunctionSpec, lambda_backend
from localaws.server import LocalAws, Request, Response, json_error, json_response

DEFAULT_ACCOUNT_LIMIT = 1000  # https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
MINIMUM_UNRESERVED = 100
FUNCTION_LIMIT = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT_LIMIT = "ConcurrentInvocationLimitExceeded"
# GetAccountSettings' code-size quotas (gettingstarted-limits.html), which localaws does not enforce.
_CODE_QUOTAS = {"TotalCodeSize": 80530636800, "CodeSizeUnzipped": 262144000, "CodeSizeZipped": 52428800}


class Throttled(Exception):
    """No concurrency left for this invocation; `reason` is the Reason of Lambda's TooManyRequestsException."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def throttled_response(reason: str) -> Response:
    """Invoke's 429, as Lambda answers it (API_Invoke.html, TooManyRequestsException)."""
    return json_response(
        {"Reason": reason, "Type": "User", "message": "Rate Exceeded."},
        429,
        {"x-amzn-ErrorType": "TooManyRequestsException"},
    )


def show_zero_reservation() -> None:
    """Patch moto so that GetFunction shows Concurrency for a reservation of 0 too (moto tests the value for truth):
    https://docs.aws.amazon.com/lambda/latest/api/API_GetFunction.html"""
    from moto.awslambda.models import LambdaFunction

    original = LambdaFunction.get_code
    if getattr(original, "_localaws", False):
        return

    def get_code(self: Any) -> dict[str, Any]:
        response = original(self)
        if self.reserved_concurrency is not None and "Concurrency" not in response:
            response["Concurrency"] = {"ReservedConcurrentExecutions": int(self.reserved_concurrency)}
        return response

    get_code._localaws = True  # type: ignore[attr-defined]
    LambdaFunction.get_code = get_code  # type: ignore[method-assign]


def minimum_unreserved(account_limit: int) -> int:
    return min(MINIMUM_UNRESERVED, account_limit)


class Concurrency:
    """Counts running invocations per function and admits a new one only within the limits above."""

    def __init__(self, app: LocalAws, account_limit: int = DEFAULT_ACCOUNT_LIMIT) -> None:
        self.app = app
        self.account_limit = account_limit
        self._running: dict[tuple[str, str, str], int] = {}
        self._throttles: dict[tuple[str, str, str], int] = {}
        self._lock = threading.Lock()

    def reservations(self, account: str, region: str) -> dict[str, int]:
        """Each function's reserved concurrency, by name (functions without one are absent)."""
        with self.app.moto_lock:
            backend = lambda_backend(account, region)
            return {
                fn.function_name: int(fn.reserved_concurrency)
                for fn in backend.list_functions()
                if fn.reserved_concurrency is not None
            }

    @contextmanager
    def slot(self, spec: FunctionSpec) -> Iterator[None]:
        """Hold one unit of the function's concurrency while the body runs; Throttled if there is none."""
        key = (spec.account, spec.region, spec.name)
        reserved = self.reservations(spec.account, spec.region)
        with self._lock:
            reason = self._refusal(key, reserved)
            if reason is not None:
                self._throttles[key] = self._throttles.get(key, 0) + 1
                raise Throttled(reason)
            self._running[key] = self._running.get(key, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._running[key] -= 1

    def _refusal(self, key: tuple[str, str, str], reserved: dict[str, int]) -> str | None:
        account, region, name = key
        if name in reserved:
            return FUNCTION_LIMIT if self._running.get(key, 0) >= reserved[name] else None
        pool = self.account_limit - sum(reserved.values())
        in_pool = sum(n for (a, r, f), n in self._running.items() if (a, r) == (account, region) and f not in reserved)
        return ACCOUNT_LIMIT if in_pool >= pool else None

    def describe(self) -> dict[str, Any]:
        """For /_localaws/lambda-concurrency and the console: running invocations and throttles per function."""
        with self._lock:
            functions = {
                "/".join(key): {"Running": self._running.get(key, 0), "Throttles": self._throttles.get(key, 0)}
                for key in sorted(set(self._running) | set(self._throttles))
            }
        return {"AccountLimit": self.account_limit, "Functions": functions}

    # -- the API -------------------------------------------------------------------------------------------------
    def validate_put(self, request: Request) -> Response | None:
        """PutFunctionConcurrency: refuse a reservation that leaves too little unreserved concurrency."""
        name = unquote(request.route.path_params.get("FunctionName", ""))
        value = request.json().get("ReservedConcurrentExecutions")
        if not isinstance(value, int):
            return None  # botocore validates the type; moto answers a raw caller
        account = _account_of(name)
        function = name.split(":function:")[-1].split(":")[0] if name.startswith("arn:") else name.split(":")[0]
        others = self.reservations(account, request.route.region)
        others.pop(function, None)
        minimum = minimum_unreserved(self.account_limit)
        if self.account_limit - sum(others.values()) - value < minimum:
            return json_error(
                "InvalidParameterValueException",
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{minimum}].",
            )
        return None

    def account_settings(self, request: Request) -> Response:
        """GetAccountSettings: https://docs.aws.amazon.com/lambda/latest/api/API_GetAccountSettings.html"""
        account = _account_of("")
        reserved = self.reservations(account, request.route.region)
        with self.app.moto_lock:
            functions = list(lambda_backend(account, request.route.region).list_functions())
            code_size = sum(int(getattr(fn, "code_size", 0) or 0) for fn in functions)
        return json_response(
            {
                "AccountLimit": {
                    **_CODE_QUOTAS,
                    "ConcurrentExecutions": self.account_limit,
                    "UnreservedConcurrentExecutions": self.account_limit - sum(reserved.values()),
                },
                "AccountUsage": {"TotalCodeSize": code_size, "FunctionCount": len(functions)},
            }
        )


def _account_of(function: str) -> str:
    from localaws.server import ACCOUNT_ID

    parts = function.split(":")
    return parts[4] if function.startswith("arn:") and len(parts) > 4 and parts[4] else ACCOUNT_ID
