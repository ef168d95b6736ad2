"""Signing staff in from tests: a password session plus a completed second factor.

Staff pages require two-factor sign-in (accounts app). Tests that are not about sign-in itself
use ``sign_in_staff`` rather than ``client.force_login`` alone, which leaves the session waiting
for its second factor (and so redirected to the second-factor step).
"""

from __future__ import annotations

from typing import Any

from django.test import Client

# Where a session records that its second factor was completed (and when, as a Unix time): the
# accounts app's own name for it, so that tests and the app agree.
from gathering.accounts.session import SECOND_FACTOR_SESSION_KEY

__all__ = [
    "SECOND_FACTOR_SESSION_KEY",
    "SECOND_FACTOR_URL",
    "enrol_totp",
    "pass_second_factor",
    "second_factor_step",
    "sign_in_staff",
    "totp_code",
]

# The second step of the sign-in (accounts app), after the password.
SECOND_FACTOR_URL = "/staff/login/second-factor/"


def sign_in_staff(client: Client, user: Any) -> None:
    """Log ``user`` in on ``client`` as if they had passed both factors just now."""
    import time

    client.force_login(user)
    session = client.session
    session[SECOND_FACTOR_SESSION_KEY] = int(time.time())
    session.save()


def enrol_totp(user: Any) -> str:
    """Give ``user`` a confirmed authenticator app; returns its secret (for :func:`totp_code`).
    For tests that go through the real sign-in pages (browser tests, password posts)."""
    from django.utils import timezone

    from gathering.accounts.models import TotpDevice
    from gathering.accounts.totp import generate_secret

    secret = generate_secret()
    TotpDevice.objects.filter(user=user).delete()
    TotpDevice.objects.create(user=user, secret=secret, confirmed_at=timezone.now())
    return secret


def totp_code(secret: str) -> str:
    """The code an authenticator app with ``secret`` shows now."""
    from gathering.accounts.totp import current_code

    return current_code(secret)


def second_factor_step(destination: str) -> str:
    """Where the password step sends a staff member on their way to ``destination``."""
    from urllib.parse import urlencode

    return f"{SECOND_FACTOR_URL}?{urlencode({'next': destination})}"


def pass_second_factor(client: Client, secret: str, *, destination: str = "") -> Any:
    """Post the current code of the authenticator with ``secret`` (see :func:`enrol_totp`) on
    a session that passed the password step; returns the answer (a redirect to
    ``destination`` when the code was accepted)."""
    return client.post(SECOND_FACTOR_URL, {"code": totp_code(secret), "next": destination})
