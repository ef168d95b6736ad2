"""Two-factor sign-in in a real Chromium (Playwright, headless) with Chromium's virtual
authenticator (DevTools protocol): a new staff member signs in with their password, sets up an
authenticator app (the code computed from the key shown on the page), keeps their recovery
codes, registers a security key on their security page, signs out, and signs in again with the
key. All under the Content-Security-Policy, without a single violation.

The site is opened as ``localhost``: WebAuthn refuses an IP address as relying party, and
``localhost`` is a secure context over plain HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from gathering.accounts import totp
from gathering.accounts.models import TotpDevice, WebAuthnCredential
from gathering.audit.models import AuditEvent
from gathering.core.testing.browser import CHROMIUM, chromium_context, wait_until, watch_csp

PASSWORD = "a-long-key-holder-password-2027"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}"),
]


@pytest.fixture
def context(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[object]:
    with chromium_context(request, monkeypatch, width=1100) as context:
        yield context


def _virtual_authenticator(context, page) -> tuple[object, str]:
    session = context.new_cdp_session(page)
    session.send("WebAuthn.enable")
    answer = session.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    return session, answer["authenticatorId"]


def _password_step(page, base: str, next_path: str) -> None:
    page.goto(f"{base}{next_path}")
    assert "/staff/login/" in page.url, page.url
    page.fill("input[name=username]", "keyholder")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.form button[type=submit]")
    page.wait_for_load_state()


def test_set_up_register_a_security_key_and_sign_in_with_it(
    context, live_server, transactional_db, django_user_model
) -> None:
    user = django_user_model.objects.create_user("keyholder", password=PASSWORD, is_staff=True)
    base = f"http://localhost:{urlsplit(live_server.url).port}"
    page = context.new_page()
    violations = watch_csp(page)
    cdp, authenticator = _virtual_authenticator(context, page)

    # 1. Password, then the forced set-up of an authenticator app.
    _password_step(page, base, "/admin/")
    assert "/staff/login/set-up/" in page.url, page.url
    assert page.locator("svg.qr").count() == 1
    secret = page.inner_text("[data-totp-secret]").replace(" ", "")
    assert TotpDevice.objects.get(user=user).secret == secret
    page.fill("input[name=code]", totp.current_code(secret))
    page.click("form.form button[type=submit]")
    page.wait_for_selector("[data-recovery-codes]")
    assert page.locator("[data-recovery-codes] li").count() == 10
    page.click("a.button")
    page.wait_for_load_state()
    assert page.url == f"{base}/admin/", page.url

    # 2. The security page, from the back office's user links: register a key.
    page.click("#user-tools a[href='/staff/security/']")
    page.wait_for_selector("form[data-webauthn=register][data-webauthn-ready=true]")
    page.fill("input[name=name]", "Virtual key")
    page.click("form[data-webauthn=register] button[type=submit]")
    page.wait_for_selector("[data-security-key]", timeout=30_000)
    assert "Virtual key" in page.inner_text("[data-security-key]")
    key = WebAuthnCredential.objects.get(user=user)
    assert key.name == "Virtual key"
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert len(stored["credentials"]) == 1

    # 3. Sign out, and in again: password, then the key.
    page.click("form[action='/staff/logout/'] button")
    page.wait_for_load_state()
    assert "/staff/login/" in page.url
    _password_step(page, base, "/en/staff/audit/")
    assert "/staff/login/second-factor/" in page.url, page.url
    page.wait_for_selector("[data-webauthn=authenticate][data-webauthn-ready=true]")
    page.click("[data-webauthn-start]")
    # (A navigation: Playwright waits for it from outside the page, as the policy wants.)
    page.wait_for_url(f"{base}/en/staff/audit/", timeout=30_000)
    page.wait_for_selector("h1")

    key.refresh_from_db()
    assert key.last_used_at is not None
    assert AuditEvent.objects.filter(
        action="sign_in_second_factor", summary="method=security_key", actor=user
    ).exists()
    assert AuditEvent.objects.filter(action="second_factor.key_added", actor=user).exists()
    assert violations == []


def test_a_key_of_another_site_or_a_cancelled_prompt_gives_a_clear_message(
    context, live_server, transactional_db, django_user_model
) -> None:
    from gathering.core.testing.staff import enrol_totp

    user = django_user_model.objects.create_user("keyholder", password=PASSWORD, is_staff=True)
    enrol_totp(user)
    # A key registered elsewhere: the browser's authenticator does not hold it.
    WebAuthnCredential.objects.create(
        user=user, name="lost key", credential_id="bG9zdC1rZXk", public_key=b"\x01"
    )
    base = f"http://localhost:{urlsplit(live_server.url).port}"
    page = context.new_page()
    violations = watch_csp(page)
    _virtual_authenticator(context, page)
    _password_step(page, base, "/admin/")
    page.wait_for_selector("[data-webauthn=authenticate][data-webauthn-ready=true]")
    page.click("[data-webauthn-start]")
    message = wait_until(
        page,
        "() => { const m = document.querySelector('[data-webauthn-message]');"
        " return m && !m.textContent.includes('Touch') && m.textContent; }",
    )
    assert "did not answer" in message or "could not be verified" in message
    assert "/staff/login/second-factor/" in page.url
    assert violations == []
