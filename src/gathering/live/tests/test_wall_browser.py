"""The wall in a real Chromium (Playwright, headless), in Persian: the counter of people checked
in moves by itself after a check-in, through the live server's event stream, and through
polling when the stream is blocked.

The live server runs in a thread of the test (the same code `gathering live-serve` runs, with
the real snapshot of the database); pages come from Django's test server and open the stream
at ``LIVE_PUBLIC_URL``. Screenshots go to ``<project root>/test-artifacts/screenshots/``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils.timezone import now

from gathering.checkin import services as checkin
from gathering.checkin.tests.factories import GateFactory, issue_ticket, nonce
from gathering.checkin.tests.test_browser import CHROMIUM, CHROMIUM_ARGS, Shots
from gathering.core.testing.browser import wait_until
from gathering.live import selectors, services
from gathering.live.tests.sse_client import ThreadedServer
from gathering.program.models import Edition
from gathering.program.tests.factories import EditionFactory, SessionFactory, texts

YEAR = 2047
PERSIAN_ZERO, PERSIAN_ONE = "\u06f0", "\u06f1"
COACHES_FA = "اتوبوس‌ها ساعت ۱۸ حرکت می‌کنند"  # noqa: RUF001

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}"),
]


class DatabaseFigures:
    """The live server's snapshot function: the real one, over the test database."""

    def snapshot(self, *, year: int) -> dict[str, Any] | None:
        return selectors.snapshot(year=year)


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        # A hall screen.
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


@pytest.fixture
def live_stream(settings: Any, transactional_db: None) -> Iterator[ThreadedServer]:
    server = ThreadedServer(DatabaseFigures(), poll_interval=0.2)  # type: ignore[arg-type]
    server.start()
    settings.LIVE_PUBLIC_URL = f"http://127.0.0.1:{server.port}"
    try:
        yield server
    finally:
        server.stop()


def _edition_on_stage() -> Edition:
    today = now().date()
    edition = EditionFactory(
        year=YEAR, start_date=today, end_date=today + dt.timedelta(days=1), status="live"
    )
    SessionFactory(
        edition=edition,
        title=texts("Opening", "آغاز گردهمایی", "Ouverture"),
        start=now() - dt.timedelta(minutes=5),
        end=now() + dt.timedelta(minutes=55),
    )
    return edition


def test_the_persian_wall_follows_a_check_in(
    page: Any, live_server: Any, live_stream: ThreadedServer, request: pytest.FixtureRequest
) -> None:
    edition = _edition_on_stage()
    gate = GateFactory(edition=edition)
    ticket = issue_ticket(edition)
    shot = Shots(page, request)

    page.goto(f"{live_server.url}/fa/{YEAR}/wall/?panel=counters")
    assert page.locator("html").get_attribute("dir") == "rtl"
    counter = page.locator('.wall-panel--counters [data-live-counter="checked_in"]')
    assert counter.inner_text() == PERSIAN_ZERO
    page.wait_for_selector('[data-live-state-now="live"]', timeout=20_000)
    # Rotation is pinned to the counters: the other panels are hidden.
    assert page.locator(".wall-panel--map").is_hidden()

    result = checkin.record_scan(code=ticket.code, gate=gate, direction="entry", nonce=nonce("w"))
    assert result.status == "valid"
    wait_until(
        page,
        "() => document.querySelector('.wall-panel--counters [data-live-counter=\"checked_in\"]')"
        f".textContent === '{PERSIAN_ONE}'",
        timeout=20_000,
    )
    services.post_announcement(
        edition=edition, text={"fa": COACHES_FA, "en": "Coaches leave at 6 pm"}
    )
    page.wait_for_selector(f".wall-announcements li:has-text('{COACHES_FA}')", timeout=20_000)
    shot("counters")


def test_the_wall_polls_when_the_stream_is_blocked(
    page: Any, live_server: Any, live_stream: ThreadedServer, request: pytest.FixtureRequest
) -> None:
    edition = _edition_on_stage()
    gate = GateFactory(edition=edition)
    ticket = issue_ticket(edition)
    # A network that refuses the event stream.
    page.route("**/live/*/events", lambda route: route.abort())

    page.goto(f"{live_server.url}/en/{YEAR}/wall/?panel=counters")
    page.wait_for_selector('[data-live-state-now="polling"]', timeout=20_000)
    checkin.record_scan(code=ticket.code, gate=gate, direction="entry", nonce=nonce("p"))
    wait_until(
        page,
        "() => document.querySelector('.wall-panel--counters [data-live-counter=\"checked_in\"]')"
        ".textContent === '1'",
        timeout=20_000,
    )
    Shots(page, request)("polling")


def test_the_live_page_works_without_javascript(
    live_server: Any, transactional_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    edition = _edition_on_stage()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(java_script_enabled=False)
        try:
            page = context.new_page()
            page.goto(f"{live_server.url}/fr/{edition.year}/live/")
            assert "Ouverture" in page.locator(".live-stage").inner_text()
            assert page.locator('[data-live-counter="voices"]').inner_text() == "0"
            page.goto(f"{live_server.url}/fr/{edition.year}/wall/")
            # Without JavaScript every panel shows, one under another.
            assert page.locator(".wall-panel--map svg").is_visible()
            assert page.locator(".wall-panel--counters").is_visible()
        finally:
            context.close()
            browser.close()
