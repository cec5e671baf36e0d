"""Count the data-plane work in flight, so that callers can wait on state ("idle") rather than on time.

Every step that schedules a follow-up (an S3 event, a queued async invocation, a crawl) begins the follow-up's
work before it ends its own, so the count never touches zero while a chain of work is still running.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class Activity:
    def __init__(self) -> None:
        self._pending = 0
        self._changed = threading.Condition()
        self.completed = 0

    @property
    def pending(self) -> int:
        return self._pending

    def begin(self) -> None:
        with self._changed:
            self._pending += 1

    def end(self) -> None:
        with self._changed:
            self._pending -= 1
            self.completed += 1
            self._changed.notify_all()

    @contextmanager
    def tracking(self) -> Iterator[None]:
        self.begin()
        try:
            yield
        finally:
            self.end()

    def wait_idle(self, timeout: float) -> bool:
        """True once nothing is pending; False if work is still pending after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
        return True
