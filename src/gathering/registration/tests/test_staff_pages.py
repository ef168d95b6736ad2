"""The registration desk's look-up and the press officer's pages: one person at a time for the
desk (never a list), press accreditations only for the press officer, every look-up and view
recorded, and bad input answered with a message, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from gathering.audit.models import AuditEvent
from gathering.core.testing.staff import sign_in_staff
from gathering.program.tests.factories import EditionFactory
from gathering.registration import services, tokens
from gathering.registration.models import Category, Registration, Ticket
from gathering.registration.tests.factories import (
    CategoryFactory,
    QuestionFactory,
    register_person,
    reload,
)
from gathering.registration.tickets import ticket_code

pytestmark = pytest.mark.django_db

DESK = "/en/staff/desk/"
PRESS = "/en/staff/press/"


def staff(role: str | None, name: str | None = None) -> User:
    user = User.objects.create_user(name or f"{role}-user", password=None, is_staff=True)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def signed_in(role: str | None, name: str | None = None) -> Client:
    client = Client()
    sign_in_staff(client, staff(role, name))
    return client


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


def confirm(registration: Registration) -> Registration:
    """Confirm through the service, with a link token set here (no email needed)."""
    token = tokens.new_token()
    Registration.objects.filter(pk=registration.pk).update(
        manage_token_hash=tokens.hash_token(token)
    )
    return services.confirm_email(token=token)


@pytest.fixture
def world() -> dict[str, Any]:
    edition = EditionFactory(year=2031)
    attendee = CategoryFactory(edition=edition, slug="attendee")
    press = CategoryFactory(edition=edition, slug="press", kind=Category.Kind.PRESS)
    QuestionFactory(category=press, key="media-outlet")
    ali = register_person(attendee, name="Ali  Rezaei", email="ali@example.org").registration
    twin = register_person(attendee, name="ali rezaei", email="twin@example.org").registration
    reporter = register_person(
        press,
        name="Marie Reporter",
        email="marie@press.example",
        answers={"media-outlet": "Le Journal"},
    ).registration
    confirm(ali)
    confirm(reporter)
    return {
        "edition": edition,
        "ali": reload(ali),
        "twin": reload(twin),
        "reporter": reload(reporter),
        "press": press,
    }


# --- the desk --------------------------------------------------------------------------------


def look_up(client: Client, **data: Any) -> Any:
    return client.post(DESK, data)


def test_the_desk_finds_a_person_by_ticket_code_number_and_email(world) -> None:
    client = signed_in("registration_desk")
    ali = world["ali"]
    ticket = Ticket.objects.get(registration=ali)

    for code in (ticket.ticket_id, ticket.ticket_id.upper(), ticket_code(ticket), f"#{ali.pk}"):
        response = look_up(client, code=code)
        assert response.status_code == 200, code
        assert [m["registration"].pk for m in response.context["matches"]] == [ali.pk]
        assert "Ali Rezaei" in response.content.decode()

    response = look_up(client, code=" ALI@Example.org ", edition=str(world["edition"].pk))
    assert [m["registration"].pk for m in response.context["matches"]] == [ali.pk]
    # The email is shown masked: the desk checks it with the person, it does not copy it.
    html = response.content.decode()
    assert "ali@example.org" not in html


def test_a_name_matches_whole_and_in_one_edition_only(world) -> None:
    client = signed_in("registration_desk")
    edition = str(world["edition"].pk)

    both = look_up(client, name="  ALI   rezaei ", edition=edition)
    assert {m["registration"].pk for m in both.context["matches"]} == {
        world["ali"].pk,
        world["twin"].pk,
    }
    assert look_up(client, name="Ali", edition=edition).context["matches"] == []
    other = EditionFactory(year=2032)
    assert look_up(client, name="Ali Rezaei", edition=str(other.pk)).context["matches"] == []


def test_a_look_up_matching_more_than_five_people_shows_nobody(world) -> None:
    category = world["ali"].category
    for n in range(5):
        register_person(category, name="Sara Common", email=f"sara{n}@example.org")
    client = signed_in("registration_desk")

    five = look_up(client, name="sara common", edition=str(world["edition"].pk))
    assert len(five.context["matches"]) == 5

    register_person(category, name="Sara Common", email="sara6@example.org")
    six = look_up(client, name="sara common", edition=str(world["edition"].pk))
    assert six.status_code == 200
    assert six.context["matches"] == []
    assert six.context["result"].too_many
    html = six.content.decode()
    assert "Sara Common" not in html
    assert "ask for their ticket code" in html


def test_each_look_up_and_each_view_is_recorded_without_the_value(world) -> None:
    client = signed_in("registration_desk")
    ali = world["ali"]

    look_up(client, name="Ali Rezaei", edition=str(world["edition"].pk))
    look_up(client, code="nobody@example.org", edition=str(world["edition"].pk))
    assert client.get(reverse("registration:desk-registration", args=[ali.pk])).status_code == 200

    lookups = events("registration.lookup")
    assert [event.summary for event in lookups] == [
        "by=name edition=2031 matches=2",
        "by=email edition=2031 matches=0",
    ]
    views = events("registration.view")
    assert [(event.object_id, event.summary) for event in views] == [(str(ali.pk), "desk")]
    for event in AuditEvent.objects.all():
        assert "Rezaei" not in event.summary and "nobody@" not in event.summary


def test_the_desk_opens_only_what_its_look_ups_found(world) -> None:
    client = signed_in("registration_desk")
    ali, reporter = world["ali"], world["reporter"]
    # Walking through registration numbers finds nothing.
    response = client.get(reverse("registration:desk-registration", args=[reporter.pk]))
    assert response.status_code == 404
    assert "Marie" not in response.content.decode()

    look_up(client, code=str(ali.pk))
    assert client.get(reverse("registration:desk-registration", args=[ali.pk])).status_code == 200
    assert (
        client.get(reverse("registration:desk-registration", args=[reporter.pk])).status_code == 404
    )
    # Another desk account's session knows nothing of this look-up.
    other = signed_in("registration_desk", "desk-2")
    assert other.get(reverse("registration:desk-registration", args=[ali.pk])).status_code == 404
    # Organisers open any registration.
    organiser = signed_in("organiser")
    assert (
        organiser.get(reverse("registration:desk-registration", args=[reporter.pk])).status_code
        == 200
    )


def test_the_desk_sends_the_ticket_again_and_cancels(world, committed, smtp_sink) -> None:
    client = signed_in("registration_desk")
    ali = world["ali"]
    look_up(client, code=str(ali.pk))
    url = reverse("registration:desk-registration", args=[ali.pk])

    with committed():
        sent = client.post(url, {"action": "send"})
    assert sent.status_code == 302
    assert smtp_sink.last_to("ali@example.org").attachment("ticket.pdf").startswith(b"%PDF")

    unsure = client.post(url, {"action": "cancel"})
    assert unsure.status_code == 400
    assert "Tick the box" in unsure.content.decode()
    assert reload(ali).status == Registration.Status.CONFIRMED

    cancelled = client.post(url, {"action": "cancel", "sure": "1"})
    assert cancelled.status_code == 302
    assert reload(ali).status == Registration.Status.CANCELLED
    assert Ticket.objects.get(registration=ali).revoked_at is not None
    assert [event.object_id for event in events("registration.cancel")] == [str(ali.pk)]
    assert [event.summary for event in events("registration.send_again")] == ["ticket"]

    again = client.post(url, {"action": "send"})
    assert again.status_code == 400  # cancelled: nothing to send


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"code": "", "name": ""},
        {"code": "abc", "name": "Ali Rezaei"},
        {"code": "x" * 5000},
        {"code": "GT1:" + "A" * 138},
        {"code": "<script>alert(1)</script>"},
        {"code": "0"},
        {"code": "#" + "9" * 40},
        {"code": "ali@example.org"},  # no edition
        {"code": "ali@example.org", "edition": "not-a-number"},
        {"code": "ali@example.org", "edition": "999999"},
        {"name": "Ali Rezaei"},
        {"name": "A", "edition": "1"},
        {"name": "Ali\x00Rezaei", "edition": "1"},
        {"code": "' OR 1=1 --"},
    ],
)
def test_malformed_look_ups_are_a_400_with_a_message(world, data) -> None:
    client = signed_in("registration_desk")
    response = look_up(client, **data)

    assert response.status_code == 400
    html = response.content.decode()
    assert 'role="alert"' in html
    assert response.context["result"] is None
    assert "Marie" not in html and "<script>alert" not in html
    assert events("registration.lookup") == []


def test_a_hostile_action_changes_nothing(world) -> None:
    client = signed_in("organiser")
    ali = world["ali"]
    url = reverse("registration:desk-registration", args=[ali.pk])
    for data in (
        {},
        {"action": "erase"},
        {"action": "cancel", "sure": ""},
        {"action": "cancel", "sure": "false"},
        {"action": "x" * 10_000},
        {"action": ["send", "cancel"]},
    ):
        response = client.post(url, data)
        assert response.status_code == 400, data
        assert 'role="alert"' in response.content.decode()
    assert reload(ali).status == Registration.Status.CONFIRMED
    assert events("registration.cancel") == []
    assert client.get(reverse("registration:desk-registration", args=[10**17])).status_code == 404


@pytest.mark.parametrize(
    "role", ["gate", "moderator", "program_editor", "site_coordinator", "press_officer", None]
)
def test_other_roles_cannot_use_the_desk(world, role) -> None:
    client = signed_in(role)
    assert client.get(DESK).status_code == 403
    assert look_up(client, code=str(world["ali"].pk)).status_code == 403
    response = client.get(reverse("registration:desk-registration", args=[world["ali"].pk]))
    assert response.status_code == 403
    assert "Rezaei" not in response.content.decode()
    assert events("registration.lookup") == []


def test_anonymous_visitors_are_sent_to_sign_in(world) -> None:
    for url in (DESK, PRESS, reverse("registration:desk-registration", args=[world["ali"].pk])):
        response = Client().get(url)
        assert response.status_code == 302
        assert "/staff/login/" in response["Location"]


# --- the press officer -----------------------------------------------------------------------


def test_the_press_officer_sees_press_accreditations_only(world) -> None:
    client = signed_in("press_officer")

    listing = client.get(PRESS)
    assert listing.status_code == 200
    html = listing.content.decode()
    assert "Marie Reporter" in html and "Le Journal" in html
    assert "Rezaei" not in html
    assert events("registration.press_list")[0].summary == "edition=2031 shown=1"

    detail = client.get(reverse("registration:press-registration", args=[world["reporter"].pk]))
    assert detail.status_code == 200
    assert "marie@press.example" in detail.content.decode()
    # Any other registration does not exist for the press officer.
    for other in (world["ali"], world["twin"]):
        response = client.get(reverse("registration:press-registration", args=[other.pk]))
        assert response.status_code == 404
        assert "Rezaei" not in response.content.decode()
        assert (
            client.post(
                reverse("registration:press-registration", args=[other.pk]),
                {"action": "cancel", "sure": "1"},
            ).status_code
            == 404
        )
        assert client.get(reverse("registration:press-badge", args=[other.pk])).status_code == 404
    assert reload(world["ali"]).status == Registration.Status.CONFIRMED


def test_the_press_officer_prints_one_badge_and_asks_for_the_others(world) -> None:
    client = signed_in("press_officer")
    reporter = world["reporter"]

    badge = client.get(reverse("registration:press-badge", args=[reporter.pk]), {"layout": "a6"})
    assert badge.status_code == 200
    assert badge["Content-Type"] == "application/pdf"
    assert events("export.badges")[0].object_id == str(reporter.pk)
    assert (
        client.get(
            reverse("registration:press-badge", args=[reporter.pk]), {"layout": "poster"}
        ).status_code
        == 400
    )

    listing = client.get(PRESS).content.decode()
    assert "/staff/exports/new/?kind=registration.badges" in listing


def test_the_press_officer_has_nothing_in_the_back_office(world) -> None:
    client = signed_in("press_officer")
    for name in ("registration_registration_changelist", "registration_ticket_changelist"):
        assert client.get(reverse(f"admin:{name}")).status_code == 403
    assert client.get(DESK).status_code == 403


@pytest.mark.parametrize("year", ["abc", "99999", "1999", "2031'"])
def test_a_bad_edition_on_the_press_list_is_an_error_page(world, year) -> None:
    response = signed_in("press_officer").get(PRESS, {"year": year})
    assert response.status_code in (400, 404)


@pytest.mark.parametrize("role", ["registration_desk", "gate", "moderator", "site_coordinator"])
def test_other_roles_cannot_see_the_press_pages(world, role) -> None:
    client = signed_in(role)
    assert client.get(PRESS).status_code == 403
    url = reverse("registration:press-registration", args=[world["reporter"].pk])
    assert client.get(url).status_code == 403
    assert (
        client.get(reverse("registration:press-badge", args=[world["reporter"].pk])).status_code
        == 403
    )


# --- the name index --------------------------------------------------------------------------


def test_the_name_index_follows_the_name_and_goes_with_erasure(world) -> None:
    ali = world["ali"]
    before = Registration.objects.get(pk=ali.pk).name_index
    assert before

    services.update_details(registration=ali, name="Ali Rezaei-Changed", language="en")
    after = Registration.objects.get(pk=ali.pk).name_index
    assert after and after != before

    services.erase(registration=ali)
    assert Registration.objects.get(pk=ali.pk).name_index is None
