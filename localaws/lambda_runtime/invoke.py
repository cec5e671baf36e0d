"""The Invoke API, answered by localaws instead of moto: https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html

- RequestResponse: runs the function and answers 200 with its result, X-Amz-Executed-Version, and on failure
  X-Amz-Function-Error: Unhandled; LogType=Tail adds X-Amz-Log-Result (base64 of the last 4 KB of the log).
- Event: queues the event and answers 202 at once (S3 notifications arrive this way).
- DryRun: checks the function and the caller, answers 204.
- Over the function's reserved concurrency or the account's limit, a RequestResponse invocation answers 429
  TooManyRequestsException (concurrency.py); an Event one is queued all the same and throttled there.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
import uuid
from typing import Any
from urllib.parse import unquote

from localaws.lambda_runtime.async_queue import AsyncInvoker, Event
from localaws.lambda_runtime.concurrency import Throttled, throttled_response
from localaws.lambda_runtime.execution import Executor
from localaws.lambda_runtime.functions import FunctionNotFound, find_function
from localaws.server import ACCOUNT_ID, AfterHook, Override, Request, Response, json_error

MAX_SYNC_PAYLOAD = 6 * 1024 * 1024  # https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
MAX_ASYNC_PAYLOAD = 1024 * 1024


def make_invoke(executor: Executor, invoker: AsyncInvoker) -> Override:
    def invoke(request: Request) -> Response:
        function = unquote(request.route.path_params.get("FunctionName", ""))
        qualifier = (request.query.get("Qualifier") or [None])[0]
        invocation_type = request.headers.get("x-amz-invocation-type", "RequestResponse")
        region = request.route.region
        account = _account_of(function)
        try:
            spec, code = find_function(executor.app, account, region, function, qualifier)
        except FunctionNotFound as exc:
            return json_error("ResourceNotFoundException", exc.message, 404)
        if spec.package_type != "Zip" or not spec.runtime.startswith("python"):
            return json_error(
                "InvalidRuntimeException",
                f"localaws runs Python zip functions only, not {spec.runtime or spec.package_type}",
                502,
            )
        limit = MAX_ASYNC_PAYLOAD if invocation_type == "Event" else MAX_SYNC_PAYLOAD
        if len(request.body) > limit:
            return json_error(
                "RequestTooLargeException",
                f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
                413,
            )
        payload = request.body.decode("utf-8", "replace") or "{}"
        try:
            json.loads(payload)
        except ValueError as exc:
            return json_error("InvalidRequestContentException", f"Could not parse request body into json: {exc}", 400)
        invoked_arn = spec.arn + (f":{qualifier}" if qualifier else _qualifier_in(function))
        request_id = str(uuid.uuid4())
        base_headers = {"x-amzn-RequestId": request_id}
        if invocation_type == "DryRun":
            return Response(204, list(base_headers.items()), b"")
        if invocation_type == "Event":
            invoker.submit(
                Event(account, region, function, qualifier, invoked_arn, payload, request_id, time.monotonic())
            )
            return Response(202, list(base_headers.items()), b"")
        client_context = _client_context(request.headers.get("x-amz-client-context"))
        try:
            result = executor.run(spec, code, payload, invoked_arn, request_id, client_context)
        except Throttled as throttled:
            return throttled_response(throttled.reason)
        headers = {
            **base_headers,
            "Content-Type": "application/json",
            "X-Amz-Executed-Version": result.executed_version,
        }
        if result.function_error:
            headers["X-Amz-Function-Error"] = result.function_error
        if request.headers.get("x-amz-log-type") == "Tail":
            headers["X-Amz-Log-Result"] = base64.b64encode(result.log_tail.encode()).decode()
        return Response(200, list(headers.items()), result.payload)

    return invoke


def make_prewarm(executor: Executor) -> AfterHook:
    """After CreateFunction / UpdateFunction*, initialize one environment in the background (Executor.prewarm)."""

    def prewarm(request: Request, response: Response) -> None:
        name = unquote(request.route.path_params.get("FunctionName", "")) or request.json().get("FunctionName", "")
        region = request.route.region
        try:
            spec, code = find_function(executor.app, _account_of(name), region, name, None)
        except FunctionNotFound:
            return  # the request failed, or the function was deleted meanwhile: nothing to warm
        if spec.package_type != "Zip" or not spec.runtime.startswith("python"):
            return
        # Registered before the response goes out, so an invocation that follows it waits for this INIT.
        warming = executor.pool.begin_warming(spec)

        def initialize() -> None:
            try:
                executor.prewarm(spec, code, warming)
            finally:
                executor.app.activity.end()

        executor.app.activity.begin()  # /_localaws/idle waits for the environment to be ready
        threading.Thread(target=initialize, name=f"localaws-prewarm-{name}", daemon=True).start()

    return prewarm


def _account_of(function: str) -> str:
    parts = function.split(":")
    return parts[4] if function.startswith("arn:") and len(parts) > 4 and parts[4] else ACCOUNT_ID


def _qualifier_in(function: str) -> str:
    """':alias' when the function was named as 'name:alias' or a qualified ARN."""
    tail = function.split(":function:")[-1] if function.startswith("arn:") else function
    return f":{tail.split(':', 1)[1]}" if ":" in tail else ""


def _client_context(header: str | None) -> Any:
    if not header:
        return None
    try:
        return json.loads(base64.b64decode(header))
    except (ValueError, binascii.Error):
        return None
