"""The PostgreSQL backend's health check: a connection idle for a while is checked (and replaced
if broken) before a request uses it; one used a moment ago is not (no round trip)."""

from __future__ import annotations

import time

import pytest
from django.db import DatabaseError, connection

from gathering.core.postgresql import base as postgresql_base
from gathering.core.postgresql.base import RECENT_SECONDS

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the PostgreSQL backend's behaviour"
)


def break_behind_djangos_back() -> None:
    """The server side of the connection goes away (a restart, a dropped TCP connection)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    connection.connection.close()  # type: ignore[union-attr]
    connection.close_if_unusable_or_obsolete()  # a request ends: check at the next one


def test_an_idle_broken_connection_is_replaced_before_use(transactional_db: None) -> None:
    break_behind_djangos_back()
    connection.used_at = time.monotonic() - RECENT_SECONDS - 1  # type: ignore[attr-defined]

    with connection.cursor() as cursor:
        cursor.execute("SELECT 42")
        assert cursor.fetchone() == (42,)


def test_a_connection_used_a_moment_ago_is_not_checked(
    transactional_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "A moment" made an hour: on a loaded machine (a CI run) more than the real second once
    # passed between the two queries, and the check then rightly ran.
    monkeypatch.setattr(postgresql_base, "RECENT_SECONDS", 3600.0)
    break_behind_djangos_back()

    try:
        # No check, so this query is the one that finds the connection broken.
        with pytest.raises(DatabaseError), connection.cursor() as cursor:
            cursor.execute("SELECT 42")
    finally:
        connection.close()
