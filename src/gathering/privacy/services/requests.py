"""Data-subject requests handled by staff: look a person up by email address, export what is
stored about them (GDPR art. 15 and 20), or erase it (art. 17).

People reach their own data through their private links (a registration's page exports and
erases it, a signature's page withdraws it); these services are for a request made to the
organisers instead, by letter or email. Each call writes one :class:`DataSubjectRequest` (kind,
reference, who, when, what was found and erased: counts only, and a keyed hash of the address,
never the address) and one audit event, in the transaction of the work it records.

Erasing reuses what erases elsewhere and deletes no row, so every count stays as it was:

- registrations: ``registration.services.erase`` (as the person's own link does: cancelled,
  ticket revoked, place offered to the waiting list, personal data gone);
- signatures: withdrawn as by the person's withdrawal link (they stop counting: consent is
  withdrawn; the public log keeps its anonymous leaf and publishes the withdrawal), then every
  personal value erased as the retention purge erases it, the keyed hash of the address
  included (``erased:<id>``);
- site applications: the contact's name, email and its keyed hash (the site stays);
- emails queued to the person and not sent yet: cancelled (which erases them).

Staff accounts with the address are reported and exported, not erased: an account is closed in
the back office (the audit trail keeps its username).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import models, transaction
from django.db.models import Value
from django.db.models.functions import Cast, Concat
from django.http import HttpRequest
from django.utils.timezone import now

from gathering.audit import services as audit
from gathering.core.crypto import blind_index, blind_indexes
from gathering.outbox import services as outbox
from gathering.privacy import selectors
from gathering.privacy.errors import InvalidReferenceError
from gathering.privacy.models import REFERENCE_MAX_LENGTH, DataSubjectRequest
from gathering.privacy.selectors import KINDS, PersonRecords
from gathering.privacy.services.retention import (
    ERASED_HASH_PREFIX,
    _drop_old_page_copies,
    _overwriting_erased_values,
)
from gathering.program.models import Edition
from gathering.registration import services as registration_services
from gathering.registration.models import Registration
from gathering.satellites.models import Site
from gathering.voices import services as voices_services
from gathering.voices.canonical import canonical_email
from gathering.voices.models import Signature

logger = logging.getLogger(__name__)

EXPORT_FORMAT = "gathering.person-export"
# The keyed hash a request keeps of the address: its own purpose, so it matches no other table.
REQUEST_HASH_PURPOSE = "privacy-request-email"

Kind = DataSubjectRequest.Kind


def request_email_hash(email: str) -> str:
    """The keyed hash a request stores of ``email`` (canonical form: two spellings of one
    mailbox give one hash)."""
    return blind_index(canonical_email(email), purpose=REQUEST_HASH_PURPOSE)


def count_earlier_requests(*, email: str) -> int:
    """How many requests were recorded for this address before (under any key held)."""
    hashes = blind_indexes(canonical_email(email), purpose=REQUEST_HASH_PURPOSE)
    return selectors.count_earlier_requests(email_hashes=hashes)


def _clean_reference(reference: str) -> str:
    text = " ".join((reference or "").split())
    if not text:
        raise InvalidReferenceError
    if len(text) > REFERENCE_MAX_LENGTH or "@" in text or any(ord(c) < 32 for c in text):
        raise InvalidReferenceError
    return text


def _record(
    request: HttpRequest | None,
    *,
    kind: str,
    records: PersonRecords,
    reference: str,
    by: Any,
    erased: dict[str, int] | None = None,
) -> DataSubjectRequest:
    """Write the request and its audit event (inside the caller's transaction, if any)."""
    user = by if getattr(by, "pk", None) else None
    entry = DataSubjectRequest.objects.create(
        kind=kind,
        reference=reference,
        email_hash=request_email_hash(records.email),
        edition_year=records.edition.year if records.edition else None,
        handled_by=user,
        handled_by_username=user.get_username() if user else "",
        found=records.counts(),
        erased=erased or {},
    )
    # Ids and counts only: the reference is free text and could name the person.
    counts = ",".join(f"{k}:{n}" for k, n in (erased or records.counts()).items() if n)
    audit.record(
        request,
        action=f"privacy.{kind}",
        obj=entry,
        actor=user,
        summary=(
            f"edition={entry.edition_year or '-'} "
            f"{'erased' if erased is not None else 'found'}={counts or '-'}"
        ),
    )
    return entry


def look_up(
    *,
    email: str,
    edition: Edition | None,
    reference: str,
    by: Any,
    request: HttpRequest | None = None,
) -> tuple[DataSubjectRequest, PersonRecords]:
    """Find the records of ``email`` and record the look-up. Raises InvalidEmailError and
    InvalidReferenceError (nothing is recorded then)."""
    clean = _clean_reference(reference)
    records = selectors.find_person(email=email, edition=edition)
    with transaction.atomic():
        entry = _record(request, kind=Kind.LOOKUP, records=records, reference=clean, by=by)
    return entry, records


def export_person(
    *,
    email: str,
    edition: Edition | None,
    reference: str,
    by: Any,
    request: HttpRequest | None = None,
) -> tuple[DataSubjectRequest, dict[str, Any]]:
    """Everything stored about the owner of ``email``, as JSON-ready data, and the request
    recorded. Raises InvalidEmailError and InvalidReferenceError."""
    clean = _clean_reference(reference)
    records = selectors.find_person(email=email, edition=edition)
    data = person_data(records)
    with transaction.atomic():
        entry = _record(request, kind=Kind.ACCESS, records=records, reference=clean, by=by)
    data["request"] = {"id": entry.pk, "reference": entry.reference}
    return entry, data


def erase_person(
    *,
    email: str,
    edition: Edition | None,
    reference: str,
    by: Any,
    request: HttpRequest | None = None,
    at: dt.datetime | None = None,
) -> tuple[DataSubjectRequest, PersonRecords]:
    """Erase the personal data of the owner of ``email`` (see the module docstring), all of it
    or none (one transaction), and record the request. Erasing again finds nothing more and
    changes nothing. Raises InvalidEmailError and InvalidReferenceError."""
    clean = _clean_reference(reference)
    moment = at or now()
    records = selectors.find_person(email=email, edition=edition)
    erased = dict.fromkeys(KINDS, 0)
    with _overwriting_erased_values(enabled=records.total > 0), transaction.atomic():
        for registration in records.registrations:
            _erase_registration(registration, at=moment)
            erased["registrations"] += 1
        # The delegations themselves hold no contact data: their leader's is the registration.
        for signature in records.signatures:
            _erase_signature(signature, at=moment)
            erased["signatures"] += 1
        if records.site_applications:
            erased["site_applications"] = Site.objects.filter(
                pk__in=[site.pk for site in records.site_applications]
            ).update(contact_name=None, contact_email=None, contact_email_index=None)
        if records.queued_emails:
            erased["queued_emails"] = outbox.cancel(ids=[row.pk for row in records.queued_emails])
        entry = _record(
            request, kind=Kind.ERASURE, records=records, reference=clean, by=by, erased=erased
        )
    if records.total:
        _drop_old_page_copies()
    logger.info(
        "privacy erasure request_id=%s %s",
        entry.pk,
        " ".join(f"{kind}={count}" for kind, count in erased.items()),
    )
    return entry, records


def _erase_registration(registration: Registration, *, at: dt.datetime) -> None:
    registration_services.erase(registration=registration, at=at)


def _erase_signature(signature: Signature, *, at: dt.datetime) -> None:
    # Withdrawn first (stops counting, erases name, city, message and address; an invalidated
    # signature stays invalidated), then what withdrawal keeps, as the retention purge does.
    voices_services.withdraw_signature(signature=signature, at=at)
    Signature.objects.filter(pk=signature.pk).update(
        name=None,
        city=None,
        message=None,
        email=None,
        show_name=False,
        wants_news=False,
        message_status=Signature.MessageStatus.NONE,
        email_hash=Concat(Value(ERASED_HASH_PREFIX), Cast("pk", models.CharField())),
        email_domain="",
        prefix_hash="",
        abuse_until=None,
        confirm_token_hash=None,
        withdraw_token_hash=None,
    )


# --- the export ------------------------------------------------------------------------------


def _iso(moment: dt.datetime | dt.date | None) -> str | None:
    return moment.isoformat() if moment else None


def signature_data(signature: Signature) -> dict[str, Any]:
    """One signature as stored, for its signer (JSON-ready)."""
    campaign = signature.campaign
    return {
        "edition": campaign.edition.year,
        "campaign": {"slug": campaign.slug, "title": dict(campaign.title)},
        "status": signature.status,
        "country": signature.country,
        "language": signature.language,
        "name": signature.name,
        "name_shown": signature.show_name,
        "city": signature.city,
        "message": signature.message,
        "message_status": signature.message_status,
        "email": signature.email,
        "wants_news": signature.wants_news,
        "consent_version": signature.consent_version,
        "public_id": signature.public_id,
        "review": signature.review,
        "flags": list(signature.flags or []),
        "anti_abuse": {
            "email_domain": signature.email_domain,
            "network_fingerprint_kept": bool(signature.prefix_hash),
            "kept_until": _iso(signature.abuse_until),
        },
        "signed_at": _iso(signature.created_at),
        "confirmed_at": _iso(signature.confirmed_at),
        "withdrawn_at": _iso(signature.withdrawn_at),
    }


def site_data(site: Site) -> dict[str, Any]:
    return {
        "edition": site.edition.year,
        "name": site.name,
        "city": site.city,
        "country": site.country,
        "online": site.is_online,
        "venue": site.venue,
        "expected_attendance": site.expected_attendance,
        "contact_name": site.contact_name,
        "contact_email": site.contact_email,
        "language": site.language,
        "consent_version": site.consent_version,
        "status": site.status,
        "applied_at": _iso(site.created_at),
        "decided_at": _iso(site.decided_at),
    }


def person_data(records: PersonRecords) -> dict[str, Any]:
    """What :func:`export_person` returns: every record found, as its owner may read it."""
    return {
        "format": EXPORT_FORMAT,
        "version": 1,
        "exported_at": now().isoformat(),
        "edition": records.edition.year if records.edition else None,
        "registrations": [
            registration_services.export_personal_data(registration=registration)
            for registration in records.registrations
        ],
        "signatures": [signature_data(signature) for signature in records.signatures],
        "site_applications": [site_data(site) for site in records.site_applications],
        "queued_emails": [
            {"kind": row.kind, "queued_at": _iso(row.created_at), "status": row.status}
            for row in records.queued_emails
        ],
        "staff_accounts": [
            {
                "username": user.username,
                "email": user.email,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "active": user.is_active,
                "joined_at": _iso(user.date_joined),
                "last_login": _iso(user.last_login),
                "roles": sorted(group.name for group in user.groups.all()),
            }
            for user in records.staff_accounts
        ],
    }
