"""Broadcasters: who polls an edition, and how its changes reach every connected client.

``Broadcaster`` (the default) polls each edition that has viewers in this process and writes
its changes to them. ``RedisBroadcaster`` (with ``REDIS_URL``) lets several live servers, on
several hosts, show the same numbers with the same event ids: per edition one of them leads
(a lease in Redis, renewed every second), polls, keeps the full state under a key and
publishes each change on a channel; every server subscribes (one connection per process) and
fans the changes out to its own clients. When Redis goes away each server polls for itself
until it is back.

Fan-out encodes an event once and writes the same bytes to every client's transport without
waiting for any of them; a client that does not read (its write buffer over the transport's
high-water mark) is dropped by its connection (``sse_server``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import redis

from gathering.live import notify
from gathering.live.publisher import Poller, Snapshot, SnapshotReader
from gathering.live.state import EditionState

logger = logging.getLogger("gathering.live")

# An edition without viewers keeps being polled this long (a page reload must not restart it).
LINGER_SECONDS = 30.0
# An edition that does not exist is not looked up again for this long (404s stay cheap).
MISSING_SECONDS = 5.0
# A first snapshot that takes longer than this answers 503 (the client retries).
FIRST_SNAPSHOT_SECONDS = 15.0
HEARTBEAT = b": ping\n\n"


@dataclass(eq=False)
class Edition:
    year: int
    state: EditionState
    clients: set[asyncio.WriteTransport] = field(default_factory=set)
    poller: Poller | None = None
    activation: asyncio.Task[bool] | None = None
    touched: float = field(default_factory=time.monotonic)
    leading: bool = False
    filled: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def active(self) -> bool:
        return self.activation is not None and self.activation.done()


class Broadcaster:
    """In-process: one poller per watched edition, fan-out to this process's clients."""

    def __init__(
        self,
        *,
        snapshot: Snapshot | None = None,
        poll_interval: float | None = None,
        coalesce: float = 1.0,
        linger: float = LINGER_SECONDS,
    ) -> None:
        if poll_interval is None:
            from django.conf import settings

            poll_interval = float(getattr(settings, "LIVE_POLL_SECONDS", 0.5))
        self.poll_interval = poll_interval
        self.coalesce = coalesce
        self.linger = linger
        self.reader = SnapshotReader(snapshot)
        self.editions: dict[int, Edition] = {}
        self.clients = 0
        self._missing: dict[int, float] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stop_nudges: Any = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()

        def nudge(year: int) -> None:
            loop.call_soon_threadsafe(self.nudge, year)

        self._stop_nudges = notify.listen(nudge)
        self._tasks.append(asyncio.create_task(self._janitor(), name="live-janitor"))

    async def close(self) -> None:
        if self._stop_nudges is not None:
            self._stop_nudges()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for edition in list(self.editions.values()):
            await self._deactivate(edition)
        self.reader.close()

    # --- editions -----------------------------------------------------------------------------

    async def ensure(self, year: int) -> EditionState | None:
        """The live state of ``year``, polled from now on; None if there is no such edition.
        Raises TimeoutError when the first snapshot takes too long."""
        edition = self.editions.get(year)
        if edition is None:
            if self._missing.get(year, 0.0) > time.monotonic():
                return None
            edition = Edition(year=year, state=EditionState(year))
            self.editions[year] = edition
            edition.activation = asyncio.create_task(self._activate(edition))
        activation = edition.activation
        if activation is None:
            raise RuntimeError("an edition without activation")
        try:
            exists = await asyncio.wait_for(
                asyncio.shield(activation), timeout=FIRST_SNAPSHOT_SECONDS
            )
        except Exception:
            if activation.done():
                self._forget(edition)
            raise
        if not exists:
            self._forget(edition, missing=True)
            return None
        edition.touched = time.monotonic()
        return edition.state

    def _forget(self, edition: Edition, *, missing: bool = False) -> None:
        if self.editions.get(edition.year) is edition:
            del self.editions[edition.year]
        if missing:
            self._missing[edition.year] = time.monotonic() + MISSING_SECONDS

    async def _activate(self, edition: Edition) -> bool:
        return await self._poll_locally(edition)

    async def _poll_locally(self, edition: Edition) -> bool:
        poller = await self._start_poller(
            edition, emit=functools.partial(self._emit_local, edition)
        )
        return await poller.first_round

    async def _start_poller(self, edition: Edition, *, emit: Any) -> Poller:
        if edition.poller is not None:
            await edition.poller.stop()
        poller = Poller(
            year=edition.year,
            read=self.reader.read,
            emit=emit,
            on_gone=functools.partial(self._gone, edition),
            seed=dict(edition.state.values),
            interval=self.poll_interval,
            coalesce=self.coalesce,
        )
        edition.poller = poller
        poller.start()
        return poller

    async def _stop_poller(self, edition: Edition) -> None:
        if edition.poller is not None:
            poller, edition.poller = edition.poller, None
            await poller.stop()

    async def _emit_local(self, edition: Edition, values: dict[str, Any]) -> bool:
        self.fan_out(edition, edition.state.emit(values))
        edition.filled.set()
        return True

    async def _gone(self, edition: Edition) -> None:
        """The edition no longer exists (or is no longer public): its clients are closed (their
        reconnection then gets a 404, which ends an EventSource)."""
        logger.info(
            "live: edition %s is gone, closing its %d streams", edition.year, len(edition.clients)
        )
        for transport in list(edition.clients):
            self.unsubscribe(edition, transport)
            transport.close()
        await self._deactivate(edition)
        self._missing[edition.year] = time.monotonic() + MISSING_SECONDS

    async def _deactivate(self, edition: Edition) -> None:
        self._forget(edition)
        await self._stop_poller(edition)

    async def _janitor(self) -> None:
        """Stops polling editions nobody watched for ``linger`` seconds; drops old 404s."""
        while True:
            await asyncio.sleep(min(5.0, self.linger / 2))
            moment = time.monotonic()
            for edition in list(self.editions.values()):
                if (
                    edition.active
                    and not edition.clients
                    and moment - edition.touched > self.linger
                ):
                    await self._deactivate(edition)
            for year, until in list(self._missing.items()):
                if until < moment:
                    del self._missing[year]

    def nudge(self, year: int) -> None:
        edition = self.editions.get(year)
        if edition is not None and edition.poller is not None:
            edition.poller.nudge()

    # --- clients ------------------------------------------------------------------------------

    def subscribe(self, year: int, transport: asyncio.WriteTransport) -> Edition | None:
        edition = self.editions.get(year)
        if edition is None or not edition.active:
            return None
        edition.clients.add(transport)
        self.clients += 1
        return edition

    def unsubscribe(self, edition: Edition, transport: asyncio.WriteTransport) -> None:
        if transport in edition.clients:
            edition.clients.discard(transport)
            edition.touched = time.monotonic()
            self.clients -= 1

    def fan_out(self, edition: Edition, data: bytes) -> None:
        if not data:
            return
        for transport in list(edition.clients):
            if not transport.is_closing():
                transport.write(data)

    def heartbeat(self) -> None:
        for edition in list(self.editions.values()):
            self.fan_out(edition, HEARTBEAT)


# --- Redis ------------------------------------------------------------------------------------

LEASE_MS = 3000
RENEW_SECONDS = 1.0
# A follower that finds no state in Redis waits this long for the leader's first publication.
FOLLOWER_WAIT_SECONDS = 3.5

# KEYS: leader key. ARGV: token, lease ms. Takes a free lease or renews ours; 1 if we lead.
LEASE_SCRIPT = """
local holder = redis.call('GET', KEYS[1])
if holder == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
elseif holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

# KEYS: leader key, state key. ARGV: token, state, channel, message. Only the leader writes:
# a process that lost its lease (paused, cut off) cannot publish stale ids.
PUBLISH_SCRIPT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
"""

# KEYS: leader key. ARGV: token.
RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisBroadcaster(Broadcaster):
    def __init__(self, *, url: str, **options: Any) -> None:
        super().__init__(**options)
        self.url = url
        self.prefix = notify.redis_prefix(url)
        self.token = secrets.token_hex(8)
        self.redis: Any = None  # redis.asyncio.Redis while connected
        self.connected = asyncio.Event()

    def _key(self, year: int, kind: str) -> str:
        return f"{self.prefix}{year}:{kind}"

    def _channel(self, year: int) -> str:
        return f"{self.prefix}{year}"

    async def start(self) -> None:
        await super().start()
        self._tasks.append(asyncio.create_task(self._connection(), name="live-redis"))

    async def close(self) -> None:
        client = self.redis
        for edition in list(self.editions.values()):
            if edition.leading and client is not None:
                with contextlib.suppress(Exception):
                    await client.eval(
                        RELEASE_SCRIPT, 1, self._key(edition.year, "leader"), self.token
                    )
        await super().close()

    async def _connection(self) -> None:
        """Connect, subscribe, lead or follow; on any Redis failure poll locally and retry."""
        import redis.asyncio as aioredis

        pause = 0.5
        while True:
            client = aioredis.Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=5)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(f"{self.prefix}*")
                await client.ping()
                self.redis = client
                self.connected.set()
                logger.info("live: Redis connected (%s)", self.prefix)
                pause = 0.5
                for edition in list(self.editions.values()):
                    if edition.active:
                        await self._stop_poller(edition)  # a local fallback poller
                        await self._sync(edition)
                async with asyncio.TaskGroup() as group:
                    group.create_task(self._listen(pubsub))
                    group.create_task(self._leases())
            except Exception as error:
                logger.warning(
                    "live: Redis unavailable (%s); polling locally until it is back", _reason(error)
                )
            finally:
                self.redis = None
                self.connected.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                with contextlib.suppress(Exception):
                    await client.aclose()
            for edition in list(self.editions.values()):
                edition.leading = False
                if edition.active:
                    await self._start_poller(
                        edition, emit=functools.partial(self._emit_local, edition)
                    )
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)

    async def _listen(self, pubsub: Any) -> None:
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is not None and message.get("type") == "pmessage":
                await self._received(message["channel"], message["data"])

    async def _received(self, channel: bytes, data: bytes) -> None:
        name = channel.decode(errors="replace").removeprefix(self.prefix)
        year_text, _colon, kind = name.partition(":")
        if not year_text.isdigit():
            return
        edition = self.editions.get(int(year_text))
        if edition is None:
            return
        if kind == "nudge":
            if edition.poller is not None:
                edition.poller.nudge()
            return
        if kind:
            return
        try:
            message = json.loads(data)
            if message.get("gone"):
                if not edition.leading:
                    await self._gone(edition)
                return
            events = edition.state.merge(message)
        except (ValueError, AttributeError, TypeError):
            logger.warning("live: malformed message on %s left out", name)
            return
        if events:
            self.fan_out(edition, events)
            edition.filled.set()

    async def _leases(self) -> None:
        while True:
            client = self.redis
            if client is None:
                raise ConnectionError("Redis connection closed")
            watched = [edition for edition in self.editions.values() if edition.active]
            for edition in watched:
                await self._lead_or_follow(edition)
            if not watched:
                await client.ping()
            await asyncio.sleep(RENEW_SECONDS)

    async def _lease(self, year: int) -> bool:
        result = await self.redis.eval(
            LEASE_SCRIPT, 1, self._key(year, "leader"), self.token, str(LEASE_MS)
        )
        return bool(result)

    async def _lead_or_follow(self, edition: Edition) -> None:
        if self.editions.get(edition.year) is not edition:
            return
        leads = await self._lease(edition.year)
        if leads and not (edition.leading and edition.poller is not None):
            # Newly leading: continue from the published state (its ids) before polling.
            await self._sync(edition)
            edition.leading = True
            await self._lead(edition)
        elif not leads and (edition.leading or edition.poller is not None):
            # Another server leads (again): its messages are the reference.
            edition.leading = False
            await self._stop_poller(edition)

    async def _lead(self, edition: Edition) -> Poller:
        return await self._start_poller(edition, emit=functools.partial(self._emit_redis, edition))

    async def _sync(self, edition: Edition) -> None:
        raw = await self.redis.get(self._key(edition.year, "state"))
        if raw is None:
            return
        try:
            events = edition.state.adopt(json.loads(raw))
        except (ValueError, AttributeError, TypeError):
            logger.warning("live: malformed state of edition %s in Redis ignored", edition.year)
            return
        self.fan_out(edition, events)
        edition.filled.set()

    async def _emit_redis(self, edition: Edition, values: dict[str, Any]) -> bool:
        client = self.redis
        if client is None:
            raise ConnectionError("Redis connection closed")
        state = edition.state
        ids = state.next_ids(values)
        full = state.dump()
        full["topics"].update(values)
        full["ids"].update(ids)
        full["id"] = max(full["id"], *ids.values())
        message = {"id": max(ids.values()), "topics": values, "ids": ids}
        published = await client.eval(
            PUBLISH_SCRIPT,
            2,
            self._key(edition.year, "leader"),
            self._key(edition.year, "state"),
            self.token,
            json.dumps(full, separators=(",", ":"), ensure_ascii=False),
            self._channel(edition.year),
            json.dumps(message, separators=(",", ":"), ensure_ascii=False),
        )
        if not published:
            edition.leading = False
            return False
        # Our own message comes back through the subscription: merge() skips it (same ids).
        self.fan_out(edition, state.apply(values, ids))
        edition.filled.set()
        return True

    async def _activate(self, edition: Edition) -> bool:
        if self.redis is None:
            return await self._poll_locally(edition)
        try:
            await self._sync(edition)
            if await self._lease(edition.year):
                edition.leading = True
                return await (await self._lead(edition)).first_round
            # Another server leads; the edition must still exist for us to serve it.
            if await self.reader.read(edition.year) is None:
                return False
            if edition.state.empty:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(edition.filled.wait(), FOLLOWER_WAIT_SECONDS)
            if edition.state.empty:
                # The leader has published nothing yet: serve our own view meanwhile.
                return await self._poll_locally(edition)
            return True
        except (OSError, redis.RedisError) as error:
            logger.warning(
                "live: Redis failed (%s); edition %s polled locally", error, edition.year
            )
            return await self._poll_locally(edition)

    async def _gone(self, edition: Edition) -> None:
        client = self.redis
        if edition.leading and client is not None:
            with contextlib.suppress(Exception):
                await client.delete(self._key(edition.year, "state"))
                await client.publish(self._channel(edition.year), b'{"gone":true}')
        await super()._gone(edition)

    async def _deactivate(self, edition: Edition) -> None:
        client = self.redis
        await super()._deactivate(edition)
        if edition.leading and client is not None:
            edition.leading = False
            with contextlib.suppress(Exception):
                await client.eval(RELEASE_SCRIPT, 1, self._key(edition.year, "leader"), self.token)


def _reason(error: BaseException) -> str:
    if isinstance(error, BaseExceptionGroup):
        return "; ".join(_reason(inner) for inner in error.exceptions)
    return f"{type(error).__name__}: {error}"


def make_broadcaster(*, snapshot: Snapshot | None = None, **options: Any) -> Broadcaster:
    """Redis when ``REDIS_URL`` is set, else in-process."""
    from django.conf import settings

    url = getattr(settings, "REDIS_URL", "")
    if url:
        return RedisBroadcaster(url=url, snapshot=snapshot, **options)
    return Broadcaster(snapshot=snapshot, **options)
