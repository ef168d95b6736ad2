"""Shared fixtures of the audit tests: staff accounts and the canary of personal data."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from gathering.audit.models import AuditEvent
from gathering.core.testing.staff import sign_in_staff

PASSWORD = "audit-test-password-42"
# Personal data put in the objects staff read: it must appear in no audit event.
CANARY_NAME = "Zebulon Canaryfield"
CANARY_EMAIL = "zebulon.canary@canary-mail.example"


def make_user(django_user_model: Any, username: str, role: str | None = "organiser") -> Any:
    user = django_user_model.objects.create_user(username, password=PASSWORD, is_staff=True)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def organiser(django_user_model: Any) -> Any:
    return make_user(django_user_model, "olga", "organiser")


@pytest.fixture
def organiser_client(organiser: Any) -> Client:
    client = Client(REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT="AuditTest/1.0")
    sign_in_staff(client, organiser)
    return client


def mark() -> int:
    """The newest event's id now (0 if none): events are never deleted, so tests look at the
    events written after a mark."""
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    return last or 0


def since(start: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(pk__gt=start).order_by("pk"))


def assert_no_canary() -> None:
    """No audit event holds the canary name or email in any column."""
    for event in AuditEvent.objects.all():
        for field in AuditEvent._meta.concrete_fields:
            value = str(getattr(event, field.attname) or "")
            for canary in (CANARY_NAME, CANARY_EMAIL, "Zebulon", "canary-mail"):
                assert canary not in value, (field.name, value)
