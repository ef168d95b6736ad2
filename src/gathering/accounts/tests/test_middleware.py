"""The staff session middleware: a password-only session reaches nothing but the second-factor
pages, sign-out and static files; idle and absolute time-outs end sessions."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

import pytest
from django.contrib.sessions.models import Session
from django.test import Client, override_settings
from freezegun import freeze_time

from gathering.accounts.session import (
    LAST_SEEN_SESSION_KEY,
    SECOND_FACTOR_SESSION_KEY,
    SIGNED_IN_AT_SESSION_KEY,
)
from gathering.accounts.tests.conftest import LOGIN, VERIFY, actions_since, mark, password_step
from gathering.core.testing.staff import sign_in_staff

pytestmark = pytest.mark.django_db

STAFF_PAGES = [
    "/admin/",
    "/admin/program/session/",
    "/en/staff/audit/",
    "/staff/security/",
    "/fa/2027/",  # public pages too: the session must finish signing in first
]
API = ["/api/checkin/2027/gates", "/api/checkin/2027/bundle", "/api/editions"]


@pytest.fixture
def pending(client: Client, staff: Any, secret: str) -> Client:
    """A session that passed the password step only."""
    assert password_step(client, "staffer").status_code == 302
    assert SECOND_FACTOR_SESSION_KEY not in client.session
    return client


@pytest.mark.parametrize("url", STAFF_PAGES)
def test_a_password_only_session_is_sent_to_the_second_factor(pending: Client, url: str) -> None:
    for headers in ({}, {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}):
        response = pending.get(url, headers=headers)
        assert response.status_code == 302, url
        assert response["Location"] == f"{VERIFY}?next={quote(url, safe='')}"
    # A form post too: nothing is done.
    assert pending.post(url, {"anything": "1"})["Location"].startswith(VERIFY)


@pytest.mark.parametrize("url", API)
def test_a_password_only_session_gets_403_json_from_the_api(pending: Client, url: str) -> None:
    response = pending.get(url)
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Complete the two-factor sign-in first."}


def test_a_script_asking_for_json_gets_403_json(pending: Client) -> None:
    response = pending.post("/en/staff/audit/", headers={"accept": "application/json"})
    assert response.status_code == 403 and "two-factor" in response.json()["detail"]


def test_a_password_only_session_reaches_sign_in_pages_static_and_sign_out(
    pending: Client,
) -> None:
    assert pending.get(VERIFY).status_code == 200
    # The password page sends it on to the second factor rather than looping.
    assert pending.get(LOGIN)["Location"].startswith(VERIFY)
    script = pending.get("/static/accounts/webauthn.js")
    assert script.status_code == 200
    # Read to the end: the test client closes the file then.
    assert b"navigator.credentials" in b"".join(script.streaming_content)
    assert pending.post("/admin/logout/").status_code == 200  # the admin's "logged out" page
    assert "_auth_user_id" not in pending.session


def test_with_the_second_factor_the_same_pages_open(client: Client, staff: Any) -> None:
    sign_in_staff(client, staff)
    for url in ("/admin/", "/en/staff/audit/", "/staff/security/"):
        assert client.get(url).status_code == 200, url


def test_force_login_alone_is_a_password_only_session(client: Client, staff: Any) -> None:
    client.force_login(staff)
    assert client.get("/admin/")["Location"].startswith(VERIFY)


def test_accounts_without_staff_status_are_not_gated(
    client: Client, django_user_model: Any
) -> None:
    visitor = django_user_model.objects.create_user("visitor", password="x" * 20)
    client.force_login(visitor)
    assert client.get("/en/").status_code in {200, 302}
    assert not client.get("/en/").get("Location", "").startswith(VERIFY)


# --- time-outs ------------------------------------------------------------------------------


def test_an_idle_session_ends_after_thirty_minutes(client: Client, staff: Any) -> None:
    with freeze_time("2027-06-27 10:00:00") as frozen:
        sign_in_staff(client, staff)
        key = client.session.session_key
        frozen.tick(dt.timedelta(minutes=29))
        assert client.get("/admin/").status_code == 200
        frozen.tick(dt.timedelta(minutes=29))  # 58 minutes in, 29 idle: still there
        assert client.get("/admin/").status_code == 200
        frozen.tick(dt.timedelta(minutes=30, seconds=1))
        start = mark()
        response = client.get("/admin/program/")
        assert response.status_code == 302
        assert response["Location"] == f"{LOGIN}?next={quote('/admin/program/', safe='')}"
        assert not Session.objects.filter(session_key=key).exists()
        assert actions_since(start) == ["account.session_timeout", "sign_out"]
        page = client.get(response["Location"])
        assert "ended after 30 minutes without activity" in page.content.decode()
        assert client.get("/admin/")["Location"].startswith("/admin/login/")


def test_a_session_ends_after_twelve_hours_however_active(client: Client, staff: Any) -> None:
    with freeze_time("2027-06-27 08:00:00") as frozen:
        sign_in_staff(client, staff)
        for _ in range(47):  # every 15 minutes for 11 h 45
            frozen.tick(dt.timedelta(minutes=15))
            assert client.get("/admin/").status_code == 200
        frozen.tick(dt.timedelta(minutes=15, seconds=1))
        response = client.get("/admin/")
        assert response["Location"].startswith(LOGIN)
        assert "a sign-in lasts at most 12 hours" in client.get(LOGIN).content.decode()


@override_settings(ACCOUNTS_IDLE_TIMEOUT=60, ACCOUNTS_ABSOLUTE_TIMEOUT=300)
def test_time_outs_follow_the_settings_and_answer_api_calls_in_json(
    client: Client, staff: Any
) -> None:
    with freeze_time("2027-06-27 10:00:00") as frozen:
        sign_in_staff(client, staff)
        frozen.tick(dt.timedelta(seconds=61))
        response = client.get("/api/checkin/2027/gates")
        assert response.status_code == 401
        assert "without activity" in response.json()["detail"]


def test_a_pending_session_times_out_too(pending: Client) -> None:
    with freeze_time() as frozen:
        frozen.tick(dt.timedelta(minutes=31))
        assert pending.get(VERIFY)["Location"].startswith(LOGIN)


def test_the_last_seen_time_is_written_at_most_once_a_minute(client: Client, staff: Any) -> None:
    with freeze_time("2027-06-27 10:00:00") as frozen:
        sign_in_staff(client, staff)
        first = client.session[LAST_SEEN_SESSION_KEY]
        frozen.tick(dt.timedelta(seconds=30))
        client.get("/admin/")
        assert client.session[LAST_SEEN_SESSION_KEY] == first
        frozen.tick(dt.timedelta(seconds=31))
        client.get("/admin/")
        assert client.session[LAST_SEEN_SESSION_KEY] == first + 61
        assert client.session[SIGNED_IN_AT_SESSION_KEY] == first


def test_a_session_without_clocks_gets_them_rather_than_an_error(
    client: Client, staff: Any
) -> None:
    sign_in_staff(client, staff)
    session = client.session
    del session[SIGNED_IN_AT_SESSION_KEY]
    session[LAST_SEEN_SESSION_KEY] = "garbage"
    session.save()
    assert client.get("/admin/").status_code == 200
    assert isinstance(client.session[SIGNED_IN_AT_SESSION_KEY], int)


def test_a_tampered_second_factor_flag_counts_as_missing(client: Client, staff: Any) -> None:
    client.force_login(staff)
    for value in (True, "1", 0, -5, None, [1]):
        session = client.session
        session[SECOND_FACTOR_SESSION_KEY] = value
        session.save()
        assert client.get("/admin/")["Location"].startswith(VERIFY), value
