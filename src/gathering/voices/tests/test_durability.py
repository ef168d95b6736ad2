"""Durability of "add your voice" (issue 4): no lost or double-counted signature when the
production server is killed mid-load and restarted.

The test runs the real thing: ``gathering serve`` (granian, WSGI, 2 processes, and the worker
that sends the emails and integrates the transparency log) on a free port, with its own data
folder and SQLite file, or its own PostgreSQL database when ``DATABASE_URL`` is set. Threads post
the public sign form (CSRF token, a valid single-use proof of work signed with the server's key);
the server's whole process tree is SIGKILLed while they do, then started again; what the client
saw unanswered is posted again, as a person would. Confirmations go the same way (their links
come by email, from the worker, to a local SMTP sink), with a second kill mid-load. Then the
database must hold:

- every address acknowledged (302 to ``/sent/``) exactly once, and no address twice;
- every confirmation acknowledged (302) confirmed and counted, each with one leaf;
- a transparency log, once the worker integrated it, holding exactly the counted signatures,
  with indexes 0 .. n-1, no duplicate leaf and a signed head of size n.

About 150 signatures; the kills are real, so the outcome of the requests in flight differs
from run to run (what must hold does not).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import secrets
import sys
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gathering.abuse import altcha
from gathering.core.testing.server import Server
from gathering.core.testing.signing_server import signing_server_env, wait_for
from gathering.core.testing.smtp import SmtpSink

BIN = Path(sys.executable).parent
SIGNERS = 150
THREADS = 8
SLUG = "durability"
CONFIRM_LINK = re.compile(r"/voice/([A-Za-z0-9_-]{43})/confirm/")

# Run in the server's environment (its data folder and database): `gathering setup` without the
# demo (migrations, static files), then an edition and the campaign to sign, in one process.
SETUP = """
import datetime as dt
from gathering.cli import setup
setup(load_demo=False)
from django.utils.timezone import now
from gathering.program.models import Edition
from gathering.voices.models import Campaign
today = now().date()
edition = Edition.objects.create(
    year=today.year, title={"en": "Durability"}, city={"en": "Paris"}, venue_name={"en": "Hall"},
    start_date=today, end_date=today + dt.timedelta(days=2),
)
campaign = Campaign.objects.create(
    edition=edition, slug=%r, title={"en": "Durability"}, text={"en": "Signed under fire."},
    opens_at=now() - dt.timedelta(days=1), closes_at=now() + dt.timedelta(days=1),
    country_threshold=1,
)
print(edition.year, campaign.log_slug)
"""

# Run in the server's environment: what the database holds for the emails given on stdin.
STATE = """
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gathering.settings")
import django
django.setup()
from django.db.models import Count
from gathering.core.crypto import blind_index
from gathering.outbox.models import OutboxEmail
from gathering.transparency.models import Entry, Log, TreeHead
from gathering.voices.canonical import canonical_email
from gathering.voices.models import Campaign, Signature
emails = json.load(sys.stdin)
campaign = Campaign.objects.get(slug=%r)
signatures = Signature.objects.filter(campaign=campaign)
by_hash = {}
for hash_, status, review, leaf_id, flags in signatures.values_list(
    "email_hash", "status", "review", "leaf_id", "flags"
):
    by_hash.setdefault(hash_, []).append([status, review, leaf_id, flags])
log = Log.objects.filter(slug=campaign.log_slug).first()
entries = Entry.objects.filter(log=log) if log else Entry.objects.none()
print(json.dumps({
    "by_email": {
        email: by_hash.pop(blind_index(canonical_email(email), purpose="voices-email"), [])
        for email in emails
    },
    "unknown_signatures": sum(len(rows) for rows in by_hash.values()),
    "signatures": signatures.count(),
    "duplicate_hashes": signatures.values("email_hash").annotate(n=Count("id"))
        .filter(n__gt=1).count(),
    "leaf_ids": list(entries.values_list("id", flat=True)),
    "indexes": sorted(i for i in entries.values_list("index", flat=True) if i is not None),
    "queued": entries.filter(index__isnull=True).count(),
    "distinct_leaves": entries.values("leaf_hash").distinct().count(),
    "log_size": log.size if log else 0,
    "outbox_pending": OutboxEmail.objects.filter(status="pending").count(),
    "head_sizes": list(TreeHead.objects.filter(log=log).values_list("size", flat=True))
        if log else [],
}))
"""


@dataclass
class Outcomes:
    """What the client saw: acknowledged items, and items without an answer (unknown)."""

    acked: set[str] = field(default_factory=set)
    unknown: set[str] = field(default_factory=set)
    refused: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Client:
    """Posts forms as a browser would: the page's CSRF cookie and token, one connection per
    thread, keep-alive; a broken connection leaves the item unknown."""

    def __init__(self, server: Server, year: int) -> None:
        self.server = server
        self.path = f"/en/{year}/voices/{SLUG}/"
        self.cookie, self.token = self._csrf()

    def _csrf(self) -> tuple[str, str]:
        with urllib.request.urlopen(self.server.base + self.path, timeout=10) as response:
            page = response.read().decode()
            cookies = response.headers.get_all("Set-Cookie") or []
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        cookie = next(
            (c.split(";")[0].split("=", 1)[1] for c in cookies if c.startswith("csrftoken=")),
            None,
        )
        assert token and cookie, "no CSRF token on the campaign page"
        return cookie, token.group(1)

    def post_all(
        self,
        items: list[str],
        *,
        body: Any,
        path: Any,
        ok: Any,
        on_ack: Any = None,
    ) -> Outcomes:
        outcomes = Outcomes()
        shares = [items[n::THREADS] for n in range(THREADS)]

        def work(share: list[str]) -> None:
            connection: http.client.HTTPConnection | None = None
            for item in share:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", self.server.port, 10)
                try:
                    connection.request(
                        "POST",
                        path(item),
                        body=f"csrfmiddlewaretoken={self.token}&{body(item)}",
                        headers={
                            "Content-Type": "application/x-www-form-urlencoded",
                            "Cookie": f"csrftoken={self.cookie}",
                        },
                    )
                    response = connection.getresponse()
                    response.read()
                except (OSError, http.client.HTTPException):
                    connection.close()
                    connection = None
                    with outcomes.lock:
                        outcomes.unknown.add(item)
                    continue
                with outcomes.lock:
                    if ok(response):
                        outcomes.acked.add(item)
                        count = len(outcomes.acked)
                    else:
                        outcomes.refused[item] = response.status
                        count = -1
                if on_ack is not None and count >= 0:
                    on_ack(count)
            if connection is not None:
                connection.close()

        threads = [threading.Thread(target=work, args=(share,)) for share in shares]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        return outcomes


def _proof() -> str:
    number = secrets.randbelow(1000)
    return altcha.encode_payload(altcha.create_challenge(max_number=1000, number=number), number)


def _links(sink: SmtpSink, emails: set[str]) -> dict[str, str]:
    """The latest confirmation link each address received (a second sign-up replaces it)."""
    links: dict[str, str] = {}
    for message in sink.messages:
        for address in message.to:
            if address in emails:
                match = CONFIRM_LINK.search(message.text)
                if match:
                    links[address] = match.group(1)
    return links


@pytest.fixture
def server(
    tmp_path: Path, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Server]:
    with contextlib.ExitStack() as stack:
        env = stack.enter_context(
            signing_server_env(
                tmp_path / "data",
                smtp_port=smtp_sink.port,
                monkeypatch=monkeypatch,
                database_prefix="gathering_durability",
            )
        )
        running = Server(env)
        stack.callback(running.stop)
        yield running


def test_no_signature_lost_or_counted_twice_when_the_server_is_killed(
    server: Server, smtp_sink: SmtpSink
) -> None:
    year_text, log_slug = server.python(SETUP % SLUG).split()[-2:]
    year = int(year_text)
    server.start()
    client = Client(server, year)
    run = secrets.token_hex(4)
    emails = [f"signer-{run}-{n}@durability.example.org" for n in range(SIGNERS)]

    def sign_body(email: str) -> str:
        fields = {
            "name": f"Signer {email[:20]}",
            "show_name": "on",
            "email": email,
            "country": "FR",
            "city": "Lyon",
            "language": "en",
            "consent": "on",
            "website": "",
            "altcha": _proof(),
        }
        return urllib.parse.urlencode(fields)

    def signed(response: http.client.HTTPResponse) -> bool:
        return response.status == 302 and response.getheader("Location", "").endswith("/sent/")

    # 1. Sign, and kill the whole server once a third of the submissions are acknowledged.
    killed = threading.Event()
    kill_lock = threading.Lock()

    def kill_at(count: int, *, at: int) -> None:
        with kill_lock:
            if count >= at and not killed.is_set():
                killed.set()
                server.kill()

    first = client.post_all(
        emails,
        body=sign_body,
        path=lambda _email: client.path,
        ok=signed,
        on_ack=lambda count: kill_at(count, at=SIGNERS // 3),
    )
    assert killed.is_set(), "the server was not killed under load"
    assert not first.refused, f"refused submissions: {first.refused}"
    assert first.acked, "nothing was acknowledged before the kill"
    assert first.unknown, "the kill left no submission unanswered: it came too late"

    # 2. Restart: every acknowledged submission is there, once. What was not acknowledged is
    # submitted again, as a person would.
    server.start()
    after_kill = json.loads(server.python(STATE % SLUG, json.dumps(emails)))["by_email"]
    for email in first.acked:
        assert len(after_kill[email]) == 1, f"acknowledged, then {after_kill[email]}"
    assert all(len(rows) <= 1 for rows in after_kill.values())
    client = Client(server, year)
    unanswered = [email for email in emails if email not in first.acked]
    second = client.post_all(unanswered, body=sign_body, path=lambda _e: client.path, ok=signed)
    assert not second.unknown and not second.refused, (second.unknown, second.refused)
    state = json.loads(server.python(STATE % SLUG, json.dumps(emails)))
    for email in first.acked:
        assert len(state["by_email"][email]) == 1, (
            f"acknowledged {email}: {state['by_email'][email]}"
        )
    assert all(len(rows) == 1 for rows in state["by_email"].values())
    assert state["signatures"] == SIGNERS
    assert state["duplicate_hashes"] == 0 and state["unknown_signatures"] == 0
    stored_unanswered = sum(1 for email in first.unknown if after_kill[email])
    # Shown when the test fails: how the kill fell.
    print(
        f"kill during submissions: {len(first.acked)} acknowledged, {len(first.unknown)} "
        f"unanswered, of which {stored_unanswered} had been stored"
    )
    assert all(rows[0][3] == [] for rows in state["by_email"].values()), "flagged signatures"

    # 3. The links come by email. A kill of the worker mid-send leaves up to one chunk "in
    # doubt" (never resent): those addresses sign again and get a new link, as people would.
    # A second sign-up of a pending address sends a new link and voids the first: read the links
    # once the outbox holds nothing pending (a row is marked sent after the sink accepted it).
    wanted = set(emails)

    def outbox_drained() -> bool:
        return json.loads(server.python(STATE % SLUG, "[]"))["outbox_pending"] == 0  # type: ignore[no-any-return]

    assert wait_for(outbox_drained, timeout=60, step=0.5), "the worker did not send the emails"
    missing = sorted(wanted - set(_links(smtp_sink, wanted)))
    if missing:
        again = client.post_all(missing, body=sign_body, path=lambda _e: client.path, ok=signed)
        assert again.acked == set(missing)
        assert wait_for(outbox_drained, timeout=60, step=0.5), "the worker did not send the emails"
    assert len(_links(smtp_sink, wanted)) == SIGNERS
    links = _links(smtp_sink, wanted)

    # 4. Confirm, and kill the server again mid-load.
    killed.clear()
    tokens = [links[email] for email in emails]

    def confirmed(response: http.client.HTTPResponse) -> bool:
        return response.status == 302 and "/voice/" in response.getheader("Location", "")

    confirm_path = lambda token: f"/en/voice/{token}/confirm/"  # noqa: E731
    first_confirm = client.post_all(
        tokens,
        body=lambda _token: "",
        path=confirm_path,
        ok=confirmed,
        on_ack=lambda count: kill_at(count, at=SIGNERS // 2),
    )
    assert killed.is_set()
    assert not first_confirm.refused, first_confirm.refused
    server.start()
    client = Client(server, year)
    rest = [token for token in tokens if token not in first_confirm.acked]
    second_confirm = client.post_all(rest, body=lambda _t: "", path=confirm_path, ok=confirmed)
    assert not second_confirm.unknown and not second_confirm.refused
    assert first_confirm.acked | second_confirm.acked == set(tokens)
    print(
        f"kill during confirmations: {len(first_confirm.acked)} acknowledged, "
        f"{len(first_confirm.unknown)} unanswered; links re-sent after a lost email: "
        f"{len(missing)}"
    )

    # 5. Every signature is confirmed and counted once; the worker integrates every leaf once.
    def log_size() -> int:
        url = f"{server.base}/api/transparency/logs/{log_slug}/tree-head"
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(json.load(response)["size"])

    wait_for(lambda: log_size() >= SIGNERS, timeout=30)
    state = json.loads(server.python(STATE % SLUG, json.dumps(emails)))
    rows = [rows[0] for rows in state["by_email"].values()]
    assert all(len(found) == 1 for found in state["by_email"].values())
    assert [row[0] for row in rows] == ["confirmed"] * SIGNERS
    assert all(row[1] != "held" for row in rows)
    leaves = [row[2] for row in rows]
    assert None not in leaves and len(set(leaves)) == SIGNERS, "a signature without its own leaf"
    assert sorted(leaves) == sorted(state["leaf_ids"]), "log entries that no signature holds"
    assert state["queued"] == 0
    assert state["indexes"] == list(range(SIGNERS)), "indexes not gapless from 0"
    assert state["distinct_leaves"] == SIGNERS
    assert state["log_size"] == SIGNERS and SIGNERS in state["head_sizes"]
