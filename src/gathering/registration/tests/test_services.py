"""Registration services: places, waiting list, confirmation, tickets, cancel, erase, export."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils.timezone import now

from gathering.program.tests.factories import EditionFactory
from gathering.registration import keys, selectors, services, tokens
from gathering.registration.errors import (
    ConsentRequiredError,
    InvalidRegistrationDataError,
    InvitationRequiredError,
    NoOfferError,
    OfferExpiredError,
    RegistrationCancelledError,
    RegistrationClosedError,
    RegistrationNotFoundError,
    TicketIssueError,
)
from gathering.registration.models import Registration, Ticket
from gathering.registration.tests.factories import (
    CategoryFactory,
    QuestionFactory,
    register_person,
    reload,
)
from gathering.registration.ticket_codes import CategoryCode, VerdictStatus, verify_ticket
from gathering.registration.tickets import ticket_code

pytestmark = pytest.mark.django_db

Status = Registration.Status


def confirm(committed, smtp_sink, email: str) -> Registration:
    """Confirm ``email``'s registration with the token of the last email it received."""
    token = smtp_sink.last_to(email).token()
    with committed():
        return services.confirm_email(token=token)


# --- registering -----------------------------------------------------------------------------


def test_register_takes_a_place_and_emails_a_confirmation_link(committed, smtp_sink) -> None:
    category = CategoryFactory(capacity=2)
    with committed():
        outcome = register_person(category, name="Zahra Rahimi", email="zahra@example.org")

    registration = reload(outcome.registration)
    assert outcome.created
    assert registration.status == Status.PENDING
    assert registration.name == "Zahra Rahimi"
    assert registration.email == "zahra@example.org"
    assert registration.confirm_by == registration.created_at + services.CONFIRMATION_WINDOW
    assert registration.consented_at is not None
    assert "political opinions" in registration.consent_purpose
    assert selectors.count_places_taken(category=category) == 1
    message = smtp_sink.last_to("zahra@example.org")
    assert "confirm" in message.subject.lower()
    token = message.token()
    assert f"https://gathering.test/en/registration/{token}/confirm/" in message.text
    assert selectors.get_registration_by_token(token=token).pk == registration.pk
    # Only the hash of the token is stored.
    assert registration.manage_token_hash == tokens.hash_token(token)
    assert token not in str(Registration.objects.filter(pk=registration.pk).values().get())


def test_full_category_sends_newcomers_to_the_waiting_list_in_order(committed, smtp_sink) -> None:
    category = CategoryFactory(capacity=2)
    with committed():
        people = [register_person(category).registration for _ in range(5)]

    statuses = [reload(person).status for person in people]
    assert statuses == [Status.PENDING] * 2 + [Status.WAITLISTED] * 3
    assert selectors.count_places_taken(category=category) == 2
    assert selectors.count_waiting(category=category) == 3
    waitlisted = reload(people[2])
    assert waitlisted.waitlisted_at is not None
    assert "waiting list" in smtp_sink.last_to(waitlisted.email).subject


@pytest.mark.parametrize(
    "again", ["ZAHRA@Example.ORG", "  zahra@example.org  ", "Zahra@example.org\t"]
)
def test_registering_again_with_same_email_returns_existing_and_resends_link(
    committed, smtp_sink, again: str
) -> None:
    category = CategoryFactory()
    with committed():
        first = register_person(category, email="zahra@example.org").registration
    old_token = smtp_sink.last_to("zahra@example.org").token()
    smtp_sink.clear()

    with committed():
        outcome = register_person(category, email=again, name="Someone Else")

    assert not outcome.created
    assert outcome.registration.pk == first.pk
    assert Registration.objects.count() == 1
    assert reload(first).name.startswith("Person"), "the existing registration is unchanged"
    resent = smtp_sink.last_to("zahra@example.org")
    new_token = resent.token()
    assert new_token != old_token
    with pytest.raises(Registration.DoesNotExist):
        selectors.get_registration_by_token(token=old_token)
    assert selectors.get_registration_by_token(token=new_token).pk == first.pk


def test_same_email_in_another_category_of_the_edition_is_the_same_person(committed) -> None:
    attendees = CategoryFactory()
    volunteers = CategoryFactory(edition=attendees.edition, kind="volunteer")
    with committed():
        first = register_person(attendees, email="ali@example.org").registration
        outcome = register_person(volunteers, email="Ali@Example.org")

    assert not outcome.created
    assert outcome.registration.pk == first.pk
    assert Registration.objects.count() == 1


def test_same_email_may_register_for_another_edition(committed) -> None:
    this_year = CategoryFactory()
    next_year = CategoryFactory(edition=EditionFactory())
    with committed():
        register_person(this_year, email="ali@example.org")
        outcome = register_person(next_year, email="ali@example.org")

    assert outcome.created
    assert Registration.objects.count() == 2


def test_confirmed_ticket_only_once_for_a_duplicate(committed, smtp_sink) -> None:
    category = CategoryFactory()
    with committed():
        register_person(category, email="ali@example.org")
    confirm(committed, smtp_sink, "ali@example.org")
    with committed():
        outcome = register_person(category, email="ALI@example.org")

    assert not outcome.created
    assert Ticket.objects.count() == 1
    assert "link" in smtp_sink.last_to("ali@example.org").text.lower()


def test_cancelled_registration_does_not_block_registering_again(committed) -> None:
    category = CategoryFactory()
    with committed():
        first = register_person(category, email="ali@example.org").registration
        services.cancel(registration=first)
        outcome = register_person(category, email="ali@example.org")

    assert outcome.created
    assert outcome.registration.pk != first.pk


def test_registration_needs_consent() -> None:
    with pytest.raises(ConsentRequiredError):
        register_person(CategoryFactory(), consent=False)
    assert not Registration.objects.exists()


@pytest.mark.parametrize(
    ("opens", "closes"),
    [(dt.timedelta(days=1), dt.timedelta(days=2)), (-dt.timedelta(days=2), -dt.timedelta(days=1))],
    ids=["not-yet-open", "closed"],
)
def test_registration_outside_opening_times_is_refused(opens, closes) -> None:
    category = CategoryFactory(opens_at=now() + opens, closes_at=now() + closes)
    with pytest.raises(RegistrationClosedError):
        register_person(category)
    assert not Registration.objects.exists()


def test_invitation_only_category_refuses_the_public() -> None:
    with pytest.raises(InvitationRequiredError):
        register_person(CategoryFactory(is_public=False))


@pytest.mark.parametrize(
    "overrides",
    [
        {"name": "A" * 201},
        {"name": "evil\u202ename"},
        {"name": "<script>alert(1)</script>"},
        {"name": "   "},
        {"email": "not-an-email"},
        {"email": "a\u202e@example.org"},
        {"country": "XX"},
        {"language": "de"},
        {"phone": "call me maybe"},
        {"answers": {"unknown": "x"}},
    ],
)
def test_service_checks_data_again_whatever_calls_it(overrides) -> None:
    with pytest.raises(InvalidRegistrationDataError):
        register_person(CategoryFactory(), **overrides)
    assert not Registration.objects.exists()


def test_answers_are_checked_against_the_questions(committed) -> None:
    category = CategoryFactory()
    QuestionFactory(
        category=category,
        key="diet",
        kind="choice",
        required=True,
        choices=[
            {"value": "vegetarian", "label": {"en": "Vegetarian"}},
            {"value": "none", "label": {"en": "No preference"}},
        ],
    )
    QuestionFactory(category=category, key="first-time", kind="yes_no", required=True)
    QuestionFactory(category=category, key="note", kind="text")

    with pytest.raises(InvalidRegistrationDataError):
        register_person(category, answers={"diet": "pizza", "first-time": True})
    with pytest.raises(InvalidRegistrationDataError):
        register_person(category, answers={"diet": "none"})
    with committed():
        outcome = register_person(
            category, answers={"diet": "vegetarian", "first-time": False, "note": " hi "}
        )
    assert reload(outcome.registration).answers == {
        "diet": "vegetarian",
        "first-time": False,
        "note": "hi",
    }


# --- confirmation and tickets ----------------------------------------------------------------


def test_confirming_issues_a_signed_ticket_and_emails_it(committed, smtp_sink) -> None:
    category = CategoryFactory(kind="press")
    with committed():
        register_person(category, email="press@example.org")
    registration = confirm(committed, smtp_sink, "press@example.org")

    assert registration.status == Status.CONFIRMED
    assert registration.email_confirmed_at is not None
    ticket = Ticket.objects.get(registration=registration)
    assert ticket.category_code == CategoryCode.PRESS
    assert len(ticket.ticket_id) == 16
    assert (ticket.valid_from, ticket.valid_until) == category.entry_window()
    keyring = keys.load_keyring()
    verdict = verify_ticket(
        ticket_code(ticket),
        public_keys=keyring.public_keys(),
        edition_year=category.edition.year,
        now=ticket.valid_from + dt.timedelta(hours=1),
        revoked=set(),
    )
    assert verdict.status == VerdictStatus.VALID
    assert verdict.ticket_id == ticket.ticket_id_bytes
    message = smtp_sink.last_to("press@example.org")
    assert "ticket" in message.subject.lower()
    assert "/ticket/" in message.text
    [pdf, png] = message.attachments()
    assert pdf[:2] == ("ticket.pdf", "application/pdf")
    assert pdf[2].startswith(b"%PDF-")
    assert png[:2] == ("ticket-qr.png", "image/png")
    assert png[2].startswith(b"\x89PNG")


def test_confirming_twice_changes_nothing(committed, smtp_sink) -> None:
    with committed():
        register_person(CategoryFactory(), email="ali@example.org")
    token = smtp_sink.last_to("ali@example.org").token()
    with committed():
        first = services.confirm_email(token=token)
        again = services.confirm_email(token=token)

    assert again.confirmed_at == first.confirmed_at
    assert Ticket.objects.count() == 1
    assert len([m for m in smtp_sink.to("ali@example.org") if "ticket" in m.subject]) == 1


def test_confirming_a_waitlisted_registration_keeps_it_waiting(committed, smtp_sink) -> None:
    category = CategoryFactory(capacity=1)
    with committed():
        register_person(category)
        register_person(category, email="waiting@example.org")
    registration = confirm(committed, smtp_sink, "waiting@example.org")

    assert registration.status == Status.WAITLISTED
    assert registration.email_confirmed_at is not None
    assert not Ticket.objects.exists()


def test_unknown_or_malformed_token_is_not_found() -> None:
    for token in ["", "x", "A" * 43, "../../etc/passwd", "A" * 10_000]:
        with pytest.raises(RegistrationNotFoundError):
            services.confirm_email(token=token)


# --- cancelling and the waiting list ---------------------------------------------------------


def test_cancel_revokes_the_ticket_and_offers_the_place_to_the_first_waiting(
    committed, smtp_sink
) -> None:
    category = CategoryFactory(capacity=1)
    with committed():
        holder = register_person(category, email="holder@example.org").registration
        first = register_person(category, email="first@example.org").registration
        second = register_person(category, email="second@example.org").registration
    confirm(committed, smtp_sink, "holder@example.org")
    ticket = Ticket.objects.get(registration=holder)

    with committed():
        services.cancel(registration=holder)

    assert reload(holder).status == Status.CANCELLED
    ticket.refresh_from_db()
    assert ticket.revoked_at is not None
    assert selectors.list_revoked_ticket_ids(edition=category.edition) == [ticket.ticket_id_bytes]
    first, second = reload(first), reload(second)
    assert first.status == Status.OFFERED
    assert first.offer_expires_at == reload(holder).cancelled_at + services.OFFER_WINDOW
    assert second.status == Status.WAITLISTED
    offer = smtp_sink.last_to("first@example.org")
    assert "place is free" in offer.subject
    assert "/accept/" in offer.text
    assert "cancelled" in smtp_sink.last_to("holder@example.org").subject
    assert not smtp_sink.to("second@example.org")[1:], "the second person only got one email"


def test_accepting_an_offer_confirms_and_issues_a_ticket(committed, smtp_sink) -> None:
    category = CategoryFactory(capacity=1)
    with committed():
        holder = register_person(category).registration
        register_person(category, email="next@example.org")
        services.cancel(registration=holder)
    token = smtp_sink.last_to("next@example.org").token()

    with committed():
        registration = services.accept_offer(token=token)

    assert registration.status == Status.CONFIRMED
    assert registration.offer_expires_at is None
    assert Ticket.objects.filter(registration=registration).exists()
    assert services.accept_offer(token=token).status == Status.CONFIRMED  # idempotent


def test_accepting_after_the_deadline_is_refused(committed, smtp_sink) -> None:
    category = CategoryFactory(capacity=1)
    with committed():
        holder = register_person(category).registration
        register_person(category, email="late@example.org")
        services.cancel(registration=holder)
    token = smtp_sink.last_to("late@example.org").token()
    late = now() + services.OFFER_WINDOW + dt.timedelta(minutes=1)

    with pytest.raises(OfferExpiredError):
        services.accept_offer(token=token, at=late)
    assert selectors.get_registration_by_token(token=token).status == Status.OFFERED


def test_accepting_without_an_offer_is_refused(committed, smtp_sink) -> None:
    category = CategoryFactory(capacity=1)
    with committed():
        register_person(category)
        register_person(category, email="waiting@example.org")
    with pytest.raises(NoOfferError):
        services.accept_offer(token=smtp_sink.last_to("waiting@example.org").token())


def test_expired_offers_move_on_to_the_next_person_in_order(committed, smtp_sink) -> None:
    category = CategoryFactory(capacity=1)
    with committed():
        holder = register_person(category).registration
        first = register_person(category, email="first@example.org").registration
        second = register_person(category, email="second@example.org").registration
        third = register_person(category, email="third@example.org").registration
        services.cancel(registration=holder)
    deadline = reload(first).offer_expires_at

    with committed():
        assert services.expire_offers(at=deadline - dt.timedelta(seconds=1)) == 0
        assert services.expire_offers(at=deadline) == 1

    first, second, third = reload(first), reload(second), reload(third)
    assert first.status == Status.CANCELLED
    assert first.cancel_reason == Registration.CancelReason.OFFER_EXPIRED
    assert second.status == Status.OFFERED
    assert second.offer_expires_at == deadline + services.OFFER_WINDOW
    assert third.status == Status.WAITLISTED
    assert "not accepted in time" in smtp_sink.last_to("first@example.org").text
    assert "/accept/" in smtp_sink.last_to("second@example.org").text
    assert selectors.count_places_taken(category=category) == 1


def test_unconfirmed_registrations_lapse_and_free_their_place(committed, smtp_sink) -> None:
    category = CategoryFactory(capacity=1)
    with committed():
        lazy = register_person(category, email="lazy@example.org").registration
        waiting = register_person(category, email="waiting@example.org").registration
    confirm_by = reload(lazy).confirm_by

    with committed():
        assert services.expire_unconfirmed(at=confirm_by - dt.timedelta(seconds=1)) == 0
        assert services.expire_unconfirmed(at=confirm_by) == 1

    assert reload(lazy).status == Status.CANCELLED
    assert reload(lazy).cancel_reason == Registration.CancelReason.UNCONFIRMED
    assert reload(waiting).status == Status.OFFERED
    assert "not confirmed in time" in smtp_sink.last_to("lazy@example.org").text


def test_capacity_increase_offers_new_places(committed) -> None:
    category = CategoryFactory(capacity=1)
    with committed():
        register_person(category)
        waiting = [register_person(category).registration for _ in range(3)]
    category.capacity = 3
    category.save()

    with committed():
        offered = services.fill_free_places(category=category)

    assert [r.pk for r in offered] == [waiting[0].pk, waiting[1].pk]
    assert reload(waiting[2]).status == Status.WAITLISTED


def test_cancelling_twice_changes_nothing(committed) -> None:
    category = CategoryFactory(capacity=1)
    with committed():
        registration = register_person(category).registration
        services.cancel(registration=registration)
        cancelled_at = reload(registration).cancelled_at
        services.cancel(registration=registration)
    assert reload(registration).cancelled_at == cancelled_at


def test_cancelled_registration_cannot_be_confirmed(committed, smtp_sink) -> None:
    with committed():
        registration = register_person(CategoryFactory(), email="a@example.org").registration
    token = smtp_sink.last_to("a@example.org").token()
    services.cancel(registration=registration)
    with pytest.raises(RegistrationCancelledError):
        services.confirm_email(token=token)


# --- change, erase, export -------------------------------------------------------------------


def test_update_details_changes_name_and_language_and_keeps_the_ticket(
    committed, smtp_sink
) -> None:
    with committed():
        register_person(CategoryFactory(), email="a@example.org")
    registration = confirm(committed, smtp_sink, "a@example.org")
    ticket = Ticket.objects.get(registration=registration)

    services.update_details(registration=registration, name="رضا تهرانی", language="fa")

    registration = reload(registration)
    assert (registration.name, registration.language) == ("رضا تهرانی", "fa")
    ticket.refresh_from_db()
    assert ticket.revoked_at is None
    with pytest.raises(InvalidRegistrationDataError):
        services.update_details(registration=registration, name="x\u202e", language="fa")


def test_erase_removes_personal_data_and_keeps_anonymous_counts(committed, smtp_sink) -> None:
    category = CategoryFactory(capacity=1)
    with committed():
        register_person(
            category, email="erase.me@example.org", phone="+33 1 23 45 67 89", country="DE"
        )
        waiting = register_person(category).registration
    registration = confirm(committed, smtp_sink, "erase.me@example.org")
    token = smtp_sink.last_to("erase.me@example.org").token()

    with committed():
        services.erase_by_token(token=token)

    erased = reload(registration)
    assert (erased.name, erased.email, erased.email_index, erased.phone, erased.answers) == (
        None,
        None,
        None,
        None,
        None,
    )
    assert erased.country == ""
    assert erased.manage_token_hash is None
    assert erased.erased_at is not None
    assert erased.status == Status.CANCELLED
    assert erased.cancel_reason == Registration.CancelReason.ERASED
    assert erased.consent_version  # the record of consent stays, without personal data
    assert Ticket.objects.get(registration=erased).revoked_at is not None
    assert Registration.objects.filter(category=category).count() == 2  # anonymous count
    assert reload(waiting).status == Status.OFFERED
    with pytest.raises(RegistrationNotFoundError):
        services.confirm_email(token=token)
    # The address is free to register again.
    with committed():
        assert register_person(category, email="erase.me@example.org").created


def test_export_holds_everything_we_store(committed, smtp_sink) -> None:
    category = CategoryFactory()
    QuestionFactory(category=category, key="note")
    with committed():
        register_person(
            category,
            name="Zahra",
            email="zahra@example.org",
            phone="+33 1 23 45 67 89",
            country="IR",
            answers={"note": "hello"},
        )
    registration = confirm(committed, smtp_sink, "zahra@example.org")

    data = services.export_personal_data(registration=reload(registration))

    assert data["name"] == "Zahra"
    assert data["email"] == "zahra@example.org"
    assert data["phone"] == "+33 1 23 45 67 89"
    assert data["country"] == "IR"
    assert data["answers"] == [
        {
            "question": {"en": "Anything else?", "fa": "چیز دیگری؟", "fr": "Autre chose ?"},
            "answer": "hello",
        }
    ]
    assert data["consent"]["given_at"]
    assert data["ticket"]["ticket_id"] == Ticket.objects.get().ticket_id
    assert data["status"] == "confirmed"


def test_entry_window_that_cannot_go_into_a_ticket_is_a_clear_error(committed, smtp_sink) -> None:
    category = CategoryFactory(edition=EditionFactory(year=2200))
    with committed():
        register_person(category, email="future@example.org")
    token = smtp_sink.last_to("future@example.org").token()

    with pytest.raises(TicketIssueError):
        services.confirm_email(token=token)
    assert selectors.get_registration_by_token(token=token).status == Status.PENDING
    assert not Ticket.objects.exists()
