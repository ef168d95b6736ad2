"""Signing in a real Chromium (Playwright, headless): the Persian campaign page, the ALTCHA
proof of work solved by the vendored widget in the browser, the confirmation email over SMTP (the
outbox sends it to a local sink), the confirmation, the receipt, and the count moving on the page.

Screenshots go to ``<project root>/test-artifacts/screenshots/<test name>-<step>.png``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from gathering.checkin.tests.test_browser import CHROMIUM, CHROMIUM_ARGS, Shots
from gathering.core.testing.browser import wait_until
from gathering.core.testing.outbox import deliver_outbox
from gathering.core.testing.smtp import SmtpSink
from gathering.program.tests.factories import EditionFactory
from gathering.transparency import services as transparency
from gathering.voices.models import Signature
from gathering.voices.tests.factories import CampaignFactory

YEAR = 2045
CONFIRM = re.compile(r"https?://[^\s]+/voice/[A-Za-z0-9_-]{43}/confirm/")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}"),
]


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 420, "height": 900})
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def test_sign_confirm_and_see_the_count_move_in_persian(
    page, live_server, smtp_sink: SmtpSink, settings, transactional_db, request
):
    settings.SITE_URL = live_server.url
    campaign = CampaignFactory(edition=EditionFactory(year=YEAR), slug="statement")
    shot = Shots(page, request)
    address = f"{live_server.url}/fa/{YEAR}/voices/statement/"

    page.goto(address)
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.locator("[data-count=total]").inner_text() == "\u06f0"  # Persian zero
    page.fill("input[name=name]", "نسرین نیک‌پور")
    page.check("input[name=show_name]")
    page.fill("input[name=email]", "nasrin@example.org")
    page.select_option("select[name=country]", "FR")
    page.fill("textarea[name=message]", "آزادی برای همه")
    page.check("input[name=consent]")
    # The widget solves its challenge once the form has focus; its hidden input then holds
    # the solution the server verifies.
    wait_until(
        page,
        "() => { const f = document.querySelector('input[name=altcha]');"
        " return f && f.value.length > 20; }",
        timeout=30_000,
    )
    shot("form")
    page.click("form.sign-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/sent/$"))
    shot("sent")

    signature = Signature.objects.get()
    assert signature.flags == []  # the proof of work held
    deliver_outbox()
    email = smtp_sink.last_to("nasrin@example.org")
    assert email.language == "fa"
    link = CONFIRM.search(email.text)
    assert link is not None, email.text
    page.goto(link.group(0))
    page.click("form button[type=submit]")
    page.wait_for_selector(".notice--ok")
    shot("confirmed")

    transparency.integrate(log=transparency.get_or_create_log(slug=campaign.log_slug))
    page.reload()
    assert page.locator("dd[dir=ltr]").first.inner_text() == "0"  # leaf index of the receipt

    page.goto(address)
    assert page.locator("[data-count=total]").inner_text() == "\u06f1"  # Persian one
    shot("counted")
