"""The live server's request parser: strict, and never a guess."""

from __future__ import annotations

import pytest

from gathering.live.http1 import MAX_HEAD, HttpError, head_length, parse


def test_a_plain_get_is_parsed() -> None:
    request = parse(
        b"GET /live/2026/events?last_event_id=12&x=%C3%A9 HTTP/1.1\r\n"
        b"Host: live.example.org\r\nLast-Event-ID:  42 \r\nAccept: text/event-stream\r\n\r\n"
    )
    assert request.method == "GET" and request.path == "/live/2026/events"
    assert request.query == {"last_event_id": "12", "x": "\u00e9"}
    assert request.headers["last-event-id"] == "42"
    assert request.headers["host"] == "live.example.org"


def test_http_10_needs_no_host_and_bare_newlines_are_accepted() -> None:
    request = parse(b"GET /healthz HTTP/1.0\n\n")
    assert request.version == "HTTP/1.0" and request.path == "/healthz"


def test_head_length_waits_for_the_blank_line() -> None:
    assert head_length(b"GET / HTTP/1.1\r\nHost: a\r\n") == 0
    assert head_length(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nextra") == len(
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
    )


def test_an_oversized_head_is_refused() -> None:
    with pytest.raises(HttpError) as error:
        head_length(b"GET / HTTP/1.1\r\nX: " + b"a" * MAX_HEAD)
    assert error.value.status == 431
    with pytest.raises(HttpError):
        head_length(b"GET / HTTP/1.1\r\nX: " + b"a" * MAX_HEAD + b"\r\n\r\n")


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),  # a TLS hello
        (b"GET\r\n\r\n", 400),
        (b"GET /\r\n\r\n", 400),
        (b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        (b"GET / HTTP/1.1 extra\r\nHost: a\r\n\r\n", 400),
        (b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        (b"GET http://evil.example/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        (b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        (b"GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),  # no Host
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nLast-Event-ID: 1\r\nLast-Event-ID: 2\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
        (b"GET / HTTP/1.x\r\nHost: a\r\n\r\n", 400),
        (b"GET / FTP/1.1\r\nHost: a\r\n\r\n", 400),
        (b"\r\n\r\n", 400),
    ],
)
def test_malformed_requests_are_refused(head: bytes, status: int) -> None:
    with pytest.raises(HttpError) as error:
        parse(head)
    assert error.value.status == status


def test_repeated_ordinary_headers_are_joined() -> None:
    request = parse(b"GET / HTTP/1.1\r\nHost: a\r\nAccept: a\r\nAccept: b\r\n\r\n")
    assert request.headers["accept"] == "a, b"


# Nothing here depends on the database engine: the PostgreSQL run of `make test` leaves it out.
pytestmark = pytest.mark.engine_agnostic
