"""Group commit on SQLite: the write transactions of concurrent requests share one commit.

SQLite has one writer at a time, and a durable commit (``synchronous=FULL``) waits for the disk
to flush: one commit per request caps writes at the disk's flush rate, a few hundred a second.
``GroupCommit.run(job)`` queues ``job`` (a function that makes a few writes) instead. The first
thread to arrive leads: it takes every queued job, runs them one after the other in a single
transaction, commits once, and then wakes their threads. Jobs queued meanwhile wait for the next
leader, which is one of their own threads. Nobody gets an answer before the commit that holds
their writes, so each request is exactly as durable as with a commit of its own.

Leaders of different processes take an exclusive lock on a file beside the database (``flock``)
before ``BEGIN IMMEDIATE``. The kernel wakes a waiting leader as soon as the lock is free, where
SQLite's busy handler would sleep and poll (1, 2, 5, 10 ms …); jobs that arrive while their
leader waits join its batch.

Jobs run in order, in the leader's thread, on the leader's connection: a job must use only its
arguments and ``django.db.connection``, not thread-local state such as the active language. A job
may run twice: when a batch fails, it is rolled back and each of its jobs runs again in a
transaction of its own, so one failing job does not fail the others.

On other databases (PostgreSQL merges the flushes of concurrent commits itself) and inside a
transaction that is already open (a caller's ``atomic`` block, the test suite), ``run`` runs the
job in ``transaction.atomic()`` at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from django.db import connection, transaction


class _Waiter[T]:
    __slots__ = ("done", "error", "job", "leads", "result")

    def __init__(self, job: Callable[[], T]) -> None:
        self.job = job
        self.done = threading.Event()
        self.leads = False  # set with ``done`` when this waiter is to lead the next batch
        self.result: T | None = None
        self.error: BaseException | None = None

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


class GroupCommit:
    """One per kind of job and process (a module-level instance); thread-safe."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._queue: list[_Waiter[Any]] = []
        self._leading = False
        self.batches = 0  # transactions committed by run(), for tests and curiosity

    @property
    def queued(self) -> int:
        """Jobs waiting for a leader to take them (for monitoring and tests)."""
        with self._mutex:
            return len(self._queue)

    def run[T](self, job: Callable[[], T]) -> T:
        """Run ``job`` in a transaction and return its result once that transaction committed.

        Raises what ``job`` raised (its transaction then rolled back), or the database error
        that prevented the commit."""
        if connection.vendor != "sqlite" or connection.in_atomic_block:
            with transaction.atomic():
                return job()
        waiter = _Waiter(job)
        with self._mutex:
            self._queue.append(waiter)
            leads = not self._leading
            self._leading = True
        if not leads:
            waiter.done.wait()
            if not waiter.leads:
                return waiter.outcome()
        self._lead()
        return waiter.outcome()

    def _lead(self) -> None:
        batch: list[_Waiter[Any]] = []
        try:
            with self._exclusive():
                with self._mutex:
                    batch, self._queue = self._queue, []
                self._commit(batch)
        except BaseException as error:
            # The file lock failed, or this thread was interrupted: nothing was committed.
            with self._mutex:
                if not batch:
                    batch, self._queue = self._queue, []
            for waiter in batch:
                waiter.result, waiter.error = None, waiter.error or error
        finally:
            with self._mutex:
                if self._queue:
                    successor = self._queue[0]
                    successor.leads = True
                    successor.done.set()
                else:
                    self._leading = False
            for waiter in batch:
                waiter.done.set()

    def _commit(self, batch: list[_Waiter[Any]]) -> None:
        try:
            with transaction.atomic():
                for waiter in batch:
                    waiter.result = waiter.job()
            self.batches += 1
            return
        except Exception as error:
            if len(batch) == 1:
                batch[0].result, batch[0].error = None, error
                return
        # One job failed the batch: run each alone, so the others still go through.
        for waiter in batch:
            waiter.result = None
            try:
                with transaction.atomic():
                    waiter.result = waiter.job()
                self.batches += 1
            except Exception as error:
                waiter.error = error

    def _exclusive(self) -> contextlib.AbstractContextManager[None]:
        """The database's lock file, held (nothing for an in-memory database: only this
        process can reach it)."""
        name = connection.settings_dict["NAME"]
        if not isinstance(name, Path) and (name == ":memory:" or "mode=memory" in name):
            return contextlib.nullcontext()
        return exclusive_lock(f"{name}.write-lock")


_lock_files: dict[tuple[int, str], int] = {}
_process_mutexes: dict[tuple[int, str], threading.Lock] = {}
_lock_files_mutex = threading.Lock()


@contextlib.contextmanager
def exclusive_lock(path: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the duration: one
    holder at a time, across threads and processes. Each process opens the file once, and its
    threads take turns through that process's lock."""
    key = (os.getpid(), path)  # a forked process opens its own: flock follows open files
    with _lock_files_mutex:
        fd = _lock_files.get(key)
        if fd is None:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            _lock_files[key] = fd
        mutex = _process_mutexes.setdefault(key, threading.Lock())
    # Threads of one process share the open file, on which flock would not exclude them.
    with mutex:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


def serialised_write() -> contextlib.AbstractContextManager[None]:
    """Around a write outside ``GroupCommit`` on a SQLite database file (the worker's): take
    the lock file the group-commit leaders take, so this writer waits its turn in the kernel's
    queue instead of SQLite's busy handler, which polls and can lose to a stream of leaders
    until its busy timeout. Nothing on other databases, in memory, or inside a transaction
    (which holds the database already)."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        return contextlib.nullcontext()
    name = connection.settings_dict["NAME"]
    if not isinstance(name, Path) and (name == ":memory:" or "mode=memory" in name):
        return contextlib.nullcontext()
    return exclusive_lock(f"{name}.write-lock")
