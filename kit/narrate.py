"""Narration for the scripts: "[3/16] Checking/creating the bucket X…", what happened to each resource it names
("X: created" or "X: already exists, kept", from the ensure_* functions' outcomes), and "done in 2.3 s".

Library code logs; only the scripts print, through a Narrator they pass in (tests capture its lines).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

CREATED = "created"
UNCHANGED = "already exists, kept"
MISSING = "not found, nothing to do"
DELETED = "deleted"


def updated(*what: str) -> str:
    return f"updated in place ({', '.join(what)})"


class Narrator:
    """Prints numbered steps with their outcome and duration, and remembers the step in progress."""

    def __init__(self, total: int, out: Callable[[str], None] = print, started: float | None = None) -> None:
        """`started`: the `time.monotonic()` that `elapsed` counts from (default: now)."""
        self.total = total
        self.out = out
        self.number = 0
        self.current: str | None = None
        self.outcomes: list[tuple[str, str]] = []
        self.started = time.monotonic() if started is None else started

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.number += 1
        self.current = title
        began = time.monotonic()
        self.out(f"[{self.number}/{self.total}] {title}…")
        yield
        self.out(f"      done in {time.monotonic() - began:.1f} s")
        self.current = None

    def result(self, resource: str, outcome: str) -> None:
        self.outcomes.append((resource, outcome))
        self.out(f"      {resource}: {outcome}")

    def say(self, message: str) -> None:
        self.out(message)

    def elapsed(self) -> float:
        return time.monotonic() - self.started
