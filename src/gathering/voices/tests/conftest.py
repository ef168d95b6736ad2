"""Voices tests send real email over SMTP to a local sink, through the outbox: a service queues
the email, ``deliver()`` runs the worker's sending step, and the sink receives it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gathering.abuse import altcha
from gathering.core.testing.smtp import SmtpSink
from gathering.outbox.services import send_pending


@pytest.fixture(autouse=True)
def _mail_goes_to_the_sink(smtp_sink: SmtpSink) -> SmtpSink:
    return smtp_sink


@pytest.fixture
def deliver() -> Callable[[], int]:
    """Send every queued email now, as the worker would; returns how many were sent."""

    def run() -> int:
        return send_pending(limit=1000).sent

    return run


@pytest.fixture
def proof_of_work() -> Callable[[], str]:
    """A freshly solved ALTCHA payload (a small challenge, solved by brute force)."""

    def solve() -> str:
        challenge = altcha.create_challenge(max_number=2000)
        number = altcha.solve(challenge)
        assert number is not None
        return altcha.encode_payload(challenge, number)

    return solve
