"""Django's PostgreSQL backend, whose health check (``CONN_HEALTH_CHECKS``) skips a connection
that ran a query in the last second.

Django checks a kept connection with ``SELECT 1`` before the first query of every request, so
that a connection broken while it sat idle (the database restarted, a firewall dropped it) is
replaced instead of failing the request. Under load that is one round trip more per request
(about 8% of a check-in's work) for connections that were in use a moment ago. A connection
that breaks while in use still costs at most the request that finds it broken: Django closes
it when that request ends, as it does without health checks.
"""

from __future__ import annotations

import time
from typing import Any

from django.db.backends.postgresql import base

RECENT_SECONDS = 1.0


class DatabaseWrapper(base.DatabaseWrapper):
    used_at = float("-inf")

    def close_if_health_check_failed(self) -> None:
        if (
            self.connection is not None
            and not self.health_check_done  # type: ignore[has-type]
            and time.monotonic() - self.used_at < RECENT_SECONDS
        ):
            self.health_check_done = True  # in use a moment ago: no round trip
            return
        super().close_if_health_check_failed()

    def create_cursor(self, name: Any = None) -> Any:
        cursor = super().create_cursor(name)
        self.used_at = time.monotonic()
        return cursor
