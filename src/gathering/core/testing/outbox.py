"""Tests send queued emails through the real sending path (``gathering.outbox``).

Services queue emails in the outbox; nothing is sent in a request or on commit. A test that
reads the SMTP sink (``smtp_sink``) first lets the worker run:

- :func:`deliver_outbox` runs the worker's ``send_pending`` in the test's thread until nothing
  is due (after a service call or a test-client request; the registration tests' ``committed``
  fixture calls it as its block ends). Emails go over SMTP to the sink, rows are marked sent.
- the ``outbox_worker`` fixture runs the worker's loop itself (``gathering.cli.worker``) in a
  background thread, as ``gathering serve`` runs it beside the web server. The thread has its
  own database connection: use it with ``transactional_db`` (or ``live_server``), and on the
  in-memory SQLite test database only while the test's own thread leaves the database alone
  (SQLite's shared cache locks whole tables between connections).

Loaded as a pytest plugin by the root ``conftest.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

__all__ = ["OutboxWorker", "deliver_outbox", "outbox_worker"]


def deliver_outbox() -> Any:
    """Send every email that is due now (as the worker would), then return the total
    ``SendReport``. Emails that fail are left to their back-off, as in production."""
    from gathering.outbox.services import SendReport, send_pending

    total = SendReport()
    while True:
        report = send_pending()
        total += report
        if not report.claimed or report.smtp_unavailable:
            return total


class OutboxWorker:
    """The worker's loop running in a thread; ``stop()`` ends it and re-raises its error."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, name="outbox-worker", daemon=True)

    def _run(self) -> None:
        from django.db import connections

        from gathering.cli import worker

        try:
            worker(stop=self._stop)
        except BaseException as error:  # reported by stop(), in the test's thread
            self._errors.append(error)
        finally:
            connections.close_all()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        if self._thread.is_alive():
            raise AssertionError("the worker thread did not stop")
        if self._errors:
            raise self._errors[0]


@pytest.fixture
def outbox_worker(transactional_db: None) -> Iterator[OutboxWorker]:
    """The worker (``gathering worker``'s loop: emails and periodic jobs) in a background
    thread for the test's duration."""
    running = OutboxWorker()
    running.start()
    try:
        yield running
    finally:
        running.stop()
