"""Retention: the personal data of an edition's people is erased ``Edition.retention_days``
after its last day (``Edition.retention_deadline``); counts and anonymous statistics remain.

What is erased, per edition whose deadline has passed:

- registrations (attendees, delegation members and leaders): name, email and its blind index,
  phone, answers and the private link (``manage_token_hash``); ``erased_at`` is set. Kept:
  edition, category, status, country of residence, language, delegation membership, the
  consent record (version, texts shown, time), timestamps, the ticket (id, validity,
  revocation) and the gates' scans (ticket ids only). Unlike a person's own erasure
  (``registration.services.erase``), the registration is neither cancelled nor moved out of its
  delegation and keeps its country: the edition's figures must not change.
- delegations hold no contact data of their own: the leader's is their registration (above);
  departure city, country, transport and size stay.
- signatures of the edition's campaigns: name, city, message, email, the email's keyed hash
  (replaced by ``erased:<id>``, which matches no address and keeps the one-signature-per-address
  constraint satisfied), the network hash and email domain, and the private links. Kept:
  country, language, status, review, flags, consent version, dates and the transparency leaf
  (which never held personal data). A campaign still open after the edition keeps its
  signatures until ``retention_days`` after it closes: erasing the hashes earlier would let
  people sign twice.
- satellite sites: the contact's name and email (and its blind index).
- moderators' bulk invalidations of those campaigns: the email domain or network hash they
  matched (kind, reason and counts stay, as published).
- queued emails not sent yet (pending or failed) to any of those people: cancelled, which erases
  recipient and content (``outbox.services.cancel``). Sent emails were erased when sent.

Each kind is erased in batches of :data:`BATCH` rows, one transaction and one UPDATE per batch,
so no record is ever half erased and locks stay short. Running it again erases nothing more.
On SQLite the erased values are overwritten in the file too (``secure_delete``, then the
write-ahead log emptied), so the old ciphertexts do not linger in free pages beside their keys.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, models, transaction
from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils import timezone

from gathering.core.crypto import DecryptionError, EncryptedJSONField, decrypt, stored_form
from gathering.outbox import services as outbox
from gathering.outbox.models import OutboxEmail
from gathering.program.models import Edition
from gathering.registration.models import Registration
from gathering.satellites.models import Site
from gathering.voices.models import Campaign, Invalidation, Signature

logger = logging.getLogger(__name__)

BATCH = 500
# The keyed hash of an erased signer's email becomes this prefix and the signature's id.
ERASED_HASH_PREFIX = "erased:"

# What the report counts, in the order it prints them.
KINDS = ("registrations", "signatures", "site_contacts", "invalidations", "queued_emails")


@dataclass
class PurgeReport:
    """What :func:`purge_expired` erased (or, with ``dry_run``, would erase): records per kind,
    and the editions (years) past their deadline."""

    dry_run: bool = False
    editions: list[int] = field(default_factory=list)
    erased: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    # Campaigns of those editions still within their own retention period (open late).
    campaigns_waiting: int = 0

    @property
    def total(self) -> int:
        return sum(self.erased.values())


def purge_expired(*, now: dt.datetime | None = None, dry_run: bool = False) -> PurgeReport:
    """Erase the personal data of every edition whose retention deadline has passed (see the
    module docstring for what goes and what stays). ``dry_run`` counts the records that would
    be erased and changes nothing. Idempotent; safe beside the running site."""
    moment = now or timezone.now()
    report = PurgeReport(dry_run=dry_run)
    with _overwriting_erased_values(enabled=not dry_run):
        for edition in Edition.objects.order_by("end_date", "pk"):
            if edition.retention_deadline > moment:
                continue
            report.editions.append(edition.year)
            counts = _purge_edition(edition, moment=moment, dry_run=dry_run, report=report)
            for kind, count in counts.items():
                report.erased[kind] += count
            if any(counts.values()):
                logger.info(
                    "privacy purge%s edition=%s %s",
                    " (dry run)" if dry_run else "",
                    edition.year,
                    " ".join(f"{kind}={count}" for kind, count in counts.items()),
                )
    if report.total and not dry_run:
        _drop_old_page_copies()
    return report


@contextlib.contextmanager
def _overwriting_erased_values(*, enabled: bool) -> Iterator[None]:
    """On SQLite, overwrite with zeros what the purge erases (``PRAGMA secure_delete``): else
    the old ciphertexts would stay in the file's free space, readable with the keys beside it.
    (PostgreSQL leaves old row versions to VACUUM, which reuses their space.)"""
    if not enabled or connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA secure_delete")
        (previous,) = cursor.fetchone()
        cursor.execute("PRAGMA secure_delete = ON")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA secure_delete = {int(previous)}")


def _drop_old_page_copies() -> None:
    """On SQLite in WAL mode, copy the write-ahead log into the database and empty it: its
    older frames hold the pages as they were before the purge. Best effort: while a reader is
    busy the log stays, and later checkpoints overwrite it only as the site writes on."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        return  # (a checkpoint cannot run inside the caller's transaction)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        (mode,) = cursor.fetchone()
        if str(mode).lower() != "wal":
            return
        # While it waits for readers, a TRUNCATE checkpoint holds writers back (check-ins):
        # wait briefly, and leave the log to later checkpoints if readers are busy.
        cursor.execute("PRAGMA busy_timeout")
        (timeout,) = cursor.fetchone()
        cursor.execute("PRAGMA busy_timeout = 200")
        try:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            busy, _log, _done = cursor.fetchone()
        finally:
            cursor.execute(f"PRAGMA busy_timeout = {int(timeout)}")
    if busy:
        logger.info("privacy purge: the write-ahead log is in use, emptied at a later checkpoint")


def _purge_edition(
    edition: Edition, *, moment: dt.datetime, dry_run: bool, report: PurgeReport
) -> dict[str, int]:
    counts = dict.fromkeys(KINDS, 0)
    retention = dt.timedelta(days=edition.retention_days)
    campaigns = list(Campaign.objects.filter(edition=edition).order_by("pk"))
    expired_campaigns = [c.pk for c in campaigns if c.closes_at + retention <= moment]
    report.campaigns_waiting += len(campaigns) - len(expired_campaigns)

    # Queued emails first: their recipients are found through the rows erased below.
    counts["queued_emails"] = _cancel_queued_emails(
        edition=edition, campaign_ids=expired_campaigns, dry_run=dry_run
    )
    counts["registrations"] = _erase(
        Registration.objects.filter(edition=edition).filter(
            Q(name__isnull=False)
            | Q(email__isnull=False)
            | Q(email_index__isnull=False)
            | Q(name_index__isnull=False)
            | Q(phone__isnull=False)
            | Q(answers__isnull=False)
            | Q(manage_token_hash__isnull=False)
        ),
        dry_run=dry_run,
        name=None,
        email=None,
        email_index=None,
        name_index=None,
        phone=None,
        answers=None,
        manage_token_hash=None,
        erased_at=Coalesce("erased_at", Value(moment)),
        updated_at=moment,
    )
    counts["signatures"] = _erase(
        Signature.objects.filter(campaign_id__in=expired_campaigns).filter(
            Q(name__isnull=False)
            | Q(city__isnull=False)
            | Q(message__isnull=False)
            | Q(email__isnull=False)
            | ~Q(email_hash__startswith=ERASED_HASH_PREFIX)
            | ~Q(email_domain="")
            | ~Q(prefix_hash="")
            | Q(confirm_token_hash__isnull=False)
            | Q(withdraw_token_hash__isnull=False)
        ),
        dry_run=dry_run,
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
    counts["site_contacts"] = _erase(
        Site.objects.filter(edition=edition).filter(
            Q(contact_name__isnull=False)
            | Q(contact_email__isnull=False)
            | Q(contact_email_index__isnull=False)
        ),
        dry_run=dry_run,
        contact_name=None,
        contact_email=None,
        contact_email_index=None,
    )
    counts["invalidations"] = _erase(
        Invalidation.objects.filter(
            campaign_id__in=expired_campaigns,
            kind__in=[Invalidation.Kind.DOMAIN, Invalidation.Kind.PREFIX],
        ).exclude(criteria={}),
        dry_run=dry_run,
        criteria={},
    )
    return counts


def _erase(queryset: QuerySet[Any], *, dry_run: bool, **values: Any) -> int:
    """UPDATE the rows of ``queryset`` with ``values``, :data:`BATCH` rows per transaction, in
    order of primary key (each batch starts after the last one: no row is visited twice)."""
    if dry_run:
        return queryset.count()
    erased = 0
    last = None
    while True:
        with transaction.atomic():
            page = queryset.order_by("pk")
            if last is not None:
                page = page.filter(pk__gt=last)
            ids = list(page.values_list("pk", flat=True)[:BATCH])
            if not ids:
                return erased
            erased += queryset.filter(pk__in=ids).update(**values)
        last = ids[-1]


def _cancel_queued_emails(*, edition: Edition, campaign_ids: list[int], dry_run: bool) -> int:
    """Cancel the unsent emails (pending or failed) whose content names one of the records:
    the content is encrypted, so each is read to find out. Emails being sent are left: they are
    erased once sent."""
    unsent = OutboxEmail.objects.filter(
        status__in=[OutboxEmail.Status.PENDING, OutboxEmail.Status.FAILED],
        recipient__isnull=False,
    )
    if not unsent.exists():
        return 0
    targets = {
        "registration_id": set(
            Registration.objects.filter(edition=edition).values_list("pk", flat=True)
        ),
        "campaign_id": set(campaign_ids),
        "site_id": set(Site.objects.filter(edition=edition).values_list("pk", flat=True)),
    }
    cancelled = 0
    last = 0
    while True:
        # Read as stored, and decrypted here one by one: a row whose key is gone must not stop
        # the purge of the others.
        with stored_form():
            rows = list(
                unsent.filter(pk__gt=last).order_by("pk").values_list("pk", "context")[:BATCH]
            )
        if not rows:
            return cancelled
        last = rows[-1][0]
        ids = [pk for pk, stored in rows if _names_one_of(pk, stored, targets)]
        if ids:
            cancelled += len(ids) if dry_run else outbox.cancel(ids=ids)


_CONTEXT_FIELD: EncryptedJSONField = OutboxEmail._meta.get_field("context")


def _names_one_of(pk: int, stored: str | None, targets: dict[str, set[int]]) -> bool:
    if stored is None:
        return False
    try:
        context = _CONTEXT_FIELD.deserialise(decrypt(stored, context=_CONTEXT_FIELD.crypto_context))
    except DecryptionError:
        # Its key is gone: nobody can read it any more, nor send it.
        logger.warning("privacy purge: outbox email %s cannot be decrypted", pk)
        return False
    return isinstance(context, dict) and any(
        context.get(key) in ids for key, ids in targets.items()
    )
