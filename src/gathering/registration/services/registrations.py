"""Writes of individual registrations: register, confirm, waiting list, cancel, change, erase.

Places. A category's places are held by its pending, offered and confirmed registrations.
Every service that may take or free a place locks the category row first
(``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite every transaction is IMMEDIATE, so writers
are serialised anyway), then counts, so concurrent registrations never exceed the capacity.
Lock order is always category, then registration, so two services never deadlock.

Private links. A registration's link carries a random token of which only the hash is stored.
A service that must email a link therefore makes a new token, and the older link stops
working: "resending the link" replaces it.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.timezone import now

from gathering.core.crypto import blind_indexes
from gathering.program.models import Edition
from gathering.registration import emails, keys, selectors, tokens, validation
from gathering.registration.consent import consent_text
from gathering.registration.countries import country_name
from gathering.registration.errors import (
    ConsentRequiredError,
    DelegationClosedError,
    InvalidRegistrationDataError,
    InvitationRequiredError,
    NoOfferError,
    OfferExpiredError,
    RegistrationCancelledError,
    RegistrationClosedError,
    RegistrationNotFoundError,
    TicketIssueError,
)
from gathering.registration.models import Category, Delegation, Registration, Ticket
from gathering.registration.ticket_codes import TicketClaims, new_ticket_id, sign_ticket

logger = logging.getLogger(__name__)

# How long a new registration holds its place without a confirmed email.
CONFIRMATION_WINDOW = dt.timedelta(days=3)
# How long a place offered from the waiting list waits for its answer.
OFFER_WINDOW = dt.timedelta(days=2)

Status = Registration.Status
Reason = Registration.CancelReason


@dataclass(frozen=True)
class RegistrationOutcome:
    """``created`` is False when the email already had an active registration in the edition:
    that one is returned (its link emailed again) and nothing new is written."""

    registration: Registration
    created: bool


# --- locks and helpers -----------------------------------------------------------------------


def _lock_category(category_id: int) -> Category:
    return (
        Category.objects.select_for_update(of=("self",))
        .select_related("edition")
        .get(pk=category_id)
    )


def _lock_registration(registration_id: int) -> Registration:
    return (
        Registration.objects.select_for_update(of=("self",))
        .select_related("edition", "category", "category__edition", "delegation")
        .get(pk=registration_id)
    )


def _registration_for_token(token: str) -> Registration:
    try:
        return selectors.get_registration_by_token(token=token)
    except Registration.DoesNotExist:
        raise RegistrationNotFoundError from None


def _new_link(registration: Registration) -> str:
    """Replace the registration's private-link token; returns the new token (for an email).
    The caller saves ``manage_token_hash``."""
    token = tokens.new_token()
    registration.manage_token_hash = tokens.hash_token(token)
    return token


def _record_consent(registration: Registration, at: dt.datetime) -> None:
    text = consent_text(registration.language, retention_days=registration.edition.retention_days)
    registration.consent_version = text.version
    registration.consent_purpose = text.purpose
    registration.consent_retention = text.retention
    registration.consented_at = at


def _clean(
    *,
    category: Category,
    name: str,
    email: str,
    language: str,
    country: str,
    phone: str,
    answers: dict[str, Any] | None,
) -> dict[str, Any]:
    try:
        return {
            "name": validation.clean_name(name),
            "email": validation.clean_email(email),
            "language": validation.clean_language(language),
            "country": validation.clean_country(country),
            "phone": validation.clean_phone(phone),
            "answers": validation.clean_answers(list(category.questions.all()), answers or {}),
        }
    except ValidationError as error:
        raise InvalidRegistrationDataError from error


def count_free_places(category: Category) -> int:
    return max(0, category.capacity - selectors.count_places_taken(category=category))


# --- register --------------------------------------------------------------------------------


def register(
    *,
    category: Category,
    name: str,
    email: str,
    language: str,
    country: str,
    phone: str = "",
    answers: dict[str, Any] | None = None,
    consent: bool,
    delegation: Delegation | None = None,
    added_by_leader: bool = False,
    leader: bool = False,
    at: dt.datetime | None = None,
) -> RegistrationOutcome:
    """Register one person in ``category``.

    If the email (compared without case or surrounding spaces) already has an active
    registration in the edition, that registration is returned with ``created=False`` and
    its private link is emailed again: nobody gets a second ticket, and the page shown is the
    same either way (whether an address is registered is never revealed to the visitor).

    Otherwise a place is taken if one is free (status pending, confirmation email) or the
    person joins the waiting list (status waitlisted). ``consent`` must be True, except for a
    member added by a delegation leader (``added_by_leader``), who consents when confirming.

    ``leader`` lets a delegation leader register in a delegation category that is not public
    (see ``services.delegations.register_delegation``).

    Raises ConsentRequiredError, InvalidRegistrationDataError, RegistrationClosedError
    (outside the opening times), InvitationRequiredError (a category that is not public,
    without a delegation invitation) and DelegationClosedError (after its deadline).
    """
    moment = at or now()
    if not consent and not added_by_leader:
        raise ConsentRequiredError
    data = _clean(
        category=category,
        name=name,
        email=email,
        language=language,
        country=country,
        phone=phone,
        answers=answers,
    )
    # Under every keyed-hash key held: a registration made before a key rotation is found too.
    indexes = blind_indexes(data["email"], purpose="email")
    try:
        with transaction.atomic():
            return _register(
                category_id=category.pk,
                data=data,
                indexes=indexes,
                consent=consent and not added_by_leader,
                delegation=delegation,
                added_by_leader=added_by_leader,
                leader=leader,
                at=moment,
            )
    except IntegrityError:
        # The same email registered at the same moment in another category (the category
        # lock does not cover that): the unique constraint refused the second one.
        existing = selectors.find_active_registration(edition=category.edition, email=data["email"])
        if existing is None:
            raise
        with transaction.atomic():
            existing = _lock_registration(existing.pk)
            _send_link(existing)
        return RegistrationOutcome(registration=existing, created=False)


def _register(
    *,
    category_id: int,
    data: dict[str, Any],
    indexes: list[str],
    consent: bool,
    delegation: Delegation | None,
    added_by_leader: bool,
    leader: bool,
    at: dt.datetime,
) -> RegistrationOutcome:
    category = _lock_category(category_id)
    existing = (
        Registration.objects.select_for_update(of=("self",))
        .select_related("edition", "category")
        .filter(edition_id=category.edition_id, email_index__in=indexes)
        .exclude(status=Status.CANCELLED)
        .first()
    )
    if existing is not None:
        _send_link(existing)
        return RegistrationOutcome(registration=existing, created=False)

    if delegation is not None:
        if delegation.category_id != category.pk:
            raise InvitationRequiredError
        if not delegation.is_open(at):
            raise DelegationClosedError
    else:
        if not category.is_public and not (
            leader and category.kind == Category.Kind.DELEGATION_MEMBER
        ):
            raise InvitationRequiredError
        if not category.is_open(at):
            raise RegistrationClosedError

    full = selectors.count_places_taken(category=category) >= category.capacity
    token = tokens.new_token()
    registration = Registration(
        edition=category.edition,
        category=category,
        delegation=delegation,
        name=data["name"],
        email=data["email"],
        email_index=indexes[0],
        phone=data["phone"] or None,
        answers=data["answers"],
        language=data["language"],
        country=data["country"],
        status=Status.WAITLISTED if full else Status.PENDING,
        waitlisted_at=at if full else None,
        confirm_by=None if full else at + CONFIRMATION_WINDOW,
        manage_token_hash=tokens.hash_token(token),
        created_at=at,
    )
    if consent:
        _record_consent(registration, at)
    registration.save()
    logger.info(
        "registration_id=%s created in category_id=%s as %s",
        registration.pk,
        category.pk,
        registration.status,
    )
    kind = "member_added" if added_by_leader else ("waitlisted" if full else "confirm")
    extra = emails.delegation_context(delegation) if delegation else {}
    emails.schedule(kind, registration=registration, token=token, **extra)
    return RegistrationOutcome(registration=registration, created=True)


def _send_link(registration: Registration) -> None:
    """Email a fresh private link to an existing registration (locked by the caller)."""
    if registration.email is None:
        return
    token = _new_link(registration)
    registration.save(update_fields=["manage_token_hash", "updated_at"])
    kind = "confirm" if registration.status == Status.PENDING else "link"
    emails.schedule(kind, registration=registration, token=token)


def resend_link(*, edition: Edition, email: str) -> None:
    """Email a fresh private link if ``email`` has an active registration in ``edition``;
    otherwise do nothing (the visitor is told the same either way)."""
    try:
        address = validation.clean_email(email)
    except ValidationError:
        return
    existing = selectors.find_active_registration(edition=edition, email=address)
    if existing is None:
        return
    with transaction.atomic():
        _send_link(_lock_registration(existing.pk))


# --- confirmation and waiting-list offers ----------------------------------------------------


def confirm_email(
    *, token: str, consent: bool = False, at: dt.datetime | None = None
) -> Registration:
    """Confirm the email of the registration whose link holds ``token``.

    A pending registration becomes confirmed and gets its ticket (emailed). A waitlisted one
    stays on the waiting list with its email confirmed. An offered place is accepted (as
    :func:`accept_offer`). Confirming again changes nothing. A registration without consent
    (a member added by a delegation leader) needs ``consent=True``.

    Raises RegistrationNotFoundError, RegistrationCancelledError, ConsentRequiredError and,
    for an offer whose deadline has passed, OfferExpiredError.
    """
    moment = at or now()
    found = _registration_for_token(token)
    with transaction.atomic():
        registration = _lock_registration(found.pk)
        if registration.status == Status.CANCELLED:
            raise RegistrationCancelledError
        fields = ["updated_at"]
        if not registration.has_consented:
            if not consent:
                raise ConsentRequiredError
            _record_consent(registration, moment)
            fields += ["consent_version", "consent_purpose", "consent_retention", "consented_at"]
        if registration.email_confirmed_at is None:
            registration.email_confirmed_at = moment
            fields.append("email_confirmed_at")
        if (
            registration.status == Status.OFFERED
            and registration.offer_expires_at
            and registration.offer_expires_at <= moment
        ):
            raise OfferExpiredError
        if registration.status in (Status.PENDING, Status.OFFERED):
            registration.status = Status.CONFIRMED
            registration.confirmed_at = moment
            registration.confirm_by = None
            registration.offer_expires_at = None
            fields += ["status", "confirmed_at", "confirm_by", "offer_expires_at"]
            registration.save(update_fields=fields)
            ticket = issue_ticket(registration=registration, at=moment)
            _send_ticket(registration, ticket=ticket, token=token)
        else:
            registration.save(update_fields=fields)
    return registration


def accept_offer(
    *, token: str, consent: bool = False, at: dt.datetime | None = None
) -> Registration:
    """Take the place offered from the waiting list (see :func:`confirm_email`).

    Raises NoOfferError when nothing is on offer (accepting twice returns the confirmed
    registration), OfferExpiredError after the deadline, and the errors of confirm_email."""
    registration = _registration_for_token(token)
    if registration.status == Status.CONFIRMED:
        return registration
    if registration.status != Status.OFFERED:
        if registration.status == Status.CANCELLED:
            raise RegistrationCancelledError
        raise NoOfferError
    return confirm_email(token=token, consent=consent, at=at)


def issue_ticket(*, registration: Registration, at: dt.datetime | None = None) -> Ticket:
    """The registration's ticket, issued now if it has none; signed with the current key.

    Call inside the transaction that confirms the registration. Raises TicketIssueError when
    the category's entry window cannot go into a ticket code."""
    existing = selectors.get_ticket(registration=registration)
    if existing is not None:
        return existing
    category = registration.category
    valid_from, valid_until = category.entry_window()
    key = keys.load_keyring().current
    ticket_id = new_ticket_id()
    try:
        claims = TicketClaims(
            ticket_id=ticket_id,
            edition_year=registration.edition.year,
            category=category.code,
            valid_from=valid_from,
            valid_until=valid_until,
        )
        sign_ticket(claims, key=key)  # the window must fit the code (1970-2106, not empty)
    except ValueError as error:
        logger.error("category_id=%s cannot issue tickets: %s", category.pk, error)
        raise TicketIssueError from error
    ticket = Ticket.objects.create(
        ticket_id=ticket_id.hex(),
        registration=registration,
        edition=registration.edition,
        category_code=int(category.code),
        key_id=key.key_id,
        valid_from=valid_from,
        valid_until=valid_until,
        issued_at=at or now(),
    )
    logger.info("ticket issued for registration_id=%s", registration.pk)
    return ticket


def _send_ticket(registration: Registration, *, ticket: Ticket, token: str) -> None:
    # The PDF and QR image are made by the worker when it sends the email, not here.
    emails.schedule("ticket", registration=registration, token=token, ticket_id=ticket.pk)


def _fill_free_places(category: Category, *, at: dt.datetime) -> list[Registration]:
    """Offer free places to the first people on the waiting list, in order.

    Must be called while holding the category's lock (see :func:`_lock_category`)."""
    free = count_free_places(category)
    if free <= 0:
        return []
    offered = list(
        Registration.objects.select_for_update(of=("self",))
        .select_related("edition", "category")
        .filter(category=category, status=Status.WAITLISTED)
        .order_by("waitlisted_at", "pk")[:free]
    )
    for registration in offered:
        token = _new_link(registration)
        registration.status = Status.OFFERED
        registration.offer_expires_at = at + OFFER_WINDOW
        registration.save(
            update_fields=["status", "offer_expires_at", "manage_token_hash", "updated_at"]
        )
        logger.info("place offered to registration_id=%s", registration.pk)
        emails.schedule("offer", registration=registration, token=token)
    return offered


def fill_free_places(*, category: Category, at: dt.datetime | None = None) -> list[Registration]:
    """Offer the category's free places (after a capacity increase) to the waiting list."""
    with transaction.atomic():
        return _fill_free_places(_lock_category(category.pk), at=at or now())


def _expire(*, status: str, deadline_field: str, reason: str, at: dt.datetime) -> int:
    expired = 0
    filters = {"status": status, f"{deadline_field}__lte": at}
    category_ids = set(
        Registration.objects.filter(**filters).values_list("category_id", flat=True).distinct()
    )
    for category_id in sorted(category_ids):
        with transaction.atomic():
            category = _lock_category(category_id)
            registrations = list(
                Registration.objects.select_for_update(of=("self",))
                .select_related("edition", "category")
                .filter(category=category, **filters)
            )
            for registration in registrations:
                _mark_cancelled(registration, reason=reason, at=at)
                emails.schedule("cancelled", registration=registration, reason=reason)
            expired += len(registrations)
            _fill_free_places(category, at=at)
    return expired


def expire_offers(*, at: dt.datetime | None = None) -> int:
    """Cancel offers whose deadline has passed and offer those places to the next people on
    the waiting list. Returns how many offers expired. Run it periodically."""
    return _expire(
        status=Status.OFFERED,
        deadline_field="offer_expires_at",
        reason=Reason.OFFER_EXPIRED,
        at=at or now(),
    )


def expire_unconfirmed(*, at: dt.datetime | None = None) -> int:
    """Cancel pending registrations not confirmed in time, giving their places to the
    waiting list. Returns how many were cancelled. Run it periodically."""
    return _expire(
        status=Status.PENDING,
        deadline_field="confirm_by",
        reason=Reason.UNCONFIRMED,
        at=at or now(),
    )


# --- cancel, change, erase -------------------------------------------------------------------


def _mark_cancelled(registration: Registration, *, reason: str, at: dt.datetime) -> None:
    registration.status = Status.CANCELLED
    registration.cancel_reason = reason
    registration.cancelled_at = at
    registration.confirm_by = None
    registration.offer_expires_at = None
    registration.save(
        update_fields=[
            "status",
            "cancel_reason",
            "cancelled_at",
            "confirm_by",
            "offer_expires_at",
            "updated_at",
        ]
    )
    Ticket.objects.filter(registration=registration, revoked_at__isnull=True).update(revoked_at=at)
    logger.info("registration_id=%s cancelled (%s)", registration.pk, reason)


def cancel(
    *,
    registration: Registration,
    reason: str = Reason.BY_REGISTRANT,
    notify: bool = True,
    at: dt.datetime | None = None,
) -> Registration:
    """Cancel ``registration``: its ticket is revoked, its place (if it held one) goes to the
    first person on the waiting list, with an email offering it until a deadline.
    Cancelling a cancelled registration changes nothing."""
    moment = at or now()
    with transaction.atomic():
        category = _lock_category(registration.category_id)
        locked = _lock_registration(registration.pk)
        if locked.status == Status.CANCELLED:
            return locked
        held_place = locked.holds_place
        _mark_cancelled(locked, reason=reason, at=moment)
        if notify:
            emails.schedule("cancelled", registration=locked, reason=reason)
        if held_place:
            _fill_free_places(category, at=moment)
    return locked


def cancel_by_token(*, token: str, at: dt.datetime | None = None) -> Registration:
    """The registrant cancels through their private link. Raises RegistrationNotFoundError."""
    return cancel(registration=_registration_for_token(token), at=at)


def update_details(*, registration: Registration, name: str, language: str) -> Registration:
    """Change the name as printed and the language of emails and pages. The ticket carries
    neither, so it stays valid. Raises InvalidRegistrationDataError, RegistrationCancelledError."""
    try:
        clean_name = validation.clean_name(name)
        clean_language = validation.clean_language(language)
    except ValidationError as error:
        raise InvalidRegistrationDataError from error
    with transaction.atomic():
        locked = _lock_registration(registration.pk)
        if locked.status == Status.CANCELLED:
            raise RegistrationCancelledError
        locked.name = clean_name
        locked.language = clean_language
        locked.save(update_fields=["name", "language", "updated_at"])
    return locked


def erase(*, registration: Registration, at: dt.datetime | None = None) -> None:
    """Erase the registration's personal data for good: name, email, phone, answers, country
    and its private link. An active registration is cancelled first (its place goes to the
    waiting list, its ticket is revoked). What stays is anonymous: edition, category, status,
    language, the consent record (version and time, no personal data) and timestamps."""
    moment = at or now()
    with transaction.atomic():
        cancel(registration=registration, reason=Reason.ERASED, notify=False, at=moment)
        locked = _lock_registration(registration.pk)
        locked.name = None
        locked.email = None
        locked.email_index = None
        locked.phone = None
        locked.answers = None
        locked.country = ""
        locked.manage_token_hash = None
        locked.delegation = None
        locked.erased_at = moment
        locked.save(
            update_fields=[
                "name",
                "email",
                "email_index",
                "phone",
                "answers",
                "country",
                "manage_token_hash",
                "delegation",
                "erased_at",
                "updated_at",
            ]
        )
    logger.info("registration_id=%s erased", registration.pk)


def erase_by_token(*, token: str, at: dt.datetime | None = None) -> None:
    erase(registration=_registration_for_token(token), at=at)


def export_personal_data(*, registration: Registration) -> dict[str, Any]:
    """Everything stored about the person, as JSON-ready data (GDPR art. 15 and 20)."""
    questions = {question.key: question for question in registration.category.questions.all()}
    answers = []
    for key, value in (registration.answers or {}).items():
        question = questions.get(key)
        answers.append(
            {
                "question": dict(question.label) if question else key,
                "answer": value,
            }
        )
    ticket = selectors.get_ticket(registration=registration)
    delegation = registration.delegation
    led = selectors.get_led_delegation(registration=registration)

    def iso(moment: dt.datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "format": "gathering.registration-export",
        "version": 1,
        "exported_at": now().isoformat(),
        "edition": registration.edition.year,
        "category": dict(registration.category.name),
        "name": registration.name,
        "email": registration.email,
        "phone": registration.phone,
        "language": registration.language,
        "country": registration.country,
        "country_name": country_name(registration.country, "en") if registration.country else "",
        "answers": answers,
        "status": registration.status,
        "consent": {
            "version": registration.consent_version,
            "purpose": registration.consent_purpose,
            "retention": registration.consent_retention,
            "given_at": iso(registration.consented_at),
        },
        "registered_at": iso(registration.created_at),
        "email_confirmed_at": iso(registration.email_confirmed_at),
        "confirmed_at": iso(registration.confirmed_at),
        "waitlisted_at": iso(registration.waitlisted_at),
        "offer_expires_at": iso(registration.offer_expires_at),
        "cancelled_at": iso(registration.cancelled_at),
        "ticket": (
            {
                "ticket_id": ticket.ticket_id,
                "valid_from": iso(ticket.valid_from),
                "valid_until": iso(ticket.valid_until),
                "revoked_at": iso(ticket.revoked_at),
            }
            if ticket
            else None
        ),
        "delegation": (
            {"city": delegation.city, "country": delegation.country} if delegation else None
        ),
        "leads_delegation": (
            {"city": led.city, "country": led.country, "transport": led.transport} if led else None
        ),
    }
