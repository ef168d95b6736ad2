"""A small per-process cache with expiry, for hot reads that may be a few seconds stale.

Some rows are read by every request of a hot path and change rarely (a campaign, the id of its
log): keeping them in the process for a few seconds saves queries that would cost more than the
rest of the request. Use it only where serving a value a few seconds old is harmless, and never
for anything a permission depends on. ``clear_all()`` empties every instance (tests call it
between tests: their database is rolled back under the cache).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Hashable

_instances: weakref.WeakSet[LocalCache[object]] = weakref.WeakSet()


class LocalCache[V]:
    """Values by key for ``seconds``; at most ``size`` keys (the oldest go first)."""

    def __init__(self, *, seconds: float, size: int = 1024) -> None:
        self.seconds = seconds
        self.size = size
        self._values: dict[Hashable, tuple[float, V]] = {}
        self._lock = threading.Lock()
        _instances.add(self)  # type: ignore[arg-type]

    def get_or_set(self, key: Hashable, load: Callable[[], V]) -> V:
        """The cached value of ``key``, else ``load()`` (cached; exceptions are not)."""
        now = time.monotonic()
        entry = self._values.get(key)
        if entry is not None and entry[0] > now:
            return entry[1]
        value = load()
        with self._lock:
            if len(self._values) >= self.size:
                for old in list(self._values)[: max(1, self.size // 4)]:
                    self._values.pop(old, None)
            self._values[key] = (now + self.seconds, value)
        return value

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._values.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


def clear_all() -> None:
    for instance in list(_instances):
        instance.clear()
