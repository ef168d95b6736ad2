from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

import factory
from django.contrib.auth.models import Group
from django.utils.timezone import now

from gathering.checkin.models import Gate
from gathering.program.models import Edition
from gathering.program.tests.factories import EditionFactory, texts
from gathering.registration import keys
from gathering.registration.models import Category, Registration, Ticket
from gathering.registration.tests.factories import CategoryFactory
from gathering.registration.ticket_codes import TicketClaims, new_ticket_id, sign_ticket

# A name that must never appear in anything check-in shows or logs.
SECRET_NAME = "Shirin Testnameh"
SECRET_EMAIL = "shirin.testnameh@example.org"
PASSWORD = "gate-password-2030"

_counter = itertools.count(1)


class GateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Gate

    edition = factory.SubFactory(EditionFactory)
    slug = factory.Sequence(lambda n: f"gate-{n}")
    name = factory.LazyFunction(lambda: texts("Gate A", "ورودی الف", "Porte A"))


@dataclass
class IssuedTicket:
    ticket: Ticket
    code: str

    @property
    def ticket_id(self) -> str:
        return self.ticket.ticket_id


def issue_ticket(
    edition: Edition,
    *,
    category: Category | None = None,
    valid_from: dt.datetime | None = None,
    valid_until: dt.datetime | None = None,
    revoked: bool = False,
) -> IssuedTicket:
    """A confirmed registration's ticket, created directly in the database, and its signed code
    (signed with the current key, as ``registration.tickets.ticket_code`` does)."""
    category = category or CategoryFactory(edition=edition)
    n = next(_counter)
    registration = Registration.objects.create(
        edition=edition,
        category=category,
        name=SECRET_NAME,
        email=f"{n}.{SECRET_EMAIL}",
        language="en",
        country="FR",
        status=Registration.Status.CONFIRMED,
        confirmed_at=now(),
    )
    key = keys.current_signing_key()
    valid_from = valid_from or (now() - dt.timedelta(days=1)).replace(microsecond=0)
    valid_until = valid_until or (now() + dt.timedelta(days=2)).replace(microsecond=0)
    ticket_id = new_ticket_id()
    ticket = Ticket.objects.create(
        ticket_id=ticket_id.hex(),
        registration=registration,
        edition=edition,
        category_code=int(category.code),
        key_id=key.key_id,
        valid_from=valid_from,
        valid_until=valid_until,
        revoked_at=now() if revoked else None,
    )
    claims = TicketClaims(
        ticket_id=ticket_id,
        edition_year=edition.year,
        category=category.code,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    return IssuedTicket(ticket=ticket, code=sign_ticket(claims, key=key))


def make_staff(django_user_model, username: str, *, role: str | None = "gate"):
    user = django_user_model.objects.create_user(username, password=PASSWORD, is_staff=True)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def nonce(label: str = "") -> str:
    return f"test-{label}-{next(_counter):08d}"[-64:]
