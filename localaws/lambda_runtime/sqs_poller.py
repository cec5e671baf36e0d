"""Lambda's SQS event source mapping, run by localaws: poll the queue, gather batches, invoke, delete what succeeded.

https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
- A mapping receives from moto's SQS backend in-process, through localaws/sqs_model.py: a poll costs O(messages
  received), not O(queue length). Lambda's poller is AWS's own service, not a ReceiveMessage client held to 10
  messages a call, so one receive may take the rest of the batch. Each receive uses the queue's visibility timeout
  and counts toward maxReceiveCount; a message received that often moves to the queue's dead-letter queue.
- It gathers a batch until BatchSize messages, MaximumBatchingWindowInSeconds since the first message, or 6 MB of
  payload, whichever comes first (window 0: whatever one receive gets), then invokes the function synchronously with
  {"Records": [...]}.
- Up to ScalingConfig.MaximumConcurrency batches are in flight at once (without it, LOCALAWS_ESM_CONCURRENCY,
  default 5: the batches Lambda starts polling with). An invocation over the function's reserved concurrency or the
  account's limit is throttled: the mapping backs off and tries the batch again while its messages are still hidden;
  once their visibility timeout passes they return to the queue, as on AWS.
- Success deletes the batch. A function error deletes nothing: the messages come back after their visibility timeout.
  With FunctionResponseTypes ["ReportBatchItemFailures"], only the reported messages stay; a malformed response
  fails the whole batch (sqs_records.failed_message_ids).
- While a mapping's queue holds any message (visible, in flight or delayed) or a batch is running, the mapping holds
  one unit of app.activity, so /_localaws/idle means that nothing is left to process. The unit is taken under moto's
  lock by the send that adds the first message (`on_message_added`), so there is no gap between a producer's work
  and the mapping's.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid as uuid_module
from dataclasses import dataclass, field
from typing import Any

from moto.sqs.exceptions import QueueDoesNotExist, ReceiptHandleIsInvalid
from moto.sqs.models import sqs_backends

from localaws.lambda_runtime.concurrency import Throttled
from localaws.lambda_runtime.execution import Executor
from localaws.lambda_runtime.functions import FunctionNotFound, find_function, lambda_backend
from localaws.lambda_runtime.sqs_records import MAX_PAYLOAD, event_json, failed_message_ids, record, record_size
from localaws.sqs_model import Received, delete, next_ready_in, receive

log = logging.getLogger("localaws.esm")

_LONGEST_NAP = 5.0  # seconds: a poller wakes at least this often, whatever it waits for


@dataclass(frozen=True)
class MappingConfig:
    """What one poll needs of a mapping, read from moto's EventSourceMapping."""

    uuid: str
    account: str
    region: str
    queue_arn: str
    function_arn: str
    enabled: bool
    batch_size: int
    window_s: float
    report_failures: bool
    max_concurrency: int | None

    @property
    def queue_name(self) -> str:
        return self.queue_arn.rsplit(":", 1)[-1]


@dataclass
class Batch:
    config: MappingConfig
    messages: list[Received] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    size: int = 0
    hidden_until: float = 0.0  # time.time(): when the first of its messages becomes visible again


class Mappings:
    """Every SQS mapping's poller, and the activity each holds."""

    def __init__(self, app: Any, executor: Executor, default_concurrency: int, backoff: tuple[float, float]) -> None:
        self.app = app
        self.executor = executor
        self.default_concurrency = default_concurrency
        self.backoff = backoff
        self._pollers: dict[str, Poller] = {}
        self._lock = threading.Lock()
        self._closed = False

    def sync(self) -> None:
        """Start a poller for each SQS mapping moto holds, stop those of deleted ones, and wake every poller.

        Called once moto answered a Create/Update/DeleteEventSourceMapping, so an enabled mapping whose queue has
        messages holds its activity unit before the answer goes out."""
        with self.app.moto_lock:
            known = {uuid: esm for uuid, esm in _all_mappings() if esm.event_source_arn.split(":")[2] == "sqs"}
            with self._lock:
                if self._closed:
                    return
                for uuid in set(self._pollers) - set(known):
                    self._pollers.pop(uuid).stop()
                for uuid, esm in known.items():
                    if uuid not in self._pollers:
                        self._pollers[uuid] = Poller(self, uuid, esm.account_id, esm.region, esm.event_source_arn)
                        self._pollers[uuid].start()
                pollers = list(self._pollers.values())
            for poller in pollers:
                poller.hold_if_pending()
        for poller in pollers:
            poller.wake()

    def wake_all(self) -> None:
        with self._lock:
            pollers = list(self._pollers.values())
        for poller in pollers:
            poller.wake()

    def on_message_added(self, queue: Any) -> None:
        """Called under moto's lock after moto stored a message in `queue`."""
        with self._lock:
            pollers = [p for p in self._pollers.values() if p.watches(queue)]
        for poller in pollers:
            poller.hold_if_pending()
            poller.wake()

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            pollers = list(self._pollers.values())
        return [poller.describe() for poller in pollers]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pollers, self._pollers = list(self._pollers.values()), {}
        for poller in pollers:
            poller.stop()


def _all_mappings():
    from moto.awslambda.models import lambda_backends

    for regions in list(lambda_backends.values()):
        for backend in list(regions.values()):
            yield from backend._event_source_mappings.items()


class Poller:
    def __init__(self, mappings: Mappings, uuid: str, account: str, region: str, queue_arn: str) -> None:
        self.mappings = mappings
        self.app = mappings.app
        self.executor = mappings.executor
        self.uuid = uuid
        self.account = account
        self.region = region
        self._wake = threading.Condition()
        self._woken = False
        self._stopped = False
        self._holding = False
        self._in_flight = 0
        self._queue_arn = queue_arn
        self._stopping = threading.Event()
        self.invocations = 0
        self.throttles = 0
        self._thread = threading.Thread(target=self._run, name=f"localaws-esm-{uuid[:8]}", daemon=True)

    # -- called by others -----------------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify_all()
        self._stopping.set()
        self._release_if_idle(force=True)

    def wake(self) -> None:
        with self._wake:
            self._woken = True
            self._wake.notify_all()

    def watches(self, queue: Any) -> bool:
        return self._queue_arn == queue.queue_arn and not self._stopped

    def hold_if_pending(self) -> None:
        """Take the mapping's activity unit if it is enabled and its queue has a message (under moto's lock, see the
        module doc); a disabled mapping processes nothing, so its messages are not pending work."""
        esm = lambda_backend(self.account, self.region).get_event_source_mapping(self.uuid)
        if esm is None or not esm.enabled or not self.queue_has_messages():
            return
        with self._wake:
            if self._holding or self._stopped:
                return
            self._holding = True
        self.app.activity.begin()

    def describe(self) -> dict[str, Any]:
        with self._wake:
            return {
                "UUID": self.uuid,
                "EventSourceArn": self._queue_arn,
                "BatchesInFlight": self._in_flight,
                "Invocations": self.invocations,
                "Throttles": self.throttles,
                "Pending": self._holding,
            }

    # -- the poll loop ----------------------------------------------------------------------------------------------
    def _config(self) -> MappingConfig | None:
        with self.app.moto_lock:
            esm = lambda_backend(self.account, self.region).get_event_source_mapping(self.uuid)
            if esm is None:
                return None
            scaling = esm.scaling_config or {}
            return MappingConfig(
                uuid=self.uuid,
                account=self.account,
                region=self.region,
                queue_arn=esm.event_source_arn,
                function_arn=esm.function_arn,
                enabled=bool(esm.enabled),
                batch_size=int(esm.batch_size),
                window_s=float(esm.max_batch_window or 0),
                report_failures="ReportBatchItemFailures" in (esm.function_response_types or []),
                max_concurrency=scaling.get("MaximumConcurrency"),
            )

    def _run(self) -> None:
        while not self._stopped:
            try:
                if not self._poll_once():
                    return
            except Exception:  # the poller must outlive any one poll; a failed poll is logged and retried
                log.exception("esm %s: polling failed inside localaws; trying again", self.uuid)
                self._nap(_LONGEST_NAP)

    def _poll_once(self) -> bool:
        """One step of the loop: False once the mapping is gone."""
        config = self._config()
        if config is None:
            return False
        self._queue_arn = config.queue_arn
        limit = config.max_concurrency or self.mappings.default_concurrency
        if not config.enabled:
            self._release_if_idle(force=True)
            self._nap(_LONGEST_NAP)
            return True
        if self._in_flight >= limit:
            self._nap(_LONGEST_NAP)
            return True
        try:
            batch = self._gather(config)
        except QueueDoesNotExist:
            self._release_if_idle(force=True)
            self._nap(_LONGEST_NAP)
            return True
        if batch is None:
            return True
        with self._wake:
            self._in_flight += 1
        threading.Thread(
            target=self._process, args=(batch,), name=f"localaws-esm-batch-{self.uuid[:8]}", daemon=True
        ).start()
        return True

    def _gather(self, config: MappingConfig) -> Batch | None:
        """One batch, or None after a nap when there was nothing to receive."""
        batch = Batch(config)
        deadline = None
        while not self._stopped:
            wanted = config.batch_size - len(batch.messages)
            received, wait = self._receive(config, batch, wanted)
            if batch.messages and deadline is None:
                deadline = time.monotonic() + config.window_s
            full = len(batch.messages) >= config.batch_size or batch.size >= MAX_PAYLOAD
            if batch.messages and (full or time.monotonic() >= deadline):
                return batch
            if received:
                continue
            if not batch.messages:
                self._release_if_idle()
                self._nap(wait)
                return None
            self._nap(min(wait, max(0.0, deadline - time.monotonic())))
        return batch if batch.messages else None

    def _receive(self, config: MappingConfig, batch: Batch, wanted: int) -> tuple[int, float]:
        """Receive up to `wanted` messages into the batch; (how many, seconds until one may become visible)."""
        with self.app.moto_lock:
            backend = sqs_backends[config.account][config.region]
            queue = backend.get_queue(config.queue_name)
            visibility = int(queue.visibility_timeout or 30)

            def accept(received: Received) -> bool:
                entry = record(received.message, config.queue_arn, config.region)
                size = record_size(entry)
                if batch.messages and batch.size + size > MAX_PAYLOAD:
                    return False  # sqs_model releases it: it stays for the next batch
                batch.messages.append(received)
                batch.records.append(entry)
                batch.size += size
                if len(batch.messages) == 1:
                    batch.hidden_until = time.time() + visibility
                return True

            count = receive(backend, queue, visibility, wanted, accept) if wanted else 0
            return count, next_ready_in(queue, _LONGEST_NAP)

    def _nap(self, seconds: float) -> None:
        with self._wake:
            if not self._woken and not self._stopped:
                self._wake.wait(max(0.001, min(seconds, _LONGEST_NAP)))
            self._woken = False

    def _release_if_idle(self, force: bool = False) -> None:
        """Give back the activity unit once the queue is empty and no batch runs (or the mapping stopped)."""
        with self.app.moto_lock:
            with self._wake:
                if not self._holding or (self._in_flight and not force):
                    return
                if not force and self.queue_has_messages():
                    return
                self._holding = False
            self.app.activity.end()

    def queue_has_messages(self) -> bool:
        """Whether the queue holds any message, visible, in flight or delayed (call under moto's lock)."""
        try:
            queue = sqs_backends[self.account][self.region].get_queue(self._queue_arn.rsplit(":", 1)[-1])
        except QueueDoesNotExist:
            return False
        return bool(queue._messages)

    # -- one batch ----------------------------------------------------------------------------------------------
    def _process(self, batch: Batch) -> None:
        try:
            self._invoke_until_done(batch)
        except Exception:  # the batch's thread must end its accounting whatever happened
            log.exception("esm %s: a batch failed inside localaws; its messages return to the queue", self.uuid)
        finally:
            with self._wake:
                self._in_flight -= 1
            self._release_if_idle()
            self.wake()

    def _invoke_until_done(self, batch: Batch) -> None:
        config = batch.config
        first, longest = self.mappings.backoff
        delay = first
        while not self._stopped:
            try:
                spec, code = find_function(self.app, config.account, config.region, config.function_arn, None)
            except FunctionNotFound:
                log.warning(
                    "esm %s: function %s not found; the batch returns to the queue", self.uuid, config.function_arn
                )
                return
            payload = event_json(batch.records)
            try:
                result = self.executor.run(spec, code, payload, config.function_arn, str(uuid_module.uuid4()))
            except Throttled as throttled:
                with self._wake:
                    self.throttles += 1
                if time.time() + delay >= batch.hidden_until:
                    log.info("esm %s: throttled (%s); the batch returns to the queue", self.uuid, throttled.reason)
                    return
                self._stopping.wait(delay)
                delay = min(delay * 2, longest)
                continue
            with self._wake:
                self.invocations += 1
            self._settle(batch, result)
            return

    def _settle(self, batch: Batch, result: Any) -> None:
        ids = [received.message.id for received in batch.messages]
        if result.status != "ok":
            log.info("esm %s: function error (%s); %d messages return to the queue", self.uuid, result.status, len(ids))
            return
        failed = set(failed_message_ids(result.payload, ids)) if batch.config.report_failures else set()
        done = [received for received in batch.messages if received.message.id not in failed]
        with self.app.moto_lock:
            backend = sqs_backends[batch.config.account][batch.config.region]
            try:
                queue = backend.get_queue(batch.config.queue_name)
            except QueueDoesNotExist:
                queue = None  # deleted meanwhile: nothing left to delete
            for received in done if queue is not None else []:
                with contextlib.suppress(ReceiptHandleIsInvalid):  # gone meanwhile (purged, moved to the DLQ)
                    delete(backend, queue, received)
        log.info("esm %s: batch of %d done, %d reported failed", self.uuid, len(ids), len(failed))
