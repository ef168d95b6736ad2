"""Several live servers on one Redis show the same numbers under the same ids (issue 5).

Needs Redis on 127.0.0.1:6379 (database 4); skipped with a reason otherwise.
"""

from __future__ import annotations

import contextlib
import secrets
import socket

import pytest

from gathering.live import notify
from gathering.live.tests.sse_client import Figures, SseClient, running, wait_for

REDIS_URL = "redis://127.0.0.1:6379/4"


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


pytestmark = pytest.mark.skipif(
    not _redis_answers(), reason="Redis does not answer on 127.0.0.1:6379"
)


@pytest.fixture
def year() -> int:
    # A year of its own per test: channels are shared by everything on this Redis.
    return 3000 + secrets.randbelow(6000)


@pytest.fixture
def figures(year: int):
    import redis

    yield Figures({year: {"checked_in": 1, "voices": 2, "stage": {"en": "Opening"}}})
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{notify.redis_prefix(REDIS_URL)}{year}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def triples(events) -> list[tuple[str, str, object]]:
    return [(event.id, event.event, event.data) for event in events]


def test_two_servers_deliver_the_same_ids_and_values(figures: Figures, year: int) -> None:
    with (
        running(figures, redis_url=REDIS_URL) as first,
        running(figures, redis_url=REDIS_URL) as second,
    ):
        assert wait_for(lambda: first.run(lambda: first.broadcaster.connected.is_set()))
        assert wait_for(lambda: second.run(lambda: second.broadcaster.connected.is_set()))
        a = SseClient(first.port, f"/live/{year}/events")
        b = SseClient(second.port, f"/live/{year}/events")
        initial_a, initial_b = triples(a.events(3)), triples(b.events(3))
        assert initial_a == initial_b
        assert {topic: value for _id, topic, value in initial_a} == figures.editions[year]
        # One leads (polls and publishes), the other follows.
        leaders = [s.run(lambda s=s: s.broadcaster.editions[year].leading) for s in (first, second)]
        assert sorted(leaders) == [False, True]

        for value in (3, 4, 5):
            figures.set(year, voices=value)
            assert triples([a.until("voices", value)]) == triples([b.until("voices", value)])
        figures.set(year, stage={"en": "Keynote"}, checked_in=9)
        got_a = sorted(triples(a.events(2)))
        assert got_a == sorted(triples(b.events(2)))
        assert {topic for _id, topic, _value in got_a} == {"stage", "checked_in"}

        # A client resuming on the other server gets the same answer as on its own.
        last_id = got_a[0][0]
        a.close()
        b.close()
        resumed = [
            SseClient(server.port, f"/live/{year}/events", headers={"Last-Event-ID": last_id})
            for server in (first, second)
        ]
        assert triples([resumed[0].next_event()]) == triples([resumed[1].next_event()])
        for client in resumed:
            client.close()


def test_when_the_leader_stops_another_server_takes_over(figures: Figures, year: int) -> None:
    with running(figures, redis_url=REDIS_URL) as first:
        assert wait_for(lambda: first.run(lambda: first.broadcaster.connected.is_set()))
        watcher = SseClient(first.port, f"/live/{year}/events")
        watcher.events(3)
        assert first.run(lambda: first.broadcaster.editions[year].leading)
        with running(figures, redis_url=REDIS_URL) as second:
            assert wait_for(lambda: second.run(lambda: second.broadcaster.connected.is_set()))
            client = SseClient(second.port, f"/live/{year}/events")
            client.events(3)
            watcher.close()
            first.stop()  # the leader goes away (its lease is released)
            figures.set(year, voices=42)
            event = client.until("voices", 42)
            assert int(event.id) > 0
            assert second.run(lambda: second.broadcaster.editions[year].leading)
            client.close()


def test_a_nudge_through_redis_makes_the_leader_poll(figures: Figures, year: int) -> None:
    # Polled once an hour: only the nudge (published on Redis, as another process's service
    # would) brings the change.
    with running(figures, redis_url=REDIS_URL, poll_interval=3600) as server:
        assert wait_for(lambda: server.run(lambda: server.broadcaster.connected.is_set()))
        client = SseClient(server.port, f"/live/{year}/events")
        client.events(3)
        figures.set(year, stage={"en": "Announcement"})
        notify._publish(REDIS_URL, year)
        event = client.next_event()
        assert (event.event, event.data) == ("stage", {"en": "Announcement"})
        client.close()


def test_without_redis_each_server_polls_for_itself(figures: Figures, year: int) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    # Nothing listens there: connecting is refused, and retried in the background.
    with running(figures, redis_url=f"redis://127.0.0.1:{closed_port}/4") as server:
        client = SseClient(server.port, f"/live/{year}/events")
        assert {event.event for event in client.events(3)} == set(figures.editions[year])
        figures.set(year, voices=7)
        assert client.until("voices", 7).data == 7
        assert not server.run(lambda: server.broadcaster.connected.is_set())
        client.close()


class Proxy:
    """A TCP relay to Redis that the test can cut (a network failure, for real)."""

    def __init__(self) -> None:
        import threading

        self.threading = threading
        self.port = 0
        self.listener: socket.socket | None = None
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self.listener = listener
        self.threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _address = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", 6379))
            with self.lock:
                self.sockets += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                self.threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        with self.lock:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self.sockets.clear()


def test_redis_going_away_and_coming_back(figures: Figures, year: int) -> None:
    import json

    import redis

    proxy = Proxy()
    proxy.open()
    try:
        with running(figures, redis_url=f"redis://127.0.0.1:{proxy.port}/4") as server:
            connected = lambda: server.run(lambda: server.broadcaster.connected.is_set())  # noqa: E731
            assert wait_for(connected)
            client = SseClient(server.port, f"/live/{year}/events")
            client.events(3)
            figures.set(year, voices=10)
            client.until("voices", 10)

            proxy.cut()
            assert wait_for(lambda: not connected())
            figures.set(year, voices=11)
            assert client.until("voices", 11).data == 11  # polled locally meanwhile

            proxy.open()
            assert wait_for(connected)
            figures.set(year, voices=12)
            client.until("voices", 12)
            direct = redis.Redis.from_url(REDIS_URL)
            key = f"{notify.redis_prefix(REDIS_URL)}{year}:state"
            assert wait_for(
                lambda: json.loads(direct.get(key) or "{}").get("topics", {}).get("voices") == 12
            )
            direct.close()
            client.close()
    finally:
        proxy.cut()
