"""Delegations: a leader registers a group, members join by link or are added, staff assign
coaches and arrival slots."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils.timezone import now

from gathering.registration import selectors, services
from gathering.registration.errors import (
    ConsentRequiredError,
    DelegationClosedError,
    DelegationError,
    InvitationRequiredError,
)
from gathering.registration.models import Category, Delegation, Registration
from gathering.registration.tests.factories import CategoryFactory, register_person, reload

pytestmark = pytest.mark.django_db

Status = Registration.Status


@pytest.fixture
def delegation_category() -> Category:
    return CategoryFactory(kind=Category.Kind.DELEGATION_MEMBER, is_public=False, capacity=50)


def make_delegation(committed, category: Category, **overrides) -> services.DelegationOutcome:
    with committed():
        leader = register_person(category, email="leader@example.org", leader=True).registration
        data = {"city": "Berlin", "country": "DE", "transport": "coach", "expected_size": 40}
        data.update(overrides)
        return services.create_delegation(leader=leader, **data)


def test_leader_registers_a_delegation_in_one_go(committed, smtp_sink, delegation_category):
    with committed():
        outcome = services.register_delegation(
            category=delegation_category,
            name="Leila Leader",
            email="leila@example.org",
            language="fr",
            country="DE",
            consent=True,
            city="  Hamburg ",
            departure_country="de",
            transport="train",
            expected_size=12,
        )

    leader = reload(outcome.registration)
    delegation = Delegation.objects.get(leader=leader)
    assert (delegation.city, delegation.country, delegation.transport) == ("Hamburg", "DE", "train")
    assert delegation.deadline == delegation_category.closes_at
    assert leader.delegation_id == delegation.pk
    subjects = [m.subject for m in smtp_sink.to("leila@example.org")]
    assert len(subjects) == 2, subjects  # confirm the registration; the invitation link
    invitation = smtp_sink.to("leila@example.org")[-1]
    assert f"/fr/{delegation.edition.year}/delegations/join/" in invitation.text


def test_registering_a_delegation_with_a_registered_email_creates_nothing(
    committed, smtp_sink, delegation_category
):
    attendees = CategoryFactory(edition=delegation_category.edition)
    with committed():
        register_person(attendees, email="leila@example.org")
        outcome = services.register_delegation(
            category=delegation_category,
            name="Leila",
            email="LEILA@example.org",
            language="en",
            country="DE",
            consent=True,
            city="Hamburg",
            departure_country="DE",
            transport="train",
            expected_size=12,
        )
    assert not outcome.created
    assert not Delegation.objects.exists()


def test_members_join_by_invitation_link(committed, smtp_sink, delegation_category):
    outcome = make_delegation(committed, delegation_category)
    delegation = selectors.get_delegation_by_invitation(token=outcome.invitation_token)
    with committed():
        member = register_person(
            delegation_category, email="member@example.org", delegation=delegation
        ).registration

    assert reload(member).delegation_id == delegation.pk
    assert reload(member).status == Status.PENDING
    assert [m.pk for m in selectors.list_delegation_members(delegation=delegation)] == [
        delegation.leader_id,
        member.pk,
    ]


def test_invitation_only_category_needs_the_delegation(delegation_category):
    with pytest.raises(InvitationRequiredError):
        register_person(delegation_category)


def test_invitation_link_stops_working_after_the_deadline(committed, delegation_category):
    outcome = make_delegation(committed, delegation_category)
    delegation = outcome.delegation
    with pytest.raises(DelegationClosedError):
        register_person(
            delegation_category,
            delegation=delegation,
            at=delegation.deadline + dt.timedelta(seconds=1),
        )


def test_renewed_invitation_link_replaces_the_old_one(committed, smtp_sink, delegation_category):
    outcome = make_delegation(committed, delegation_category)
    with committed():
        new_token = services.renew_invitation(delegation=outcome.delegation)

    with pytest.raises(Delegation.DoesNotExist):
        selectors.get_delegation_by_invitation(token=outcome.invitation_token)
    assert selectors.get_delegation_by_invitation(token=new_token).pk == outcome.delegation.pk
    assert new_token in smtp_sink.last_to("leader@example.org").text


def test_member_added_by_the_leader_consents_when_confirming(
    committed, smtp_sink, delegation_category
):
    delegation = make_delegation(committed, delegation_category).delegation
    with committed():
        added = services.add_member(
            delegation=delegation,
            name="Added Member",
            email="added@example.org",
            language="fa",
            country="SE",
        )
    member = reload(added.registration)
    assert member.status == Status.PENDING
    assert member.consented_at is None
    message = smtp_sink.last_to("added@example.org")
    assert "/fa/registration/" in message.text
    token = message.token()

    with pytest.raises(ConsentRequiredError):
        services.confirm_email(token=token)
    with committed():
        confirmed = services.confirm_email(token=token, consent=True)
    assert confirmed.status == Status.CONFIRMED
    assert confirmed.consented_at is not None
    assert confirmed.consent_purpose


def test_leader_removes_a_member_until_the_deadline(committed, smtp_sink, delegation_category):
    delegation = make_delegation(committed, delegation_category).delegation
    with committed():
        member = register_person(
            delegation_category, email="gone@example.org", delegation=delegation
        ).registration
        services.remove_member(delegation=delegation, member=member)

    member = reload(member)
    assert member.status == Status.CANCELLED
    assert member.cancel_reason == Registration.CancelReason.REMOVED
    assert "removed you" in smtp_sink.last_to("gone@example.org").text

    late = delegation.deadline + dt.timedelta(minutes=1)
    with committed():
        other = register_person(
            delegation_category, email="other@example.org", delegation=delegation
        ).registration
    with pytest.raises(DelegationClosedError):
        services.remove_member(delegation=delegation, member=other, at=late)
    with pytest.raises(DelegationClosedError):
        services.add_member(
            delegation=delegation,
            name="Late",
            email="late@example.org",
            language="en",
            country="FR",
            at=late,
        )


def test_leader_cannot_be_removed_nor_strangers(committed, delegation_category):
    delegation = make_delegation(committed, delegation_category).delegation
    with committed():
        stranger = register_person(CategoryFactory(edition=delegation.edition)).registration
    with pytest.raises(DelegationError):
        services.remove_member(delegation=delegation, member=delegation.leader)
    with pytest.raises(DelegationError):
        services.remove_member(delegation=delegation, member=stranger)


@pytest.mark.parametrize(
    "overrides",
    [
        {"city": ""},
        {"city": "x" * 101},
        {"city": "<b>Berlin</b>"},
        {"city": "Ber\u202elin"},
        {"country": "ZZ"},
        {"transport": "rocket"},
        {"expected_size": 0},
        {"expected_size": 5000},
    ],
)
def test_bad_delegation_details_are_refused(committed, delegation_category, overrides):
    with pytest.raises(DelegationError):
        make_delegation(committed, delegation_category, **overrides)
    assert not Delegation.objects.exists()


def test_one_delegation_per_leader(committed, delegation_category):
    outcome = make_delegation(committed, delegation_category)
    with pytest.raises(DelegationError):
        services.create_delegation(
            leader=outcome.delegation.leader,
            city="Paris",
            country="FR",
            transport="car",
            expected_size=3,
        )


def test_staff_assign_coach_and_slot_and_see_counts_by_city(committed, delegation_category):
    berlin = make_delegation(committed, delegation_category).delegation
    with committed():
        second_leader = register_person(delegation_category, leader=True).registration
        services.create_delegation(
            leader=second_leader, city="Berlin", country="DE", transport="car", expected_size=5
        )
        third_leader = register_person(delegation_category, leader=True).registration
        services.create_delegation(
            leader=third_leader, city="Stockholm", country="SE", transport="plane", expected_size=9
        )
        register_person(delegation_category, delegation=berlin)
    slot = now().replace(microsecond=0) + dt.timedelta(days=10)

    services.assign_transport(delegation=berlin, coach_number=" 12 ", arrival_slot=slot)

    berlin.refresh_from_db()
    assert (berlin.coach_number, berlin.arrival_slot) == ("12", slot)
    counts = selectors.list_delegations_by_city(edition=berlin.edition)
    assert [(c.country, c.city, c.delegations, c.expected, c.members) for c in counts] == [
        ("DE", "Berlin", 2, 45, 3),
        ("SE", "Stockholm", 1, 9, 1),
    ]
