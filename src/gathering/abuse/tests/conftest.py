from __future__ import annotations

import os
import threading
from collections.abc import Callable

import pytest
from django.conf import settings as django_settings
from django.db import close_old_connections, connection

from gathering.abuse import altcha


@pytest.fixture
def solved() -> Callable[..., str]:
    """A payload as the widget sends it, for a fresh challenge solved by brute force."""

    def make(*, max_number: int = 2000, now: float | None = None) -> str:
        challenge = altcha.create_challenge(max_number=max_number, now=now)
        number = altcha.solve(challenge)
        assert number is not None
        return altcha.encode_payload(challenge, number)

    return make


def redis_url_or_skip() -> str:
    # The test settings give each xdist worker its own Redis database (settings_test.py).
    url = django_settings.REDIS_URL if os.environ.get("REDIS_URL") else ""
    if not url:
        pytest.skip("REDIS_URL is not set: the Redis backend is tested in the PostgreSQL+Redis run")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis at REDIS_URL does not answer ({error.__class__.__name__})")
    return url


def run_together(
    work: Callable[[int], object], count: int
) -> tuple[list[object], list[BaseException]]:
    """Run ``work(i)`` in ``count`` threads released at once (each with its own database
    connection); return their results and exceptions."""
    barrier = threading.Barrier(count)
    results: list[object] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def target(i: int) -> None:
        try:
            barrier.wait()
            result = work(i)
            with lock:
                results.append(result)
        except BaseException as error:  # reported to the test
            with lock:
                errors.append(error)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason=(
        "needs concurrent connections to one database (PostgreSQL): SQLite serialises writers "
        "and its in-memory test database does not model production; run with DATABASE_URL"
    ),
)
