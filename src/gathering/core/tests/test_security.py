"""Hardened responses: the Content-Security-Policy (and its live-server origin), the CSRF check
under ``Referrer-Policy: no-referrer`` (Fetch Metadata), ``no-store`` on pages with personal
data, HSTS and friends, and ``check --deploy`` clean on the production configuration."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.http import HttpResponse
from django.template import engines
from django.test import Client

from gathering.checkin.tests.factories import issue_ticket
from gathering.core.security import ContentSecurityPolicyMiddleware
from gathering.core.testing.staff import sign_in_staff
from gathering.program.tests.factories import EditionFactory
from gathering.registration import tokens
from gathering.satellites.tests.factories import coordinated_site
from gathering.voices import services as voices
from gathering.voices.tests.factories import CampaignFactory, sign_request

SRC = Path(__file__).resolve().parents[2]


def directives(policy: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *values = part.split()
        assert name not in parsed, f"{name} twice"
        parsed[name] = values
    return parsed


def base_policy(live: str | None) -> dict[str, list[str]]:
    return {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'", *([live] if live else [])],
        "worker-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }


# --- Content-Security-Policy ------------------------------------------------------------------


@pytest.mark.django_db
def test_a_public_page_gets_the_strict_policy_and_the_other_headers(client: Client) -> None:
    EditionFactory(year=2040)
    response = client.get("/en/")
    assert response.status_code == 200
    policy = directives(response["Content-Security-Policy"])
    assert policy == base_policy(f"http://testserver:{settings.LIVE_PORT}")
    assert "Content-Security-Policy-Report-Only" not in response
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["X-Content-Type-Options"] == "nosniff"
    # Plain HTTP (no HTTPS=1 here): no HSTS, which would pin a development host to HTTPS.
    assert "Strict-Transport-Security" not in response


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("public_url", "host", "expected"),
    [
        ("", "testserver", "http://testserver:{port}"),
        ("", "127.0.0.1:8000", "http://127.0.0.1:{port}"),
        ("", "[::1]:8000", "http://[::1]:{port}"),
        ("https://live.example.org", "testserver", "https://live.example.org"),
        ("https://live.example.org/stream/", "testserver", "https://live.example.org"),
        ("/", "testserver", None),  # the proxy routes the stream on the page's own origin
    ],
)
def test_connect_src_names_the_live_server_pages_open(
    client: Client, settings, public_url: str, host: str, expected: str | None
) -> None:
    settings.LIVE_PUBLIC_URL = public_url
    response = client.get("/en/archive/", headers={"host": host})
    assert response.status_code == 200
    live = expected.format(port=settings.LIVE_PORT) if expected else None
    assert directives(response["Content-Security-Policy"])["connect-src"] == (
        ["'self'", live] if live else ["'self'"]
    )


@pytest.mark.django_db
def test_the_live_page_opens_its_stream_where_connect_src_allows(client: Client) -> None:
    from gathering.live.demo import load_live_demo
    from gathering.program.demo import load_demo

    load_demo()
    load_live_demo()
    response = client.get("/en/2027/live/")
    assert response.status_code == 200
    events = re.search(r'data-live-events="([^"]+)"', response.content.decode()).group(1)
    allowed = directives(response["Content-Security-Policy"])["connect-src"]
    assert any(events.startswith(source + "/") for source in allowed if "://" in source), (
        events,
        allowed,
    )


@pytest.mark.django_db
def test_json_answers_and_files_get_the_policy_without_the_live_origin(client: Client) -> None:
    EditionFactory(year=2040)
    response = client.get("/api/editions")
    assert response.status_code == 200
    assert directives(response["Content-Security-Policy"]) == base_policy(None)
    static = client.get("/static/core/site.css")
    assert static.status_code == 200
    b"".join(static.streaming_content)  # read to the end: the test client closes the file
    assert directives(static["Content-Security-Policy"]) == base_policy(None)


@pytest.mark.django_db
def test_a_nonce_a_page_uses_is_in_its_policy_and_only_then(rf) -> None:
    def view(request):
        return HttpResponse(
            engines["django"]
            .from_string('<style nonce="{{ csp_nonce }}">p{}</style>')
            .render({}, request)
        )

    middleware = ContentSecurityPolicyMiddleware(view)
    response = middleware(rf.get("/"))
    nonce = re.search(r'nonce="([^"]+)"', response.content.decode()).group(1)
    policy = directives(response["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'", f"'nonce-{nonce}'"]
    assert policy["style-src"] == ["'self'", f"'nonce-{nonce}'"]
    # Another request: another nonce; a page that uses none names none.
    again = middleware(rf.get("/"))
    assert nonce not in again["Content-Security-Policy"]
    plain = ContentSecurityPolicyMiddleware(lambda request: HttpResponse("<p>"))(rf.get("/"))
    assert "nonce" not in plain["Content-Security-Policy"]


@pytest.mark.django_db
def test_only_the_campaign_widget_may_be_framed_by_other_sites(client: Client) -> None:
    campaign = CampaignFactory()
    base = f"/en/{campaign.edition.year}/voices/{campaign.slug}/"
    widget = client.get(base + "widget/")
    assert widget.status_code == 200
    assert "X-Frame-Options" not in widget
    policy = directives(widget["Content-Security-Policy"])
    expected = base_policy(f"http://testserver:{settings.LIVE_PORT}")
    assert policy == expected | {"frame-ancestors": ["*"]}
    page = client.get(base)
    assert page["X-Frame-Options"] == "DENY"
    assert directives(page["Content-Security-Policy"])["frame-ancestors"] == ["'none'"]


class InlineFinder(HTMLParser):
    """What a policy without 'unsafe-inline' refuses: inline <script> (not data blocks),
    <style> elements, style attributes and on* handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _value in attrs}
        values = dict(attrs)
        if tag == "script" and "src" not in names:
            kind = (values.get("type") or "").lower()
            if kind not in {"application/json", "application/ld+json"}:
                self.found.append(f"<script> without src {attrs}")
        if tag == "style":
            self.found.append("<style> element")
        for name in names:
            if name == "style" or re.fullmatch(r"on[a-z]+", name):
                self.found.append(f"{name}= on <{tag}>")
            if values.get(name) and str(values[name]).strip().lower().startswith("javascript:"):
                self.found.append(f"javascript: URL in {name}= on <{tag}>")


def test_no_template_has_inline_script_style_or_handlers() -> None:
    # E-mails are not web pages: mail clients need inline styles, and no policy applies there.
    templates = [
        path
        for path in SRC.glob("*/templates/**/*.html")
        if "emails" not in path.relative_to(SRC).parts
    ]
    assert len(templates) > 50
    found = {}
    for path in templates:
        finder = InlineFinder()
        source = re.sub(
            r"{% comment %}.*?{% endcomment %}|{#.*?#}", "", path.read_text(), flags=re.S
        )
        finder.feed(source)
        if finder.found:
            found[str(path.relative_to(SRC))] = finder.found
    assert found == {}


# --- CSRF under Referrer-Policy: no-referrer ---------------------------------------------------


@pytest.fixture
def csrf_client(db) -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True)
    assert client.get("/staff/login/").status_code == 200
    return client, client.cookies[settings.CSRF_COOKIE_NAME].value


@pytest.mark.parametrize("secure", [False, True])
def test_a_same_origin_post_with_a_null_origin_passes_with_its_token(
    csrf_client, secure: bool
) -> None:
    client, token = csrf_client
    headers = {"origin": "null", "sec-fetch-site": "same-origin"}
    response = client.post(
        "/staff/login/",
        {"username": "nobody", "password": "wrong", "csrfmiddlewaretoken": token},
        headers=headers,
        secure=secure,
    )
    # Through the CSRF check: the sign-in form answers (wrong password), not the 403 page.
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


@pytest.mark.parametrize(
    ("headers", "with_token", "secure"),
    [
        # The token is still checked when Fetch Metadata vouches for the origin.
        ({"origin": "null", "sec-fetch-site": "same-origin"}, False, False),
        # Another site's page (a sandboxed frame, or no-referrer there too).
        ({"origin": "null", "sec-fetch-site": "cross-site"}, True, False),
        ({"origin": "null", "sec-fetch-site": "same-site"}, True, False),
        ({"origin": "null", "sec-fetch-site": "none"}, True, False),
        ({"origin": "null", "sec-fetch-site": "SAME-ORIGIN"}, True, False),
        # No Fetch Metadata (plain HTTP other than localhost, an old browser): Django's rule.
        ({"origin": "null"}, True, False),
        ({"origin": "null"}, True, True),
        # A real origin of another site is never rewritten, whatever else the request says.
        ({"origin": "https://elsewhere.example", "sec-fetch-site": "same-origin"}, True, False),
        ({"origin": "http://elsewhere.example", "sec-fetch-site": "cross-site"}, True, False),
        # HTTPS without Origin or Referer: Django's strict Referer rule, unchanged.
        ({"sec-fetch-site": "same-origin"}, True, True),
    ],
)
def test_other_posts_are_refused(
    csrf_client, headers: dict[str, str], with_token: bool, secure: bool
) -> None:
    client, token = csrf_client
    data = {"username": "nobody", "password": "wrong"}
    if with_token:
        data["csrfmiddlewaretoken"] = token
    response = client.post("/staff/login/", data, headers=headers, secure=secure)
    assert response.status_code == 403


@pytest.mark.django_db
def test_a_same_origin_post_to_a_disallowed_host_is_a_400_not_a_rewrite() -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/staff/login/",
        {},
        headers={"origin": "null", "sec-fetch-site": "same-origin", "host": "evil.example"},
    )
    assert response.status_code == 400


# --- no-store ---------------------------------------------------------------------------------


def _no_store(response) -> bool:
    return "no-store" in [part.strip() for part in response.get("Cache-Control", "").split(",")]


@pytest.mark.django_db
def test_private_link_pages_are_never_stored(client: Client) -> None:
    edition = EditionFactory(year=2040)
    registration = issue_ticket(edition).ticket.registration
    token = tokens.new_token()
    registration.manage_token_hash = tokens.hash_token(token)
    registration.save(update_fields=["manage_token_hash"])

    campaign = CampaignFactory(edition=edition)
    signature = voices.sign(campaign=campaign, request=sign_request()).signature
    confirm, withdraw = tokens.new_token(), tokens.new_token()
    signature.confirm_token_hash = tokens.hash_token(confirm)
    signature.withdraw_token_hash = tokens.hash_token(withdraw)
    signature.save(update_fields=["confirm_token_hash", "withdraw_token_hash"])
    voices.confirm(token=confirm)
    # Signed without proof of work: held for review; approved, it is counted and has a receipt.
    voices.review_held(signature=signature, approve=True, reason="", moderator=None)

    for url in (
        f"/en/registration/{token}/",
        f"/en/registration/{token}/ticket/",
        f"/en/registration/{token}/ticket.pdf",
        f"/en/registration/{token}/data.json",
        f"/en/registration/{token}/cancel/",
        f"/en/voice/{withdraw}/",
        f"/en/voice/{withdraw}/receipt.json",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert _no_store(response), (url, response.get("Cache-Control"))


@pytest.mark.django_db
def test_staff_pages_are_never_stored(client: Client, django_user_model) -> None:
    edition = EditionFactory(year=2040)
    campaign = CampaignFactory(edition=edition)
    site = coordinated_site(django_user_model, edition=edition)
    organiser = django_user_model.objects.create_user("boss", password="x" * 20, is_staff=True)
    organiser.groups.add(*Group.objects.filter(name__in=["organiser", "moderator", "gate"]))
    sign_in_staff(client, organiser)
    for url in (
        "/admin/",
        "/admin/registration/registration/",
        f"/en/staff/voices/{edition.year}/{campaign.slug}/",
        "/en/staff/sites/",
        f"/en/staff/sites/{site.pk}/",
        f"/staff/scanner/{edition.year}/",
        f"/en/{edition.year}/live/announcements/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert _no_store(response), (url, response.get("Cache-Control"))
    # A public page seen signed in may show what visitors do not see yet: not stored either.
    assert _no_store(client.get(f"/en/{edition.year}/"))


@pytest.mark.django_db
def test_public_pages_stay_cacheable_and_form_answers_are_not_stored(client: Client) -> None:
    campaign = CampaignFactory()
    edition = campaign.edition
    for url in ("/en/", f"/en/{edition.year}/", f"/en/{edition.year}/voices/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert not _no_store(response), url
    sign = client.post(
        f"/en/{edition.year}/voices/{campaign.slug}/",
        {"name": "Maryam", "email": "not-an-address", "country": "FR", "consent": "on"},
    )
    assert sign.status_code == 400
    assert "not-an-address" in sign.content.decode()  # what was typed comes back: not stored
    assert _no_store(sign)
    sign_in = client.post("/staff/login/", {"username": "someone", "password": "wrong"})
    assert sign_in.status_code == 200
    assert _no_store(sign_in)


# --- HTTPS, HSTS and check --deploy -------------------------------------------------------------


@pytest.mark.django_db
def test_hsts_on_https_answers_when_https_is_on(settings) -> None:
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_SSL_REDIRECT = True
    client = Client()
    plain = client.get("/en/archive/")
    assert plain.status_code == 301
    assert plain["Location"] == "https://testserver/en/archive/"
    secure = client.get("/en/archive/", secure=True)
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def _production(tmp_path: Path, code_or_args: list[str], **env: str) -> subprocess.CompletedProcess:
    environment = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {"SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL", "GATHERING_TESTING", "HTTPS"}
        and not k.startswith("SECURE_")
    }
    environment.update(
        {
            "DJANGO_SETTINGS_MODULE": "gathering.settings",
            "GATHERING_DATA_DIR": str(tmp_path),
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DEBUG": "0",
            "ALLOWED_HOSTS": "gathering.example.org",
        }
    )
    environment.update(env)
    return subprocess.run(
        [sys.executable, *code_or_args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=settings.PROJECT_DIR,
    )


def test_check_deploy_is_clean_on_the_production_configuration(tmp_path: Path) -> None:
    command = ["manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    production = _production(tmp_path, command, HTTPS="1")
    assert production.returncode == 0, production.stdout + production.stderr
    # Served over plain HTTP (HTTPS unset, as `make run`), the same check has warnings.
    plain = _production(tmp_path, command)
    assert plain.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in plain.stdout + plain.stderr


def test_https_settings_follow_the_environment(tmp_path: Path) -> None:
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, "
        "s.SECURE_HSTS_PRELOAD, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SECURE_PROXY_SSL_HEADER, s.SECURE_REFERRER_POLICY)"
    )
    https = _production(tmp_path, ["-c", code], HTTPS="1")
    assert https.stdout.split(" ", 6)[:6] == ["True", "31536000", "True", "False", "True", "True"]
    assert https.stdout.strip().endswith("None no-referrer")
    plain = _production(tmp_path, ["-c", code])
    assert plain.stdout.split()[:6] == ["False", "0", "True", "False", "False", "False"]
    proxied = _production(
        tmp_path,
        ["-c", code],
        HTTPS="1",
        SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
        SECURE_SSL_REDIRECT="0",
        REFERRER_POLICY="same-origin",
    )
    assert proxied.stdout.split()[0] == "False"
    assert "('HTTP_X_FORWARDED_PROTO', 'https') same-origin" in proxied.stdout


# Nothing here depends on the database engine: the PostgreSQL run of `make test` leaves it out.
pytestmark = pytest.mark.engine_agnostic
