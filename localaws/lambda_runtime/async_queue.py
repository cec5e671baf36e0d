"""Asynchronous invocation (InvocationType=Event), as Lambda does it:
https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html
https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html

- Invoke answers 202 at once; the event waits in its function's queue, which up to LOCALAWS_LAMBDA_CONCURRENCY
  (default: the CPU count, at least 2; lambda_runtime/__init__.py) executions drain at once; functions scale
  independently, as on Lambda.
- A function error (handler exception, timeout, out of memory) is retried up to MaximumRetryAttempts times
  (default 2). AWS waits about 1 minute and then 2 minutes; locally the waits are LOCALAWS_LAMBDA_RETRY_DELAYS
  (default "0.5,1" seconds). Every attempt keeps the same request id, as on AWS.
- A throttled event (the function's reserved concurrency or the account's limit is used up, concurrency.py) goes
  back to its queue and is tried again after a backoff that doubles from LOCALAWS_LAMBDA_THROTTLE_BACKOFF's first
  value to its second (default "0.5,5" seconds; AWS: from 1 second to 5 minutes). Throttles are not retry attempts.
- An event older than MaximumEventAgeInSeconds (default 6 hours) is discarded when it comes up: to the OnFailure
  destination with condition EventAgeExceeded.
- Then the event goes to the OnFailure destination (SQS, SNS or another function), or on success to OnSuccess,
  wrapped in Lambda's invocation record.
Each event holds one unit of `app.activity` from Invoke until it is finally done (including delivery), so
GET /_localaws/idle is truthful across retries.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends

from localaws.lambda_runtime.concurrency import Throttled
from localaws.lambda_runtime.execution import Executor, Invocation
from localaws.lambda_runtime.functions import FunctionNotFound, event_invoke_config, find_function

log = logging.getLogger("localaws")

DEFAULT_RETRY_ATTEMPTS = 2
DEFAULT_MAX_EVENT_AGE_S = 21600


@dataclass
class Event:
    account: str
    region: str
    function: str  # name or ARN, as invoked
    qualifier: str | None
    invoked_arn: str
    payload: str
    request_id: str
    received_at: float  # time.monotonic()
    attempts: int = 0
    throttles: int = 0
    executed_arn: str = ""  # the qualified ARN that ran, e.g. ...:function:name:$LATEST
    last: Invocation | None = None

    @property
    def queue_key(self) -> str:
        name = self.function.split(":function:")[-1].split(":")[0]
        return f"{self.account}/{self.region}/{name}"


class FunctionQueues:
    """One queue per function, each drained by up to `per_function` threads at once.

    Lambda scales each function on its own, so a function whose invocations wait (a crawler trigger polling a
    running crawl) never holds back another function's events; the bound stands in for reserved concurrency.
    """

    def __init__(self, process: Callable[[Event], float | None], per_function: int) -> None:
        self._process = process  # returns None when done with the event, or seconds to back off before it again
        self._per_function = max(1, per_function)
        self._queues: dict[str, deque[Event]] = {}
        self._running: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stopped = False
        self._stopping = threading.Event()

    def put(self, event: Event) -> bool:
        """Queue the event; False once stopped."""
        key = event.queue_key
        with self._lock:
            if self._stopped:
                return False
            self._queues.setdefault(key, deque()).append(event)
            if self._running.get(key, 0) >= self._per_function:
                return True
            self._running[key] = self._running.get(key, 0) + 1
        threading.Thread(target=self._drain, args=(key,), name=f"localaws-lambda-{key}", daemon=True).start()
        return True

    def _drain(self, key: str) -> None:
        while True:
            with self._lock:
                events = self._queues.get(key)
                if self._stopped or not events:
                    self._running[key] -= 1
                    return
                event = events.popleft()
            backoff = self._process(event)
            if backoff is not None:
                with self._lock:
                    self._queues[key].appendleft(event)
                self._stopping.wait(backoff)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
        self._stopping.set()


class AsyncInvoker:
    def __init__(
        self,
        app: Any,
        executor: Executor,
        concurrency: int,
        retry_delays: list[float],
        throttle_backoff: tuple[float, float] = (0.5, 5.0),
    ) -> None:
        self.app = app
        self.executor = executor
        self.retry_delays = retry_delays or [0.0]
        self.throttle_backoff = throttle_backoff
        self._queues = FunctionQueues(self._process, concurrency)
        self._timers: set[threading.Timer] = set()
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, event: Event) -> None:
        self.app.activity.begin()
        self._requeue(event)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for timer in self._timers:
                timer.cancel()
        self._queues.stop()

    # -- the pool --------------------------------------------------------------------------------------------
    def _requeue(self, event: Event) -> None:
        if not self._queues.put(event):
            self.app.activity.end()  # shutting down: the event is dropped

    def _process(self, event: Event) -> float | None:
        try:
            return self._attempt(event)
        except Exception:  # keep the queue alive; the event is dropped with its cause logged
            log.exception("lambda async event %s for %s failed inside localaws", event.request_id, event.function)
            self.app.activity.end()
            return None

    def _attempt(self, event: Event) -> float | None:
        """Run the event once; the backoff in seconds when it was throttled, else None."""
        try:
            spec, code = find_function(self.app, event.account, event.region, event.function, event.qualifier)
        except FunctionNotFound:
            log.warning("lambda async event %s dropped: function %s no longer exists", event.request_id, event.function)
            self.app.activity.end()
            return None
        event.executed_arn = f"{spec.arn}:{spec.version}"
        config = event_invoke_config(self.app, spec)
        max_age = config.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE_S)
        if time.monotonic() - event.received_at > max_age:
            self._finish(event, config, "EventAgeExceeded")
            return None
        try:
            event.last = self.executor.run(spec, code, event.payload, event.invoked_arn, event.request_id)
        except Throttled as throttled:
            event.throttles += 1
            first, longest = self.throttle_backoff
            backoff = min(first * 2 ** (event.throttles - 1), longest)
            log.info("lambda async event %s for %s throttled (%s)", event.request_id, spec.name, throttled.reason)
            return backoff
        event.attempts += 1
        if event.last.status == "ok":
            self._finish(event, config, "Success")
        elif event.attempts <= config.get("MaximumRetryAttempts", DEFAULT_RETRY_ATTEMPTS):
            delay = self.retry_delays[min(event.attempts, len(self.retry_delays)) - 1]
            self._retry_later(event, delay)
        else:
            self._finish(event, config, "RetriesExhausted")
        return None

    def _retry_later(self, event: Event, delay: float) -> None:
        def requeue() -> None:
            with self._lock:
                self._timers.discard(timer)
            self._requeue(event)

        timer = threading.Timer(delay, requeue)
        timer.daemon = True
        with self._lock:
            if self._closed:
                self.app.activity.end()
                return
            self._timers.add(timer)
        timer.start()

    # -- destinations ----------------------------------------------------------------------------------------
    def _finish(self, event: Event, config: dict[str, Any], condition: str) -> None:
        try:
            which = "OnSuccess" if condition == "Success" else "OnFailure"
            destination = config.get("DestinationConfig", {}).get(which, {}).get("Destination")
            if destination:
                self._deliver(destination, invocation_record(event, condition))
            elif condition != "Success":
                log.warning(
                    "lambda async event %s for %s discarded (%s after %d attempts)",
                    event.request_id,
                    event.function,
                    condition,
                    event.attempts,
                )
        finally:
            self.app.activity.end()

    def _deliver(self, destination: str, record: dict[str, Any]) -> None:
        service, region, account, resource = _split_arn(destination)
        body = json.dumps(record)
        with self.app.moto_lock:
            if service == "sqs":
                sqs_backends[account][region].send_message(resource, body)
                return
            if service == "sns":
                sns_backends[account][region].publish(body, arn=destination)
                return
        if service == "lambda":
            name = resource.removeprefix("function:")
            self.submit(
                Event(
                    account,
                    region,
                    name,
                    None,
                    destination,
                    body,
                    record["requestContext"]["requestId"],
                    time.monotonic(),
                )
            )
            return
        log.warning("lambda destination %s is not supported locally; the record was dropped", destination)


def invocation_record(event: Event, condition: str) -> dict[str, Any]:
    """Lambda's invocation record, as sent to a destination (invocation-async-retain-records.html)."""
    now = datetime.now(UTC)
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "requestContext": {
            "requestId": event.request_id,
            "functionArn": event.executed_arn or event.invoked_arn,
            "condition": condition,
            "approximateInvokeCount": event.attempts,
        },
        "requestPayload": json.loads(event.payload),
    }
    if event.last is not None:
        response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": event.last.executed_version}
        if event.last.function_error:
            response_context["functionError"] = event.last.function_error
        record["responseContext"] = response_context
        record["responsePayload"] = json.loads(event.last.payload)
    return record


def _split_arn(arn: str) -> tuple[str, str, str, str]:
    parts = arn.split(":", 5)
    return parts[2], parts[3], parts[4], parts[5]
