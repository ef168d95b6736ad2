"""The trail is append-only for the application: the model, the back office and the database
(triggers on SQLite and PostgreSQL) all refuse to change or delete an event."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client

from gathering.audit import services
from gathering.audit.errors import AppendOnlyError
from gathering.audit.models import AuditEvent
from gathering.audit.tests.conftest import PASSWORD, make_user
from gathering.core.testing.staff import sign_in_staff

pytestmark = pytest.mark.django_db


def event() -> AuditEvent:
    return services.record(None, action="test.event", object_type="x.y", object_id="1")


def test_saving_an_existing_event_is_refused() -> None:
    stored = event()
    stored.summary = "rewritten"
    with pytest.raises(AppendOnlyError):
        stored.save()
    assert AuditEvent.objects.get(pk=stored.pk).summary == ""


def test_deleting_an_event_is_refused() -> None:
    stored = event()
    with pytest.raises(AppendOnlyError):
        stored.delete()
    assert AuditEvent.objects.filter(pk=stored.pk).exists()


def test_queryset_update_is_refused_by_the_database() -> None:
    stored = event()
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=stored.pk).update(summary="rewritten")
    assert AuditEvent.objects.get(pk=stored.pk).summary == ""


def test_raw_sql_update_and_delete_are_refused_by_the_database() -> None:
    """Runs on whichever database the tests use: SQLite, or PostgreSQL with DATABASE_URL."""
    assert connection.vendor in {"sqlite", "postgresql"}
    stored = event()
    table = AuditEvent._meta.db_table
    for sql in (
        f"UPDATE {table} SET action = 'forged' WHERE id = %s",  # noqa: S608
        f"UPDATE {table} SET actor_username = 'x', actor_id = NULL WHERE id = %s",  # noqa: S608
        f"DELETE FROM {table} WHERE id = %s",  # noqa: S608
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [stored.pk])
    stored_again = AuditEvent.objects.get(pk=stored.pk)
    assert stored_again.action == "test.event"


def test_deleting_a_user_keeps_their_events_with_the_username(django_user_model: Any) -> None:
    # The one UPDATE let through: the account's link set to NULL, nothing else.
    user = make_user(django_user_model, "leaving", None)
    stored = services.record(None, action="test.event", actor=user)
    user.delete()
    stored = AuditEvent.objects.get(pk=stored.pk)
    assert stored.actor_id is None
    assert stored.actor_username == "leaving"


@pytest.mark.django_db(transaction=True)
def test_flush_still_empties_the_database() -> None:
    # Tests in transactions flush after each test: with an event present, that must work.
    event()
    call_command("flush", interactive=False, verbosity=0)
    assert not AuditEvent.objects.exists()


def test_the_back_office_offers_no_add_change_or_delete(django_user_model: Any) -> None:
    superuser = django_user_model.objects.create_superuser("root", password=PASSWORD)
    stored = event()
    client = Client()
    sign_in_staff(client, superuser)
    assert client.get("/admin/audit/auditevent/").status_code == 200
    assert client.get("/admin/audit/auditevent/add/").status_code == 403
    change = client.get(f"/admin/audit/auditevent/{stored.pk}/change/")
    assert change.status_code == 200
    assert b'name="_save"' not in change.content
    assert (
        client.post(f"/admin/audit/auditevent/{stored.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert AuditEvent.objects.filter(pk=stored.pk).exists()
    # No role may be granted these: the model has the view permission only.
    codenames = set(
        Permission.objects.filter(
            content_type__app_label="audit", content_type__model="auditevent"
        ).values_list("codename", flat=True)
    )
    assert codenames == {"view_auditevent"}
