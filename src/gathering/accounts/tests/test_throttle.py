"""Lock-out of an account name and throttling of an address after failed sign-ins, shared
through the database, with the same answer whether or not the account exists."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client, override_settings
from freezegun import freeze_time

from gathering.accounts import totp
from gathering.accounts.models import SignInThrottle
from gathering.accounts.session import SECOND_FACTOR_SESSION_KEY
from gathering.accounts.tests.conftest import (
    IP,
    LOGIN,
    PASSWORD,
    VERIFY,
    actions_since,
    make_staff,
    mark,
    password_step,
)
from gathering.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

LOCKED = "Too many failed attempts"
WRONG = "Please enter the correct username and password"


def _fail(client: Client, username: str, times: int) -> Any:
    response = None
    for _ in range(times):
        response = password_step(client, username, "wrong-password")
        assert response.status_code == 200
    return response


def test_five_failures_lock_the_account_for_fifteen_minutes(
    client: Client, staff: Any, secret: str
) -> None:
    with freeze_time("2027-06-27 10:00:00") as frozen:
        start = mark()
        fourth = _fail(client, "staffer", 4)
        assert WRONG in fourth.content.decode()
        fifth = _fail(client, "staffer", 1)
        assert LOCKED in fifth.content.decode()
        assert actions_since(start).count("sign_in_failed") == 5
        locked = AuditEvent.objects.get(pk__gt=start, action="sign_in_locked")
        assert locked.actor_username == "staffer"
        assert locked.summary == "scope=account; stage=password"
        assert str(locked.ip) == IP

        # The right password, even from elsewhere, is refused while the lock lasts.
        elsewhere = Client(REMOTE_ADDR="198.51.100.20")
        refused = password_step(elsewhere, "staffer")
        assert refused.status_code == 200
        assert LOCKED in refused.content.decode()
        assert "_auth_user_id" not in elsewhere.session

        frozen.tick(dt.timedelta(minutes=14, seconds=59))
        assert LOCKED in password_step(elsewhere, "staffer").content.decode()
        frozen.tick(dt.timedelta(seconds=2))
        assert password_step(elsewhere, "staffer").status_code == 302


def test_failures_spread_over_more_than_the_window_do_not_lock(client: Client, staff: Any) -> None:
    with freeze_time("2027-06-27 10:00:00") as frozen:
        _fail(client, "staffer", 4)
        frozen.tick(dt.timedelta(minutes=16))
        response = _fail(client, "staffer", 4)
        assert WRONG in response.content.decode()
        assert password_step(client, "staffer").status_code == 302


def test_only_a_complete_sign_in_clears_the_count(client: Client, staff: Any, secret: str) -> None:
    _fail(client, "staffer", 4)
    password_step(client, "staffer")
    # Not the password alone: else whoever knows it could try codes without end.
    client.post("/staff/logout/")
    assert LOCKED in _fail(client, "staffer", 1).content.decode()


def test_a_complete_sign_in_clears_the_count(client: Client, staff: Any, secret: str) -> None:
    _fail(client, "staffer", 4)
    password_step(client, "staffer")
    assert client.post(VERIFY, {"code": totp.current_code(secret)}).status_code == 302
    client.post("/staff/logout/")
    assert WRONG in _fail(client, "staffer", 4).content.decode()


def test_a_name_without_an_account_locks_the_same_way(client: Client, staff: Any) -> None:
    """No enumeration: the answers for a real and an invented name are the same, step by step."""
    real = [password_step(Client(), "staffer", "wrong").content for _ in range(6)]
    invented = [password_step(Client(), "nobody-here", "wrong").content for _ in range(6)]

    def normalised(page: bytes) -> str:
        import re

        text = page.decode().replace("staffer", "NAME").replace("nobody-here", "NAME")
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text)

    assert [normalised(page) for page in real] == [normalised(page) for page in invented]
    assert LOCKED in real[-1].decode()


def test_usernames_are_counted_case_insensitively(client: Client, staff: Any) -> None:
    for name in ("staffer", "STAFFER", "Staffer", "sTaffer", "staffeR"):
        password_step(client, name, "wrong")
    assert LOCKED in password_step(client, "staffer").content.decode()


@override_settings(ACCOUNTS_ADDRESS_FAILURES=8)
def test_one_address_is_throttled_across_account_names(
    client: Client, django_user_model: Any
) -> None:
    make_staff(django_user_model, "victim")
    start = mark()
    for number in range(8):
        password_step(client, f"guess-{number}", "wrong")
    assert actions_since(start).count("sign_in_locked") == 1
    assert AuditEvent.objects.get(action="sign_in_locked").summary == (
        "scope=address; stage=password"
    )
    refused = password_step(client, "victim")
    assert LOCKED in refused.content.decode()
    # Another address signs in as usual.
    assert password_step(Client(REMOTE_ADDR="198.51.100.21"), "victim").status_code == 302


@override_settings(ACCOUNTS_ADDRESS_FAILURES=3, TRUSTED_PROXIES=["10.0.0.0/8"])
def test_the_address_behind_a_trusted_proxy_is_the_clients(django_user_model: Any) -> None:
    make_staff(django_user_model, "victim")
    attacker = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.66")
    for number in range(3):
        password_step(attacker, f"guess-{number}", "wrong")
    honest = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.77")
    assert password_step(honest, "victim").status_code == 302
    assert LOCKED in password_step(attacker, "victim").content.decode()


@override_settings(ACCOUNTS_ADDRESS_FAILURES=3)
def test_an_ipv6_client_is_counted_by_its_slash_64(django_user_model: Any) -> None:
    make_staff(django_user_model, "victim")
    for number in range(3):
        password_step(Client(REMOTE_ADDR=f"2001:db8:1:2::{number + 1}"), "x", "wrong")
    same_network = Client(REMOTE_ADDR="2001:db8:1:2:ffff::9")
    assert LOCKED in password_step(same_network, "victim").content.decode()
    assert password_step(Client(REMOTE_ADDR="2001:db8:1:3::1"), "victim").status_code == 302


def test_second_factor_failures_count_and_end_the_pending_session(
    client: Client, staff: Any, secret: str
) -> None:
    with freeze_time("2027-06-27 10:00:05") as frozen:
        password_step(client, "staffer")
        start = mark()
        for _ in range(4):
            assert client.post(VERIFY, {"code": "000000x"}).status_code == 400
        fifth = client.post(VERIFY, {"code": "000000x"})
        assert fifth.status_code == 302 and fifth["Location"] == LOGIN
        assert "_auth_user_id" not in client.session
        assert actions_since(start) == [
            *["sign_in_second_factor_failed"] * 4,
            "sign_in_locked",
            "sign_in_second_factor_failed",
            "sign_out",
        ]
        page = client.get(LOGIN)
        assert LOCKED in page.content.decode()
        # The password step refuses the account too, then both work again after the lock.
        assert LOCKED in password_step(client, "staffer").content.decode()
        frozen.tick(dt.timedelta(minutes=15, seconds=1))
        password_step(client, "staffer")
        assert client.post(VERIFY, {"code": totp.current_code(secret)}).status_code == 302
        assert SECOND_FACTOR_SESSION_KEY in client.session


def test_a_lock_set_elsewhere_stops_the_second_factor_step(
    client: Client, staff: Any, secret: str
) -> None:
    password_step(client, "staffer")
    _fail(Client(REMOTE_ADDR="198.51.100.30"), "staffer", 5)
    response = client.post(VERIFY, {"code": totp.current_code(secret)})
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert SECOND_FACTOR_SESSION_KEY not in client.session


def test_counters_hold_no_username_or_address_in_clear(client: Client, staff: Any) -> None:
    _fail(client, "staffer", 2)
    rows = list(SignInThrottle.objects.values_list("scope", "hashed_key", "failures"))
    assert sorted((scope, failures) for scope, _key, failures in rows) == [
        ("account", 2),
        ("address", 2),
    ]
    for _scope, key, _failures in rows:
        assert "staffer" not in key and IP not in key and len(key) >= 32


def test_overlong_and_hostile_credentials_are_form_errors(client: Client, staff: Any) -> None:
    response = client.post(LOGIN, {"username": "s" * 10_000, "password": "p" * 10_000})
    assert response.status_code == 200
    assert WRONG in response.content.decode()
    response = client.post(LOGIN, {"username": "staffer\x00", "password": PASSWORD})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
