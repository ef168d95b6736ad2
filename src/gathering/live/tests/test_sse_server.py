"""The live server end to end on loopback: a real server in a thread, raw sockets, and an
injected snapshot function over a dict the test changes."""

from __future__ import annotations

import json
import socket

import pytest

from gathering.live import notify
from gathering.live.tests.sse_client import (
    WAIT,
    Figures,
    SseClient,
    get,
    request,
    running,
    wait_for,
)

YEAR = 2026


@pytest.fixture
def figures() -> Figures:
    return Figures(
        {
            YEAR: {
                "checked_in": 10,
                "voices": 100,
                "stage": {"en": {"now": [], "next": []}},
                "announcements": {"en": [], "fa": []},
            }
        }
    )


def test_a_client_gets_the_state_then_each_change_then_resumes(figures: Figures) -> None:
    with running(figures) as server:
        client = SseClient(server.port, f"/live/{YEAR}/events")
        assert client.status == 200
        assert client.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert client.headers["cache-control"] == "no-store"
        assert client.headers["x-accel-buffering"] == "no"
        assert client.headers["access-control-allow-origin"] == "*"
        assert client.headers["x-content-type-options"] == "nosniff"
        initial = client.events(4)
        assert client.retry == 3000
        assert {event.event: event.data for event in initial} == figures.editions[YEAR]
        ids = [int(event.id) for event in initial]
        assert ids == sorted(ids) and len(set(ids)) == 4

        figures.set(YEAR, checked_in=11)
        change = client.until("checked_in", 11)
        assert int(change.id) > max(ids)
        figures.set(YEAR, voices=101, announcements={"en": ["Doors open"], "fa": []})
        newer = [client.next_event(), client.next_event()]
        assert {event.event for event in newer} == {"voices", "announcements"}
        client.close()

        # Resuming from the first change: only what changed after it, at its current value.
        resumed = SseClient(
            server.port, f"/live/{YEAR}/events", headers={"Last-Event-ID": change.id}
        )
        again = resumed.events(2)
        assert {event.event: event.data for event in again} == {
            "voices": 101,
            "announcements": {"en": ["Doors open"], "fa": []},
        }
        # Nothing else is pending: the next event is the next change.
        figures.set(YEAR, stage={"en": {"now": ["Opening"], "next": []}})
        assert resumed.next_event().event == "stage"
        resumed.close()

        # The polling fallback resumes the same way, with the id in the query string.
        status, headers, body = get(
            server.port, f"/live/{YEAR}/state.json?last_event_id={change.id}"
        )
        assert status == 200 and headers["access-control-allow-origin"] == "*"
        state = json.loads(body)
        assert set(state["topics"]) == {"voices", "announcements", "stage"}
        assert state["id"] >= int(change.id)


@pytest.mark.parametrize(
    "last_event_id",
    [
        "garbage",
        "-1",
        "99999999999999999",
        "1e3",
        "",
        "\u202e123\u200b",
        "<script>1</script>",
        "١٢٣",
    ],
)
def test_a_malformed_or_future_last_event_id_gets_everything(
    figures: Figures, last_event_id: str
) -> None:
    with running(figures) as server:
        client = SseClient(
            server.port, f"/live/{YEAR}/events", headers={"Last-Event-ID": last_event_id}
        )
        assert {event.event for event in client.events(4)} == set(figures.editions[YEAR])
        client.close()


def test_the_query_string_id_resumes_like_the_header(figures: Figures) -> None:
    with running(figures) as server:
        client = SseClient(server.port, f"/live/{YEAR}/events")
        last = client.events(4)[-1]
        client.close()
        figures.set(YEAR, voices=150)
        resumed = SseClient(server.port, f"/live/{YEAR}/events?last_event_id={last.id}")
        event = resumed.next_event()
        assert (event.event, event.data) == ("voices", 150)
        resumed.close()


def test_state_json_holds_every_topic(figures: Figures) -> None:
    with running(figures) as server:
        status, headers, body = get(server.port, f"/live/{YEAR}/state.json")
        assert status == 200 and headers["content-type"] == "application/json"
        state = json.loads(body)
        assert state["topics"] == figures.editions[YEAR] and state["id"] > 0


def test_every_client_gets_the_same_events(figures: Figures) -> None:
    with running(figures) as server:
        clients = [SseClient(server.port, f"/live/{YEAR}/events") for _ in range(20)]
        initial = [client.events(4) for client in clients]
        assert all(events == initial[0] for events in initial)
        assert wait_for(lambda: server.run(lambda: server.broadcaster.clients) == 20)
        figures.set(YEAR, voices=200)
        changes = [client.until("voices", 200) for client in clients]
        assert len({change.id for change in changes}) == 1
        for client in clients:
            client.close()
        assert wait_for(lambda: server.run(lambda: server.broadcaster.clients) == 0)


@pytest.mark.django_db
def test_a_nudge_polls_at_once(figures: Figures, django_capture_on_commit_callbacks) -> None:
    # Polled once an hour: only the nudge can bring the change.
    with running(figures, poll_interval=3600) as server:
        client = SseClient(server.port, f"/live/{YEAR}/events")
        client.events(4)
        figures.set(YEAR, announcements={"en": ["Now on stage"], "fa": []})
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            notify.changed(year=YEAR)
        assert len(callbacks) == 1
        event = client.next_event()
        assert (event.event, event.data) == ("announcements", {"en": ["Now on stage"], "fa": []})
        client.close()


def test_an_edition_that_goes_away_closes_its_streams(figures: Figures) -> None:
    with running(figures) as server:
        client = SseClient(server.port, f"/live/{YEAR}/events")
        client.events(4)
        figures.remove(YEAR)
        assert client.closed_by_server()
        client.close()
        status, _headers, body = get(server.port, f"/live/{YEAR}/events")
        assert status == 404 and json.loads(body) == {"error": "no such edition"}


def test_unknown_edition_is_a_json_404(figures: Figures) -> None:
    with running(figures) as server:
        for path in ("/live/1999/events", "/live/1999/state.json"):
            status, headers, body = get(server.port, path)
            assert status == 404
            assert headers["content-type"] == "application/json"
            assert json.loads(body) == {"error": "no such edition"}


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/live/",
        "/live/2026",
        "/live/2026/events/",
        "/live/abc/events",
        "/live/0/events",
        "/live/2026/other",
        "/live/%32026/events",
        "/live/2026/events/../state.json",
        "/favicon.ico",
    ],
)
def test_unknown_paths_are_404(figures: Figures, path: str) -> None:
    with running(figures) as server:
        status, _headers, body = get(server.port, path)
        assert status == 404 and json.loads(body) == {"error": "not found"}


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "PATCH", "get"])
def test_other_methods_are_405(figures: Figures, method: str) -> None:
    with running(figures) as server:
        status, headers, _body = request(
            server.port, f"{method} /live/{YEAR}/events HTTP/1.1\r\nHost: a\r\n\r\n".encode()
        )
        assert status == 405 and headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    "raw",
    [
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(32)) + b"\r\n\r\n",
        b"GET /live/2026/events\r\n\r\n",
        b"GET /live/2026/events HTTP/1.1\r\n\r\n",
        b"GET /live/2026/events HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
        b"GET /live/2026/events HTTP/1.1\r\nHost: a\r\n Folded: b\r\n\r\n",
        b"GET /live/2026/events HTTP/1.1\r\nHost: a\r\nX: <script>\x00\r\n\r\n",
    ],
)
def test_garbage_is_400_and_closed(figures: Figures, raw: bytes) -> None:
    with running(figures) as server:
        status, _headers, body = request(server.port, raw)
        assert status == 400 and "error" in json.loads(body)


def test_an_oversized_head_is_431(figures: Figures) -> None:
    with running(figures) as server:
        raw = b"GET /live/2026/events HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n"
        status, _headers, _body = request(server.port, raw)
        assert status == 431


def test_a_head_sent_byte_by_byte_is_read(figures: Figures) -> None:
    with running(figures) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as sock:
            for byte in b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n":
                sock.sendall(bytes([byte]))
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
        assert data.startswith(b"HTTP/1.1 200 OK\r\n")


def test_healthz(figures: Figures) -> None:
    with running(figures) as server:
        status, _headers, body = get(server.port, "/healthz")
        assert status == 200 and json.loads(body)["status"] == "ok"
        status, headers, body = request(server.port, b"HEAD /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
        assert status == 200 and body == b"" and int(headers["content-length"]) > 0


def test_clients_beyond_the_cap_get_503(figures: Figures) -> None:
    with running(figures, max_clients=2) as server:
        clients = [SseClient(server.port, f"/live/{YEAR}/events") for _ in range(2)]
        for client in clients:
            client.events(4)
        status, headers, _body = get(server.port, f"/live/{YEAR}/events")
        assert status == 503 and headers["retry-after"] == "10"
        clients[0].close()
        assert wait_for(lambda: server.run(lambda: server.broadcaster.clients) == 1)
        another = SseClient(server.port, f"/live/{YEAR}/events")
        assert another.status == 200
        another.close()
        clients[1].close()


def test_a_client_that_does_not_read_is_dropped(figures: Figures) -> None:
    # No coalescing and big values: the server's buffer for a client that reads nothing
    # passes its limit, and the client is dropped (the others would otherwise pay for it).
    with running(figures, coalesce=0.0, poll_interval=0.01) as server:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", server.port))
        sock.sendall(f"GET /live/{YEAR}/events HTTP/1.1\r\nHost: a\r\n\r\n".encode())
        assert wait_for(lambda: server.run(lambda: server.broadcaster.clients) == 1)
        count = 0

        def flood() -> bool:
            nonlocal count
            count += 1
            figures.set(YEAR, announcements={"en": [str(count) * 200_000]})
            return server.run(lambda: server.broadcaster.clients) == 0

        assert wait_for(flood, step=0.05)
        sock.close()


def test_heartbeats_are_comments_on_the_stream(figures: Figures) -> None:
    with running(figures, heartbeat=0.05) as server:
        client = SseClient(server.port, f"/live/{YEAR}/events")
        client.events(4)
        # An EventSource ignores comments; they keep proxies from closing a quiet stream.
        assert client.next_comment() == "ping"
        figures.set(YEAR, voices=101)
        assert client.until("voices", 101).data == 101
        client.close()


def test_a_client_that_half_closes_after_its_request_gets_the_answer(figures: Figures) -> None:
    with running(figures) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as sock:
            sock.sendall(f"GET /live/{YEAR}/state.json HTTP/1.1\r\nHost: a\r\n\r\n".encode())
            sock.shutdown(socket.SHUT_WR)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        assert data.startswith(b"HTTP/1.1 200 OK\r\n")
        assert json.loads(data.partition(b"\r\n\r\n")[2])["topics"] == figures.editions[YEAR]


def test_a_refused_request_with_more_input_still_gets_its_answer(figures: Figures) -> None:
    with running(figures) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as sock:
            sock.sendall(
                b"GET /live/2026/events HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n"
            )
            sock.sendall(b"x" * 100_000)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n")


# Nothing here depends on the database engine: the PostgreSQL run of `make test` leaves it out.
pytestmark = pytest.mark.engine_agnostic
