"""The back office in a real Chromium (Playwright, headless): sign-in, side-by-side languages,
Persian right to left, saving a session and seeing its conflict warning.

Screenshots (full page) go to ``<project root>/test-artifacts/screenshots/<test name>.png``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import Group

from gathering.core.testing.staff import enrol_totp, totp_code
from gathering.program.models import Session
from gathering.program.tests.factories import (
    EditionFactory,
    RoomFactory,
    SessionFactory,
    SpeakerFactory,
    add_speaker,
    texts,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
PASSWORD = "organiser-password-2027"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}"),
]


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1300, "height": 1000}, locale="en")
        page = context.new_page()
        try:
            yield page
        finally:
            folder = request.config.rootpath / "test-artifacts" / "screenshots"
            folder.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(folder / f"{request.node.name}.png"), full_page=True)
            browser.close()


@pytest.fixture
def organiser(transactional_db: None, django_user_model):
    user = django_user_model.objects.create_user("organiser", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name="organiser"))
    return user


def sign_in(page, live_server) -> None:
    """The password, then a code of the organiser's authenticator app (second factor)."""
    from django.contrib.auth.models import User

    secret = enrol_totp(User.objects.get(username="organiser"))
    page.goto(f"{live_server.url}/admin/")
    assert "/staff/login/" in page.url
    page.fill("input[name=username]", "organiser")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("input[name=code]")
    page.fill("input[name=code]", totp_code(secret))
    page.click("form.form button[type=submit]")
    page.wait_for_load_state()


def test_wrong_password_shows_an_error_in_the_browser(page, live_server, organiser) -> None:
    page.goto(f"{live_server.url}/staff/login/")
    page.fill("input[name=username]", "organiser")
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")

    assert "correct username and password" in page.inner_text("[role=alert]")
    assert page.url.endswith("/staff/login/")


def test_organiser_signs_in_and_saves_a_session_with_a_conflict_warning(
    page, live_server, organiser
) -> None:
    edition = EditionFactory(year=2040)
    hall = RoomFactory(edition=edition, name=texts("Main hall", "سالن اصلی", "Grande salle"))
    speaker = SpeakerFactory(name=texts("Sample speaker 1", "سخنران نمونه ۱"))  # noqa: RUF001
    start = dt.datetime.combine(edition.start_date, dt.time(10), tzinfo=edition.tzinfo)
    first = SessionFactory(
        edition=edition, room=hall, start=start, end=start + dt.timedelta(hours=1)
    )
    add_speaker(first, speaker)
    second = SessionFactory(
        edition=edition,
        room=hall,
        start=start + dt.timedelta(hours=2),
        end=start + dt.timedelta(hours=3),
        title=texts("Second", "دوم", "Deuxième"),
    )

    sign_in(page, live_server)
    assert page.url == f"{live_server.url}/admin/"
    page.goto(f"{live_server.url}/admin/program/session/{second.pk}/change/")

    boxes = [
        page.locator(f"input[name=title_{code}]").bounding_box() for code in ("en", "fa", "fr")
    ]
    assert len({round(box["y"]) for box in boxes}) == 1  # one row
    assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]  # English, Persian, French
    persian = page.locator("input[name=title_fa]")
    assert persian.evaluate("element => getComputedStyle(element).direction") == "rtl"

    page.fill("input[name=title_fa]", "نشست دوم")
    page.fill("input[name=start_1]", "10:30:00")
    page.fill("input[name=end_1]", "11:30:00")
    page.click("input[name=_save]")
    page.wait_for_load_state()

    assert page.locator("ul.messagelist li.success").count() == 1
    warnings = page.locator("ul.messagelist li.warning").all_inner_texts()
    assert len(warnings) == 1
    assert "Main hall is booked twice" in warnings[0]
    second.refresh_from_db()
    assert second.title["fa"] == "نشست دوم"
    assert second.start == start + dt.timedelta(minutes=30)
    assert Session.objects.count() == 2
