"""Lock-out and throttling of failed sign-ins, shared by every server process (database rows).

Each failed attempt, at the password step or the second-factor step, counts against two keys:

- the account name as typed (case-folded): ``ACCOUNTS_LOCKOUT_FAILURES`` failures (5) within
  ``ACCOUNTS_LOCKOUT_SECONDS`` (15 minutes) lock the name for that long. Names without an
  account count and lock the same way, and a locked name gets the same message whether or not
  its password was right: the lock says nothing about which accounts exist;
- the client's address (``abuse.client.client_ip``, behind trusted proxies; an IPv6 client by
  its /64): ``ACCOUNTS_ADDRESS_FAILURES`` failures (30) within
  ``ACCOUNTS_ADDRESS_LOCKOUT_SECONDS`` throttle every sign-in from there for that long.

While either key is locked, no password or code is even checked. A successful sign-in clears
its account's count (not the address's: one valid account must not reset an attacker's
budget). A new lock is written to the audit trail (``sign_in_locked``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from gathering.abuse.client import client_ip
from gathering.accounts.models import SignInThrottle
from gathering.audit import services as audit
from gathering.core.crypto import blind_index

# Rows whose window and lock are over are deleted after this long.
KEEP = dt.timedelta(days=1)
IPV6_PREFIX = 64


@dataclass(frozen=True, slots=True)
class Key:
    scope: str
    hashed: str
    limit: int
    seconds: int


def _hash(scope: str, value: str) -> str:
    # Under the current keyed-hash key: after a rotation counts start again, which is harmless.
    return blind_index(f"{scope}:{value}", purpose="accounts-throttle")


def _address(request: HttpRequest) -> str:
    ip = client_ip(request)
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.ip_network((ip, IPV6_PREFIX), strict=False))
    return str(ip)


def keys_for(request: HttpRequest, *, username: str) -> list[Key]:
    """The account key of ``username`` and the address key of the request."""
    return [
        Key(
            scope=SignInThrottle.Scope.ACCOUNT,
            hashed=_hash("account", username),
            limit=settings.ACCOUNTS_LOCKOUT_FAILURES,
            seconds=settings.ACCOUNTS_LOCKOUT_SECONDS,
        ),
        Key(
            scope=SignInThrottle.Scope.ADDRESS,
            hashed=_hash("address", _address(request)),
            limit=settings.ACCOUNTS_ADDRESS_FAILURES,
            seconds=settings.ACCOUNTS_ADDRESS_LOCKOUT_SECONDS,
        ),
    ]


def is_locked(request: HttpRequest, *, username: str) -> bool:
    """Whether the account name or the client's address is locked now."""
    keys = keys_for(request, username=username)
    moment = timezone.now()
    return any(
        SignInThrottle.objects.filter(
            scope=key.scope, hashed_key=key.hashed, locked_until__gt=moment
        ).exists()
        for key in keys
    )


def record_failure(request: HttpRequest, *, username: str, stage: str) -> bool:
    """Count one failed attempt of ``username`` from the request's client; True if this one
    locked the name or the address (then recorded in the audit trail)."""
    moment = timezone.now()
    newly_locked: list[str] = []
    for key in keys_for(request, username=username):
        with transaction.atomic():
            row, _created = SignInThrottle.objects.select_for_update().get_or_create(
                scope=key.scope, hashed_key=key.hashed, defaults={"window_started_at": moment}
            )
            if row.locked_until is not None and row.locked_until > moment:
                continue  # locked already (a request that passed the check just before)
            window = dt.timedelta(seconds=key.seconds)
            if row.window_started_at <= moment - window:
                row.failures, row.window_started_at = 0, moment
            row.failures += 1
            if row.failures >= key.limit:
                # A fresh count starts with the lock, for when it ends.
                row.failures, row.window_started_at = 0, moment
                row.locked_until = moment + window
                newly_locked.append(key.scope)
            row.save(update_fields=["failures", "window_started_at", "locked_until"])
    for scope in newly_locked:
        audit.record(
            request,
            action="sign_in_locked",
            actor_username=username,
            summary=f"scope={scope}; stage={stage}",
        )
    SignInThrottle.objects.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lt=moment),
        window_started_at__lt=moment - KEEP,
    ).delete()
    return bool(newly_locked)


def clear_account(*, username: str) -> None:
    """A successful sign-in of ``username``: its failures are forgotten (its lock, if any, has
    ended: no attempt is checked during one)."""
    SignInThrottle.objects.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lte=timezone.now()),
        scope=SignInThrottle.Scope.ACCOUNT,
        hashed_key=_hash("account", username),
    ).delete()
