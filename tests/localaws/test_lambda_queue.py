"""Async events wait in one queue per function; each function runs up to its bound at once, independently of the
others, as Lambda scales each function on its own (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html)."""

from __future__ import annotations

import threading

from localaws.lambda_runtime.async_queue import Event, FunctionQueues


def event(function: str, number: int) -> Event:
    return Event("123456789012", "us-east-1", function, None, "", "{}", f"{function}-{number}", 0.0)


class Recorder:
    """Holds every `waiter` event until released; counts how many run at once per function."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Condition()
        self.running: dict[str, int] = {}
        self.most: dict[str, int] = {}
        self.done: list[str] = []
        self.other_ran = threading.Event()

    def process(self, item: Event) -> None:
        with self.lock:
            self.running[item.function] = self.running.get(item.function, 0) + 1
            self.most[item.function] = max(self.most.get(item.function, 0), self.running[item.function])
            self.lock.notify_all()
        if item.function == "waiter":
            self.release.wait(timeout=60)
        else:
            self.other_ran.set()
        with self.lock:
            self.running[item.function] -= 1
            self.done.append(item.request_id)
            self.lock.notify_all()


def test_a_function_that_waits_does_not_hold_back_another_and_each_stays_within_its_bound():
    recorder = Recorder()
    queues = FunctionQueues(recorder.process, per_function=3)
    for number in range(8):
        queues.put(event("waiter", number))
    queues.put(event("arn:aws:lambda:us-east-1:123456789012:function:transform", 0))
    with recorder.lock:
        assert recorder.lock.wait_for(lambda: recorder.running.get("waiter") == 3, timeout=60)
    assert recorder.other_ran.wait(timeout=60)  # it ran while every waiter slot was taken
    recorder.release.set()
    with recorder.lock:
        assert recorder.lock.wait_for(lambda: len(recorder.done) == 9, timeout=60)
    assert recorder.most["waiter"] == 3


def test_a_stopped_queue_takes_nothing():
    queues = FunctionQueues(lambda item: None, per_function=1)
    queues.stop()
    assert queues.put(event("transform", 0)) is False
