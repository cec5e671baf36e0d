"""The async event queue serves functions in turn, so a burst for one function does not hold back another."""

from __future__ import annotations

from localaws.lambda_runtime.async_queue import Event, FairQueue


def event(function: str, number: int) -> Event:
    return Event("123456789012", "us-east-1", function, None, "", "{}", f"{function}-{number}", 0.0)


def test_functions_are_served_in_turn():
    queue = FairQueue()
    for number in range(3):
        queue.put(event("transform", number))
    queue.put(event("arn:aws:lambda:us-east-1:123456789012:function:trigger", 0))
    served = [queue.get().request_id for _ in range(4)]
    assert served == [
        "transform-0",
        "arn:aws:lambda:us-east-1:123456789012:function:trigger-0",
        "transform-1",
        "transform-2",
    ]


def test_a_stopped_queue_hands_out_nothing():
    queue = FairQueue()
    queue.put(event("transform", 0))
    queue.stop()
    assert queue.get() is None
