"""Reads of registration: categories, registrations by private link, delegations, counts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.utils.timezone import now

from gathering.core.crypto import blind_indexes
from gathering.program.models import Edition
from gathering.registration import tokens
from gathering.registration.models import (
    NAME_PURPOSE,
    Category,
    Delegation,
    Registration,
    Ticket,
)


def list_open_categories(*, edition: Edition, at: dt.datetime | None = None) -> QuerySet[Category]:
    """Public categories of ``edition`` whose registration is open at ``at`` (default: now)."""
    moment = at or now()
    return Category.objects.filter(
        edition=edition, is_public=True, opens_at__lte=moment, closes_at__gt=moment
    ).order_by("position", "slug")


def list_public_categories(*, edition: Edition) -> QuerySet[Category]:
    """Every public category of ``edition``, open or not (the page says when each opens)."""
    return Category.objects.filter(edition=edition, is_public=True).order_by("position", "slug")


def get_category(*, edition: Edition, slug: str) -> Category:
    """Raises ``Category.DoesNotExist``."""
    return (
        Category.objects.select_related("edition")
        .prefetch_related("questions")
        .get(edition=edition, slug=slug)
    )


def get_delegation_category(*, edition: Edition) -> Category:
    """The category that delegation members register in. Raises ``Category.DoesNotExist``."""
    category = (
        Category.objects.select_related("edition")
        .filter(edition=edition, kind=Category.Kind.DELEGATION_MEMBER)
        .order_by("position", "pk")
        .first()
    )
    if category is None:
        raise Category.DoesNotExist
    return category


def count_places_taken(*, category: Category) -> int:
    """Places held in ``category``: pending, offered and confirmed registrations."""
    return Registration.objects.filter(
        category=category, status__in=Registration.HOLDING_PLACE
    ).count()


def count_waiting(*, category: Category) -> int:
    return Registration.objects.filter(
        category=category, status=Registration.Status.WAITLISTED
    ).count()


def _registrations() -> QuerySet[Registration]:
    return Registration.objects.select_related(
        "edition", "category", "delegation", "delegation__edition", "ticket"
    )


def get_registration_by_token(*, token: str) -> Registration:
    """The registration that a private link's token opens. Raises ``Registration.DoesNotExist``
    for a malformed, replaced or unknown token (and for erased registrations)."""
    if not tokens.is_well_formed(token):
        raise Registration.DoesNotExist
    return _registrations().get(manage_token_hash=tokens.hash_token(token))


def find_active_registration(*, edition: Edition, email: str) -> Registration | None:
    """The registration of ``edition`` that is not cancelled and has this email (compared
    through the blind index: case and surrounding spaces do not matter; found under every
    keyed-hash key held)."""
    return (
        _registrations()
        .filter(edition=edition, email_index__in=blind_indexes(email, purpose="email"))
        .exclude(status=Registration.Status.CANCELLED)
        .first()
    )


def get_ticket(*, registration: Registration) -> Ticket | None:
    try:
        return Ticket.objects.select_related("edition", "registration__category").get(
            registration=registration
        )
    except Ticket.DoesNotExist:
        return None


def get_delegation_by_invitation(*, token: str) -> Delegation:
    """The delegation whose invitation link holds ``token``. Raises ``Delegation.DoesNotExist``."""
    if not tokens.is_well_formed(token):
        raise Delegation.DoesNotExist
    return Delegation.objects.select_related("edition", "category", "category__edition").get(
        invitation_token_hash=tokens.hash_token(token)
    )


def get_led_delegation(*, registration: Registration) -> Delegation | None:
    return (
        Delegation.objects.select_related("edition", "category").filter(leader=registration).first()
    )


def list_delegation_members(*, delegation: Delegation) -> QuerySet[Registration]:
    """Members who have not cancelled, leader first, then in order of registration."""
    return (
        Registration.objects.filter(delegation=delegation)
        .exclude(status=Registration.Status.CANCELLED)
        .select_related("category")
        .order_by("created_at", "pk")
    )


@dataclass(frozen=True)
class CityCount:
    country: str
    city: str
    delegations: int
    expected: int
    members: int


def list_delegations_by_city(*, edition: Edition) -> list[CityCount]:
    """Delegations of ``edition`` grouped by country and city of departure, with counts of
    delegations, expected travellers and members who have not cancelled."""
    rows = (
        Delegation.objects.filter(edition=edition)
        .annotate(
            active_members=Count(
                "members", filter=~Q(members__status=Registration.Status.CANCELLED)
            )
        )
        .values_list("country", "city", "expected_size", "active_members")
    )
    grouped: dict[tuple[str, str], list[int]] = {}
    for country, city, expected, members in rows:
        key = (country, city.strip())
        counts = grouped.setdefault(key, [0, 0, 0])
        counts[0] += 1
        counts[1] += expected
        counts[2] += members
    return [
        CityCount(country=country, city=city, delegations=d, expected=e, members=m)
        for (country, city), (d, e, m) in sorted(grouped.items())
    ]


def list_revoked_ticket_ids(*, edition: Edition) -> list[bytes]:
    """Ids (8 bytes each) of the edition's revoked tickets, for the gates' revocation list."""
    return [
        bytes.fromhex(ticket_id)
        for ticket_id in Ticket.objects.filter(edition=edition, revoked_at__isnull=False)
        .order_by("ticket_id")
        .values_list("ticket_id", flat=True)
    ]


# Categories whose people get a printed badge (everyone else shows their ticket at the gate).
BADGE_KINDS = (Category.Kind.PRESS, Category.Kind.GUEST, Category.Kind.VOLUNTEER)


def list_badge_registrations(*, registrations: QuerySet[Registration]) -> QuerySet[Registration]:
    """Of ``registrations``, those that get a badge: confirmed, in a press, guest or volunteer
    category, with a ticket that is not revoked. Two queries: the registrations with their
    edition, category and ticket, then the categories' questions (for the affiliation).

    Ordered by category; the caller orders by name if it wants to (names are encrypted)."""
    return (
        registrations.filter(
            status=Registration.Status.CONFIRMED,
            category__kind__in=BADGE_KINDS,
            ticket__isnull=False,
            ticket__revoked_at__isnull=True,
        )
        .select_related("edition", "category", "ticket")
        .prefetch_related("category__questions")
        .order_by("edition__year", "category__position", "category__slug", "pk")
    )


# --- the registration desk and the press officer (staff_views.py) ----------------------------

# The desk sees at most this many people per look-up; a look-up matching more is refused
# ("be more specific"): the desk helps one person at a time and never browses a list.
DESK_MAX_MATCHES = 5


@dataclass(frozen=True)
class DeskLookup:
    """The outcome of a desk look-up: ``by`` names the way (never the value looked up);
    ``too_many`` when more than ``DESK_MAX_MATCHES`` matched (``matches`` is then empty)."""

    by: str
    matches: list[Registration]
    too_many: bool = False


def _desk_registrations() -> QuerySet[Registration]:
    return Registration.objects.select_related("edition", "category", "ticket", "delegation")


def find_for_desk(
    *,
    ticket_id: str = "",
    number: int | None = None,
    email: str = "",
    name: str = "",
    edition: Edition | None = None,
) -> DeskLookup:
    """Registrations matching exactly one of: a ticket id (16 hex digits), a registration
    number, or (within ``edition``) a whole email address or a whole name, compared through
    their blind indexes (case, accents' composition and spacing do not matter; a part of a
    name matches nothing). Cancelled registrations are found too (the desk explains them)."""
    registrations = _desk_registrations()
    if ticket_id:
        by, found = "ticket", registrations.filter(ticket__ticket_id=ticket_id.lower())
    elif number is not None:
        by, found = "number", registrations.filter(pk=number)
    elif email and edition is not None:
        by = "email"
        found = registrations.filter(
            edition=edition, email_index__in=blind_indexes(email, purpose="email")
        )
    elif name and edition is not None:
        by = "name"
        found = registrations.filter(
            edition=edition, name_index__in=blind_indexes(name, purpose=NAME_PURPOSE)
        )
    else:
        return DeskLookup(by="none", matches=[])
    rows = list(found.order_by("-created_at", "-pk")[: DESK_MAX_MATCHES + 1])
    if len(rows) > DESK_MAX_MATCHES:
        return DeskLookup(by=by, matches=[], too_many=True)
    return DeskLookup(by=by, matches=rows)


def get_desk_registration(*, pk: int) -> Registration:
    """Raises ``Registration.DoesNotExist``."""
    return _desk_registrations().get(pk=pk)


def list_press_registrations(*, edition: Edition) -> QuerySet[Registration]:
    """The registrations of ``edition``'s press categories, newest first, with what the press
    pages show (the categories' questions give the affiliation)."""
    return (
        _desk_registrations()
        .filter(edition=edition, category__kind=Category.Kind.PRESS)
        .prefetch_related("category__questions")
        .order_by("-created_at", "-pk")
    )


def get_press_registration(*, pk: int) -> Registration:
    """A registration of a press category; raises ``Registration.DoesNotExist`` for any other
    (a press officer sees nothing else)."""
    return (
        _desk_registrations()
        .prefetch_related("category__questions")
        .get(pk=pk, category__kind=Category.Kind.PRESS)
    )


def list_press_editions() -> QuerySet[Edition]:
    """Editions with a press category, newest first."""
    return (
        Edition.objects.filter(registration_categories__kind=Category.Kind.PRESS)
        .distinct()
        .order_by("-year")
    )
