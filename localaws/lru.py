"""A thread-safe least-recently-used cache bounded by bytes, for caches that would otherwise grow with every file
localaws has ever seen (the crawler's and Athena's Parquet footer caches), so the process's memory stays bounded.

LOCALAWS_FOOTER_CACHE_MB sets each footer cache's bound (default 64 MB); an entry's size is an estimate its owner
gives (for a Parquet footer, its Thrift-serialized size times a factor for the decoded objects).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")
_MISSING = object()
DEFAULT_FOOTER_CACHE_MB = 64


def footer_cache_bytes() -> int:
    return int(float(os.environ.get("LOCALAWS_FOOTER_CACHE_MB", DEFAULT_FOOTER_CACHE_MB)) * 1024 * 1024)


class LruCache(Generic[V]):
    """Values by key; once the estimated sizes exceed `max_bytes`, the least recently used entries are dropped."""

    def __init__(self, max_bytes: int, size_of: Callable[[V], int]) -> None:
        self.max_bytes = max_bytes
        self._size_of = size_of
        self._entries: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.evictions = 0

    def get(self, key: Hashable, default: object = _MISSING) -> V | object:
        """The cached value (now the most recently used), or `default` (a sentinel when not given)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return default
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: Hashable, value: V) -> None:
        size = max(1, self._size_of(value))
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            if size > self.max_bytes:
                return  # larger than the whole cache: not kept
            self._entries[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped
                self.evictions += 1

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._entries

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def bytes(self) -> int:
        with self._lock:
            return self._bytes


MISSING = _MISSING
