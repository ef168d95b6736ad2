"""Reads of the privacy app: what the privacy and legal notices say, and what is stored about
one person (found by email address through the keyed hashes beside the encrypted values)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.timezone import now
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gathering.core.crypto import (
    DecryptionError,
    EncryptedJSONField,
    EncryptedTextField,
    blind_indexes,
    decrypt,
    stored_form,
)
from gathering.core.models import CNIL_ADDRESS, CNIL_NAME, CNIL_URL, Organisation
from gathering.core.selectors import get_organisation
from gathering.outbox.models import OutboxEmail
from gathering.privacy import consents
from gathering.privacy.errors import InvalidEmailError
from gathering.privacy.models import DataSubjectRequest
from gathering.program.models import Edition
from gathering.program.selectors import get_current_edition
from gathering.registration import validation as registration_validation
from gathering.registration.models import Delegation, Registration
from gathering.registration.services import registrations as registration_services
from gathering.satellites import consent as satellites_consent
from gathering.satellites.models import Site
from gathering.voices import services as voices_services
from gathering.voices.canonical import canonical_email
from gathering.voices.models import Signature

logger = logging.getLogger(__name__)

# The kinds of records a person may have, in the order pages and reports show them.
KINDS = (
    "registrations",
    "delegations_led",
    "signatures",
    "site_applications",
    "queued_emails",
    "staff_accounts",
)
KIND_LABELS = {
    "registrations": gettext_lazy("Registrations"),
    "delegations_led": gettext_lazy("Delegations led"),
    "signatures": gettext_lazy("Signatures"),
    "site_applications": gettext_lazy("Site applications"),
    "queued_emails": gettext_lazy("Emails not sent yet"),
    "staff_accounts": gettext_lazy("Staff accounts"),
}


# --- the notices -----------------------------------------------------------------------------


@dataclass(frozen=True)
class EditionRetention:
    """When the personal data of one edition's people is erased."""

    edition: Edition
    retention_days: int
    # The day the purge erases registrations and (for campaigns closed by then) signatures.
    erased_on: dt.date
    site_contact_days: int
    passed: bool


@dataclass(frozen=True)
class Authority:
    name: str
    address: str
    url: str


@dataclass(frozen=True)
class NoticeFacts:
    """Everything the two notices say that comes from the settings and the data."""

    organisation: Organisation
    # The organisation is set up (row 1 exists): without it the pages say so.
    configured: bool
    publisher: str
    privacy_email: str
    website: str
    authority: Authority
    editions: list[EditionRetention]
    consents: list[dict[str, Any]]
    settings: dict[str, int]


def _web_address(url: str) -> str:
    """``url`` if it is a web address (the admin's URL fields only take those; a value written
    another way, such as ``javascript:``, is never made a link)."""
    url = url.strip()
    return url if url.lower().startswith(("https://", "http://")) else ""


def _authority(organisation: Organisation) -> Authority:
    # Blank fields fall back to the CNIL: the notice always names somewhere to complain.
    return Authority(
        name=organisation.supervisory_authority.strip() or CNIL_NAME,
        address=organisation.supervisory_authority_address.strip() or CNIL_ADDRESS,
        url=_web_address(organisation.supervisory_authority_url) or CNIL_URL,
    )


def list_edition_retention(*, at: dt.datetime | None = None) -> list[EditionRetention]:
    """Every edition, newest first, with the day its people's personal data is erased."""
    moment = at or now()
    rows = []
    for edition in Edition.objects.order_by("-year"):
        deadline = edition.retention_deadline
        rows.append(
            EditionRetention(
                edition=edition,
                retention_days=edition.retention_days,
                erased_on=deadline.date(),
                site_contact_days=satellites_consent.retention_days(edition.retention_days),
                passed=deadline <= moment,
            )
        )
    return rows


def get_notice_facts(*, language: str | None = None) -> NoticeFacts:
    """The facts of the privacy and legal notices, in ``language`` (default: the active one)."""
    organisation = get_organisation()
    editions = list_edition_retention()
    current = get_current_edition()
    texts = []
    for purpose in consents.PURPOSES:
        text = purpose.render(language, edition=current)
        texts.append(
            {
                "key": purpose.key,
                "title": purpose.title,
                "version": purpose.version,
                "since": purpose.history[-1].since,
                "text": text,
                "earlier": [version.version for version in purpose.history[:-1]],
            }
        )
    return NoticeFacts(
        organisation=organisation,
        configured=organisation._state.adding is False,
        publisher=organisation.legal_name.strip() or str(organisation),
        privacy_email=organisation.privacy_email or organisation.contact_email,
        website=_web_address(organisation.website),
        authority=_authority(organisation),
        editions=editions,
        consents=texts,
        settings={
            "registration_confirm_days": registration_services.CONFIRMATION_WINDOW.days,
            "offer_days": registration_services.OFFER_WINDOW.days,
            "signature_confirm_days": voices_services.CONFIRMATION_WINDOW.days,
            "abuse_days": voices_services.ABUSE_WINDOW.days,
            "ipv4_prefix": settings.ABUSE_IPV4_PREFIX,
            "ipv6_prefix": settings.ABUSE_IPV6_PREFIX,
            "site_contact_max_days": satellites_consent.RETENTION_DAYS_AFTER_EDITION,
            "default_retention_days": consents.default_retention_days(),
        },
    )


# --- one person's records --------------------------------------------------------------------


@dataclass
class PersonRecords:
    """What is stored about the owner of one email address (erased records are not found:
    their keyed hashes are gone)."""

    email: str
    edition: Edition | None
    registrations: list[Registration] = field(default_factory=list)
    delegations_led: list[Delegation] = field(default_factory=list)
    signatures: list[Signature] = field(default_factory=list)
    site_applications: list[Site] = field(default_factory=list)
    # Emails queued for the address and not sent yet.
    queued_emails: list[OutboxEmail] = field(default_factory=list)
    staff_accounts: list[User] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {kind: len(getattr(self, kind)) for kind in KINDS}

    @property
    def total(self) -> int:
        return sum(self.counts().values())


def clean_request_email(email: str) -> str:
    """The address as typed, validated like every form's. Raises InvalidEmailError."""
    try:
        return registration_validation.clean_email(email)
    except ValidationError as error:
        raise InvalidEmailError(error.messages[0]) from None


def spellings(email: str) -> list[str]:
    """The forms of a (valid) address that records may be indexed under: as typed, and its
    canonical form (``voices.canonical``: case, ``+tag`` and Gmail's dots do not matter)."""
    canonical = canonical_email(email)
    return [email] if canonical == email.lower() else [email, canonical]


def _email_indexes(email: str) -> list[str]:
    return [
        index for spelling in spellings(email) for index in blind_indexes(spelling, purpose="email")
    ]


def find_person(*, email: str, edition: Edition | None = None) -> PersonRecords:
    """The records of the owner of ``email`` (in ``edition`` only, if given): registrations,
    the delegations they lead, signatures, site applications, emails queued to them and staff
    accounts with that address. Raises InvalidEmailError for what is not an email address."""
    address = clean_request_email(email)
    records = PersonRecords(email=address, edition=edition)
    indexes = _email_indexes(address)

    registrations = Registration.objects.filter(email_index__in=indexes).select_related(
        "edition", "category", "delegation"
    )
    signatures = Signature.objects.filter(
        email_hash__in=blind_indexes(canonical_email(address), purpose="voices-email")
    ).select_related("campaign", "campaign__edition")
    sites = Site.objects.filter(contact_email_index__in=indexes).select_related("edition")
    if edition is not None:
        registrations = registrations.filter(edition=edition)
        signatures = signatures.filter(campaign__edition=edition)
        sites = sites.filter(edition=edition)
    records.registrations = list(registrations.order_by("edition__year", "pk"))
    records.delegations_led = list(
        Delegation.objects.filter(leader__in=[r.pk for r in records.registrations])
        .select_related("edition")
        .order_by("pk")
    )
    records.signatures = list(signatures.order_by("campaign__edition__year", "pk"))
    records.site_applications = list(sites.order_by("edition__year", "pk"))
    records.queued_emails = _queued_emails(records)
    accounts = Q()
    for spelling in spellings(address):
        accounts |= Q(email__iexact=spelling)
    records.staff_accounts = list(
        User.objects.filter(accounts).exclude(email="").prefetch_related("groups").order_by("pk")
    )
    return records


def _queued_emails(records: PersonRecords) -> list[OutboxEmail]:
    """Emails not sent yet (pending or failed) to the address, or naming one of the records
    found; limited to an edition's records when the look-up is. Each recipient is decrypted
    here, one by one: a row whose key is gone cannot be read by anyone, nor sent."""
    target = canonical_email(records.email)
    registration_ids = {r.pk for r in records.registrations}
    site_ids = {s.pk for s in records.site_applications}
    campaign_ids = {s.campaign_id for s in records.signatures}
    found = []
    unsent = OutboxEmail.objects.filter(
        status__in=[OutboxEmail.Status.PENDING, OutboxEmail.Status.FAILED],
        recipient__isnull=False,
    ).order_by("pk")
    with stored_form():
        rows = list(unsent.values_list("pk", "recipient", "context"))
    for pk, stored_recipient, stored_context in rows:
        if stored_recipient is None:
            continue
        try:
            recipient = decrypt(stored_recipient, context=_RECIPIENT_FIELD.crypto_context)
            context = (
                _CONTEXT_FIELD.deserialise(
                    decrypt(stored_context, context=_CONTEXT_FIELD.crypto_context)
                )
                if stored_context
                else {}
            )
        except DecryptionError:
            logger.warning("privacy request: outbox email %s cannot be decrypted", pk)
            continue
        if not _same_address(recipient, target):
            continue
        if records.edition is not None and not _names_one_of(
            context, registration_ids=registration_ids, site_ids=site_ids, campaign_ids=campaign_ids
        ):
            continue
        found.append(pk)
    return list(OutboxEmail.objects.filter(pk__in=found).order_by("pk"))


_RECIPIENT_FIELD: EncryptedTextField = OutboxEmail._meta.get_field("recipient")
_CONTEXT_FIELD: EncryptedJSONField = OutboxEmail._meta.get_field("context")


def _same_address(recipient: str, canonical: str) -> bool:
    try:
        return canonical_email(recipient) == canonical
    except (ValueError, UnicodeError):
        return False


def _names_one_of(
    context: Any,
    *,
    registration_ids: Iterable[int],
    site_ids: Iterable[int],
    campaign_ids: Iterable[int],
) -> bool:
    if not isinstance(context, dict):
        return False
    return (
        context.get("registration_id") in set(registration_ids)
        or context.get("site_id") in set(site_ids)
        or context.get("campaign_id") in set(campaign_ids)
    )


def count_earlier_requests(*, email_hashes: list[str]) -> int:
    return DataSubjectRequest.objects.filter(email_hash__in=email_hashes).count()


def list_recent_requests(*, limit: int = 30) -> list[DataSubjectRequest]:
    """The latest requests handled, newest first (kinds, references and counts: no address)."""
    return list(DataSubjectRequest.objects.order_by("-handled_at", "-pk")[:limit])


@dataclass(frozen=True)
class RecordRow:
    """One record of a person, as the staff page lists it: its kind and place, never a value
    of personal data."""

    kind: str
    edition: int | None
    what: str
    status: str


def describe(records: PersonRecords) -> list[RecordRow]:
    """The records found, one row each (the person's own records only)."""
    rows = [
        RecordRow(
            kind=str(_("Registration")),
            edition=r.edition.year,
            what=str(r.category),
            status=r.get_status_display(),
        )
        for r in records.registrations
    ]
    rows += [
        RecordRow(
            kind=str(_("Delegation led")),
            edition=d.edition.year,
            what=f"{d.city} ({d.country})",
            status="",
        )
        for d in records.delegations_led
    ]
    rows += [
        RecordRow(
            kind=str(_("Signature")),
            edition=s.campaign.edition.year,
            what=str(s.campaign.title),
            status=s.get_status_display(),
        )
        for s in records.signatures
    ]
    rows += [
        RecordRow(
            kind=str(_("Site application")),
            edition=site.edition.year,
            what=f"{site.name}, {site.city}",
            status=site.get_status_display(),
        )
        for site in records.site_applications
    ]
    rows += [
        RecordRow(
            kind=str(_("Email not sent yet")),
            edition=None,
            what=row.kind,
            status=row.get_status_display(),
        )
        for row in records.queued_emails
    ]
    rows += [
        RecordRow(
            kind=str(_("Staff account")),
            edition=None,
            what=user.username,
            status=str(_("Closed in the back office, not here")),
        )
        for user in records.staff_accounts
    ]
    return rows
