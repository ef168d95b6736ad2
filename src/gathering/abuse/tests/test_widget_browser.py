"""The vendored ALTCHA widget in a real Chromium (Playwright, headless): it fetches our
challenge, solves it, and the server accepts its payload once; it asks nothing of any other
host. Screenshots go to ``<project root>/test-artifacts/screenshots/``.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from gathering.abuse.templatetags import abuse as widget_texts
from gathering.core.testing.browser import CHROMIUM, CHROMIUM_ARGS, wait_until, watch_csp

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}"),
    pytest.mark.urls("gathering.abuse.tests.urls"),
]


@pytest.fixture
def browser_context(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 420, "height": 700}, locale="en")
        try:
            yield context
        finally:
            context.close()
            browser.close()


def _shot(page, request: pytest.FixtureRequest, step: str) -> None:
    folder = request.config.rootpath / "test-artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{request.node.name}-{step}.png"), full_page=True)


def _solve_and_submit(page, live_server, language: str) -> tuple[str, str, float]:
    page.goto(f"{live_server.url}/abuse-test/{language}/page")
    wait_until(page, "customElements.get('altcha-widget') !== undefined")
    started = time.monotonic()
    page.click("#name")  # auto="onfocus": solving starts when the person enters the form
    page.fill("#name", "Test")
    wait_until(
        page, "document.querySelector('input[name=altcha]')?.value?.length > 0", timeout=60_000
    )
    took = time.monotonic() - started
    payload = page.input_value("input[name=altcha]")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return payload, page.inner_text("body"), took


@pytest.mark.django_db(transaction=True)
def test_widget_solves_our_challenge_and_the_server_accepts_it_once(
    browser_context, live_server, request, settings
) -> None:
    page = browser_context.new_page()
    violations = watch_csp(page)  # the site's policy: no inline style, no blob: worker
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    payload, answer, took = _solve_and_submit(page, live_server, "en")
    solution = json.loads(base64.b64decode(payload))
    print(
        f"\nwidget: maxnumber={settings.ALTCHA_MAX_NUMBER}, number={solution['number']}, "
        f"widget says took={solution.get('took')} ms, page saw {took:.2f} s"
    )
    assert answer == "status=ok"
    _shot(page, request, "submitted")

    # The same payload again (a replay): refused as such.
    page.goto(f"{live_server.url}/abuse-test/en/page")
    page.evaluate(
        """payload => {
            const form = document.querySelector('form');
            const input = document.createElement('input');
            input.type = 'hidden'; input.name = 'altcha'; input.value = payload;
            document.querySelector('altcha-widget').remove();
            form.appendChild(input);
            form.submit();
        }""",
        payload,
    )
    page.wait_for_load_state()
    assert page.inner_text("body") == "status=replayed"

    origin = urlsplit(live_server.url).netloc
    elsewhere = [
        url
        for url in requests
        if urlsplit(url).scheme in {"http", "https", "ws", "wss"} and urlsplit(url).netloc != origin
    ]
    assert elsewhere == []
    paths = {urlsplit(url).path for url in requests if urlsplit(url).netloc == origin}
    assert "/abuse/altcha/challenge" in paths
    assert {"/static/abuse/altcha.min.js", "/static/abuse/altcha.css"} <= paths, paths
    assert "/static/abuse/altcha.worker.js" in paths, paths
    assert violations == []


@pytest.mark.django_db(transaction=True)
def test_widget_shows_our_texts_in_persian_right_to_left(
    browser_context, live_server, request, monkeypatch
) -> None:
    # The .po files are the lead's: mark our texts so the test sees they are ours, not the
    # widget's English defaults.
    monkeypatch.setitem(widget_texts.WIDGET_STRINGS, "label", "برچسب آزمایشی")
    monkeypatch.setitem(widget_texts.WIDGET_STRINGS, "verified", "تأیید شد (آزمایش)")
    page = browser_context.new_page()
    violations = watch_csp(page)
    page.goto(f"{live_server.url}/abuse-test/fa/page")
    wait_until(page, "customElements.get('altcha-widget') !== undefined")
    page.wait_for_selector("altcha-widget label")
    assert "برچسب آزمایشی" in page.inner_text("altcha-widget")
    _shot(page, request, "before")
    page.click("#name")
    wait_until(
        page, "document.querySelector('input[name=altcha]')?.value?.length > 0", timeout=60_000
    )
    wait_until(page, "document.querySelector('altcha-widget').innerText.includes('آزمایش)')")
    _shot(page, request, "verified")
    assert page.locator("altcha-widget a").count() == 0  # no logo or footer link to altcha.org
    assert page.evaluate("getComputedStyle(document.querySelector('.altcha')).display") == "flex"
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert page.inner_text("body") == "status=ok"
    assert violations == []


@pytest.mark.django_db(transaction=True)
def test_without_javascript_the_form_posts_with_no_payload(live_server) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(java_script_enabled=False).new_page()
            page.goto(f"{live_server.url}/abuse-test/en/page")
            page.fill("#name", "Test")
            page.click("button[type=submit]")
            page.wait_for_load_state()
            assert page.inner_text("body") == "status=missing"
        finally:
            browser.close()
