"""A signature's writes on PostgreSQL in two round trips instead of three.

The general path (``services._sign`` in ``GroupCommit.run``'s atomic block) counts the rate
limits in a statement and a commit of their own (their rows are hot: everyone of one mail
provider counts on one row, so its lock must not wait for the signature's commit), then sends
the proof of work's spending, the signature and its email together, then commits: three round
trips, each with its share of psycopg's and Django's machinery, about a third of a signature's
CPU in the web process (``bench/voices.py --profile``, 2026-11-28).

Outside any transaction, :func:`write` sends all of it in one pipeline as two explicit
transactions, and commits the second in a second round trip::

    BEGIN; count the rate limits; COMMIT;        -- the counters' locks end here
    BEGIN; spend the proof; INSERT the signature ON CONFLICT DO NOTHING; INSERT its email;
    -- answers read; the flags a passed limit sets written; then
    COMMIT;

A duplicate address or a replayed proof (rare) rolls the second transaction back, and the caller
takes the general path, with the rate limits already counted. Any error rolls back what is open
(or drops the connection when even that fails), so the connection is never left inside a
transaction Django does not know about.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection

from gathering.abuse import altcha, ratelimit
from gathering.core import fast_write
from gathering.core.fast_write import PreparedInsert
from gathering.outbox.models import OutboxEmail
from gathering.voices.models import Signature


@dataclass(frozen=True, slots=True)
class Written:
    counted: list[ratelimit.Hit]  # the rate limits counted (committed), in the order given
    signature: Signature | None  # committed; None: rolled back, the general path's turn


def possible() -> bool:
    """Whether :func:`write` may run: PostgreSQL, outside any transaction."""
    return (
        connection.vendor == "postgresql"
        and not connection.in_atomic_block
        and connection.get_autocommit()
    )


def write(
    *,
    hits: list[ratelimit.PreparedHit],
    checked: altcha.CheckedSolution | None,
    row: PreparedInsert[Signature],
    email: PreparedInsert[OutboxEmail],
    flags_after: Callable[[list[ratelimit.Hit]], list[str]],
) -> Written:
    """Count ``hits`` (``ratelimit.sendable`` ones, or none), spend ``checked``, insert ``row``
    and ``email``; ``flags_after(counted)`` gives the row's final flags once the counts are
    known. See the module docstring."""
    connection.ensure_connection()
    raw: Any = connection.connection  # psycopg's connection, in autocommit mode
    with connection.wrap_database_errors:
        try:
            with (
                raw.cursor() as control,
                raw.cursor() as counting,
                raw.cursor() as spending,
                raw.cursor() as inserting,
                raw.cursor() as queueing,
            ):
                with raw.pipeline():
                    if hits:
                        control.execute("BEGIN")
                        ratelimit.send_all(counting, hits)
                        control.execute("COMMIT")
                    control.execute("BEGIN")
                    if checked is not None:
                        checked.send_spend(spending)
                    row.send(inserting, unless_conflict=True)
                    email.send(queueing)
                counted = ratelimit.counted_on(counting, hits) if hits else []
                signature = row.written_on(inserting)
                email.written_on(queueing)
                replayed = checked is not None and not checked.spent_on(spending).ok
            if signature is None or replayed:
                raw.execute("ROLLBACK")
                return Written(counted=counted, signature=None)
            flags = flags_after(counted)
            if flags != signature.flags:
                signature.flags = flags
                fast_write.update(signature, ("flags",))
            raw.execute("COMMIT")
        except BaseException:
            _abandon(raw)
            raise
    return Written(counted=counted, signature=signature)


def _abandon(raw: Any) -> None:
    """Roll back whatever is open on ``raw`` after an error; close the connection (Django opens
    a new one on next use) if that fails too."""
    try:
        if raw.info.transaction_status != 0:  # not IDLE: in a transaction, failed or not
            raw.execute("ROLLBACK")
    except Exception:
        connection.close()
