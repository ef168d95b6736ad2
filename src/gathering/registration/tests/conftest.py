"""Registration tests send real email over SMTP to a local sink (aiosmtpd on 127.0.0.1).

The sink lives in ``gathering.core.testing.smtp`` (a pytest plugin loaded by the root
``conftest.py``); here it is switched on for every test (autouse). Services queue emails in the
outbox; the worker sends them. ``with committed(): ...`` runs the block's on-commit callbacks
and then the worker's sending (``deliver_outbox``), so after the block its emails are in the
sink. Without ``committed``, call ``deliver_outbox()`` before reading the sink.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from gathering.core.testing.outbox import deliver_outbox
from gathering.core.testing.smtp import SmtpSink


@pytest.fixture(autouse=True)
def _mail_goes_to_the_sink(smtp_sink: SmtpSink) -> SmtpSink:
    return smtp_sink


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """``with committed(): ...`` runs the on-commit callbacks of the block, then sends the
    emails it queued through the worker's real sending path."""

    @contextmanager
    def run() -> Iterator[list]:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            yield callbacks
        deliver_outbox()

    return run
