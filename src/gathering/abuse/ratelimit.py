"""Rate limits shared by every server process: fixed windows counted in the database or Redis.

``hit(scope=…, key=…, limit=…, window=…)`` counts one hit of ``key`` in the current window
(``window`` seconds, aligned on the Unix epoch) and says whether the count passed ``limit``.
It refuses nothing itself: the caller decides (voices flags a signature for review).

Backends, chosen by the settings:

- the database by default: one statement, ``INSERT … ON CONFLICT DO UPDATE SET hits = hits + 1
  RETURNING hits`` on ``RateCounter`` (atomic on PostgreSQL and SQLite, so concurrent processes
  never lose a hit). It runs on the caller's connection: inside the caller's transaction it
  costs no commit of its own (SQLite), but on PostgreSQL it then holds the counter row's lock
  until that transaction ends, so concurrent hits of one key wait for each other's commits.
  Keep hot keys (one large mail provider for everyone) out of such limits, or use Redis;
- Redis when ``settings.REDIS_URL`` is set: ``INCR`` and ``EXPIRE`` in one round trip. Should
  Redis not answer, the hit is counted in the database instead (logged, never an error).

Keys are never stored in clear: each is a keyed hash (:func:`hash_key`), with the scope beside
it. Old windows expire in Redis by themselves and are deleted from the database by
``purge_abuse_records``.

After a rotation of the keyed-hash key (``gathering rotate_hmac_key``), a window that began
before the rotation holds hits counted under the older keys: a hit in such a window adds them
to its count (in the same statement, or the same Redis round trip). Later windows cost nothing
more.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import unicodedata
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings
from django.db import connection

from gathering.abuse.models import RateCounter
from gathering.core import fast_write, hmac_keys
from gathering.core.crypto import blind_index, blind_indexes

logger = logging.getLogger(__name__)

HASH_CHARS = 32
MAX_SCOPE_CHARS = 100
# Seconds after a rotation during which a process may still hash with the key it had loaded.
ROTATION_SLACK = 5


@dataclass(frozen=True, slots=True)
class Hit:
    """The count of hits in the current window, this one included."""

    count: int
    limit: int

    @property
    def over(self) -> bool:
        return self.count > self.limit


def hash_key(key: str) -> str:
    """The stored form of a rate-limit key: a keyed hash (32 hex characters, after
    ``<key id>:`` under a rotated key)."""
    return blind_index(key, purpose="abuse-ratelimit", hex_chars=HASH_CHARS)


def _hashes(key: str, *, start: int) -> tuple[str, list[str]]:
    """The key's hash under the current key, and under the older keys when the window that
    begins at ``start`` may hold hits counted before a rotation."""
    keyring = hmac_keys.load(hmac_keys.HMAC)
    if len(keyring.keys) == 1 or start > keyring.current_since + ROTATION_SLACK:
        return hash_key(key), []
    hashes = blind_indexes(key, purpose="abuse-ratelimit", hex_chars=HASH_CHARS)
    return hashes[0], hashes[1:]


def hit(*, scope: str, key: str, limit: int, window: int, now: float | None = None) -> Hit:
    """Count a hit of ``key`` in ``scope``'s current ``window``-second window.

    ``over`` is True from the ``limit + 1``-th hit of a window on. One database statement or
    one Redis round trip (see the module docstring for the transaction it runs in). ``now``
    (Unix seconds) is for tests."""
    return prepare(scope=scope, key=key, limit=limit, window=window, now=now).record()


@dataclass(frozen=True, slots=True)
class PreparedHit:
    """A hit with its key hashed and its window chosen, to :meth:`record` later (a caller
    prepares outside its write transaction and records inside)."""

    scope: str
    hashed: str
    older: tuple[str, ...]
    start: int
    window: int
    limit: int

    def record(self) -> Hit:
        """Count the hit: one database statement or one Redis round trip."""
        older = list(self.older)
        if settings.REDIS_URL:
            try:
                count = _redis_hit(
                    scope=self.scope,
                    hashed=self.hashed,
                    older=older,
                    start=self.start,
                    window=self.window,
                )
            except redis.RedisError:
                logger.warning("rate limit: Redis did not answer, counting in the database")
            else:
                return Hit(count=count, limit=self.limit)
        count = _db_hit(
            scope=self.scope, hashed=self.hashed, older=older, start=self.start, window=self.window
        )
        return Hit(count=count, limit=self.limit)


def record_all(hits: list[PreparedHit]) -> list[Hit]:
    """Count several prepared hits, in order, in one round trip: one Redis pipeline, or one
    database statement when none needs counts from before a key rotation and no two share a
    counter (otherwise one statement each)."""
    if len(hits) < 2:
        return [hit.record() for hit in hits]
    if settings.REDIS_URL:
        try:
            return _redis_hit_all(hits)
        except redis.RedisError:
            logger.warning("rate limit: Redis did not answer, counting in the database")
    if not _one_statement(hits):
        return [
            Hit(
                count=_db_hit(
                    scope=hit.scope,
                    hashed=hit.hashed,
                    older=list(hit.older),
                    start=hit.start,
                    window=hit.window,
                ),
                limit=hit.limit,
            )
            for hit in hits
        ]
    with fast_write.cursor() as cursor:
        send_all(cursor, hits)
        return counted_on(cursor, hits)


def _one_statement(hits: list[PreparedHit]) -> bool:
    """Whether the database counts ``hits`` in one statement: none needs counts from before a
    key rotation, and no two share a counter."""
    keys = {(hit.scope, hit.hashed, hit.start) for hit in hits}
    return not any(hit.older for hit in hits) and len(keys) == len(hits)


def sendable(hits: list[PreparedHit]) -> bool:
    """Whether :func:`send_all` can count ``hits``: in the database (no Redis configured), in
    one statement, and at least one."""
    return bool(hits) and not settings.REDIS_URL and _one_statement(hits)


def send_all(cursor: Any, hits: list[PreparedHit]) -> None:
    """Count ``hits`` (:func:`sendable` ones) with one statement executed on ``cursor``, in
    the caller's transaction, without reading its answer (statements sent together, as in
    ``fast_write.pipelined``); :func:`counted_on` reads it."""
    parameters: list[str | int] = []
    for hit in hits:
        parameters += [hit.scope, hit.hashed, hit.start, hit.start + hit.window]
    cursor.execute(_upsert_many_sql(len(hits)), parameters)


def counted_on(cursor: Any, hits: list[PreparedHit]) -> list[Hit]:
    """The counts :func:`send_all` made on ``cursor``, in the order of ``hits``."""
    counts = {(scope, hashed, start): hits_ for scope, hashed, start, hits_ in cursor.fetchall()}
    return [
        Hit(count=int(counts[(hit.scope, hit.hashed, hit.start)]), limit=hit.limit) for hit in hits
    ]


def _redis_hit_all(hits: list[PreparedHit]) -> list[Hit]:
    """What ``_redis_hit`` does for each hit, all in one pipeline (one round trip)."""
    pipe = _redis().pipeline(transaction=True)
    for hit in hits:
        pipe.incr(_redis_key(scope=hit.scope, hashed=hit.hashed, start=hit.start))
        pipe.expire(_redis_key(scope=hit.scope, hashed=hit.hashed, start=hit.start), hit.window + 1)
        if hit.older:
            pipe.mget(
                [_redis_key(scope=hit.scope, hashed=old, start=hit.start) for old in hit.older]
            )
    results = iter(pipe.execute())
    counted = []
    for hit in hits:
        count = int(next(results))
        next(results)  # EXPIRE's answer
        if hit.older:
            count += sum(int(value) for value in next(results) if value is not None)
        counted.append(Hit(count=count, limit=hit.limit))
    return counted


@functools.cache
def _upsert_many_sql(rows: int) -> str:
    quote = connection.ops.quote_name
    table, scope, hashed_key, window_start, hits, expires = map(
        quote,
        (RateCounter._meta.db_table, "scope", "hashed_key", "window_start", "hits", "expires"),
    )
    values = ", ".join(["(%s, %s, %s, 1, %s)"] * rows)
    return (
        f"INSERT INTO {table} ({scope}, {hashed_key}, {window_start}, {hits}, {expires}) "  # noqa: S608  # nosec B608 # quoted names from our models; every value is a bound parameter
        f"VALUES {values} "
        f"ON CONFLICT ({scope}, {hashed_key}, {window_start}) "
        f"DO UPDATE SET {hits} = {table}.{hits} + 1 "
        f"RETURNING {scope}, {hashed_key}, {window_start}, {hits}"
    )


def prepare(
    *, scope: str, key: str, limit: int, window: int, now: float | None = None
) -> PreparedHit:
    """What :func:`hit` counts, without counting it yet (no database, no Redis)."""
    if window < 1 or limit < 0:
        raise ValueError("window must be >= 1 second and limit >= 0.")
    if not scope or len(scope) > MAX_SCOPE_CHARS:
        raise ValueError(f"scope must be 1-{MAX_SCOPE_CHARS} characters.")
    moment = time.time() if now is None else now
    start = int(moment // window) * window
    hashed, older = _hashes(key, start=start)
    return PreparedHit(
        scope=scope, hashed=hashed, older=tuple(older), start=start, window=window, limit=limit
    )


@functools.cache
def _upsert_sql(older: int = 0) -> str:
    quote = connection.ops.quote_name
    table, scope, hashed_key, window_start, hits, expires = map(
        quote,
        (RateCounter._meta.db_table, "scope", "hashed_key", "window_start", "hits", "expires"),
    )
    returning = f"{hits}"
    if older:
        # Hits of the same window counted under older keys (before a rotation).
        placeholders = ", ".join(["%s"] * older)
        returning = (
            f"{hits} + (SELECT COALESCE(SUM(o.{hits}), 0) FROM {table} o "  # noqa: S608  # nosec B608 # quoted names from our models; every value is a bound parameter
            f"WHERE o.{scope} = %s AND o.{window_start} = %s "
            f"AND o.{hashed_key} IN ({placeholders}))"
        )
    return (
        f"INSERT INTO {table} ({scope}, {hashed_key}, {window_start}, {hits}, {expires}) "  # noqa: S608  (names from the model, values bound)  # nosec B608 # quoted names from our models; every value is a bound parameter
        f"VALUES (%s, %s, %s, 1, %s) "
        f"ON CONFLICT ({scope}, {hashed_key}, {window_start}) "
        f"DO UPDATE SET {hits} = {table}.{hits} + 1 RETURNING {returning}"
    )


def _db_hit(*, scope: str, hashed: str, older: list[str], start: int, window: int) -> int:
    parameters: list[str | int] = [scope, hashed, start, start + window]
    if older:
        parameters += [scope, start, *older]
    with connection.cursor() as cursor:
        cursor.execute(_upsert_sql(len(older)), parameters)
        row = cursor.fetchone()
    return int(row[0])


_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


def _redis() -> redis.Redis:
    """One client (and connection pool) per process and URL; redis-py clients are thread-safe."""
    url = settings.REDIS_URL
    client = _clients.get(url)
    if client is None:
        with _clients_lock:
            client = _clients.get(url)
            if client is None:
                # Generous timeouts: on a busy 2-core server a round trip can take a few hundred
                # milliseconds, and falling back to the database splits a window's count.
                client = redis.Redis.from_url(
                    url, socket_timeout=3, socket_connect_timeout=1, health_check_interval=30
                )
                _clients[url] = client
    return client


def _redis_key(*, scope: str, hashed: str, start: int) -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "") or "gathering"
    return f"{prefix}:abuse:rl:{scope}:{hashed}:{start}"


def _redis_hit(*, scope: str, hashed: str, older: list[str], start: int, window: int) -> int:
    key = _redis_key(scope=scope, hashed=hashed, start=start)
    pipe = _redis().pipeline(transaction=True)
    pipe.incr(key)
    # Relative to now: the key outlives its window by at most one window (never less).
    pipe.expire(key, window + 1)
    if older:
        pipe.mget([_redis_key(scope=scope, hashed=old, start=start) for old in older])
    results = pipe.execute()
    before = sum(int(value) for value in results[2] if value is not None) if older else 0
    return int(results[0]) + before


def email_domain(email: str) -> str:
    """The domain of ``email``, lower-cased and IDNA-normalised (``"A@Bücher.DE."`` and
    ``"a@xn--bcher-kva.de"`` give ``"xn--bcher-kva.de"``): a stable rate-limit key. The part
    after the last ``@``; "" when there is none. A domain IDNA refuses is returned NFKC-folded
    instead, so this never raises."""
    _, at, domain = email.rpartition("@")
    domain = domain.strip().rstrip(".")
    if not at or not domain:
        return ""
    folded = unicodedata.normalize("NFKC", domain).casefold()
    if folded.isascii():
        return folded
    try:
        return folded.encode("idna").decode("ascii")
    except UnicodeError:
        return folded
