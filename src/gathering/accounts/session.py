"""What a staff session records about its sign-in, under fixed session keys.

- :data:`SECOND_FACTOR_SESSION_KEY`: the Unix time the second factor was last completed (at
  sign-in, or again to confirm a sensitive change). Absent: the password step alone is done,
  and :class:`~gathering.accounts.middleware.StaffSessionMiddleware` lets the session reach
  only the second-factor pages, sign-out and static files.
- :data:`SIGNED_IN_AT_SESSION_KEY`: the Unix time of the password step (absolute time-out).
- :data:`LAST_SEEN_SESSION_KEY`: the Unix time of the last request, to within
  :data:`LAST_SEEN_PRECISION` seconds (idle time-out).

Times are Unix seconds (``time.time()``), as ``core/testing/staff.py`` writes them.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest

SECOND_FACTOR_SESSION_KEY = "gathering_second_factor_at"
SIGNED_IN_AT_SESSION_KEY = "gathering_signed_in_at"
LAST_SEEN_SESSION_KEY = "gathering_last_seen_at"
# The session key recorded for this session (``UserSession``): when Django gives the session a
# new key (a password change cycles it), the middleware records the new one at the next request.
RECORDED_KEY_SESSION_KEY = "gathering_recorded_session_key"
# A WebAuthn ceremony in progress: {"challenge": base64url, "purpose": ..., "at": Unix time}.
WEBAUTHN_CHALLENGE_SESSION_KEY = "gathering_webauthn_challenge"

# The last-seen time is written at most once a minute: one session write per request would
# cost a database write on every staff page view.
LAST_SEEN_PRECISION = 60


def now() -> int:
    return int(time.time())


def second_factor_at(session: SessionBase) -> int | None:
    value = session.get(SECOND_FACTOR_SESSION_KEY)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def second_factor_done(session: SessionBase) -> bool:
    """Whether this session completed its second factor since the password step."""
    return second_factor_at(session) is not None


def recently_confirmed(session: SessionBase) -> bool:
    """Whether the second factor was completed less than ``ACCOUNTS_REAUTH_SECONDS`` ago:
    sensitive changes (adding or removing a factor, new recovery codes, resetting another
    account's factors) need it."""
    at = second_factor_at(session)
    return at is not None and now() - at <= settings.ACCOUNTS_REAUTH_SECONDS


def start(session: SessionBase) -> None:
    """The password step just succeeded: the clocks start, the second factor is still due
    (even if this session had completed one for the same account before)."""
    moment = now()
    session.pop(SECOND_FACTOR_SESSION_KEY, None)
    session.pop(WEBAUTHN_CHALLENGE_SESSION_KEY, None)
    session[SIGNED_IN_AT_SESSION_KEY] = moment
    session[LAST_SEEN_SESSION_KEY] = moment


def is_staff_session(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and (user.is_staff or user.is_superuser))
