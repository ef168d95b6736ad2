"""Durability of registrations and signatures (issue 6): the production server is SIGKILLed
during a mixed load of registering and signing, and started again on the same database; every
write a client saw acknowledged is there, none twice.

The test runs the real thing: ``gathering serve`` (granian, WSGI, 2 processes, the live server
and the worker) on free ports, with its own data folder and SQLite file, or its own PostgreSQL
database when ``DATABASE_URL`` is set. Threads post the public forms as a browser does (CSRF
cookie and token, a valid single-use proof of work on the sign form), all at once and mixed:

- new registrations (the public registration form of a category),
- new signatures (the sign form of a campaign),
- confirmations of registrations made before the load (their private link's button: the
  registration is confirmed and gets its ticket),
- confirmations of signatures made before the load (the signature is confirmed and counted).

Once a third of them are acknowledged, the server's whole process tree is SIGKILLed; no process
of it may survive. After the restart:

- everything acknowledged is stored exactly once (registrations and signatures found by the
  blind index of their email; confirmations by their state and a single ticket or leaf);
- everything unanswered is posted again, with a few acknowledged ones twice over (a person who
  was not sure): no new row, no second ticket, no second count;
- the public counts (campaign page's counts, the API, the live figures) equal the confirmed
  signatures in the database.

The kill is real, so what was in flight differs from run to run (what must hold does not).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import random
import re
import secrets
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gathering.abuse import altcha
from gathering.core.testing.server import Server, children
from gathering.core.testing.signing_server import signing_server_env, wait_for
from gathering.core.testing.smtp import SmtpSink

THREADS = 8
NEW_REGISTRATIONS = 70
NEW_SIGNATURES = 70
SEEDED_REGISTRATIONS = 35
SEEDED_SIGNATURES = 35
CATEGORY = "durable"
CAMPAIGN = "durable-voices"

# Run in the server's environment (its data folder and database): `gathering setup` without the
# demo, an edition with a public category and a campaign, and registrations and signatures made
# before the load whose confirmation links the test knows (the emails carry other tokens).
SETUP = """
import datetime as dt, json, sys
from gathering.cli import setup
setup(load_demo=False)
from django.utils.timezone import now
from gathering.program.models import Edition
from gathering.registration import services as registration_services, tokens
from gathering.registration.models import Category, Registration
from gathering.voices import services as voices_services
from gathering.voices.models import Campaign, Signature
run, category_slug, campaign_slug, n_registrations, n_signatures = json.load(sys.stdin)
today = now().date()
edition = Edition.objects.create(
    year=today.year, title={"en": "Durability"}, city={"en": "Paris"}, venue_name={"en": "Hall"},
    start_date=today, end_date=today + dt.timedelta(days=2),
)
category = Category.objects.create(
    edition=edition, kind=Category.Kind.ATTENDEE, slug=category_slug, name={"en": "Attendee"},
    capacity=100000, opens_at=now() - dt.timedelta(days=1), closes_at=now() + dt.timedelta(days=1),
)
campaign = Campaign.objects.create(
    edition=edition, slug=campaign_slug, title={"en": "Durability"}, text={"en": "Signed."},
    opens_at=now() - dt.timedelta(days=1), closes_at=now() + dt.timedelta(days=1),
    country_threshold=1,
)
registrations, signatures = [], []
for n in range(n_registrations):
    email = f"seeded-registrant-{run}-{n}@durability.example.org"
    outcome = registration_services.register(
        category=category, name=f"Seeded {n}", email=email, language="en", country="FR",
        consent=True,
    )
    token = tokens.new_token()
    Registration.objects.filter(pk=outcome.registration.pk).update(
        manage_token_hash=tokens.hash_token(token)
    )
    registrations.append([email, token])
for n in range(n_signatures):
    email = f"seeded-signer-{run}-{n}@durability.example.org"
    outcome = voices_services.sign(
        campaign=campaign,
        request=voices_services.SignRequest(
            email=email, country="IR", language="en", consent=True, client_ip="127.0.0.1"
        ),
    )
    token = tokens.new_token()
    # Made without a proof of work (flagged): unflagged here, so that confirming counts it.
    Signature.objects.filter(pk=outcome.signature.pk).update(
        confirm_token_hash=tokens.hash_token(token), flags=[]
    )
    signatures.append([email, token])
print(json.dumps({"year": edition.year, "registrations": registrations, "signatures": signatures}))
"""

# Run in the server's environment: what the database holds for the emails given on stdin.
STATE = """
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gathering.settings")
import django
django.setup()
from django.db.models import Count
from gathering.core.crypto import blind_index
from gathering.registration.models import Registration, Ticket
from gathering.registration.validation import clean_email
from gathering.voices.canonical import canonical_email
from gathering.voices.models import Campaign, Signature
wanted = json.load(sys.stdin)
campaign = Campaign.objects.get(slug=wanted["campaign"])
registrations = Registration.objects.filter(edition=campaign.edition)
tickets = dict(
    Ticket.objects.filter(edition=campaign.edition)
    .values("registration_id").annotate(n=Count("id")).values_list("registration_id", "n")
)
by_index = {}
for pk, index, status in registrations.values_list("pk", "email_index", "status"):
    by_index.setdefault(index, []).append([status, tickets.get(pk, 0)])
signatures = Signature.objects.filter(campaign=campaign)
by_hash = {}
for hash_, status, review, leaf_id in signatures.values_list(
    "email_hash", "status", "review", "leaf_id"
):
    by_hash.setdefault(hash_, []).append([status, review, leaf_id])
print(json.dumps({
    "registrations": {
        email: by_index.pop(blind_index(clean_email(email), purpose="email"), [])
        for email in wanted["registrations"]
    },
    "signatures": {
        email: by_hash.pop(blind_index(canonical_email(email), purpose="voices-email"), [])
        for email in wanted["signatures"]
    },
    "unknown_registrations": sum(len(rows) for rows in by_index.values()),
    "unknown_signatures": sum(len(rows) for rows in by_hash.values()),
    "tickets": sum(tickets.values()),
    "confirmed_registrations": registrations.filter(status="confirmed").count(),
    "confirmed_signatures": signatures.filter(status="confirmed").count(),
    "counted_signatures": signatures.filter(status="confirmed", leaf__isnull=False)
        .exclude(review="held").count(),
}))
"""


@dataclass(frozen=True)
class Item:
    """One submission: what it is (``kind``) and what identifies it (an email or a token)."""

    kind: str  # "register", "sign", "confirm-registration" or "confirm-signature"
    key: str


@dataclass
class Outcomes:
    """What the clients saw: acknowledged items, items without an answer, refused items."""

    acked: set[Item] = field(default_factory=set)
    unknown: set[Item] = field(default_factory=set)
    refused: dict[Item, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Browser:
    """Posts the public forms as a browser would: the CSRF cookie and token of a page, one
    keep-alive connection per thread; a broken connection leaves the item unanswered."""

    def __init__(self, server: Server, year: int) -> None:
        self.server = server
        self.year = year
        self.cookie, self.token = self._csrf(f"/en/{year}/register/{CATEGORY}/")

    def _csrf(self, path: str) -> tuple[str, str]:
        with urllib.request.urlopen(self.server.base + path, timeout=10) as response:
            page = response.read().decode()
            cookies = response.headers.get_all("Set-Cookie") or []
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        cookie = next(
            (c.split(";")[0].split("=", 1)[1] for c in cookies if c.startswith("csrftoken=")),
            None,
        )
        assert token and cookie, "no CSRF token on the registration page"
        return cookie, token.group(1)

    def request(self, item: Item) -> tuple[str, dict[str, str], Callable[[str], bool]]:
        """The path, the fields and the test of the answer's Location for ``item``."""
        year = self.year
        if item.kind == "register":
            fields = {
                "name": f"Registrant {item.key[:24]}",
                "email": item.key,
                "language": "en",
                "country": "FR",
                "phone": "",
                "consent": "on",
            }
            sent = f"/en/{year}/register/sent/"
            return f"/en/{year}/register/{CATEGORY}/", fields, lambda where: where == sent
        if item.kind == "sign":
            fields = {
                "name": f"Signer {item.key[:24]}",
                "show_name": "on",
                "email": item.key,
                "country": "FR",
                "city": "Lyon",
                "language": "en",
                "consent": "on",
                "website": "",
                "altcha": _proof(),
            }
            sent = f"/en/{year}/voices/{CAMPAIGN}/sent/"
            return f"/en/{year}/voices/{CAMPAIGN}/", fields, lambda where: where == sent
        if item.kind == "confirm-registration":
            manage = f"/en/registration/{item.key}/"
            return f"{manage}confirm/", {}, lambda where: where == manage
        assert item.kind == "confirm-signature", item
        manage = f"/en/voice/{item.key}/"
        return f"{manage}confirm/", {}, lambda where: where == manage

    def post_all(
        self, items: list[Item], *, on_ack: Callable[[int], None] | None = None
    ) -> Outcomes:
        outcomes = Outcomes()

        def work(share: list[Item]) -> None:
            connection: http.client.HTTPConnection | None = None
            for item in share:
                path, fields, acknowledged = self.request(item)
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", self.server.port, 10)
                body = urllib.parse.urlencode({"csrfmiddlewaretoken": self.token, **fields})
                try:
                    connection.request(
                        "POST",
                        path,
                        body=body,
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
                where = urllib.parse.urlsplit(response.getheader("Location", "")).path
                with outcomes.lock:
                    if response.status == 302 and acknowledged(where):
                        outcomes.acked.add(item)
                        count = len(outcomes.acked)
                    else:
                        outcomes.refused[item] = response.status
                        count = -1
                if on_ack is not None and count >= 0:
                    on_ack(count)
            if connection is not None:
                connection.close()

        threads = [threading.Thread(target=work, args=(items[n::THREADS],)) for n in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads), "a client thread hung"
        return outcomes


def _proof() -> str:
    number = secrets.randbelow(1000)
    return altcha.encode_payload(altcha.create_challenge(max_number=1000, number=number), number)


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie, killed and not yet reaped, is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _done(rows: list[list[Any]], item: Item) -> bool:
    """Whether ``item``'s write is in the database (``rows``: its email's rows)."""
    if item.kind in {"register", "sign"}:
        return bool(rows)
    return bool(rows) and rows[0][0] == "confirmed"


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


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
                database_prefix="gathering_issue6_durability",
            )
        )
        running = Server(env)

        def stop() -> None:
            # Whatever happened in the test, no process of the server outlives it (a kill: the
            # database is thrown away, a graceful stop would only take longer).
            if running.process is not None and running.process.poll() is None:
                running.kill()

        stack.callback(stop)
        yield running


def test_no_registration_or_signature_lost_or_doubled_when_the_server_is_killed(
    server: Server,
) -> None:
    run = secrets.token_hex(4)
    seeds = json.loads(
        server.python(
            SETUP,
            json.dumps([run, CATEGORY, CAMPAIGN, SEEDED_REGISTRATIONS, SEEDED_SIGNATURES]),
        ).splitlines()[-1]
    )
    year = int(seeds["year"])
    registrants = [f"registrant-{run}-{n}@durability.example.org" for n in range(NEW_REGISTRATIONS)]
    signers = [f"signer-{run}-{n}@durability.example.org" for n in range(NEW_SIGNATURES)]
    seeded_registrants = dict(seeds["registrations"])  # email: token
    seeded_signers = dict(seeds["signatures"])
    by_token = {token: email for email, token in [*seeds["registrations"], *seeds["signatures"]]}
    items = [
        *(Item("register", email) for email in registrants),
        *(Item("sign", email) for email in signers),
        *(Item("confirm-registration", token) for token in seeded_registrants.values()),
        *(Item("confirm-signature", token) for token in seeded_signers.values()),
    ]
    # Mixed, so that the kill falls among every kind of write.
    random.Random(run).shuffle(items)  # noqa: S311 (an order, not a secret)
    wanted = {
        "campaign": CAMPAIGN,
        "registrations": [*registrants, *seeded_registrants],
        "signatures": [*signers, *seeded_signers],
    }

    def state() -> dict[str, Any]:
        return json.loads(server.python(STATE, json.dumps(wanted)))  # type: ignore[no-any-return]

    def rows_of(snapshot: dict[str, Any], item: Item) -> list[list[Any]]:
        if item.kind == "register":
            return snapshot["registrations"][item.key]  # type: ignore[no-any-return]
        if item.kind == "sign":
            return snapshot["signatures"][item.key]  # type: ignore[no-any-return]
        table = "registrations" if item.kind == "confirm-registration" else "signatures"
        return snapshot[table][by_token[item.key]]  # type: ignore[no-any-return]

    def assert_stored_once(snapshot: dict[str, Any], item: Item) -> None:
        rows = rows_of(snapshot, item)
        assert len(rows) == 1, f"acknowledged {item}, stored as {rows}"
        if item.kind == "register":
            assert rows[0][0] in {"pending", "confirmed"}, (item, rows)
        elif item.kind == "sign":
            assert rows[0][0] == "pending", (item, rows)
        elif item.kind == "confirm-registration":
            assert rows[0] == ["confirmed", 1], f"confirmed {item}: {rows} (status, tickets)"
        else:
            status, review, leaf = rows[0]
            assert status == "confirmed" and review != "held" and leaf is not None, (item, rows)

    # 1. The load, and a SIGKILL of the whole server once a third of it is acknowledged.
    server.start()
    browser = Browser(server, year)
    killed = threading.Event()
    kill_lock = threading.Lock()
    tree: list[int] = []

    def kill_at(count: int) -> None:
        with kill_lock:
            if count >= len(items) // 3 and not killed.is_set():
                killed.set()
                assert server.process is not None
                tree.extend([server.process.pid, *children(server.process.pid)])
                server.kill()

    first = browser.post_all(items, on_ack=kill_at)
    assert killed.is_set(), "the server was not killed under load"
    # gathering serve, granian and its workers, the worker, the live server: all gone.
    assert len(tree) >= 5, f"fewer processes than expected in the server's tree: {tree}"
    assert wait_for(lambda: not any(_alive(pid) for pid in tree), timeout=10), (
        f"processes of the killed server still run: {[p for p in tree if _alive(p)]}"
    )
    assert not first.refused, f"refused submissions: {first.refused}"
    assert first.acked, "nothing was acknowledged before the kill"
    assert first.unknown, "the kill left no submission unanswered: it came too late"

    # 2. The same database after the restart: every acknowledged write, once; nothing twice.
    server.start()
    after_kill = state()
    for item in first.acked:
        assert_stored_once(after_kill, item)
    for table in ("registrations", "signatures"):
        assert all(len(rows) <= 1 for rows in after_kill[table].values()), table
    assert after_kill["unknown_registrations"] == after_kill["unknown_signatures"] == 0
    assert after_kill["tickets"] == after_kill["confirmed_registrations"]

    # 3. People post again what got no answer, and some post what was acknowledged (not sure
    # it went through): a second registration finds the first, a second signature is the same
    # signature, a second confirmation changes nothing.
    again = sorted(first.unknown, key=lambda item: (item.kind, item.key))
    twice = sorted(first.acked, key=lambda item: (item.kind, item.key))[::4]
    browser = Browser(server, year)
    second = browser.post_all([*again, *twice])
    assert not second.unknown and not second.refused, (second.unknown, second.refused)

    # 4. Everything is stored exactly once, and the public counts are the database's.
    final = state()
    for item in items:
        assert_stored_once(final, item)
    assert final["unknown_registrations"] == final["unknown_signatures"] == 0
    assert final["tickets"] == final["confirmed_registrations"] == SEEDED_REGISTRATIONS
    assert final["confirmed_signatures"] == final["counted_signatures"] == SEEDED_SIGNATURES
    done_unanswered = sum(1 for item in first.unknown if _done(rows_of(after_kill, item), item))
    # Shown when the test fails: how the kill fell.
    print(
        f"kill after {len(first.acked)} acknowledged of {len(items)}: {len(first.unknown)} "
        f"unanswered, of which {done_unanswered} had been done; {len(twice)} acknowledged ones "
        "posted twice"
    )

    counts_url = f"{server.base}/en/{year}/voices/{CAMPAIGN}/counts.json"
    api_url = f"{server.base}/api/voices/{year}/campaigns/{CAMPAIGN}/counts"
    live_url = f"{server.base}/en/{year}/live/state.json"

    def public_counts() -> list[int]:
        return [
            int(_get_json(counts_url)["total"]),
            int(_get_json(api_url)["total"]),
            int(_get_json(live_url)["topics"]["voices"]),
        ]

    # The figures are cached for a second or a few (pages, API and live alike).
    wait_for(lambda: public_counts() == [final["counted_signatures"]] * 3, timeout=15)
    assert public_counts() == [final["counted_signatures"]] * 3
