"""Writes of the abuse app: spending a proof-of-work challenge, purging expired records.

Each write is one SQL statement on the caller's connection, inside the caller's transaction
when there is one (see each function).
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils.timezone import now

from gathering.abuse.models import RateCounter, SpentChallenge
from gathering.core import fast_write


@functools.cache
def _spend_sql() -> str:
    quote = connection.ops.quote_name
    table, challenge, expires_at = map(
        quote, (SpentChallenge._meta.db_table, "challenge", "expires_at")
    )
    return (
        f"INSERT INTO {table} ({challenge}, {expires_at}) VALUES (%s, %s) "  # noqa: S608  (names from the model, values bound)  # nosec B608 # quoted names from our models; every value is a bound parameter
        f"ON CONFLICT ({challenge}) DO NOTHING"
    )


def spend_challenge(*, challenge: str, expires_at: dt.datetime) -> bool:
    """Record ``challenge`` (64 hex characters) as spent; True when it was not spent before.

    One ``INSERT … ON CONFLICT DO NOTHING`` (PostgreSQL, SQLite 3.24+) on the caller's
    connection: call it inside the transaction that records what the solution was for, so a
    rolled-back transaction leaves the challenge unspent. Of two transactions spending one
    challenge at once, exactly one gets True: on PostgreSQL the second waits on the first's
    uncommitted row and then inserts nothing (or inserts, if the first rolled back); on SQLite
    writers are serialised. Never raises IntegrityError for a duplicate."""
    with fast_write.cursor() as cursor:
        send_spend(cursor, challenge=challenge, expires_at=expires_at)
        return bool(cursor.rowcount == 1)


def send_spend(cursor: Any, *, challenge: str, expires_at: dt.datetime) -> None:
    """:func:`spend_challenge`'s statement, executed on ``cursor``; its ``rowcount`` (1: not
    spent before), read once the statement ran, is the answer. For pipelined statements."""
    key = SpentChallenge._meta.pk.get_db_prep_value(uuid.UUID(hex=challenge[:32]), connection)
    cursor.execute(_spend_sql(), [key, connection.ops.adapt_datetimefield_value(expires_at)])


@dataclass(frozen=True)
class Purged:
    spent_challenges: int
    rate_counters: int


def purge_expired(*, at: dt.datetime | None = None) -> Purged:
    """Delete spent challenges past their expiry and rate counters past their window (two
    indexed DELETEs). Safe to run at any time, by several processes at once."""
    moment = at or now()
    spent, _ = SpentChallenge.objects.filter(expires_at__lt=moment).delete()
    counters, _ = RateCounter.objects.filter(expires__lt=int(moment.timestamp())).delete()
    return Purged(spent_challenges=spent, rate_counters=counters)
