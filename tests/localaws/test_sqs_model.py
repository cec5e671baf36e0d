"""localaws/sqs_model.py against moto's SQS model: the event source mapping's receive, delete and release keep SQS's
semantics, cost O(messages returned), and fail loudly if moto changes an attribute they rely on.

https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html
A fake clock drives moto's and the module's time, so nothing here waits or depends on the machine's speed.
"""

from __future__ import annotations

import json
import uuid

import pytest
from moto.sqs import models as sqs_models
from moto.sqs.exceptions import ReceiptHandleIsInvalid

from localaws import sqs_model

ACCOUNT, REGION = "123456789012", "us-east-1"
VISIBILITY_DOC = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html"
)


class Clock:
    def __init__(self) -> None:
        self.ms = 1_700_000_000_000.0
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.ms

    def advance(self, seconds: float) -> None:
        self.ms += seconds * 1000


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Install sqs_model's patches for this test only, with one fake clock for moto and the module."""
    for owner, name in (
        (sqs_models.Queue, "add_message"),
        (sqs_models.Queue, "messages"),
        (sqs_models.Queue, "approximate_number_of_messages_delayed"),
        (sqs_models.Queue, "approximate_number_of_messages_not_visible"),
        (sqs_models.SQSBackend, "change_message_visibility"),
        (sqs_models.SQSBackend, "is_message_valid_based_on_retention_period"),
    ):
        monkeypatch.setattr(owner, name, owner.__dict__[name])  # restored after the test
    fake = Clock()
    monkeypatch.setattr(sqs_models, "unix_time_millis", fake)
    monkeypatch.setattr(sqs_models, "unix_time", lambda: fake.ms / 1000)
    monkeypatch.setattr(sqs_model, "unix_time_millis", fake)
    sqs_model.install(lambda _queue: None)
    return fake


@pytest.fixture
def backend(clock: Clock):
    return sqs_models.sqs_backends[ACCOUNT][REGION]  # a RedrivePolicy finds its dead-letter queue there


def _queue(backend, **attributes):
    return backend.create_queue(f"q-{uuid.uuid4().hex[:8]}", **{k: str(v) for k, v in attributes.items()})


def _send(backend, queue, count: int, **kwargs) -> list[str]:
    return [backend.send_message(queue.name, f"body {n}", **kwargs).id for n in range(count)]


def _receive(backend, queue, limit: int = 10, visibility_s: int = 30) -> list[sqs_model.Received]:
    taken: list[sqs_model.Received] = []
    sqs_model.receive(backend, queue, visibility_s, limit, lambda received: taken.append(received) or True)
    return taken


def test_moto_still_has_what_sqs_model_relies_on(backend, clock) -> None:
    queue = _queue(backend)
    [message_id] = _send(backend, queue, 1)
    [message] = queue._messages
    assert isinstance(queue._messages, list) and isinstance(queue.pending_messages, set)
    assert isinstance(queue.deleted_messages, set) and queue.fifo_queue is False
    assert queue.dead_letter_queue is None and queue.redrive_policy is None
    assert int(queue.message_retention_period) == 345600
    assert message.id == message_id and message.sent_timestamp == int(clock.ms)
    assert (message.visible_at, message.delayed_until, message.approximate_receive_count) == (0.0, 0.0, 0)
    assert type(message).__eq__ is object.__eq__  # list.remove and `in` find a message by identity
    message.mark_received(visibility_timeout=30)
    assert message.visible_at == clock.ms + 30_000 and message.approximate_receive_count == 1
    assert message.receipt_handle in message.all_receipt_handles
    assert not message.visible  # moto: visible once now > visible_at
    clock.advance(30)
    assert not message.visible
    clock.advance(0.001)
    assert message.visible
    message.change_visibility(5)
    assert message.visible_at == clock.ms + 5000
    for name in ("change_message_visibility", "is_message_valid_based_on_retention_period", "receive_message"):
        assert callable(getattr(backend, name))


def test_receive_takes_messages_in_send_order_and_hides_them_for_the_visibility_timeout(backend, clock) -> None:
    # VISIBILITY_DOC: a received message stays in the queue, invisible, until the timeout ends or it is deleted
    queue = _queue(backend)
    sent = _send(backend, queue, 5)

    first, second = _receive(backend, queue, limit=3), _receive(backend, queue, limit=3)

    assert [r.message.id for r in first + second] == sent
    assert _receive(backend, queue) == []
    assert queue.approximate_number_of_messages_not_visible == 5 and queue.approximate_number_of_messages == 0
    clock.advance(30.001)
    again = _receive(backend, queue)
    assert [r.message.id for r in again] == sent
    assert {r.message.approximate_receive_count for r in again} == {2}
    assert len({r.receipt_handle for r in first + second + again}) == 10  # a new receipt handle for every receive


def test_a_poll_reads_the_clock_a_constant_number_of_times_whatever_the_queue_holds(backend, clock) -> None:
    # moto's own ReceiveMessage reads it several times per queued message (the module docstring); the failing
    # behaviour this replaces cost 15-25% of the server's time in a burst of 1,000 files.
    queue = _queue(backend)
    _send(backend, queue, 1000)
    assert len(_receive(backend, queue, limit=1000)) == 1000
    [newest] = _send(backend, queue, 1)
    clock.reads = 0

    [received] = _receive(backend, queue)

    assert received.message.id == newest
    assert clock.reads <= 3
    clock.reads = 0
    sqs_model.next_ready_in(queue, 5.0)
    assert clock.reads == 1


def test_a_message_received_max_receive_count_times_moves_to_the_dead_letter_queue(backend, clock) -> None:
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html
    dlq = _queue(backend)
    policy = json.dumps({"deadLetterTargetArn": dlq.queue_arn, "maxReceiveCount": 2})
    queue = _queue(backend, RedrivePolicy=policy)
    [sent] = _send(backend, queue, 1)

    for _ in range(2):
        assert [r.message.id for r in _receive(backend, queue)] == [sent]
        clock.advance(30.001)
    assert _receive(backend, queue) == []

    assert queue._messages == [] and [m.id for m in dlq._messages] == [sent]
    assert [r.message.id for r in _receive(backend, dlq)] == [sent]


def test_delete_removes_the_message_and_deleting_twice_is_fine(backend, clock) -> None:
    queue = _queue(backend)
    _send(backend, queue, 3)
    received = _receive(backend, queue)

    sqs_model.delete(backend, queue, received[1])
    sqs_model.delete(backend, queue, received[1])

    assert [m.id for m in queue._messages] == [received[0].message.id, received[2].message.id]
    clock.advance(30.001)
    assert [r.message.id for r in _receive(backend, queue)] == [received[0].message.id, received[2].message.id]


def test_deleting_a_purged_message_is_an_invalid_receipt_handle_as_in_moto(backend, clock) -> None:
    queue = _queue(backend)
    _send(backend, queue, 1)
    [received] = _receive(backend, queue)
    backend.purge_queue(queue.name)

    with pytest.raises(ReceiptHandleIsInvalid):
        sqs_model.delete(backend, queue, received)
    clock.advance(30.001)
    assert _receive(backend, queue) == []


def test_change_message_visibility_through_moto_makes_a_message_receivable_sooner(backend, clock) -> None:
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html
    queue = _queue(backend)
    _send(backend, queue, 2)
    first, second = _receive(backend, queue)

    backend.change_message_visibility(queue.name, second.receipt_handle, 0)
    clock.advance(0.001)

    assert [r.message.id for r in _receive(backend, queue, visibility_s=120)] == [second.message.id]
    backend.change_message_visibility(queue.name, first.receipt_handle, 60)
    clock.advance(40)
    assert _receive(backend, queue) == []  # the first one's 30 s have passed, but it was hidden for 60 s since
    clock.advance(20.001)
    assert [r.message.id for r in _receive(backend, queue)] == [first.message.id]


def test_a_message_another_client_received_is_not_received_again_until_its_timeout_ends(backend, clock) -> None:
    queue = _queue(backend)
    [sent] = _send(backend, queue, 1)
    [copy] = backend.receive_message(queue.name, 1, 0, 20)  # moto's own ReceiveMessage, as an SQS client's

    assert _receive(backend, queue) == []
    clock.advance(20.001)
    [received] = _receive(backend, queue)
    assert received.message.id == sent == copy.id and received.message.approximate_receive_count == 2


def test_a_refused_message_is_released_at_once_and_receiving_stops(backend, clock) -> None:
    queue = _queue(backend)
    sent = _send(backend, queue, 3)
    taken: list[sqs_model.Received] = []

    count = sqs_model.receive(backend, queue, 30, 10, lambda r: not taken and (taken.append(r) or True))

    assert count == 1 and [r.message.id for r in taken] == sent[:1]
    clock.advance(0.001)
    assert sorted(r.message.id for r in _receive(backend, queue)) == sorted(sent[1:])  # a standard queue: any order


def test_a_delayed_message_is_received_once_its_delay_has_passed(backend, clock) -> None:
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-delay-queues.html
    queue = _queue(backend)
    [sent] = _send(backend, queue, 1, delay_seconds=5)

    assert _receive(backend, queue) == [] and queue.approximate_number_of_messages_delayed == 1
    assert sqs_model.next_ready_in(queue, 60.0) == pytest.approx(5.0, abs=0.01)
    clock.advance(5)
    assert [r.message.id for r in _receive(backend, queue)] == [sent]


def test_a_message_past_the_retention_period_is_deleted_not_received(backend, clock) -> None:
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html
    queue = _queue(backend, MessageRetentionPeriod=60)
    _send(backend, queue, 1)
    clock.advance(60)

    assert _receive(backend, queue) == [] and queue._messages == []
    assert backend.is_message_valid_based_on_retention_period is not None


def test_counts_answer_as_moto_does(backend, clock) -> None:
    queue = _queue(backend)
    _send(backend, queue, 3)
    _send(backend, queue, 2, delay_seconds=10)
    _receive(backend, queue, limit=1)

    attributes = backend.get_queue_attributes(queue.name, ["All"])

    assert attributes["ApproximateNumberOfMessages"] == 2
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == 1
    assert attributes["ApproximateNumberOfMessagesDelayed"] == 2


def test_a_fifo_queue_keeps_moto_s_receive_and_its_message_groups(backend, clock) -> None:
    queue = backend.create_queue(f"q-{uuid.uuid4().hex[:8]}.fifo", FifoQueue="true", ContentBasedDeduplication="true")
    for n in range(3):
        backend.send_message(queue.name, f"body {n}", group_id="g")

    first = _receive(backend, queue)
    assert [r.message.body for r in first] == ["body 0", "body 1", "body 2"]
    assert _receive(backend, queue) == []  # the group is in flight
    for received in first:
        sqs_model.delete(backend, queue, received)
    assert queue._messages == []
