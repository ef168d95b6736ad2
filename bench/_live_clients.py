"""N Server-Sent Events clients in one asyncio process, for ``bench/live.py`` (raw sockets, no
HTTP library: the client side must cost little next to the server it measures).

    python bench/_live_clients.py HOST PORT PATH N TOPIC [CONCURRENCY]

Each client sends ``GET PATH`` and records, for every ``TOPIC`` event it receives, the value
(an integer) and the time (``time.monotonic()``, the same clock in every process on the
machine). On stdout: ``PROGRESS connected ready failed`` now and then, then ``READY ...`` once
every client got the initial state (or ``READY`` with fewer after 180 s). Then it reads commands
on stdin: ``DONE v1 v2 ...`` prints one JSON line: for each value v, the time at which each client
first got a value >= v (null if never), plus the counts of streams closed or refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import sys
import time

HEAD_END = b"\r\n\r\n"


class Stats:
    def __init__(self) -> None:
        self.connected = 0
        self.ready = 0
        self.failed = 0
        self.closed = 0
        self.statuses: dict[str, int] = {}


class Client(asyncio.Protocol):
    __slots__ = ("buffer", "got", "head", "marker", "request", "stats", "transport")

    def __init__(self, request: bytes, marker: bytes, stats: Stats) -> None:
        self.request = request
        self.marker = marker
        self.stats = stats
        self.buffer = b""
        self.head = False
        self.got: list[tuple[int, float]] = []
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.stats.connected += 1
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        moment = time.monotonic()
        buffer = self.buffer + data
        if not self.head:
            end = buffer.find(HEAD_END)
            if end < 0:
                self.buffer = buffer
                return
            status = buffer[9:12].decode(errors="replace")
            self.stats.statuses[status] = self.stats.statuses.get(status, 0) + 1
            if status != "200":
                self.stats.failed += 1
                if self.transport is not None:
                    self.transport.close()
                return
            self.head = True
            buffer = buffer[end + 4 :]
        cut = buffer.rfind(b"\n\n")
        if cut < 0:
            self.buffer = buffer
            return
        complete, self.buffer = buffer[: cut + 2], buffer[cut + 2 :]
        start = complete.find(self.marker)
        while start >= 0:
            line_end = complete.find(b"\n", start + len(self.marker))
            value = int(complete[start + len(self.marker) : line_end])
            if not self.got:
                self.stats.ready += 1
            self.got.append((value, moment))
            start = complete.find(self.marker, line_end)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.head:
            self.stats.closed += 1


async def main() -> None:
    host, port, path, count, topic = sys.argv[1:6]
    concurrency = int(sys.argv[6]) if len(sys.argv) > 6 else 200
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
        "User-Agent: gathering-bench\r\n\r\n"
    ).encode()
    marker = f"event: {topic}\ndata: ".encode()
    stats = Stats()
    clients: list[Client] = []
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(concurrency)

    async def connect() -> None:
        async with gate:
            client = Client(request, marker, stats)
            try:
                await loop.create_connection(lambda: client, host, int(port))
            except OSError:
                stats.failed += 1
                return
            clients.append(client)

    def progress(word: str) -> None:
        print(f"{word} {stats.connected} {stats.ready} {stats.failed}", flush=True)

    tasks = [asyncio.ensure_future(connect()) for _ in range(int(count))]
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        await asyncio.sleep(1)
        progress("PROGRESS")
        if stats.ready + stats.failed >= int(count):
            break
    await asyncio.gather(*tasks, return_exceptions=True)
    progress("READY")
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        words = line.decode().split()
        if words and words[0] == "DONE":
            values = [int(word) for word in words[1:]]
            firsts: dict[str, list[float | None]] = {}
            for value in values:
                firsts[str(value)] = [
                    next((moment for got, moment in client.got if got >= value), None)
                    for client in clients
                ]
            print(
                json.dumps(
                    {
                        "firsts": firsts,
                        "clients": len(clients),
                        "ready": stats.ready,
                        "failed": stats.failed,
                        "closed": stats.closed,
                        "statuses": stats.statuses,
                    }
                ),
                flush=True,
            )
            return


if __name__ == "__main__":
    asyncio.run(main())
