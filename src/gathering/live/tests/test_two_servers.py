"""Two production servers on loopback that share PostgreSQL and Redis show the same live
figures (issue 5): a check-in at one and a signature at the other reach both live streams.

Each ``gathering serve`` runs granian (WSGI), the worker and the live server on ports of its
own; both use one database and one Redis (as servers on several hosts would). The test checks
a ticket in through the gate API of server A, signs the campaign on server B (proof of work,
confirmation email through a local SMTP sink, confirmation link), and reads both servers'
event streams until each shows one person checked in and one voice: same values, same event
ids (one publisher stamps them for every server, through Redis).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import secrets
import socket
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gathering.abuse import altcha
from gathering.core.testing.server import Server, own_postgres_database, server_env
from gathering.core.testing.smtp import SmtpSink
from gathering.live.tests.sse_client import SseClient, wait_for

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres")
    or not os.environ.get("REDIS_URL"),
    reason="needs PostgreSQL and Redis (DATABASE_URL and REDIS_URL): the PostgreSQL run of "
    "`make test` runs it",
)

SLUG = "two-servers"
CONFIRM_LINK = re.compile(r"/voice/([A-Za-z0-9_-]{43})/confirm/")

SETUP = """
import datetime as dt, json
from gathering.cli import setup
setup(load_demo=False)
from django.utils.timezone import now
from gathering.checkin import services as checkin
from gathering.checkin.tests.factories import issue_ticket
from gathering.program.models import Edition
from gathering.voices.models import Campaign
today = now().date()
edition = Edition.objects.create(
    year=today.year, title={"en": "Two servers"}, city={"en": "Paris"}, venue_name={"en": "Hall"},
    start_date=today, end_date=today + dt.timedelta(days=1), status="live",
)
Campaign.objects.create(
    edition=edition, slug=%r, title={"en": "Two servers"}, text={"en": "Together."},
    opens_at=now() - dt.timedelta(days=1), closes_at=now() + dt.timedelta(days=1),
)
gate = checkin.create_gate(edition=edition, slug="north", name={"en": "North gate"})
_device, token = checkin.create_gate_device(gate=gate, label="phone 1")
print(json.dumps({"year": edition.year, "token": token, "code": issue_ticket(edition).code}))
"""


def _redis_answers(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), 2):
            return True
    except OSError:
        return False


@pytest.fixture
def servers(
    tmp_path: Path, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Server, Server]]:
    redis_url = os.environ["REDIS_URL"]
    if not _redis_answers(redis_url):
        pytest.skip(f"Redis does not answer at {redis_url}")
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    monkeypatch.setenv("ALTCHA_HMAC_KEY", key)  # the test makes proofs with the servers' key
    altcha.reset_key()
    with contextlib.ExitStack() as stack:
        database = stack.enter_context(
            own_postgres_database(
                os.environ["DATABASE_URL"], prefix="gathering_two_servers", migrated=True
            )
        )
        env = server_env(
            tmp_path / "data",
            DATABASE_URL=database,
            REDIS_URL=redis_url,
            # Keys of their own in the shared Redis: other tests flush theirs.
            CACHE_KEY_PREFIX=f"two-servers-{secrets.token_hex(4)}",
            ALTCHA_HMAC_KEY=key,
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(smtp_sink.port),
        )
        first, second = Server(env), Server(env)
        stack.callback(first.stop)
        stack.callback(second.stop)
        yield first, second
    altcha.reset_key()


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=20) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _csrf(server: Server, path: str) -> tuple[str, str]:
    with urllib.request.urlopen(server.base + path, timeout=20) as response:
        page = response.read().decode()
        cookies = response.headers.get_all("Set-Cookie") or []
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    cookie = next(
        (c.split(";")[0].split("=", 1)[1] for c in cookies if c.startswith("csrftoken=")), None
    )
    assert token and cookie, f"no CSRF token on {path}"
    return cookie, token.group(1)


def _latest(stream: SseClient, wanted: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    """Reads ``stream`` until every topic in ``wanted`` has its value; returns (id, value)."""
    seen: dict[str, tuple[str, Any]] = {}
    while any(seen.get(topic, ("", None))[1] != value for topic, value in wanted.items()):
        event = stream.next_event()
        seen[event.event] = (event.id, event.data)
    return seen


def test_a_check_in_at_one_server_and_a_signature_at_the_other_reach_both_streams(
    servers: tuple[Server, Server], smtp_sink: SmtpSink
) -> None:
    first, second = servers
    setup = json.loads(first.python(SETUP % SLUG).strip().splitlines()[-1])
    year = setup["year"]
    first.start()
    second.start()
    streams = [SseClient(server.live_port, f"/live/{year}/events") for server in servers]
    try:
        for stream in streams:
            assert stream.status == 200
            _latest(stream, {"checked_in": 0, "voices": 0})

        # A check-in at the first server's gate API.
        status, _headers, body = _post(
            f"{first.base}/api/checkin/{year}/gates/north/scans",
            json.dumps({"scans": [{"nonce": "two-servers-0001", "code": setup["code"]}]}).encode(),
            {"Authorization": f"Bearer {setup['token']}", "Content-Type": "application/json"},
        )
        assert status == 200, body[:500]
        assert json.loads(body)["results"][0]["status"] == "valid"

        # A signature at the second server: the form, then the link from the email.
        path = f"/en/{year}/voices/{SLUG}/"
        cookie, token = _csrf(second, path)
        number = secrets.randbelow(1000)
        proof = altcha.encode_payload(
            altcha.create_challenge(max_number=1000, number=number), number
        )
        fields = {
            "csrfmiddlewaretoken": token,
            "name": "Two Servers",
            "email": f"two-servers-{secrets.token_hex(4)}@example.org",
            "country": "FR",
            "language": "en",
            "consent": "on",
            "website": "",
            "altcha": proof,
        }
        form_headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={cookie}",
        }
        status, _headers, body = _post(
            second.base + path, urllib.parse.urlencode(fields).encode(), form_headers
        )
        assert status == 302, body[:2000]
        assert wait_for(lambda: any(CONFIRM_LINK.search(m.text) for m in smtp_sink.messages))
        link = next(
            CONFIRM_LINK.search(m.text) for m in smtp_sink.messages if CONFIRM_LINK.search(m.text)
        )
        assert link is not None
        status, _headers, body = _post(
            f"{second.base}/en/voice/{link.group(1)}/confirm/",
            urllib.parse.urlencode({"csrfmiddlewaretoken": token}).encode(),
            form_headers,
        )
        assert status == 302, body[:2000]

        # Both streams show both changes, with the same ids.
        seen = [_latest(stream, {"checked_in": 1, "voices": 1}) for stream in streams]
        for topic in ("checked_in", "voices"):
            assert seen[0][topic] == seen[1][topic], topic
    finally:
        for stream in streams:
            stream.close()
