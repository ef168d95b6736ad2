"""Registration tests send real email over SMTP to a local sink (aiosmtpd on 127.0.0.1).

The sink lives in ``gathering.core.testing.smtp`` (a pytest plugin loaded by the root
``conftest.py``); here it is switched on for every test (autouse). Emails leave on transaction
commit: wrap service calls in ``django_capture_on_commit_callbacks(execute=True)`` (see
``committed``).
"""

from __future__ import annotations

import pytest

from gathering.core.testing.smtp import SmtpSink


@pytest.fixture(autouse=True)
def _mail_goes_to_the_sink(smtp_sink: SmtpSink) -> SmtpSink:
    return smtp_sink


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """``with committed(): ...`` runs the on-commit callbacks (the emails) of the block."""

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run
