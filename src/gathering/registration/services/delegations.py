"""Writes of delegations: a leader creates one, invites members by link or adds them, removes
them until the deadline; staff assign a coach and an arrival slot.

Members are registrations in the delegation category of the edition, linked to the
delegation. A member the leader adds gets an email to confirm and to give their own consent:
nobody else can consent for them. The invitation link's token is stored as a hash only, so the
leader sees it when it is made (and by email); making a new one retires the old one.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from gathering.registration import emails, selectors, tokens
from gathering.registration.errors import (
    DelegationClosedError,
    DelegationError,
    RegistrationClosedError,
)
from gathering.registration.models import Category, Delegation, Registration
from gathering.registration.services.registrations import (
    RegistrationOutcome,
    cancel,
    register,
)
from gathering.registration.validation import clean_city, clean_country

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DelegationOutcome:
    delegation: Delegation
    invitation_token: str


def create_delegation(
    *,
    leader: Registration,
    city: str,
    country: str,
    transport: str,
    expected_size: int,
    at: dt.datetime | None = None,
) -> DelegationOutcome:
    """Make ``leader`` (an active registration, in no delegation yet) the leader of a new
    delegation. Its members register in the edition's delegation category until that
    category closes (staff can move the deadline). The leader gets the invitation link by
    email; it is also returned, to show once.

    Raises DelegationError (no delegation category, leader cancelled or already in a
    delegation, bad city, country, transport or size)."""
    moment = at or now()
    try:
        city = clean_city(city)
        country = clean_country(country)
    except ValidationError as error:
        raise DelegationError(error.messages[0]) from error
    if transport not in Delegation.Transport.values:
        raise DelegationError(_("Choose a means of transport from the list."))
    if not isinstance(expected_size, int) or not 1 <= expected_size <= 2000:
        raise DelegationError(_("The expected size must be between 1 and 2000."))
    try:
        category = selectors.get_delegation_category(edition=leader.edition)
    except Category.DoesNotExist:
        raise DelegationError(_("This gathering takes no delegations.")) from None
    token = tokens.new_token()
    with transaction.atomic():
        locked = Registration.objects.select_for_update(of=("self",)).get(pk=leader.pk)
        if locked.status == Registration.Status.CANCELLED:
            raise DelegationError(_("A cancelled registration cannot lead a delegation."))
        if locked.delegation_id is not None or Delegation.objects.filter(leader=locked).exists():
            raise DelegationError(_("You are already part of a delegation."))
        delegation = Delegation.objects.create(
            edition=leader.edition,
            category=category,
            leader=locked,
            city=city,
            country=country,
            transport=transport,
            expected_size=expected_size,
            invitation_token_hash=tokens.hash_token(token),
            deadline=max(category.closes_at, moment),
            created_at=moment,
        )
        locked.delegation = delegation
        locked.save(update_fields=["delegation", "updated_at"])
        _email_invitation(delegation, leader=leader, token=token)
    logger.info("delegation_id=%s created by registration_id=%s", delegation.pk, leader.pk)
    return DelegationOutcome(delegation=delegation, invitation_token=token)


def register_delegation(
    *,
    category: Category,
    name: str,
    email: str,
    language: str,
    country: str,
    phone: str = "",
    answers: dict[str, Any] | None = None,
    consent: bool,
    city: str,
    departure_country: str,
    transport: str,
    expected_size: int,
    at: dt.datetime | None = None,
) -> RegistrationOutcome:
    """A leader registers in the delegation category and creates the delegation, in one
    transaction. For an email that is already registered nothing is created (its owner gets
    their link again and can start the delegation from their registration page).

    Raises the errors of :func:`register` and :func:`create_delegation`."""
    moment = at or now()
    if category.kind != Category.Kind.DELEGATION_MEMBER:
        raise DelegationError(_("This category is not for delegations."))
    if not category.is_open(moment):
        raise RegistrationClosedError
    with transaction.atomic():
        outcome = register(
            category=category,
            name=name,
            email=email,
            language=language,
            country=country,
            phone=phone,
            answers=answers,
            consent=consent,
            # Delegation categories are usually invitation-only; a leader may still register.
            leader=True,
            at=moment,
        )
        if outcome.created:
            create_delegation(
                leader=outcome.registration,
                city=city,
                country=departure_country,
                transport=transport,
                expected_size=expected_size,
                at=moment,
            )
    return outcome


def _email_invitation(delegation: Delegation, *, leader: Registration, token: str) -> None:
    url = emails.invitation_url(delegation=delegation, token=token, language=leader.language)
    emails.schedule(
        "delegation",
        registration=leader,
        **emails.delegation_context(delegation, invitation_url=url),
    )


def renew_invitation(*, delegation: Delegation, at: dt.datetime | None = None) -> str:
    """A new invitation link (the old one stops working); emailed to the leader and returned.
    Raises DelegationClosedError after the deadline."""
    if not delegation.is_open(at):
        raise DelegationClosedError
    token = tokens.new_token()
    with transaction.atomic():
        delegation.invitation_token_hash = tokens.hash_token(token)
        delegation.save(update_fields=["invitation_token_hash", "updated_at"])
        _email_invitation(delegation, leader=delegation.leader, token=token)
    return token


def add_member(
    *,
    delegation: Delegation,
    name: str,
    email: str,
    language: str,
    country: str,
    at: dt.datetime | None = None,
) -> RegistrationOutcome:
    """The leader adds a member: a pending registration in the delegation, whose owner gets
    an email to confirm and consent. An email that is already registered is not added (its
    owner gets their own link again). Raises DelegationClosedError and the errors of
    :func:`register`."""
    if not delegation.is_open(at):
        raise DelegationClosedError
    return register(
        category=delegation.category,
        name=name,
        email=email,
        language=language,
        country=country,
        consent=False,
        delegation=delegation,
        added_by_leader=True,
        at=at,
    )


def remove_member(
    *, delegation: Delegation, member: Registration, at: dt.datetime | None = None
) -> Registration:
    """The leader removes a member before the deadline: the member's registration is
    cancelled (its ticket revoked, its place offered to the waiting list).

    Raises DelegationClosedError, and DelegationError for the leader or a non-member."""
    if not delegation.is_open(at):
        raise DelegationClosedError
    if member.delegation_id != delegation.pk:
        raise DelegationError(_("This person is not a member of your delegation."))
    if member.pk == delegation.leader_id:
        raise DelegationError(_("The leader cannot be removed; cancel your own registration."))
    return cancel(registration=member, reason=Registration.CancelReason.REMOVED, at=at)


def assign_transport(
    *,
    delegation: Delegation,
    coach_number: str,
    arrival_slot: dt.datetime | None,
    deadline: dt.datetime | None = None,
) -> Delegation:
    """Staff assign a coach number and an arrival slot (either may be empty) and, when
    given, move the deadline for changing the members."""
    delegation.coach_number = (coach_number or "").strip()[:20]
    delegation.arrival_slot = arrival_slot
    fields = ["coach_number", "arrival_slot", "updated_at"]
    if deadline is not None:
        delegation.deadline = deadline
        fields.append("deadline")
    delegation.save(update_fields=fields)
    logger.info("delegation_id=%s transport assigned", delegation.pk)
    return delegation
