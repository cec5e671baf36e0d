"""Wait on state, never on time: poll a state until it reaches a named final state, or fail with a domain error.

boto3 waiters cover Lambda and IAM; Glue crawlers and Athena queries have none, so they use `wait_until`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from typing import TypeVar

from botocore.exceptions import ClientError

log = logging.getLogger(__name__)
T = TypeVar("T")


class WaitError(RuntimeError):
    """The resource reached an unwanted final state, or no final state in time."""

    def __init__(self, what: str, state: str, message: str) -> None:
        super().__init__(message)
        self.what = what
        self.state = state


def wait_until(
    read_state: Callable[[], str],
    *,
    what: str,
    success: Collection[str],
    failure: Collection[str] = (),
    timeout: float = 300.0,
    interval: float = 1.0,
    max_interval: float = 10.0,
) -> str:
    """Poll `read_state` until it returns a state in `success` (returned) or `failure` (WaitError)."""
    deadline = time.monotonic() + timeout
    while True:
        state = read_state()
        if state in success:
            return state
        if state in failure:
            raise WaitError(what, state, f"{what} ended in state {state}")
        if time.monotonic() >= deadline:
            raise WaitError(what, state, f"{what} still {state} after {timeout:.0f} s")
        log.debug("%s is %s; checking again in %.1f s", what, state, interval)
        time.sleep(interval)
        interval = min(interval * 1.5, max_interval)


def retry_while(
    call: Callable[[], T],
    *,
    is_transient: Callable[[ClientError], bool],
    what: str,
    attempts: int = 8,
    first_delay: float = 1.0,
    max_delay: float = 15.0,
) -> T:
    """Call `call`, retrying a bounded number of times while `is_transient(error)` (e.g. IAM propagation)."""
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except ClientError as error:
            if attempt == attempts or not is_transient(error):
                raise
            log.info("%s: %s; retry %d/%d in %.0f s", what, error, attempt, attempts - 1, delay)
            time.sleep(delay)
            delay = min(delay * 2, max_delay)
    raise AssertionError("unreachable")
