"""Coalescing of live updates: at most one event per topic per interval (one second).

A pure unit, with the clock injected: the publisher feeds it every snapshot it polls and asks
it which topics are due. A topic whose last emission was at least ``interval`` ago goes out at
once; otherwise it waits until ``last + interval`` and then goes out with the latest value seen
by then (intermediate values are skipped, never queued). A value that returns to what was last
emitted before its turn comes is not emitted at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any


class Coalescer:
    def __init__(self, *, interval: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.interval = interval
        self.clock = clock
        self._emitted: dict[str, Any] = {}
        self._emitted_at: dict[str, float] = {}
        self._pending: dict[str, Any] = {}

    def seed(self, values: Mapping[str, Any]) -> None:
        """Take ``values`` as what the clients already have (without an emission time, so
        the next change of any of them goes out at once)."""
        self._emitted = dict(values)
        self._emitted_at.clear()
        self._pending.clear()

    def observe(self, values: Mapping[str, Any]) -> None:
        """A fresh snapshot. A topic missing from it that was emitted before counts as ``None``
        (the clients must learn it is gone)."""
        for topic in self._emitted.keys() | values.keys():
            value = values.get(topic)
            if topic in self._emitted and self._emitted[topic] == value:
                self._pending.pop(topic, None)
            else:
                self._pending[topic] = value

    def due(self) -> dict[str, Any]:
        """The topics to emit now, with their latest values. Nothing is marked emitted until
        ``commit`` (an emission can fail, e.g. when Redis is away: it is then retried)."""
        now = self.clock()
        return {
            topic: value
            for topic, value in self._pending.items()
            if topic not in self._emitted_at or now - self._emitted_at[topic] >= self.interval
        }

    def commit(self, emitted: Mapping[str, Any]) -> None:
        """``emitted`` (a result of ``due``) went out."""
        now = self.clock()
        for topic, value in emitted.items():
            self._emitted[topic] = value
            self._emitted_at[topic] = now
            if self._pending.get(topic, object()) == value:
                del self._pending[topic]

    def next_due(self) -> float | None:
        """When the earliest pending topic becomes due (clock time), or None if none waits."""
        if not self._pending:
            return None
        now = self.clock()
        return min(
            self._emitted_at.get(topic, now - self.interval) + self.interval
            for topic in self._pending
        )

    @property
    def pending(self) -> dict[str, Any]:
        return dict(self._pending)
