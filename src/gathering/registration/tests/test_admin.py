"""Back office: who sees names, email search through the blind index, staff actions,
delegations by city; the housekeeping commands."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.urls import reverse

from gathering.core import crypto
from gathering.core.testing.staff import sign_in_staff
from gathering.registration import services
from gathering.registration.models import Category, Registration, Ticket
from gathering.registration.tests.factories import CategoryFactory, register_person, reload

pytestmark = pytest.mark.django_db

Status = Registration.Status


def staff(role: str) -> User:
    user = User.objects.create_user(f"{role}-user", password="a-long-staff-password-2027")
    user.is_staff = True
    user.save()
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def people(committed):
    category = CategoryFactory(capacity=1)
    with committed():
        first = register_person(category, name="Visible Name", email="desk@example.org")
        second = register_person(category, name="Waiting Name", email="wait@example.org")
    return category, first.registration, second.registration


def test_registration_desk_gets_no_list_of_registrations(client, people) -> None:
    sign_in_staff(client, staff("registration_desk"))

    for url in (
        reverse("admin:registration_registration_changelist"),
        reverse("admin:registration_registration_change", args=[people[1].pk]),
    ):
        response = client.get(url)
        assert response.status_code == 403
        assert "Visible Name" not in response.content.decode()


def test_organisers_see_names_and_find_people_by_email(client, people) -> None:
    _category, first, _second = people
    sign_in_staff(client, staff("organiser"))

    listing = client.get(reverse("admin:registration_registration_changelist"))
    assert listing.status_code == 200
    assert "Visible Name" in listing.content.decode()

    found = client.get(
        reverse("admin:registration_registration_changelist"), {"q": "  DESK@example.org "}
    )
    html = found.content.decode()
    assert "Visible Name" in html and "Waiting Name" not in html
    for hostile in ["<script>", "x" * 10_000, "%", "' OR 1=1 --"]:
        response = client.get(reverse("admin:registration_registration_changelist"), {"q": hostile})
        assert response.status_code == 200
        assert "Visible Name" not in response.content.decode()

    detail = client.get(reverse("admin:registration_registration_change", args=[first.pk]))
    assert detail.status_code == 200
    assert "desk@example.org" in detail.content.decode()


def test_gate_role_sees_tickets_but_no_registrations(client, people, committed, smtp_sink):

    with committed():
        services.confirm_email(token=smtp_sink.last_to("desk@example.org").token())
    sign_in_staff(client, staff("gate"))

    assert client.get(reverse("admin:registration_registration_changelist")).status_code == 403
    tickets = client.get(reverse("admin:registration_ticket_changelist"))
    assert tickets.status_code == 200
    html = tickets.content.decode()
    assert Ticket.objects.get().ticket_id in html
    assert "Visible Name" not in html and "desk@example.org" not in html


def test_staff_cancel_action_frees_the_place(client, people, committed, smtp_sink) -> None:
    _category, first, second = people
    sign_in_staff(client, staff("organiser"))
    with committed():
        response = client.post(
            reverse("admin:registration_registration_changelist"),
            {"action": "cancel_registrations", "_selected_action": [str(first.pk)]},
        )
    assert response.status_code == 302
    assert reload(first).status == Status.CANCELLED
    assert reload(first).cancel_reason == Registration.CancelReason.BY_STAFF
    assert reload(second).status == Status.OFFERED
    assert "/accept/" in smtp_sink.last_to("wait@example.org").text


def test_raising_capacity_in_the_admin_offers_places(client, people, committed) -> None:
    category, _first, second = people
    sign_in_staff(client, User.objects.create_superuser("root", password="a-long-password-2027"))
    url = reverse("admin:registration_category_change", args=[category.pk])
    assert client.get(url).status_code == 200
    data = {
        "edition": category.edition_id,
        "kind": category.kind,
        "slug": category.slug,
        "position": "0",
        "capacity": "2",
        "opens_at_0": category.opens_at.strftime("%Y-%m-%d"),
        "opens_at_1": category.opens_at.strftime("%H:%M:%S"),
        "closes_at_0": category.closes_at.strftime("%Y-%m-%d"),
        "closes_at_1": category.closes_at.strftime("%H:%M:%S"),
        "is_public": "on",
        "name_en": "Attendee",
        "gate_en": "Gate B",
        "questions-TOTAL_FORMS": "0",
        "questions-INITIAL_FORMS": "0",
    }
    with committed():
        response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Category.objects.get(pk=category.pk).capacity == 2
    assert reload(second).status == Status.OFFERED


def test_delegations_by_city_for_staff(client, committed) -> None:
    category = CategoryFactory(kind=Category.Kind.DELEGATION_MEMBER, is_public=False)
    with committed():
        leader = register_person(category, leader=True).registration
        services.create_delegation(
            leader=leader, city="Göteborg", country="SE", transport="coach", expected_size=30
        )
    sign_in_staff(client, staff("registration_desk"))
    response = client.get(
        reverse("admin:registration_delegation_changelist"),
        {"edition__id__exact": str(category.edition_id)},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Göteborg" in html and "Delegations by city" in html
    bad = client.get(
        reverse("admin:registration_delegation_changelist"), {"edition__id__exact": "x" * 500}
    )
    assert bad.status_code in (200, 302)


def test_expire_registrations_command(committed, people) -> None:
    _category, first, second = people
    later = reload(first).confirm_by + dt.timedelta(seconds=1)
    out = io.StringIO()
    with committed():
        call_command("expire_registrations", stdout=out)
    assert "0 offer(s) expired, 0 unconfirmed" in out.getvalue()

    with committed():
        assert services.expire_unconfirmed(at=later) == 1
    assert reload(second).status == Status.OFFERED


def test_rotate_pii_key_command(settings, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("PII_KEYS", raising=False)
    settings.DATA_DIR = tmp_path
    crypto.reset_keys()
    try:
        first = crypto.pii_keyring().current_id
        out = io.StringIO()
        call_command("rotate_pii_key", stdout=out)
        assert crypto.pii_keyring().current_id != first
        assert crypto.pii_keyring().current_id in out.getvalue()
    finally:
        crypto.reset_keys()
