"""The two steps of staff sign-in through the real pages: password, then second factor (or its
forced set-up), and what each step records."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client
from freezegun import freeze_time

from gathering.accounts import recovery, services, totp
from gathering.accounts.models import RecoveryCode, TotpDevice
from gathering.accounts.session import SECOND_FACTOR_SESSION_KEY
from gathering.accounts.tests.conftest import (
    ENROL,
    VERIFY,
    actions_since,
    make_staff,
    mark,
    password_step,
)
from gathering.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def _codes_on(page: Any) -> list[str]:
    return re.findall(r"<code>([A-Z2-9]{5}-[A-Z2-9]{5})</code>", page.content.decode())


def test_the_password_step_leads_to_the_second_factor_and_keeps_next(
    client: Client, staff: Any, secret: str
) -> None:
    response = password_step(client, "staffer", next="/en/staff/audit/")
    assert response.status_code == 302
    assert response["Location"] == f"{VERIFY}?next={quote('/en/staff/audit/', safe='')}"
    assert SECOND_FACTOR_SESSION_KEY not in client.session
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert 'name="code"' in page.content.decode()
    assert 'autocomplete="one-time-code"' in page.content.decode()

    start = mark()
    done = client.post(VERIFY, {"code": totp.current_code(secret), "next": "/en/staff/audit/"})
    assert done.status_code == 302
    assert done["Location"] == "/en/staff/audit/"
    assert isinstance(client.session[SECOND_FACTOR_SESSION_KEY], int)
    assert client.get("/en/staff/audit/").status_code == 200
    assert actions_since(start) == ["sign_in_second_factor"]
    assert AuditEvent.objects.get(pk__gt=start).summary == "method=totp"


def test_completing_the_second_factor_gives_the_session_a_new_key(
    client: Client, staff: Any, secret: str
) -> None:
    password_step(client, "staffer")
    before = client.session.session_key
    client.post(VERIFY, {"code": totp.current_code(secret)})
    assert client.session.session_key != before
    assert client.get("/admin/").status_code == 200


def test_an_outside_next_is_ignored(client: Client, staff: Any, secret: str) -> None:
    password_step(client, "staffer")
    done = client.post(VERIFY, {"code": totp.current_code(secret), "next": "https://evil.example/"})
    assert done["Location"] == "/admin/"


def test_a_code_cannot_be_used_twice(client: Client, staff: Any, secret: str) -> None:
    code = totp.current_code(secret)
    password_step(client, "staffer")
    assert client.post(VERIFY, {"code": code}).status_code == 302

    other = Client()
    password_step(other, "staffer")
    again = other.post(VERIFY, {"code": code})
    assert again.status_code == 400
    assert "This code is not valid" in again.content.decode()
    assert SECOND_FACTOR_SESSION_KEY not in other.session


def test_a_code_of_the_previous_step_works_but_not_older(
    client: Client, staff: Any, secret: str
) -> None:
    with freeze_time("2027-06-27 10:00:10"):
        moment = time.time()
        password_step(client, "staffer")
        older = totp.current_code(secret, moment=moment - 65)
        window = {totp.current_code(secret, moment=moment + d * 30) for d in (-1, 0, 1)}
        if older not in window:  # (one chance in 300,000 that it is in the window too)
            assert client.post(VERIFY, {"code": older}).status_code == 400
        previous = totp.current_code(secret, moment=moment - 30)
        assert client.post(VERIFY, {"code": previous}).status_code == 302


@pytest.mark.parametrize(
    "typed",
    [
        lambda code: code.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")),
        lambda code: code.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")),
        lambda code: f" {code[:3]} {code[3:]} ",
        lambda code: f"{code[:3]}-{code[3:]}",
    ],
    ids=["persian", "arabic-indic", "spaced", "hyphen"],
)
def test_codes_typed_in_persian_digits_or_with_spaces_are_accepted(
    client: Client, staff: Any, secret: str, typed: Any
) -> None:
    password_step(client, "staffer")
    response = client.post(VERIFY, {"code": typed(totp.current_code(secret))})
    assert response.status_code == 302, response.content.decode()[:500]


@pytest.mark.parametrize(
    "garbage",
    [
        "000000x",
        "not a code",
        "<script>alert(1)</script>",
        "' OR 1=1 --",
        "9" * 64,
        "\u202e123456",
        "\uff11\uff12\uff13",
        "ABCDE-FGHJK",  # a well-formed recovery code that is not one
    ],
)
def test_garbage_codes_are_refused_clearly_and_counted(
    client: Client, staff: Any, secret: str, garbage: str
) -> None:
    password_step(client, "staffer")
    start = mark()
    response = client.post(VERIFY, {"code": garbage})
    assert response.status_code == 400
    html = response.content.decode()
    assert "This code is not valid" in html
    assert "<script>alert(1)</script>" not in html
    assert SECOND_FACTOR_SESSION_KEY not in client.session
    assert actions_since(start) == ["sign_in_second_factor_failed"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"code": ""}, "This field is required"),
        ({}, "This field is required"),
        ({"code": "1" * 65}, "at most 64 characters"),
        ({"code": "12\x0034"}, "Null characters are not allowed"),
    ],
)
def test_malformed_posts_are_form_errors_not_counted(
    client: Client, staff: Any, secret: str, data: dict[str, str], message: str
) -> None:
    password_step(client, "staffer")
    start = mark()
    response = client.post(VERIFY, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert actions_since(start) == []


def test_a_persian_page_explains_the_error_in_persian(
    client: Client, staff: Any, secret: str
) -> None:
    password_step(client, "staffer")
    response = client.post(VERIFY, {"code": "000000x"}, headers={"accept-language": "fa"})
    assert response.status_code == 400
    assert 'lang="fa"' in response.content.decode()


def test_a_recovery_code_works_once(client: Client, staff: Any, secret: str) -> None:
    codes = services.regenerate_recovery_codes(None, user=staff)  # type: ignore[arg-type]
    password_step(client, "staffer")
    start = mark()
    response = client.post(VERIFY, {"code": codes[3].lower().replace("-", " ")})
    assert response.status_code == 302
    assert actions_since(start) == ["second_factor.recovery_code_used", "sign_in_second_factor"]
    used = AuditEvent.objects.filter(action="second_factor.recovery_code_used").get()
    assert used.summary == "left=9" and used.actor == staff
    assert RecoveryCode.objects.filter(user=staff, used_at__isnull=False).count() == 1

    other = Client()
    password_step(other, "staffer")
    again = other.post(VERIFY, {"code": codes[3]})
    assert again.status_code == 400
    assert other.post(VERIFY, {"code": codes[4]}).status_code == 302


def test_recovery_codes_are_stored_as_keyed_hashes_only(staff: Any) -> None:
    codes = services.regenerate_recovery_codes(None, user=staff)  # type: ignore[arg-type]
    stored = set(RecoveryCode.objects.filter(user=staff).values_list("code_hash", flat=True))
    assert stored == {recovery.hash_code(code) for code in codes}
    for code in codes:
        assert code.replace("-", "") not in str(stored)


def test_the_totp_secret_is_encrypted_at_rest(staff: Any, secret: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM accounts_totpdevice WHERE user_id = %s", [staff.pk])
        (stored,) = cursor.fetchone()
    assert stored.startswith("pii1:") and secret not in stored
    assert TotpDevice.objects.get(user=staff).secret == secret


# --- forced set-up -------------------------------------------------------------------------


@freeze_time("2027-06-27 10:00:05")  # one TOTP step throughout
def test_an_account_without_second_factor_sets_up_an_app_then_gets_recovery_codes(
    client: Client, django_user_model: Any
) -> None:
    user = make_staff(django_user_model, "newcomer")
    response = password_step(client, "newcomer", next="/en/staff/audit/")
    verify = client.get(response["Location"])
    assert verify.status_code == 302
    assert verify["Location"].startswith(ENROL)
    page = client.get(verify["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html and 'class="qr"' in html
    assert "style=" not in html.split("<svg", 1)[1].split("</svg>", 1)[0]
    shown = re.search(r"data-totp-secret>([A-Z2-7 ]+)<", html).group(1).replace(" ", "")
    device = TotpDevice.objects.get(user=user)
    assert device.secret == shown and device.confirmed_at is None
    # Reloading keeps the same secret (a code scanned already still works).
    assert shown in client.get(verify["Location"]).content.decode().replace(" ", "")

    wrong = client.post(ENROL, {"code": "12345", "next": "/en/staff/audit/"})
    assert wrong.status_code == 400
    assert "Enter the 6 digits your app shows" in wrong.content.decode()

    start = mark()
    code = totp.current_code(shown).translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    done = client.post(ENROL, {"code": code, "next": "/en/staff/audit/"})
    assert done.status_code == 200
    codes = _codes_on(done)
    assert len(codes) == 10
    assert 'href="/en/staff/audit/"' in done.content.decode()
    assert actions_since(start) == [
        "second_factor.totp_enrolled",
        "second_factor.recovery_codes_generated",
        "sign_in_second_factor",
    ]
    assert client.get("/en/staff/audit/").status_code == 200
    device.refresh_from_db()
    assert device.confirmed_at is not None
    # The codes work (once), and the app's code of this step cannot be replayed.
    again = Client()
    password_step(again, "newcomer")
    assert again.post(VERIFY, {"code": totp.current_code(shown)}).status_code == 400
    assert again.post(VERIFY, {"code": codes[0]}).status_code == 302


def test_an_enrolled_account_cannot_reach_the_set_up_page(
    client: Client, staff: Any, secret: str
) -> None:
    password_step(client, "staffer")
    response = client.get(ENROL)
    assert response.status_code == 302 and response["Location"].startswith(VERIFY)
    # ... so nobody who has only the password can add their own authenticator.
    assert client.post(ENROL, {"code": "123456"}).status_code == 302
    assert TotpDevice.objects.filter(user=staff).count() == 1


def test_signing_in_again_asks_for_the_second_factor_again(
    client: Client, staff: Any, secret: str
) -> None:
    password_step(client, "staffer")
    client.post(VERIFY, {"code": totp.current_code(secret)})
    assert SECOND_FACTOR_SESSION_KEY in client.session
    client.post("/staff/logout/")
    password_step(client, "staffer")
    assert SECOND_FACTOR_SESSION_KEY not in client.session


def test_sign_out_is_reachable_before_the_second_factor(
    client: Client, staff: Any, secret: str
) -> None:
    password_step(client, "staffer")
    response = client.post("/staff/logout/")
    assert response.status_code == 302 and response["Location"] == "/staff/login/"
    assert "_auth_user_id" not in client.session


def test_the_second_factor_pages_need_a_staff_sign_in(
    client: Client, django_user_model: Any
) -> None:
    for url in (VERIFY, ENROL, "/staff/security/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/staff/login/")
    visitor = django_user_model.objects.create_user("visitor", password="x" * 20)
    client.force_login(visitor)
    assert client.get(VERIFY).status_code == 403
    assert client.get(ENROL).status_code == 403


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("", "This field is required"),
        ("12345", "Enter the 6 digits your app shows"),
        ("1234567", "Enter the 6 digits your app shows"),
        ("abcdef", "Enter the 6 digits your app shows"),
        # Superscript digits fold to digits (NFKC): a wrong code, said so.
        ("\u00b2\u00b3\u2074\u2075\u2076\u2077", "This code is not valid"),
        ("1" * 65, "at most 64 characters"),
        ("12\x003456", "Null characters are not allowed"),
        ("000000", "This code is not valid"),
    ],
)
@freeze_time("2027-06-27 10:00:05")
def test_hostile_set_up_codes_are_refused_clearly(
    client: Client, django_user_model: Any, code: str, message: str
) -> None:
    user = make_staff(django_user_model, "newcomer")
    password_step(client, "newcomer")
    client.get(ENROL)
    secret = TotpDevice.objects.get(user=user).secret
    if code == "000000" and totp.current_code(secret) == code:
        code = "000001"  # (one chance in a million)
    response = client.post(ENROL, {"code": code})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert TotpDevice.objects.get(user=user).confirmed_at is None
    assert not RecoveryCode.objects.exists()
    assert SECOND_FACTOR_SESSION_KEY not in client.session


@freeze_time("2027-06-27 10:00:05")
def test_a_second_confirmation_of_the_set_up_changes_nothing(
    client: Client, django_user_model: Any
) -> None:
    user = make_staff(django_user_model, "newcomer")
    password_step(client, "newcomer")
    client.get(ENROL)
    secret = TotpDevice.objects.get(user=user).secret
    code = totp.current_code(secret)
    assert client.post(ENROL, {"code": code}).status_code == 200
    again = client.post(ENROL, {"code": code})
    assert again.status_code == 302 and again["Location"].startswith(VERIFY)
    assert TotpDevice.objects.filter(user=user).count() == 1
    assert RecoveryCode.objects.filter(user=user).count() == 10
