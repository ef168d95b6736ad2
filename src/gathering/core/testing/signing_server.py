"""What the durability tests of registration and voices share: the environment of a production
server that takes sign-ups and signatures from a test, and waiting for a condition.

``signing_server_env`` gives the server an ALTCHA key of its own, set in this process too (the
test makes proofs of work the server accepts), sends its emails to the test's SMTP sink, lifts
the rate limits (all the load comes from 127.0.0.1 and one email domain: the limits would flag
signatures), and gives it a migrated database of its own (a copy of the migrated SQLite
template, or a PostgreSQL database made from the migrated template when the run is on
PostgreSQL)."""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gathering.abuse import altcha
from gathering.core.testing.server import migrated_sqlite, own_postgres_database, server_env

NO_LIMIT = "1000000000"


@contextlib.contextmanager
def signing_server_env(
    data_dir: Path, *, smtp_port: int, monkeypatch: pytest.MonkeyPatch, database_prefix: str
) -> Iterator[dict[str, str]]:
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    monkeypatch.setenv("ALTCHA_HMAC_KEY", key)
    altcha.reset_key()
    env = server_env(
        data_dir,
        ALTCHA_HMAC_KEY=key,
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp_port),
        VOICES_LIMIT_ADDRESS=NO_LIMIT,
        VOICES_LIMIT_NETWORK=NO_LIMIT,
        VOICES_LIMIT_DOMAIN=NO_LIMIT,
    )
    try:
        with contextlib.ExitStack() as stack:
            if os.environ.get("DATABASE_URL", "").startswith("postgres"):
                env["DATABASE_URL"] = stack.enter_context(
                    own_postgres_database(
                        os.environ["DATABASE_URL"], prefix=database_prefix, migrated=True
                    )
                )
            else:
                migrated_sqlite(data_dir)
            yield env
    finally:
        altcha.reset_key()


def wait_for(condition: Callable[[], bool], *, timeout: float, step: float = 0.3) -> bool:
    """Whether ``condition`` came true within ``timeout`` seconds (checked every ``step``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()
