"""The hardened headers in a real Chromium (Playwright, headless): forms post under
``Referrer-Policy: no-referrer`` (the browser sends ``Origin: null`` and Fetch Metadata), a form
on another site is refused, and the admin, the API docs (Swagger UI) and the public pages run
under the Content-Security-Policy without a single violation.
"""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from gathering.core.testing.browser import CHROMIUM, chromium_context, wait_until, watch_csp
from gathering.core.testing.staff import enrol_totp, totp_code
from gathering.program.models import Session

PASSWORD = "a-long-test-password-0123"
ELSEWHERE = "http://elsewhere.example"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}"),
]


@pytest.fixture
def context(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[object]:
    with chromium_context(request, monkeypatch, width=1200) as context:
        yield context


@pytest.fixture
def demo(transactional_db: None) -> None:
    call_command("demo", stdout=io.StringIO())


def _posts(page) -> list[object]:
    """Every form post the page makes, for its headers as sent."""
    posts: list[object] = []
    page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)
    return posts


def test_a_public_form_posts_with_no_referrer_and_fetch_metadata(
    context, live_server, demo
) -> None:
    page = context.new_page()
    violations = watch_csp(page)
    posts = _posts(page)
    answer = page.goto(f"{live_server.url}/en/2027/register/lost-link/")
    assert answer.headers["referrer-policy"] == "no-referrer"
    page.fill("input[name=email]", "someone@example.org")
    page.click("form[method=post] button[type=submit]")
    page.wait_for_load_state()

    assert page.url.endswith("/en/2027/register/sent/"), page.url
    (post,) = posts
    sent = post.all_headers()
    # What Django alone refuses: no Referer and a null origin; Fetch Metadata vouches for it.
    assert sent["origin"] == "null"
    assert "referer" not in sent
    assert sent["sec-fetch-site"] == "same-origin"
    assert violations == []


def test_staff_sign_in_admin_and_api_docs_run_under_the_policy(
    context, live_server, demo, django_user_model
) -> None:
    user = django_user_model.objects.create_user("organiser", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name="organiser"))
    secret = enrol_totp(user)
    page = context.new_page()
    violations = watch_csp(page)
    posts = _posts(page)
    origin = urlsplit(live_server.url).netloc
    elsewhere: list[str] = []
    page.on(
        "request",
        lambda r: (
            elsewhere.append(r.url)
            if urlsplit(r.url).scheme in {"http", "https"} and urlsplit(r.url).netloc != origin
            else None
        ),
    )

    page.goto(f"{live_server.url}/admin/")
    page.fill("input[name=username]", "organiser")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    # The second factor (a code of the authenticator app), posted the same way.
    page.wait_for_selector("input[name=code]")
    page.fill("input[name=code]", totp_code(secret))
    page.click("form.form button[type=submit]")
    page.wait_for_load_state()
    assert page.url == f"{live_server.url}/admin/", page.url
    assert [post.all_headers()["origin"] for post in posts[:2]] == ["null", "null"]

    # A change list (filters, actions), a change form (its JavaScript: calendar, translated
    # fields, conflict box) and an edit saved through the admin's own form.
    page.goto(f"{live_server.url}/admin/program/session/")
    page.wait_for_selector("#result_list")
    session = Session.objects.filter(edition__year=2027).order_by("pk").first()
    page.goto(f"{live_server.url}/admin/program/session/{session.pk}/change/")
    page.wait_for_selector("input[name=_save]")
    assert page.evaluate("typeof django !== 'undefined' && typeof django.jQuery === 'function'")
    page.click("input[name=_save]")
    page.wait_for_load_state()
    assert page.locator("ul.messagelist li.success").count() == 1
    page.goto(f"{live_server.url}/admin/program/track/")
    page.wait_for_selector("#result_list svg.track-swatch rect")

    # Swagger UI from our static files: it renders the operations of our OpenAPI document.
    page.goto(f"{live_server.url}/api/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
    assert "Gathering API" in page.inner_text(".swagger-ui .info")

    assert violations == []
    assert elsewhere == []


def test_the_live_page_and_a_campaign_run_under_the_policy(
    context, live_server, demo, settings
) -> None:
    # A port where no live server listens: the page tries the stream (connect-src must allow
    # its origin, or the browser reports a violation), then falls back to polling.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        settings.LIVE_PORT = probe.getsockname()[1]
    page = context.new_page()
    violations = watch_csp(page)
    answer = page.goto(f"{live_server.url}/fa/2027/voices/")
    policy = answer.headers["content-security-policy"]
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    page.click(".campaign-list a")
    page.wait_for_selector("progress.voice-progress")
    # The progress bar is a <progress> (no style attribute), filled from the right in Persian.
    assert (
        page.evaluate("getComputedStyle(document.querySelector('.voice-progress')).direction")
        == "rtl"
    )
    page.goto(f"{live_server.url}/en/2027/live/")
    host = urlsplit(live_server.url).hostname
    assert f"http://{host}:{settings.LIVE_PORT}/" in page.evaluate(
        "document.querySelector('[data-live-events]').dataset.liveEvents"
    )
    wait_until(
        page,
        "() => document.querySelector('[data-live-events]').dataset.liveStateNow === 'polling'",
    )
    assert violations == []


@pytest.mark.django_db(transaction=True)
def test_a_form_on_another_site_is_refused(context, live_server) -> None:
    page = context.new_page()
    # A page of another site that posts to ours, sending no referrer either (Origin: null).
    page.route(
        f"{ELSEWHERE}/",
        lambda route: route.fulfill(
            content_type="text/html",
            body=(
                '<!doctype html><meta name="referrer" content="no-referrer">'
                f'<form method="post" action="{live_server.url}/staff/login/">'
                '<input name="username" value="x"><input name="password" value="y">'
                '<button type="submit">Go</button></form>'
            ),
        ),
    )
    page.goto(f"{ELSEWHERE}/")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click("button")
    sent = answer.value.request.all_headers()
    assert sent["origin"] == "null"
    # Chromium says "cross-site", or nothing when the posting page is not a secure context
    # (as here: plain HTTP): never "same-origin", the only value that lets a null origin in.
    assert sent.get("sec-fetch-site") in {"cross-site", None}, sent
    assert answer.value.status == 403
