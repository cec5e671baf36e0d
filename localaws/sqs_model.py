"""The one place localaws reaches into moto's SQS model (moto.sqs.models), and why.

moto keeps a queue's messages in one list (`Queue._messages`) and answers every question by scanning it, reading the
clock (a datetime.utcnow()) once per message per question:
- ReceiveMessage scans the whole list for visible messages and, for each message it returns, calls
  is_message_valid_based_on_retention_period, which builds every queue attribute three times (get_queue_attributes ->
  Queue.attributes), and each of the three ApproximateNumberOfMessages* counts scans the list again;
- SendMessage builds Queue.attributes too (to read ContentBasedDeduplication), DeleteMessage and
  ChangeMessageVisibility scan for the receipt handle.
With ~1,000 messages queued in a burst, the event source mapping's polls and the S3 notifications sent to the queue
spent 15-25% of the server's GIL time there (issue 13). Lambda's SQS poller is AWS's own service, not a
ReceiveMessage client, so localaws' poller (lambda_runtime/sqs_poller.py) receives through this module instead:

- `receive` keeps, per standard queue, a heap of the moment each message may next be received (when its visibility
  timeout and delay have passed), so a poll costs O(messages it returns), not O(queue length). moto's list stays the
  truth: a heap entry is checked against it (`in`, an identity scan at C speed) before use, so a message deleted,
  purged or moved to the dead-letter queue by anyone is skipped; one received by anyone else is seen as not yet
  visible and its entry moves to its new time; ChangeMessageVisibility (which may make a message visible sooner)
  marks the heap stale, rebuilt from the list at the next poll. A receive does what moto's does: a message received
  maxReceiveCount times goes to the dead-letter queue (RedrivePolicy), each receive marks it received (receive
  count, first receive time, a new receipt handle, hidden for the visibility timeout). A message older than the
  queue's MessageRetentionPeriod is deleted, as SQS does, instead of being kept and returned.
- `delete` and `release` (visibility 0) act on the message received, without scanning for its receipt handle.
- FIFO queues (batches of at most 10) keep moto's own ReceiveMessage, which honours message groups.
- moto's counting (Queue.messages, the ApproximateNumberOfMessages* properties) and its retention check are replaced
  by versions with the same answers that read the clock once per call, and the retention check reads the one
  attribute it needs: GetQueueAttributes and SendMessage then scan the list once, with no clock read per message.
tests/localaws/test_sqs_model.py fails if moto changes what this relies on: Queue._messages, pending_messages,
deleted_messages, dead_letter_queue, redrive_policy, message_retention_period, fifo_queue, add_message; Message.id,
visible_at, delayed_until (ms since the epoch; visible once now > visible_at, not delayed once now >=
delayed_until), sent_timestamp, approximate_receive_count, mark_received, change_visibility, all_receipt_handles;
SQSBackend.change_message_visibility and is_message_valid_based_on_retention_period.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.core.utils import unix_time_millis
from moto.sqs import models as sqs_models
from moto.sqs.exceptions import ReceiptHandleIsInvalid

log = logging.getLogger("localaws.sqs")

FIFO_RECEIVE_MAX = 10  # a FIFO queue's mapping takes batches of at most 10 (event_source_mappings.py)


@dataclass(frozen=True)
class Received:
    message: Any  # moto's Message (a copy for a FIFO queue)
    receipt_handle: str


@dataclass
class _Ready:
    heap: list[tuple[float, int, Any]] = field(default_factory=list)  # (ready at, entry number, message)
    current: dict[str, int] = field(default_factory=dict)  # message id -> the entry number that is its live entry
    stale: bool = True


_indexes: weakref.WeakKeyDictionary[Any, _Ready] = weakref.WeakKeyDictionary()
_entries = itertools.count()


def _ready_at(message: Any) -> float:
    return max(message.visible_at, message.delayed_until)


def _receivable(message: Any, now_ms: float) -> bool:
    return now_ms > message.visible_at and now_ms >= message.delayed_until


def _push(ready: _Ready, message: Any) -> None:
    number = next(_entries)
    ready.current[message.id] = number
    heapq.heappush(ready.heap, (_ready_at(message), number, message))


def _index(queue: Any) -> _Ready:
    ready = _indexes.get(queue)
    if ready is None:
        ready = _indexes[queue] = _Ready()
    if ready.stale:
        ready.heap.clear()
        ready.current.clear()
        for message in queue._messages:
            _push(ready, message)
        ready.stale = False
    return ready


def receive(backend: Any, queue: Any, visibility_s: int, limit: int, accept: Callable[[Received], bool]) -> int:
    """Receive up to `limit` messages one at a time, as SQS would; how many `accept` took.

    Call under moto's lock. `accept(received)` is called right after each receive; when it returns False the message
    is released at once (visibility 0) and receiving stops. Raises moto's errors only for a FIFO queue (moto's own
    ReceiveMessage)."""
    if queue.fifo_queue:
        return _receive_fifo(backend, queue, visibility_s, limit, accept)
    ready = _index(queue)
    now = unix_time_millis()
    taken = 0
    later: list[Any] = []
    try:
        while ready.heap and taken < limit and ready.heap[0][0] <= now:
            _, number, message = heapq.heappop(ready.heap)
            if ready.current.get(message.id) != number:
                continue  # an older entry of a message pushed again since
            if message not in queue._messages:  # deleted, purged or moved to the dead-letter queue meanwhile
                del ready.current[message.id]
                continue
            if not _receivable(message, now):
                later.append(message)  # received by another client meanwhile: back in at its new time
                continue
            if _expired(queue, message, now) or _redriven(queue, message):
                del ready.current[message.id]
                continue
            queue.pending_messages.add(message)
            message.mark_received(visibility_timeout=visibility_s)
            _push(ready, message)  # it comes back when its visibility timeout ends, unless deleted
            received = Received(message, message.receipt_handle)
            if not accept(received):
                release(backend, queue, received)
                break
            taken += 1
    finally:
        for message in later:
            _push(ready, message)
    return taken


def _receive_fifo(backend: Any, queue: Any, visibility_s: int, limit: int, accept) -> int:
    taken, refused = 0, False
    for copy in backend.receive_message(queue.name, min(limit, FIFO_RECEIVE_MAX), 0, visibility_s, ["All"]):
        received = Received(copy, copy.receipt_handle)
        if refused or not accept(received):
            release(backend, queue, received)
            refused = True
            continue
        taken += 1
    return taken


def _expired(queue: Any, message: Any, now_ms: float) -> bool:
    """Past the queue's retention period: SQS deletes it (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/
    APIReference/API_SetQueueAttributes.html, MessageRetentionPeriod)."""
    if message.sent_timestamp / 1000 + int(queue.message_retention_period) > now_ms / 1000:
        return False
    queue._messages.remove(message)
    queue.pending_messages.discard(message)
    queue.deleted_messages.update(h for h in message.all_receipt_handles if h)
    log.warning("sqs message %s of %s deleted: older than the queue's retention period", message.id, queue.name)
    return True


def _redriven(queue: Any, message: Any) -> bool:
    """Move a message already received maxReceiveCount times to the dead-letter queue, as moto's receive does."""
    policy = queue.redrive_policy
    dlq = queue.dead_letter_queue
    if dlq is None or not policy or message.approximate_receive_count < int(policy["maxReceiveCount"]):
        return False
    queue._messages.remove(message)
    queue.pending_messages.discard(message)
    dlq.add_message(message)
    return True


def delete(backend: Any, queue: Any, received: Received) -> None:
    """DeleteMessage for a received message (call under moto's lock). Like moto: deleting twice is fine; moto's
    ReceiptHandleIsInvalid (FIFO) when the message is gone for another reason (purged, moved to the DLQ)."""
    if queue.fifo_queue:
        backend.delete_message(queue.name, received.receipt_handle)
        return
    if received.receipt_handle in queue.deleted_messages:
        return
    try:
        queue._messages.remove(received.message)  # by identity: Message has no __eq__
    except ValueError:
        raise ReceiptHandleIsInvalid() from None
    queue.pending_messages.discard(received.message)
    queue.deleted_messages.update(h for h in received.message.all_receipt_handles if h)


def release(backend: Any, queue: Any, received: Received) -> None:
    """ChangeMessageVisibility to 0 for a received message (call under moto's lock): receivable again at once."""
    if queue.fifo_queue:
        backend.change_message_visibility(queue.name, received.receipt_handle, 0)
        return
    received.message.change_visibility(0)
    queue.pending_messages.discard(received.message)
    _push(_index(queue), received.message)


def next_ready_in(queue: Any, longest: float) -> float:
    """Seconds until a hidden or delayed message may become receivable (`longest` if none); call under moto's lock.
    Early rather than late: an entry of a message since deleted only costs one empty poll."""
    now = unix_time_millis()
    if queue.fifo_queue:
        moments = [_ready_at(m) for m in queue._messages if _ready_at(m) > now]
        first = min(moments, default=None)
    else:
        heap = _index(queue).heap
        first = heap[0][0] if heap else None
    if first is None:
        return longest
    return min(longest, max(0.0, (first - now) / 1000) + 0.002)


# -- patches of moto ---------------------------------------------------------------------------------------------
def install(on_message_added: Callable[[Any], None]) -> None:
    """Patch moto (once): every message added to a queue enters its heap and is reported to `on_message_added(queue)`
    (under moto's lock); ChangeMessageVisibility marks the heap stale; counting reads the clock once per call."""
    original_add = getattr(sqs_models.Queue.add_message, "_localaws_original", sqs_models.Queue.add_message)

    def add_message(self: Any, message: Any) -> None:
        # moto's add_message invokes the mappings it finds here itself (through Docker): never let it see one, even
        # between moto's CreateEventSourceMapping and the after hook that detaches it (event_source_mappings.py).
        self.lambda_event_source_mappings.clear()
        before = len(self._messages)
        original_add(self, message)
        ready = _indexes.get(self)
        if ready is not None and not ready.stale and len(self._messages) > before:  # a FIFO duplicate is not added
            _push(ready, message)
        on_message_added(self)

    add_message._localaws_original = original_add  # type: ignore[attr-defined]
    sqs_models.Queue.add_message = add_message

    backend_class = sqs_models.SQSBackend
    original_change = getattr(
        backend_class.change_message_visibility, "_localaws_original", backend_class.change_message_visibility
    )

    def change_message_visibility(self: Any, queue_name: str, receipt_handle: str, visibility_timeout: int) -> None:
        original_change(self, queue_name, receipt_handle, visibility_timeout)
        ready = _indexes.get(self.get_queue(queue_name))  # the queue exists: moto just changed one of its messages
        if ready is not None:
            ready.stale = True

    change_message_visibility._localaws_original = original_change  # type: ignore[attr-defined]
    backend_class.change_message_visibility = change_message_visibility
    backend_class.is_message_valid_based_on_retention_period = _valid_based_on_retention_period
    sqs_models.Queue.messages = property(_visible_messages)
    sqs_models.Queue.approximate_number_of_messages_delayed = property(_count_delayed)
    sqs_models.Queue.approximate_number_of_messages_not_visible = property(_count_not_visible)


def _visible_messages(queue: Any) -> list[Any]:
    now = unix_time_millis()
    return [m for m in queue._messages if now > m.visible_at and now >= m.delayed_until]


def _count_delayed(queue: Any) -> int:
    now = unix_time_millis()
    return sum(1 for m in queue._messages if now < m.delayed_until)


def _count_not_visible(queue: Any) -> int:
    now = unix_time_millis()
    return sum(1 for m in queue._messages if now <= m.visible_at)


def _valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
    retention_s = int(self.get_queue(queue_name).message_retention_period)
    return retention_s + message.sent_timestamp / 1000 > unix_time_millis() / 1000
