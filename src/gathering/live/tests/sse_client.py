"""Test helpers for the live server: a server in a background thread with an injected snapshot
function (a dict the test changes), and a raw-socket Server-Sent Events client."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gathering.live.broadcast import Broadcaster, RedisBroadcaster
from gathering.live.sse_server import LiveServer

WAIT = 20.0  # generous: a stuck test fails after this, a working one never waits it out


class Figures:
    """What the injected snapshot function returns: editions by year, changed by the test."""

    def __init__(self, editions: dict[int, dict[str, Any]]) -> None:
        self.lock = threading.Lock()
        self.editions = editions
        self.reads = 0

    def snapshot(self, *, year: int) -> dict[str, Any] | None:
        with self.lock:
            self.reads += 1
            values = self.editions.get(year)
            return None if values is None else copy.deepcopy(values)

    def set(self, year: int, **values: Any) -> None:
        with self.lock:
            self.editions[year].update(values)

    def remove(self, year: int) -> None:
        with self.lock:
            del self.editions[year]


class ThreadedServer:
    """A LiveServer and its broadcaster on their own event loop, in a thread."""

    def __init__(
        self,
        figures: Figures,
        *,
        redis_url: str | None = None,
        poll_interval: float = 0.05,
        coalesce: float = 1.0,
        max_clients: int = 100,
        heartbeat: float = 15.0,
    ) -> None:
        self.figures = figures
        self.redis_url = redis_url
        self.options = {"poll_interval": poll_interval, "coalesce": coalesce}
        self.max_clients = max_clients
        self.heartbeat = heartbeat
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.live: LiveServer | None = None
        self.broadcaster: Broadcaster | None = None

    def start(self) -> ThreadedServer:
        self.thread.start()
        self.call(self._start())
        return self

    async def _start(self) -> None:
        if self.redis_url:
            self.broadcaster = RedisBroadcaster(
                url=self.redis_url, snapshot=self.figures.snapshot, **self.options
            )
        else:
            self.broadcaster = Broadcaster(snapshot=self.figures.snapshot, **self.options)
        await self.broadcaster.start()
        self.live = LiveServer(
            self.broadcaster, max_clients=self.max_clients, heartbeat=self.heartbeat
        )
        await self.live.start("127.0.0.1", 0)

    def call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(WAIT)

    def run(self, function: Any) -> Any:
        """``function()`` on the server's loop (to read its state safely)."""

        async def call() -> Any:
            return function()

        return self.call(call())

    @property
    def port(self) -> int:
        assert self.live is not None
        return self.live.port

    def stop(self) -> None:
        if not self.thread.is_alive():
            return

        async def close() -> None:
            assert self.live is not None and self.broadcaster is not None
            await self.live.close()
            await self.broadcaster.close()

        with contextlib.suppress(Exception):
            self.call(close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(WAIT)
        self.loop.close()


@contextlib.contextmanager
def running(figures: Figures, **options: Any) -> Iterator[ThreadedServer]:
    server = ThreadedServer(figures, **options).start()
    try:
        yield server
    finally:
        server.stop()


def wait_for(condition: Any, *, timeout: float = WAIT, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return bool(condition())


def request(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Sends ``raw`` and reads the whole answer (the server closes after it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        sock.sendall(raw)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return parse_response(data)


def get(
    port: int, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return request(port, ("\r\n".join(lines) + "\r\n\r\n").encode())


def parse_response(data: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _blank, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _colon, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


@dataclass
class Event:
    id: str
    event: str
    data: Any


class SseClient:
    """One event stream over a raw socket."""

    def __init__(self, port: int, path: str, headers: dict[str, str] | None = None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Accept: text/event-stream"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, _blank, self.buffer = self.buffer.partition(b"\r\n\r\n")
        self.status, self.headers, _body = parse_response(head + b"\r\n\r\n")
        self.retry: int | None = None
        self.comments: list[str] = []

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the stream")
        self.buffer += chunk

    def next_event(self) -> Event:
        """The next event with data (``retry`` lines and comments are recorded on the way)."""
        while True:
            while b"\n\n" not in self.buffer:
                self._fill()
            block, _blank, self.buffer = self.buffer.partition(b"\n\n")
            fields: dict[str, str] = {}
            for line in block.decode().split("\n"):
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                    continue
                name, _colon, value = line.partition(": ")
                fields[name] = value
            if "retry" in fields:
                self.retry = int(fields["retry"])
            if "data" in fields:
                return Event(
                    fields.get("id", ""), fields.get("event", ""), json.loads(fields["data"])
                )

    def next_comment(self) -> str:
        """Reads until a comment line arrives (events on the way are dropped)."""
        seen = len(self.comments)
        while len(self.comments) == seen:
            while b"\n\n" not in self.buffer:
                self._fill()
            block, _blank, self.buffer = self.buffer.partition(b"\n\n")
            for line in block.decode().split("\n"):
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
        return self.comments[seen]

    def events(self, count: int) -> list[Event]:
        return [self.next_event() for _ in range(count)]

    def until(self, topic: str, value: Any) -> Event:
        """Reads events until ``topic`` has ``value``."""
        while True:
            event = self.next_event()
            if event.event == topic and event.data == value:
                return event

    def closed_by_server(self) -> bool:
        """True once the server ends the stream (reads whatever comes before)."""
        try:
            while self.sock.recv(65536):
                pass
        except ConnectionResetError:
            return True
        return True

    def close(self) -> None:
        self.sock.close()
