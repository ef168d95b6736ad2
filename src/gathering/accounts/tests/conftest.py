"""Shared fixtures of the accounts tests: staff accounts, and clients at the sign-in pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from gathering.audit.models import AuditEvent
from gathering.core.testing.staff import enrol_totp

PASSWORD = "accounts-test-password-2027"
LOGIN = "/staff/login/"
VERIFY = "/staff/login/second-factor/"
ENROL = "/staff/login/set-up/"
SECURITY = "/staff/security/"
IP = "203.0.113.7"


def make_staff(django_user_model: Any, username: str, role: str | None = "organiser") -> Any:
    user = django_user_model.objects.create_user(username, password=PASSWORD, is_staff=True)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def password_step(client: Client, username: str, password: str = PASSWORD, **extra: Any) -> Any:
    return client.post(LOGIN, {"username": username, "password": password, **extra})


def actions_since(start: int) -> list[str]:
    return list(
        AuditEvent.objects.filter(pk__gt=start).order_by("pk").values_list("action", flat=True)
    )


def mark() -> int:
    return AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


@pytest.fixture(autouse=True)
def _quick_password_hashes(settings: Any) -> None:
    # The sign-in tests hash passwords many times: a slow hasher would only slow them down.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _urls_loaded() -> None:
    # Loaded before any test freezes the clock: the API's schemas (pydantic) must be built
    # with the real datetime class, not freezegun's.
    from django.urls import get_resolver

    assert get_resolver().url_patterns


@pytest.fixture
def staff(django_user_model: Any) -> Any:
    return make_staff(django_user_model, "staffer")


@pytest.fixture
def secret(staff: Any) -> str:
    """``staff`` with a confirmed authenticator app: its secret."""
    return enrol_totp(staff)


@pytest.fixture
def client() -> Client:
    return Client(REMOTE_ADDR=IP)
