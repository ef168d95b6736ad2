"""The whole way from registering to entering the hall, in a real Chromium (Playwright, headless).

Two people register through the public form (one on the Persian page, one on the English page);
the confirmation email is queued in the outbox, sent by the worker to a local SMTP sink
(``gathering.core.testing.smtp``), and the browser opens the emailed link and confirms. On
PostgreSQL the worker's loop runs in a thread beside the live server, as ``gathering serve``
runs it; on the in-memory SQLite test database (one connection shared with the server) the
worker's sending runs in the test's thread between requests. The first person's QR code is taken from the ticket page (a
screenshot of the code); the second person's from the PNG attached to the ticket email. A gate user,
in a second browser context, feeds both images to the scanner page's photo input: the first is
valid, then "already entered"; the second is scanned with the network down, decided on the phone
and queued, then synced once the network is back.

Screenshots (full page) go to ``<project root>/test-artifacts/screenshots/<test name>-<step>.png``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection
from django.utils.timezone import now

from gathering.checkin.models import Direction, Scan, ScanStatus
from gathering.checkin.tests.factories import GateFactory, make_staff
from gathering.checkin.tests.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Shots,
    sign_in,
    wait_result,
)
from gathering.core.testing.outbox import OutboxWorker, deliver_outbox
from gathering.core.testing.smtp import ReceivedEmail, SmtpSink
from gathering.program.tests.factories import EditionFactory, texts
from gathering.registration.models import Category, Registration, Ticket
from gathering.registration.selectors import get_registration_by_token
from gathering.registration.tests.factories import CategoryFactory

YEAR = 2044
CATEGORY_SLUG = "attendee"
PERSIAN_NAME = "نسرین نیک‌پور"  # with a zero-width non-joiner, as Persian spells it
PERSIAN_EMAIL = "nasrin@example.org"
ENGLISH_NAME = "Dariush O'Connor-Rahimi"
ENGLISH_EMAIL = "dariush@example.org"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}"),
]


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API runs an event loop in this thread; the test's own database calls
    # are still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def phone(browser) -> Iterator[object]:
    """The registrants' phone: a phone-sized screen."""
    context = browser.new_context(viewport={"width": 420, "height": 900})
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def gate_phone(browser) -> Iterator[object]:
    """The phone at the gate: a browser context of its own (its own session and storage)."""
    context = browser.new_context(viewport={"width": 420, "height": 900}, locale="en")
    try:
        yield context
    finally:
        context.close()


@dataclass
class Mailbox:
    sink: SmtpSink
    worker: OutboxWorker | None

    def receive(self, address: str, *, count: int) -> ReceivedEmail:
        """The latest email to ``address`` once the worker has sent ``count`` of them."""
        if self.worker is None:
            deliver_outbox()
        return self.sink.wait_for(address, count=count)


@pytest.fixture
def mail(smtp_sink: SmtpSink, settings, live_server, transactional_db: None) -> Iterator[Mailbox]:
    # Links in emails point at the test server, so the browser opens exactly what was sent.
    settings.SITE_URL = live_server.url
    if connection.vendor == "sqlite":
        yield Mailbox(smtp_sink, worker=None)
        return
    worker = OutboxWorker()
    worker.start()
    try:
        yield Mailbox(smtp_sink, worker=worker)
    finally:
        worker.stop()


@pytest.fixture
def gate(transactional_db: None):
    edition = EditionFactory(year=YEAR)
    # Tickets are valid in the category's entry window: around now, so the gate lets them in.
    CategoryFactory(
        edition=edition,
        kind=Category.Kind.ATTENDEE,
        slug=CATEGORY_SLUG,
        capacity=10,
        entry_opens_at=now() - dt.timedelta(hours=1),
        entry_closes_at=now() + dt.timedelta(days=2),
    )
    return GateFactory(edition=edition, slug="north", name=texts("Gate North", "ورودی شمال"))


@dataclass
class Registered:
    registration: Registration
    ticket_url: str


def register_and_confirm(
    page, *, live_server, mail: Mailbox, shot: Shots, language: str, name: str, email: str
) -> Registered:
    """Register on the public form in ``language``, then confirm through the emailed link."""
    page.goto(f"{live_server.url}/{language}/{YEAR}/register/{CATEGORY_SLUG}/")
    assert page.get_attribute("html", "lang") == language
    page.fill("input[name=name]", name)
    page.fill("input[name=email]", email)
    # The language of emails and ticket defaults to the page's.
    assert page.input_value("select[name=language]") == language
    page.select_option("select[name=country]", "FR")
    page.check("input[name=consent]")
    shot(f"{language}-1-form")
    page.click("form.registration-form button[type=submit]")
    page.wait_for_url(f"**/{language}/{YEAR}/register/sent/")

    # The email was queued as the registration committed; the worker sends it.
    confirmation = mail.receive(email, count=1)
    assert confirmation.language == language
    confirm_link = confirmation.link("/confirm/")
    assert confirm_link.startswith(f"{live_server.url}/{language}/registration/")
    registration = get_registration_by_token(token=confirmation.token())
    assert (registration.name, registration.status) == (name, Registration.Status.PENDING)
    assert not Ticket.objects.filter(registration=registration).exists()

    page.goto(confirm_link)
    shot(f"{language}-2-confirm")
    page.click("main form button[type=submit]")
    page.wait_for_url("**/registration/*/")
    registration.refresh_from_db()
    assert registration.status == Registration.Status.CONFIRMED

    ticket_email = mail.receive(email, count=2)
    assert ticket_email is not confirmation and ticket_email.language == language
    return Registered(registration=registration, ticket_url=ticket_email.link("/ticket/"))


def scan_photo(page, image: Path) -> None:
    page.set_input_files("#image-input", str(image))


def test_register_confirm_by_email_scan_then_offline_and_sync(
    phone, gate_phone, live_server, mail, gate, django_user_model, request, tmp_path
) -> None:
    registrant = phone.new_page()
    registrant_shot = Shots(registrant, request)

    # First person: the Persian page, right to left; the QR code is saved from the ticket page.
    nasrin = register_and_confirm(
        registrant,
        live_server=live_server,
        mail=mail,
        shot=registrant_shot,
        language="fa",
        name=PERSIAN_NAME,
        email=PERSIAN_EMAIL,
    )
    registrant.goto(nasrin.ticket_url)
    assert registrant.get_attribute("html", "dir") == "rtl"
    assert registrant.inner_text(".ticket__name") == PERSIAN_NAME
    qr = registrant.locator(".ticket__qr svg")
    qr.wait_for()
    registrant_shot("fa-3-ticket")
    nasrin_png = tmp_path / "nasrin-ticket.png"
    qr.screenshot(path=str(nasrin_png))

    # Second person: the English page; the QR code is the PNG attached to the ticket email.
    dariush = register_and_confirm(
        registrant,
        live_server=live_server,
        mail=mail,
        shot=registrant_shot,
        language="en",
        name=ENGLISH_NAME,
        email=ENGLISH_EMAIL,
    )
    registrant.goto(dariush.ticket_url)
    assert registrant.get_attribute("html", "dir") == "ltr"
    registrant_shot("en-3-ticket")
    dariush_png = tmp_path / "dariush-ticket.png"
    dariush_png.write_bytes(mail.sink.last_to(ENGLISH_EMAIL).attachment("ticket-qr.png"))

    first_ticket = nasrin.registration.ticket.ticket_id
    second_ticket = dariush.registration.ticket.ticket_id

    # The gate: a gate user on a phone of their own.
    make_staff(django_user_model, "gatekeeper", role="gate")
    scanner = gate_phone.new_page()
    shot = Shots(scanner, request)
    sign_in(scanner, live_server, f"/staff/scanner/{YEAR}/north/")

    scan_photo(scanner, nasrin_png)
    text = wait_result(scanner, "valid", "server")
    assert "Valid ticket: welcome." in text
    assert "result--ok" in scanner.get_attribute("#result", "class")
    shot("gate-1-valid")

    scan_photo(scanner, nasrin_png)
    text = wait_result(scanner, "already_inside", "server")
    assert "Already entered at Gate North at " in text
    assert "result--bad" in scanner.get_attribute("#result", "class")
    shot("gate-2-already-entered")

    # The network goes down: the phone checks the signature itself and queues the scan.
    gate_phone.set_offline(True)
    scanner.wait_for_selector("#network-status[data-online=false]", state="attached")
    scan_photo(scanner, dariush_png)
    text = wait_result(scanner, "valid", "local")
    assert "result--ok" in scanner.get_attribute("#result", "class")
    assert "Checked on this phone" in text
    scanner.wait_for_selector('#queue-status[data-count="1"]', state="attached")
    assert "Waiting to be sent: 1" in scanner.inner_text("#queue-status")
    assert not Scan.objects.filter(ticket_id=second_ticket).exists()
    shot("gate-3-offline-queued")

    # Back online: the queue is sent and the server records what the phone decided.
    gate_phone.set_offline(False)
    # The scanner retries every 15 s if the first send fails: allow for one retry or two.
    scanner.wait_for_selector('#queue-status[data-count="0"]', state="attached", timeout=60_000)
    shot("gate-4-synced")

    first_scans = Scan.objects.filter(ticket_id=first_ticket).order_by("server_time", "pk")
    assert [(s.status, s.offline) for s in first_scans] == [
        (ScanStatus.VALID, False),
        (ScanStatus.ALREADY_INSIDE, False),
    ]
    synced = Scan.objects.get(ticket_id=second_ticket)
    assert (synced.status, synced.offline, synced.direction) == (
        ScanStatus.VALID,
        True,
        Direction.ENTRY,
    )
    assert synced.gate_id == gate.pk
    assert Scan.objects.count() == 3

    # The gate's phone never saw a name.
    page = scanner.content()
    assert PERSIAN_NAME not in page and ENGLISH_NAME not in page
