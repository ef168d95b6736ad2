"""The program pages in a real Chromium (Playwright, headless): direction, dates, filters, focus.

Screenshots (full page) go to ``<project root>/test-artifacts/screenshots/<test name>.png``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from gathering.core.dates import to_persian_digits as fa
from gathering.core.testing.browser import CHROMIUM, CHROMIUM_ARGS
from gathering.program.models import Edition, Session
from gathering.program.tests.factories import (
    EditionFactory,
    RoomFactory,
    SessionFactory,
    SpeakerFactory,
    TrackFactory,
    add_speaker,
    texts,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}"),
]


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API runs an event loop in this thread; the test's own database calls
    # (factories) are still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def screenshot(page, request: pytest.FixtureRequest, suffix: str = "") -> None:
    folder = request.config.rootpath / "test-artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{request.node.name}{suffix}.png"), full_page=True)


@pytest.fixture
def page(browser, request: pytest.FixtureRequest) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    try:
        yield page
    finally:
        screenshot(page, request)
        context.close()


@pytest.fixture
def program(transactional_db: None) -> Edition:
    edition = EditionFactory(year=2030)  # 29-30 June 2030, Paris time
    rights = TrackFactory(
        edition=edition,
        slug="human-rights",
        color="#9c2a2a",
        name=texts("Human rights", "حقوق بشر", "Droits humains"),
    )
    culture = TrackFactory(
        edition=edition, slug="culture", color="#1f5f8b", name=texts("Culture", "فرهنگ", "Culture")
    )
    hall = RoomFactory(edition=edition, slug="main-hall", name=texts("Main hall", "سالن اصلی"))
    side = RoomFactory(edition=edition, slug="room-b", name=texts("Room B", "اتاق ب"))
    tz = edition.tzinfo

    def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
        date = edition.start_date + dt.timedelta(days=day)
        return dt.datetime.combine(date, dt.time(hour, minute), tzinfo=tz)

    opening = SessionFactory(
        edition=edition,
        title=texts("Opening of the gathering", "افتتاحیه گردهمایی"),
        kind=Session.Kind.PLENARY,
        start=at(0, 10),
        end=at(0, 11, 15),
        room=hall,
        track=rights,
        interpretation_languages=["en", "fr"],
    )
    SessionFactory(
        edition=edition,
        title=texts("Music of resistance", "موسیقی مقاومت"),
        kind=Session.Kind.PERFORMANCE,
        start=at(0, 20),
        end=at(0, 21, 30),
        room=hall,
        track=culture,
        interpretation_languages=[],
    )
    panel = SessionFactory(
        edition=edition,
        title=texts("Women lead the way", "زنان پیشگام"),
        kind=Session.Kind.PANEL,
        start=at(1, 9, 30),
        end=at(1, 10, 45),
        room=side,
        track=rights,
        floor_language="en",
        interpretation_languages=["fa", "fr"],
    )
    SessionFactory(
        edition=edition,
        title=texts("W" * 400),
        kind=Session.Kind.SPEECH,
        start=at(1, 14),
        end=at(1, 14, 30),
        room=side,
        track=culture,
    )
    add_speaker(opening, SpeakerFactory(slug="jane-doe", name=texts("Jane Doe", "جین دو")))
    add_speaker(panel, SpeakerFactory(slug="maryam", name=texts("Maryam Example", "مریم نمونه")))
    return edition


def session_titles(page) -> list[str]:
    return [title.strip() for title in page.locator(".session__title").all_inner_texts()]


def test_persian_program_is_rtl_with_solar_hijri_dates_and_persian_digits(
    page, live_server, program: Edition
) -> None:
    page.goto(f"{live_server.url}/fa/2030/program/")
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.locator("html").get_attribute("lang") == "fa"
    heading = page.locator(".program-day__title").first.inner_text()
    assert "تیر" in heading  # 29 June is 8 Tir
    times = page.locator(".session__time").first.inner_text()
    assert fa("10:00") in times and fa("11:15") in times
    assert not any(digit in times for digit in "0123456789")
    assert "افتتاحیه گردهمایی" in session_titles(page)
    # The time column sits on the right in a right-to-left page.
    time_box = page.locator(".session__time").first.bounding_box()
    title_box = page.locator(".session__title").first.bounding_box()
    assert time_box["x"] > title_box["x"]


def test_track_filter_form_keeps_only_that_track(page, live_server, program: Edition) -> None:
    page.goto(f"{live_server.url}/en/2030/program/")
    assert len(session_titles(page)) == 4
    page.select_option("#id_track", "culture")
    page.get_by_role("button", name="Show sessions").click()
    page.wait_for_url("**/2030/program/?*track=culture*")
    assert session_titles(page) == ["Music of resistance", "W" * 400]
    assert page.locator("#id_track").input_value() == "culture"


def test_english_program_is_ltr_with_english_texts(page, live_server, program: Edition) -> None:
    page.goto(f"{live_server.url}/en/2030/program/")
    assert page.locator("html").get_attribute("dir") == "ltr"
    assert page.locator("h1").inner_text() == "Program"
    assert "Opening of the gathering" in session_titles(page)
    assert "10:00" in page.locator(".session__time").first.inner_text()
    assert "Saturday" in page.locator(".program-day__title").first.inner_text()
    time_box = page.locator(".session__time").first.bounding_box()
    title_box = page.locator(".session__title").first.bounding_box()
    assert time_box["x"] < title_box["x"]


def test_keyboard_reaches_the_filters_with_a_visible_focus(
    page, live_server, program: Edition
) -> None:
    page.goto(f"{live_server.url}/en/2030/program/")
    reached = None
    for _step in range(40):
        page.keyboard.press("Tab")
        reached = page.evaluate("document.activeElement.id")
        if reached == "id_day":
            break
    assert reached == "id_day"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    for expected in ("id_track", "id_room", "id_language", "id_kind"):
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == expected


@pytest.mark.parametrize("language", ["en", "fa"])
def test_program_fits_a_small_phone_screen(
    browser, live_server, program: Edition, request: pytest.FixtureRequest, language: str
) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/{language}/2030/program/")
        # A 400-letter word in a title wraps instead of widening the page.
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
        screenshot(page, request)
    finally:
        context.close()


def test_persian_home_leads_to_a_session_and_its_speaker(
    page, live_server, program: Edition, request: pytest.FixtureRequest
) -> None:
    page.goto(f"{live_server.url}/fa/")
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert "تیر" in page.locator(".facts").inner_text()
    screenshot(page, request, "-home")
    page.get_by_role("link", name="مشاهدهٔ برنامه").click()
    page.wait_for_url("**/fa/2030/program/")
    page.get_by_role("link", name="افتتاحیه گردهمایی").click()
    assert page.locator("h1").inner_text() == "افتتاحیه گردهمایی"
    assert fa("10:00") in page.locator(".facts").inner_text()
    screenshot(page, request, "-session")
    page.get_by_role("link", name="جین دو").click()
    assert page.locator("h1").inner_text() == "جین دو"
    assert "افتتاحیه گردهمایی" in page.locator(".session__title").first.inner_text()
