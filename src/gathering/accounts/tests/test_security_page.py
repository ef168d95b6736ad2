"""Each staff member's security page: replacing the authenticator app, new recovery codes,
security keys, and the recent second factor these changes need. The WebAuthn endpoints against
hostile input (the real ceremony runs in test_webauthn_browser.py)."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from django.test import Client
from freezegun import freeze_time
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

from gathering.accounts import totp
from gathering.accounts.models import RecoveryCode, TotpDevice, WebAuthnCredential
from gathering.accounts.tests.conftest import SECURITY, VERIFY, actions_since, mark, password_step
from gathering.audit.models import AuditEvent
from gathering.core.testing.staff import sign_in_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client: Client, staff: Any, secret: str) -> Client:
    sign_in_staff(client, staff)
    return client


def _credential_id(name: str) -> str:
    return bytes_to_base64url(f"id-{name}".encode())


def _key(user: Any, name: str = "blue key") -> WebAuthnCredential:
    return WebAuthnCredential.objects.create(
        user=user, name=name, credential_id=_credential_id(name), public_key=b"\x01"
    )


def test_the_page_shows_the_factors_without_secrets(
    signed_in: Client, staff: Any, secret: str
) -> None:
    _key(staff, "کلید\u200cآبی")
    page = signed_in.get(SECURITY)
    assert page.status_code == 200
    html = page.content.decode()
    assert "کلید\u200cآبی" in html and secret not in html
    assert "0 unused recovery codes left" in html
    assert 'data-webauthn="register"' in html
    assert page["Cache-Control"].startswith("max-age=0") or "no-store" in page["Cache-Control"]


def test_the_admin_links_to_the_security_page(signed_in: Client) -> None:
    assert f'href="{SECURITY}"' in signed_in.get("/admin/").content.decode()


def test_new_recovery_codes_replace_the_old_ones(signed_in: Client, staff: Any) -> None:
    start = mark()
    first = signed_in.post("/staff/security/recovery-codes/")
    assert first.status_code == 200
    old = re.findall(r"<code>([A-Z2-9-]{11})</code>", first.content.decode())
    second = signed_in.post("/staff/security/recovery-codes/")
    new = re.findall(r"<code>([A-Z2-9-]{11})</code>", second.content.decode())
    assert len(old) == len(new) == 10 and not set(old) & set(new)
    assert RecoveryCode.objects.filter(user=staff).count() == 10
    assert actions_since(start) == ["second_factor.recovery_codes_generated"] * 2
    other = Client()
    password_step(other, "staffer")
    assert other.post(VERIFY, {"code": old[0]}).status_code == 400
    assert other.post(VERIFY, {"code": new[0]}).status_code == 302


def test_replacing_the_authenticator_app(signed_in: Client, staff: Any, secret: str) -> None:
    page = signed_in.get("/staff/security/authenticator/")
    assert page.status_code == 200
    new_secret = TotpDevice.objects.get(user=staff, confirmed_at__isnull=True).secret
    assert new_secret != secret
    # Until confirmed, the old app still signs in.
    wrong = signed_in.post("/staff/security/authenticator/", {"code": totp.current_code(secret)})
    assert wrong.status_code == 400
    start = mark()
    done = signed_in.post("/staff/security/authenticator/", {"code": totp.current_code(new_secret)})
    assert done.status_code == 200  # the recovery codes: the account had none
    assert len(re.findall(r"<code>", done.content.decode())) == 10
    assert actions_since(start) == [
        "second_factor.totp_replaced",
        "second_factor.recovery_codes_generated",
    ]
    assert list(TotpDevice.objects.filter(user=staff).values_list("secret", flat=True)) == [
        new_secret
    ]


def test_removing_a_security_key(signed_in: Client, staff: Any, django_user_model: Any) -> None:
    key = _key(staff)
    someone_else = _key(django_user_model.objects.create_user("other", is_staff=True), "theirs")
    start = mark()
    response = signed_in.post(f"/staff/security/keys/{key.pk}/remove/")
    assert response.status_code == 302
    assert not WebAuthnCredential.objects.filter(pk=key.pk).exists()
    assert actions_since(start) == ["second_factor.key_removed"]
    assert AuditEvent.objects.get(pk__gt=start).object_id == str(key.pk)
    # Another account's key, an unknown one, a huge id: nothing removed, a message, no 500.
    for pk in (someone_else.pk, 999999, "99999999999999999999999"):
        answer = signed_in.post(f"/staff/security/keys/{pk}/remove/")
        assert answer.status_code in {302, 404}
    assert WebAuthnCredential.objects.filter(pk=someone_else.pk).exists()
    assert signed_in.get(f"/staff/security/keys/{key.pk}/remove/").status_code == 405


def test_changes_need_a_second_factor_from_the_last_ten_minutes(
    client: Client, staff: Any, secret: str
) -> None:
    key = None
    with freeze_time("2027-06-27 10:00:00") as frozen:
        sign_in_staff(client, staff)
        key = _key(staff)
        frozen.tick(dt.timedelta(minutes=10, seconds=1))
        page = client.get(SECURITY)
        assert page.status_code == 200
        html = page.content.decode()
        assert "confirm it is you first" in html and 'data-webauthn="register"' not in html
        for url in (
            "/staff/security/recovery-codes/",
            f"/staff/security/keys/{key.pk}/remove/",
            "/staff/security/authenticator/",
        ):
            response = client.post(url)
            assert response.status_code == 302, url
            assert response["Location"].startswith(VERIFY)
        assert client.get("/staff/security/authenticator/")["Location"].startswith(VERIFY)
        options = client.post("/staff/security/keys/options/", content_type="application/json")
        assert options.status_code == 403 and "confirm it is you" in options.json()["detail"]
        assert WebAuthnCredential.objects.filter(pk=key.pk).exists()
        assert not RecoveryCode.objects.exists()

        # Confirming with the app again opens them for ten minutes.
        frozen.tick(dt.timedelta(seconds=30))
        back = client.post(VERIFY, {"code": totp.current_code(secret), "next": SECURITY})
        assert back["Location"] == SECURITY
        assert 'data-webauthn="register"' in client.get(SECURITY).content.decode()
        assert client.post(f"/staff/security/keys/{key.pk}/remove/").status_code == 302
        assert not WebAuthnCredential.objects.filter(pk=key.pk).exists()


def test_registration_options_name_this_host_and_exclude_known_keys(
    signed_in: Client, staff: Any
) -> None:
    _key(staff)
    response = signed_in.post(
        "/staff/security/keys/options/",
        content_type="application/json",
        headers={"host": "localhost:8000"},
    )
    assert response.status_code == 200
    options = response.json()
    assert options["rp"]["id"] == "localhost"
    assert options["user"]["name"] == "staffer"
    # An opaque handle of 16 bytes, neither the username nor the database id.
    assert len(base64url_to_bytes(options["user"]["id"])) == 16
    assert base64url_to_bytes(options["user"]["id"]) not in {b"staffer", str(staff.pk).encode()}
    assert [item["id"] for item in options["excludeCredentials"]] == [_credential_id("blue key")]
    assert len(base64url_to_bytes(options["challenge"])) >= 32


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]"])
def test_security_keys_are_not_offered_at_an_ip_address(
    signed_in: Client, staff: Any, host: str
) -> None:
    _key(staff)
    page = signed_in.get(SECURITY, headers={"host": host})
    assert 'data-webauthn="register"' not in page.content.decode()
    assert "not by an IP address" in page.content.decode()
    response = signed_in.post(
        "/staff/security/keys/options/", content_type="application/json", headers={"host": host}
    )
    assert response.status_code == 400


HOSTILE_BODIES = [
    b"",
    b"not json",
    b"[]",
    b'"a string"',
    b"{}",
    b'{"name": "k", "credential": null}',
    b'{"name": "k", "credential": "x"}',
    b'{"name": "k", "credential": {"id": "x", "rawId": "x", "response": {}, "type": "public-key"}}',
    b'{"name": "k", "credential": {"id": "%%%", "rawId": "%%%", "type": "public-key", '
    b'"response": {"clientDataJSON": "%%%", "attestationObject": "@@@"}}}',
    b'{"name": ["k"], "credential": {}}',
    b'{"name": "' + b"k" * 100 + b'", "credential": {}}',
    b'{"name": "\\u202ekey", "credential": {}}',
    b"\xff\xfe\x00garbage",
    b'{"name": "k", "credential": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    b'{"name": "k", "credential": {"id": "' + b"A" * 70000 + b'"}}',
]


@pytest.mark.parametrize("body", HOSTILE_BODIES)
def test_hostile_key_registrations_are_refused_in_json(
    signed_in: Client, staff: Any, body: bytes
) -> None:
    signed_in.post("/staff/security/keys/options/", content_type="application/json")
    response = signed_in.post("/staff/security/keys/", body, content_type="application/json")
    assert 400 <= response.status_code < 500
    assert isinstance(response.json()["detail"], str) and response.json()["detail"]
    assert not WebAuthnCredential.objects.exists()


@pytest.mark.parametrize("body", HOSTILE_BODIES)
def test_hostile_key_sign_ins_are_refused_in_json(
    client: Client, staff: Any, secret: str, body: bytes
) -> None:
    _key(staff)
    password_step(client, "staffer")
    options = client.post(
        "/staff/login/second-factor/key/options/", content_type="application/json"
    )
    assert options.status_code == 200
    response = client.post("/staff/login/second-factor/key/", body, content_type="application/json")
    assert 400 <= response.status_code < 500
    assert response.json()["detail"]
    assert client.get("/admin/")["Location"].startswith(VERIFY)


def test_a_key_answer_without_a_challenge_is_refused_and_counted(
    client: Client, staff: Any, secret: str
) -> None:
    _key(staff)
    password_step(client, "staffer")
    start = mark()
    key_id = _credential_id("blue key")
    body = {"credential": {"id": key_id, "rawId": key_id, "response": {}, "type": "public-key"}}
    response = client.post(
        "/staff/login/second-factor/key/", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400
    assert "could not be verified" in response.json()["detail"]
    assert actions_since(start) == ["sign_in_second_factor_failed"]


def test_a_duplicate_key_name_is_refused_before_the_ceremony(signed_in: Client, staff: Any) -> None:
    _key(staff, "blue key")
    signed_in.post("/staff/security/keys/options/", content_type="application/json")
    response = signed_in.post(
        "/staff/security/keys/",
        json.dumps({"name": "  blue key ", "credential": {}}),
        content_type="application/json",
    )
    assert response.status_code == 409
    assert "already have a security key with this name" in response.json()["detail"]
    assert WebAuthnCredential.objects.count() == 1
