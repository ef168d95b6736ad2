"""Polling an edition's snapshot and emitting what changed, coalesced.

The snapshot function (``gathering.live.selectors.snapshot`` unless another is given: tests
pass a function over a dict they change) reads the database: it runs in a thread of its own,
never in the event loop, with Django's stale connections closed around each call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from gathering.live.coalesce import Coalescer
from gathering.live.state import normalise

logger = logging.getLogger("gathering.live")

Snapshot = Callable[..., dict[str, Any] | None]


def default_snapshot() -> Snapshot:
    from gathering.live.selectors import snapshot

    return snapshot


class SnapshotReader:
    """Runs the snapshot function in one dedicated thread (one database connection)."""

    def __init__(self, snapshot: Snapshot | None = None) -> None:
        self._snapshot = snapshot
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="live-snapshot")

    async def read(self, year: int) -> dict[str, Any] | None:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._read, year)

    def _read(self, year: int) -> dict[str, Any] | None:
        from django.db import close_old_connections

        if self._snapshot is None:
            self._snapshot = default_snapshot()
        # A long-lived process must drop connections the database closed (or that are too old).
        close_old_connections()
        try:
            values = self._snapshot(year=year)
        finally:
            close_old_connections()
        return None if values is None else normalise(values)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


# emit(values) -> whether they went out (False: this process may no longer publish them).
Emit = Callable[[dict[str, Any]], Awaitable[bool]]

# Nudges never make an edition polled more often than this: a burst of them (a service called
# in a loop, many servers nudging at once) must not turn into a burst of snapshots.
MIN_POLL_GAP = 0.1


class Poller:
    """Polls one edition every ``interval`` seconds (at once when nudged) and emits changed
    topics through ``emit``, at most once per topic per ``coalesce`` seconds. Stops when the
    edition is gone (``on_gone``) or when ``emit`` says it may no longer publish."""

    def __init__(
        self,
        *,
        year: int,
        read: Callable[[int], Awaitable[dict[str, Any] | None]],
        emit: Emit,
        on_gone: Callable[[], Awaitable[None]],
        seed: dict[str, Any],
        interval: float,
        coalesce: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.year = year
        self._read = read
        self._emit = emit
        self._on_gone = on_gone
        self._interval = interval
        self._clock = clock
        self.coalescer = Coalescer(interval=coalesce, clock=clock)
        self.coalescer.seed(seed)
        self._nudged = asyncio.Event()
        self.first_round: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"live-poll-{self.year}")

    def nudge(self) -> None:
        self._nudged.set()

    async def stop(self) -> None:
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if not self.first_round.done():
            self.first_round.set_result(False)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        failures = 0
        last = -MIN_POLL_GAP
        while True:
            gap = last + MIN_POLL_GAP - self._clock()
            if gap > 0:
                await asyncio.sleep(gap)
            last = self._clock()
            self._nudged.clear()
            try:
                values = await self._read(self.year)
            except Exception:
                failures += 1
                logger.exception("live: snapshot of edition %s failed", self.year)
                await self._pause(min(30.0, self._interval * 2**failures))
                continue
            failures = 0
            if values is None:
                if not self.first_round.done():
                    self.first_round.set_result(False)
                await self._on_gone()
                return
            self.coalescer.observe(values)
            if not await self._flush():
                # No longer this process's to publish (another leads now): it still exists.
                if not self.first_round.done():
                    self.first_round.set_result(True)
                return
            if not self.first_round.done():
                self.first_round.set_result(True)
            wait = self._interval
            due_at = self.coalescer.next_due()
            if due_at is not None:
                wait = min(wait, max(0.0, due_at - self._clock()))
            await self._pause(wait)

    async def _flush(self) -> bool:
        due = self.coalescer.due()
        if not due:
            return True
        try:
            published = await self._emit(due)
        except Exception:
            # Left pending: retried at the next round.
            logger.exception("live: publishing edition %s failed", self.year)
            return True
        if published:
            self.coalescer.commit(due)
        return published

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._nudged.wait(), timeout=seconds)
