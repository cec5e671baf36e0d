"""Asynchronous invocation (InvocationType=Event), as Lambda does it:
https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html
https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html

- Invoke answers 202 at once; the event waits in its function's queue; a bounded pool of workers
  (LOCALAWS_LAMBDA_CONCURRENCY, default 4), standing in for the account's concurrency, serves the functions in turn.
- A function error (handler exception, timeout, out of memory) is retried up to MaximumRetryAttempts times
  (default 2). AWS waits about 1 minute and then 2 minutes; locally the waits are LOCALAWS_LAMBDA_RETRY_DELAYS
  (default "0.5,1" seconds). Every attempt keeps the same request id, as on AWS.
- An event older than MaximumEventAgeInSeconds (default 6 hours) is discarded when it comes up.
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
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends

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
    executed_arn: str = ""  # the qualified ARN that ran, e.g. ...:function:name:$LATEST
    last: Invocation | None = None

    @property
    def queue_key(self) -> str:
        name = self.function.split(":function:")[-1].split(":")[0]
        return f"{self.account}/{self.region}/{name}"


class FairQueue:
    """One queue per function, served in turn, so a burst for one function does not hold back the others
    (Lambda queues each function's events separately)."""

    def __init__(self) -> None:
        self._queues: OrderedDict[str, deque[Event]] = OrderedDict()
        self._changed = threading.Condition()
        self._stopping = False

    def put(self, event: Event) -> None:
        with self._changed:
            self._queues.setdefault(event.queue_key, deque()).append(event)
            self._changed.notify()

    def get(self) -> Event | None:
        """The next event, taking functions in turn; None once stopped."""
        with self._changed:
            while not self._queues and not self._stopping:
                self._changed.wait()
            if self._stopping:
                return None
            key, events = next(iter(self._queues.items()))
            event = events.popleft()
            del self._queues[key]
            if events:
                self._queues[key] = events  # back of the line
            return event

    def stop(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify_all()


class AsyncInvoker:
    def __init__(self, app: Any, executor: Executor, concurrency: int, retry_delays: list[float]) -> None:
        self.app = app
        self.executor = executor
        self.retry_delays = retry_delays or [0.0]
        self._queue = FairQueue()
        self._timers: set[threading.Timer] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._workers = [
            threading.Thread(target=self._serve, name=f"localaws-lambda-async-{n}", daemon=True)
            for n in range(concurrency)
        ]
        for worker in self._workers:
            worker.start()

    def submit(self, event: Event) -> None:
        self.app.activity.begin()
        self._queue.put(event)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for timer in self._timers:
                timer.cancel()
        self._queue.stop()

    # -- the pool --------------------------------------------------------------------------------------------
    def _serve(self) -> None:
        while (event := self._queue.get()) is not None:
            try:
                self._attempt(event)
            except Exception:  # keep the pool alive; the event is dropped with its cause logged
                log.exception("lambda async event %s for %s failed inside localaws", event.request_id, event.function)
                self.app.activity.end()

    def _attempt(self, event: Event) -> None:
        try:
            spec, code = find_function(self.app, event.account, event.region, event.function, event.qualifier)
        except FunctionNotFound:
            log.warning("lambda async event %s dropped: function %s no longer exists", event.request_id, event.function)
            self.app.activity.end()
            return
        event.executed_arn = f"{spec.arn}:{spec.version}"
        config = event_invoke_config(self.app, spec)
        max_age = config.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE_S)
        if time.monotonic() - event.received_at > max_age:
            self._finish(event, config, "EventAgeExceeded")
            return
        event.attempts += 1
        event.last = self.executor.run(spec, code, event.payload, event.invoked_arn, event.request_id)
        if event.last.status == "ok":
            self._finish(event, config, "Success")
        elif event.attempts <= config.get("MaximumRetryAttempts", DEFAULT_RETRY_ATTEMPTS):
            delay = self.retry_delays[min(event.attempts, len(self.retry_delays)) - 1]
            self._retry_later(event, delay)
        else:
            self._finish(event, config, "RetriesExhausted")

    def _retry_later(self, event: Event, delay: float) -> None:
        def requeue() -> None:
            with self._lock:
                self._timers.discard(timer)
            self._queue.put(event)

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
