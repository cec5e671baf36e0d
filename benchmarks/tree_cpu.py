"""CPU seconds of the localaws server process and of its Lambda workers over an interval (psutil).

The workers are the server's child processes (`python -m localaws` starts one per execution environment); some
exit before the interval ends. A background thread samples every descendant's cpu_times() while the interval runs,
so a worker that started and exited inside it is seen; and since the server waits for (reaps) every worker it
stops, an exited worker's whole CPU time also lands in the server's children_user / children_system counters. The
worker figure is therefore exact for both kinds:
    workers = sum over descendants alive at the end (end - start, 0 if born inside the interval)
            + the growth of the server's children_* counters (workers reaped inside the interval)
            - the start figure of each worker that was alive at the start and reaped inside the interval.
"""

from __future__ import annotations

import threading

import psutil

SAMPLE_S = 0.25


def _cpu(times) -> float:
    return times.user + times.system


class TreeCpu:
    """Measure with `start()` ... `stop()`; then `server_s`, `workers_s` and `workers_seen`."""

    def __init__(self, server_pid: int) -> None:
        self._server = psutil.Process(server_pid)
        self._start: dict[int, float] = {}
        self._seen: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_stopped, name="tree-cpu", daemon=True)
        self.server_s = 0.0
        self.workers_s = 0.0

    @property
    def workers_seen(self) -> int:
        return len(self._seen)

    def _descendants(self) -> dict[int, float]:
        found = {}
        for child in self._server.children(recursive=True):
            try:
                found[child.pid] = _cpu(child.cpu_times())
            except psutil.NoSuchProcess:  # exited between listing and reading: the server reaps it
                continue
        return found

    def _sample_until_stopped(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self._seen.update(self._descendants())

    def start(self) -> TreeCpu:
        times = self._server.cpu_times()
        self._server_start = _cpu(times)
        self._reaped_start = times.children_user + times.children_system
        self._start = self._descendants()
        self._seen.update(self._start)
        self._thread.start()
        return self

    def stop(self) -> TreeCpu:
        self._stop.set()
        self._thread.join()
        alive = self._descendants()
        self._seen.update(alive)
        times = self._server.cpu_times()
        self.server_s = _cpu(times) - self._server_start
        reaped = times.children_user + times.children_system - self._reaped_start
        reaped_before = sum(seconds for pid, seconds in self._start.items() if pid not in alive)
        self.workers_s = sum(seconds - self._start.get(pid, 0.0) for pid, seconds in alive.items())
        self.workers_s += reaped - reaped_before
        return self
