"""An edition full of personal data, made through the real services (registration with
confirmation and ticket, a delegation with a member, a gate scan, signatures confirmed, held
and pending, a bulk invalidation, a satellite site), and the figures that must survive a purge.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.utils.timezone import now

from gathering.abuse import altcha
from gathering.checkin import services as checkin
from gathering.checkin.models import Scan
from gathering.checkin.tests.factories import GateFactory
from gathering.outbox.models import OutboxEmail
from gathering.program.models import Edition
from gathering.registration import services as registration
from gathering.registration.models import Category, Delegation, Registration, Ticket
from gathering.registration.tests.factories import CategoryFactory, QuestionFactory
from gathering.registration.tickets import ticket_code
from gathering.satellites import services as satellites
from gathering.satellites.models import Site
from gathering.transparency.models import Entry
from gathering.voices import services as voices
from gathering.voices.models import Campaign, Invalidation, Signature
from gathering.voices.selectors import count_by_country
from gathering.voices.tests.factories import CampaignFactory


def proof_of_work() -> str:
    challenge = altcha.create_challenge(max_number=2000)
    number = altcha.solve(challenge)
    assert number is not None
    return altcha.encode_payload(challenge, number)


def outbox_context(kind: str, **match: Any) -> dict[str, Any]:
    """The context of the last queued email of ``kind`` whose context holds ``match``."""
    for row in OutboxEmail.objects.filter(kind=kind).order_by("-pk"):
        context = row.context or {}
        if all(context.get(key) == value for key, value in match.items()):
            return dict(context)
    raise AssertionError(f"no {kind} email with {match}")


@dataclass
class Populated:
    edition: Edition
    campaign: Campaign
    registrations: list[Registration] = field(default_factory=list)
    signatures: list[Signature] = field(default_factory=list)
    site: Site | None = None
    delegation: Delegation | None = None


def populate(edition: Edition, *, tag: str = "p") -> Populated:
    """Personal data of every kind in ``edition`` (whose categories and campaign open now)."""
    attendee = CategoryFactory(edition=edition, slug=f"attendee-{tag}", capacity=3)
    question = QuestionFactory(category=attendee, key="diet")
    delegates = CategoryFactory(
        edition=edition,
        slug=f"delegation-{tag}",
        kind=Category.Kind.DELEGATION_MEMBER,
        is_public=False,
    )
    made = Populated(edition=edition, campaign=CampaignFactory(edition=edition, slug=tag))

    # Confirmed, with a ticket that is scanned at a gate.
    confirmed = registration.register(
        category=attendee,
        name=f"Confirmed {tag}",
        email=f"confirmed-{tag}@example.org",
        language="fa",
        country="DE",
        phone="+49 30 1234567",
        answers={question.key: "vegetarian"},
        consent=True,
    ).registration
    token = outbox_context("registration.confirm", registration_id=confirmed.pk)["confirm_url"]
    registration.confirm_email(token=token.rstrip("/").split("/")[-2])
    made.registrations.append(confirmed)
    ticket = Ticket.objects.get(registration=confirmed)
    gate = GateFactory(edition=edition, slug=f"gate-{tag}")
    scanned = checkin.record_scan(
        code=ticket_code(ticket),
        gate=gate,
        direction="entry",
        nonce=secrets.token_hex(8),
        at=ticket.valid_from + dt.timedelta(hours=1),
    )
    assert scanned.accepted, scanned.message
    # Pending, then the waiting list (capacity 3: two places left, then full).
    for n, country in enumerate(["FR", "FR", "IR"]):
        made.registrations.append(
            registration.register(
                category=attendee,
                name=f"Person {n} {tag}",
                email=f"person-{n}-{tag}@example.org",
                language="en",
                country=country,
                consent=True,
            ).registration
        )
    # A delegation: its leader and a member who joined.
    leader = registration.register_delegation(
        category=delegates,
        name=f"Leader {tag}",
        email=f"leader-{tag}@example.org",
        language="en",
        country="SE",
        phone="+46 8 123 456",
        consent=True,
        city="Stockholm",
        departure_country="SE",
        transport="coach",
        expected_size=20,
    ).registration
    made.delegation = Delegation.objects.get(leader=leader)
    member = registration.register(
        category=delegates,
        name=f"Member {tag}",
        email=f"member-{tag}@example.org",
        language="en",
        country="SE",
        consent=True,
        delegation=made.delegation,
    ).registration
    made.registrations += [leader, member]

    # Signatures: counted (with a message, approved), wanting news (address kept), held for
    # review (no proof of work), pending, and one invalidated with its domain.
    for n, (proof, news, message) in enumerate(
        [(True, False, "Freedom"), (True, True, ""), (False, False, ""), (True, False, "")]
    ):
        signed = voices.sign(
            campaign=made.campaign,
            request=voices.SignRequest(
                name=f"Signer {n} {tag}",
                show_name=True,
                email=f"signer-{n}-{tag}@example.org",
                country=["FR", "DE", "FR", "IR"][n],
                city=f"City {n}",
                message=message,
                wants_news=news,
                client_ip=f"203.0.113.{n + 1}",
                proof_of_work=proof_of_work() if proof else None,
                consent=True,
            ),
        ).signature
        made.signatures.append(signed)
        if n < 3:
            context = outbox_context("voices.confirm", campaign_id=made.campaign.pk)
            voices.confirm(token=context["confirm_token"])
    voices.moderate_message(signature=made.signatures[0], approve=True)
    spam = voices.sign(
        campaign=made.campaign,
        request=voices.SignRequest(
            name=f"Spammer {tag}",
            email=f"bot-{tag}@spam-{tag}.example",
            country="US",
            client_ip="198.51.100.7",
            proof_of_work=proof_of_work(),
            consent=True,
        ),
    ).signature
    context = outbox_context("voices.confirm", campaign_id=made.campaign.pk)
    voices.confirm(token=context["confirm_token"])
    moderator, _created = User.objects.get_or_create(username=f"moderator-{tag}")
    voices.invalidate(
        campaign=made.campaign,
        kind=Invalidation.Kind.DOMAIN,
        domain=f"spam-{tag}.example",
        reason="Automated signatures",
        moderator=moderator,
    )
    made.signatures.append(spam)

    made.site = satellites.apply_for_site(
        edition=edition,
        name=f"Site {tag}",
        city=f"Town {tag}",
        country="CA",
        is_online=False,
        venue="Community hall",
        expected_attendance=40,
        timezone_name="America/Toronto",
        contact_name=f"Contact {tag}",
        contact_email=f"contact-{tag}@example.org",
        language="en",
        consent_given=True,
        at=dt.datetime.combine(edition.start_date, dt.time(12), tzinfo=edition.tzinfo),
    )
    return made


def figures(edition: Edition) -> dict[str, Any]:
    """Everything a purge must leave as it was: counts by status, category, country, delegation;
    tickets, scans, the signatures' public counts, the transparency log, the sites."""
    registrations = Registration.objects.filter(edition=edition)
    campaigns = Campaign.objects.filter(edition=edition)
    signatures = Signature.objects.filter(campaign__in=campaigns)
    return {
        "registrations": registrations.count(),
        "registrations_by": Counter(
            registrations.values_list("category__slug", "status", "country", "language")
        ),
        "delegation_members": Counter(
            registrations.filter(delegation__isnull=False).values_list("delegation_id", flat=True)
        ),
        "delegations": list(
            Delegation.objects.filter(edition=edition).values_list(
                "city", "country", "transport", "expected_size", "leader_id"
            )
        ),
        "tickets": list(
            Ticket.objects.filter(edition=edition)
            .order_by("pk")
            .values_list("ticket_id", "registration_id", "revoked_at", "valid_from")
        ),
        "scans": list(
            Scan.objects.filter(edition=edition).order_by("pk").values_list("ticket_id", "status")
        ),
        "signatures": signatures.count(),
        "signatures_by": Counter(signatures.values_list("status", "review", "country")),
        "public_counts": {
            campaign.slug: count_by_country(campaign=campaign, fresh=True) for campaign in campaigns
        },
        "leaves": list(
            Entry.objects.filter(log__slug__in=[c.log_slug for c in campaigns])
            .order_by("pk")
            .values_list("index", "leaf_hash")
        ),
        "invalidations": list(
            Invalidation.objects.filter(campaign__in=campaigns).values_list(
                "kind", "reason", "count", "counted"
            )
        ),
        "sites": list(
            Site.objects.filter(edition=edition).values_list("name", "city", "country", "status")
        ),
    }


def personal_data(edition: Edition) -> dict[str, Any]:
    """Every personal value left in ``edition`` (None where erased), for exact comparisons."""
    registrations = Registration.objects.filter(edition=edition).order_by("pk")
    signatures = Signature.objects.filter(campaign__edition=edition).order_by("pk")
    return {
        "registrations": [
            (r.name, r.email, r.email_index, r.phone, r.answers, r.manage_token_hash)
            for r in registrations
        ],
        "signatures": [
            (
                s.name,
                s.city,
                s.message,
                s.email,
                s.email_hash,
                s.email_domain,
                s.prefix_hash,
                s.confirm_token_hash,
                s.withdraw_token_hash,
            )
            for s in signatures
        ],
        "sites": list(
            Site.objects.filter(edition=edition).values_list(
                "contact_name", "contact_email", "contact_email_index"
            )
        ),
        "invalidations": list(
            Invalidation.objects.filter(campaign__edition=edition).values_list("criteria")
        ),
    }


def names(tag: str) -> list[str]:
    """The names and addresses :func:`populate` gives its people."""
    people = [f"Confirmed {tag}", f"Leader {tag}", f"Member {tag}", f"Contact {tag}"]
    people += [f"Person {n} {tag}" for n in range(3)] + [f"Signer {n} {tag}" for n in range(4)]
    people += [f"{kind}-{tag}@example.org" for kind in ("confirmed", "leader", "member")]
    return people + [f"signer-{n}-{tag}@example.org" for n in range(4)]


def moment_after(edition: Edition, **delta: float) -> dt.datetime:
    return edition.retention_deadline + dt.timedelta(**delta)


def not_yet(edition: Edition) -> dt.datetime:
    return edition.retention_deadline - dt.timedelta(seconds=1)


__all__ = [
    "Populated",
    "figures",
    "moment_after",
    "names",
    "not_yet",
    "now",
    "personal_data",
    "populate",
]
