"""Nudges: tell the live servers that an edition's figures changed, so they poll it at once.

Counters are polled anyway (every ``LIVE_POLL_SECONDS``); a nudge matters for rare changes that
should show without waiting, such as a staff announcement. Services call ``changed(year=...)``;
inside a transaction the nudge waits for the commit (a poll before it would see nothing new),
outside one it goes at once. It reaches a live server running in this process directly (tests)
and, with ``REDIS_URL``, every live server through Redis. A nudge never fails the caller: a
lost one only delays the update until the next poll.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction

logger = logging.getLogger("gathering.live")

# After Redis failed to take a nudge, the next ones are skipped for this long: a request must
# not wait for a Redis that is away (the poll delivers the change a moment later anyway).
REDIS_BACKOFF_SECONDS = 5.0

_listeners: list[Callable[[int], None]] = []
_lock = threading.Lock()
_clients: dict[str, Any] = {}
_redis_down_until = 0.0


def redis_prefix(url: str) -> str:
    """Prefix of the live keys and channels. Pub/sub channels are shared by every database
    number of a Redis server: the database number in the name keeps sites (and test runs) that
    use different databases apart."""
    from redis.connection import parse_url

    database = parse_url(url).get("db", 0)  # type: ignore[no-untyped-call]
    return f"gathering:live:{database}:"


def nudge_channel(url: str, year: int) -> str:
    return f"{redis_prefix(url)}{year}:nudge"


def listen(listener: Callable[[int], None]) -> Callable[[], None]:
    """In-process nudges reach ``listener(year)`` (called from any thread); returns a function
    that stops them."""
    with _lock:
        _listeners.append(listener)

    def stop() -> None:
        with _lock, contextlib.suppress(ValueError):
            _listeners.remove(listener)

    return stop


def changed(*, year: int) -> None:
    """The public figures of edition ``year`` changed (or will once the current transaction
    commits)."""
    transaction.on_commit(lambda: _send(year))


def _send(year: int) -> None:
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(year)
        except Exception:
            logger.exception("live: in-process nudge failed")
    url = getattr(settings, "REDIS_URL", "")
    if url:
        _publish(url, year)


def _publish(url: str, year: int) -> None:
    global _redis_down_until
    if time.monotonic() < _redis_down_until:
        return
    import redis

    try:
        with _lock:
            client = _clients.get(url)
            if client is None:
                client = _clients[url] = redis.Redis.from_url(
                    url, socket_timeout=0.5, socket_connect_timeout=0.5
                )
        client.publish(nudge_channel(url, year), b"1")
    except (redis.RedisError, OSError) as error:
        _redis_down_until = time.monotonic() + REDIS_BACKOFF_SECONDS
        logger.warning("live: nudge for edition %s not sent to Redis: %s", year, error)
