"""The live server: Server-Sent Events for thousands of viewers, in one asyncio process.

``gathering live-serve`` runs it; ``gathering serve`` starts it beside the web server (whose
blocking threads could not hold thousands of open streams). Routes, all public (the figures
are the ones on the public pages, so any origin may read them):

``GET /live/<year>/events``      the event stream: ``retry``, then the current value of every
                                 topic (or, with ``Last-Event-ID`` or ``?last_event_id=``,
                                 of the topics changed since), then each change as it happens
                                 (at most one per topic per second) and ``: ping`` every 15 s.
``GET /live/<year>/state.json``  the current state, ``{"id": ..., "topics": {...}}`` (the
                                 polling fallback; ``?last_event_id=`` as above).
``GET /healthz``                 ``{"status": "ok", ...}``.

Each connection is an ``asyncio.Protocol`` (no task, no stream reader per client: a few
kilobytes each). The request head is parsed strictly (``http1``); anything else gets its
error and the connection is closed. A stream's bytes are written without waiting for the
client; one whose unsent data passes ``MAX_BUFFER`` does not keep up and is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import resource
import signal
import time
import typing
from typing import Any

from gathering.live.broadcast import Broadcaster, Edition, make_broadcaster
from gathering.live.http1 import HttpError, Request, head_length, parse
from gathering.live.state import parse_event_id

logger = logging.getLogger("gathering.live")

MAX_BUFFER = 256 * 1024
HEARTBEAT_SECONDS = 15.0
# A connection that has not sent a whole request head by then is closed (slow clients that
# hold sockets open without asking anything).
REQUEST_SECONDS = 10.0
RETRY_MS = 3000
# Connections beyond the client cap (+ this many for requests in flight) are refused at once.
SPARE_CONNECTIONS = 1024
# Open files kept for the database, Redis, logs and requests in flight.
SPARE_FILES = 256
# After an answer (other than a stream), how long the client may take to close its side.
LINGER_SECONDS = 2.0

ROUTE = re.compile(r"/live/([1-9][0-9]{0,5})/(events|state\.json)")

REASONS = {
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}

COMMON_HEADERS = (
    "Cache-Control: no-store\r\n"
    "Access-Control-Allow-Origin: *\r\n"
    "X-Content-Type-Options: nosniff\r\n"
)

STREAM_HEAD = (
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/event-stream; charset=utf-8\r\n"
    f"{COMMON_HEADERS}"
    "X-Accel-Buffering: no\r\n"
    # The stream ends when the connection does (no length, no chunks).
    "Connection: close\r\n"
    "\r\n"
).encode()
RETRY = f"retry: {RETRY_MS}\n\n".encode()


def response(
    status: int,
    body: Any,
    *,
    head_only: bool = False,
    extra: str = "",
) -> bytes:
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    head = (
        f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n"
        f"{COMMON_HEADERS}"
        f"{extra}"
        "Connection: close\r\n"
        "\r\n"
    ).encode()
    return head if head_only else head + payload


class LiveServer:
    def __init__(
        self,
        broadcaster: Broadcaster,
        *,
        max_clients: int = 20000,
        heartbeat: float = HEARTBEAT_SECONDS,
        request_timeout: float = REQUEST_SECONDS,
    ) -> None:
        self.broadcaster = broadcaster
        self.max_clients = max_clients
        self.heartbeat = heartbeat
        self.request_timeout = request_timeout
        self.connections: set[Connection] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.server: asyncio.Server | None = None
        self.port = 0
        self._heartbeat_task: asyncio.Task[None] | None = None
        self.started = time.monotonic()

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: Connection(self), host, port, backlog=4096, reuse_address=True
        )
        self.port = self.server.sockets[0].getsockname()[1]
        self._heartbeat_task = asyncio.create_task(self._beat(), name="live-heartbeat")

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
        for task in list(self.tasks):
            task.cancel()
        for connection in list(self.connections):
            connection.transport_close()
        await asyncio.sleep(0)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            self.broadcaster.heartbeat()

    def spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


class Connection(asyncio.Protocol):
    __slots__ = ("buffer", "edition", "live", "pending", "timer", "transport", "year")

    def __init__(self, live: LiveServer) -> None:
        self.live = live
        self.transport: asyncio.WriteTransport | None = None
        self.buffer: bytes | None = b""
        self.edition: Edition | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.year = 0
        self.pending = False  # a request read, its answer not written yet

    # --- asyncio callbacks --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream socket's transport writes (asyncio's or another loop's, which need not
        # subclass asyncio.WriteTransport).
        self.transport = typing.cast(asyncio.WriteTransport, transport)
        if len(self.live.connections) >= self.live.max_clients + SPARE_CONNECTIONS:
            self.transport.abort()
            return
        self.live.connections.add(self)
        self.transport.set_write_buffer_limits(high=MAX_BUFFER)
        self.timer = asyncio.get_running_loop().call_later(
            self.live.request_timeout, self._timed_out
        )

    def data_received(self, data: bytes) -> None:
        if self.buffer is None:
            return  # answered or streaming: whatever else the client sends is ignored
        self.buffer += data
        try:
            length = head_length(self.buffer)
            if not length:
                return
            request = parse(self.buffer[:length])
        except HttpError as error:
            self._finish(error.status, {"error": error.reason})
            return
        self.buffer = None
        self._cancel_timer()
        self.pending = True
        self._route(request)

    def eof_received(self) -> bool:
        # A client that half-closes after its request still gets the answer; otherwise the
        # end of its input ends the connection (a stream's client left).
        return self.pending

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        self.live.connections.discard(self)
        if self.edition is not None and self.transport is not None:
            self.live.broadcaster.unsubscribe(self.edition, self.transport)
            self.edition = None

    def pause_writing(self) -> None:
        # More than MAX_BUFFER unsent: a stream client that does not read falls ever further
        # behind and holds memory; it reconnects (and resumes) if it is still there.
        if self.edition is not None and self.transport is not None:
            self.transport.abort()

    # --- requests -----------------------------------------------------------------------------

    def _route(self, request: Request) -> None:
        head_only = request.method == "HEAD"
        if request.path == "/healthz":
            if request.method not in {"GET", "HEAD"}:
                self._finish(405, {"error": "method not allowed"}, extra="Allow: GET, HEAD\r\n")
                return
            self._finish(
                200,
                {
                    "status": "ok",
                    "clients": self.live.broadcaster.clients,
                    "editions": sorted(self.live.broadcaster.editions),
                },
                head_only=head_only,
            )
            return
        match = ROUTE.fullmatch(request.path)
        if match is None:
            self._finish(404, {"error": "not found"}, head_only=head_only)
            return
        if request.method not in {"GET", "HEAD"}:
            self._finish(405, {"error": "method not allowed"}, extra="Allow: GET, HEAD\r\n")
            return
        year, kind = int(match.group(1)), match.group(2)
        raw_id = request.headers.get("last-event-id", request.query.get("last_event_id"))
        last_event_id = parse_event_id(raw_id)
        if kind == "events":
            if self.live.broadcaster.clients >= self.live.max_clients:
                self._finish(503, {"error": "too many clients"}, extra="Retry-After: 10\r\n")
                return
            self.live.spawn(self._stream(year, last_event_id, head_only=head_only))
        else:
            self.live.spawn(self._state(year, last_event_id, head_only=head_only))

    async def _current(self, year: int) -> Any:
        """The edition's state; None once an error response was sent."""
        try:
            state = await self.live.broadcaster.ensure(year)
        except Exception:
            logger.exception("live: edition %s could not be loaded", year)
            self._finish(503, {"error": "unavailable"}, extra="Retry-After: 5\r\n")
            return None
        if state is None:
            self._finish(404, {"error": "no such edition"})
        return state

    async def _state(self, year: int, last_event_id: int | None, *, head_only: bool) -> None:
        state = await self._current(year)
        if state is not None:
            self._finish(200, state.public(last_event_id), head_only=head_only)

    async def _stream(self, year: int, last_event_id: int | None, *, head_only: bool) -> None:
        state = await self._current(year)
        transport = self.transport
        if state is None or transport is None or transport.is_closing():
            return
        if head_only:
            transport.write(STREAM_HEAD)
            transport.close()
            return
        # No await from here on: nothing can be broadcast between the replay and the
        # subscription, so the client misses no change and gets none twice.
        edition = self.live.broadcaster.subscribe(year, transport)
        if edition is None:
            self._finish(503, {"error": "unavailable"}, extra="Retry-After: 5\r\n")
            return
        self.edition = edition
        self.year = year
        self.pending = False
        transport.write(STREAM_HEAD + RETRY + state.replay(last_event_id))

    # --- helpers ------------------------------------------------------------------------------

    def _finish(self, status: int, body: Any, *, head_only: bool = False, extra: str = "") -> None:
        self.buffer = None
        self.pending = False
        self._cancel_timer()
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(response(status, body, head_only=head_only, extra=extra))
        if transport.can_write_eof():
            # Lingering close: closing a socket with unread input (a body we refused, more
            # garbage) resets the connection, and the client may never see our answer. So
            # only our side ends here; the rest of its input is discarded until it closes
            # too, or LINGER_SECONDS pass.
            transport.write_eof()
            asyncio.get_running_loop().call_later(LINGER_SECONDS, transport.close)
        else:
            transport.close()

    def _timed_out(self) -> None:
        self.timer = None
        self._finish(408, {"error": "request timeout"})

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def transport_close(self) -> None:
        if self.transport is not None:
            self.transport.close()


# --- the process ------------------------------------------------------------------------------


def raise_open_files_limit() -> int:
    """Each client is a socket: lift the soft limit on open files to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def serve(*, host: str, port: int, open_files: int, ready: Any = None) -> None:
    """Serve until SIGTERM or SIGINT (Django is set up by the caller)."""
    from django.conf import settings

    max_clients = int(getattr(settings, "LIVE_MAX_CLIENTS", 20000))
    # Each client holds a socket: past the open-files limit, accepting fails for everyone.
    if max_clients > open_files - SPARE_FILES:
        max_clients = max(1, open_files - SPARE_FILES)
        logger.info(
            "live: at most %d clients (the limit on open files is %d)", max_clients, open_files
        )
    broadcaster = make_broadcaster()
    await broadcaster.start()
    live = LiveServer(broadcaster, max_clients=max_clients)
    await live.start(host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    logger.info("live: serving on http://%s:%s/", host, live.port)
    if ready is not None:
        ready(live.port)
    try:
        await stop.wait()
    finally:
        await live.close()
        await broadcaster.close()


def run(*, host: str, port: int) -> None:
    asyncio.run(serve(host=host, port=port, open_files=raise_open_files_limit()))
