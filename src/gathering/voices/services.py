"""Writes of "add your voice": sign, confirm, withdraw, moderate, invalidate.

Signing never refuses a person for looking like a bot: a missing or failed proof of work, a
filled honeypot or a rate limit passed flags the signature, and a flagged signature, once
confirmed, is held for a moderator instead of counting. The page says the same in every case
("check your email"), so the checks teach a bot nothing. Whether an address has signed is never
revealed on a page either: the email says it.

Durability. Every write is committed before its answer; on SQLite the transactions of concurrent
requests of one process share a commit (``core/group_commit.py``). Each job below therefore
reads nothing but its arguments and the connection (no active language, no request).

The confirmation email is queued in the same transaction (the ``outbox`` app) and sent by the
worker, never inside the request. A counted signature queues its leaf for the campaign's
transparency log in the transaction that counts it; the worker integrates the log every second.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import logging
import secrets
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from gathering.abuse import altcha, ratelimit
from gathering.abuse.client import Address, Network, hash_prefix, network_prefix
from gathering.core import fast_write
from gathering.core.crypto import blind_indexes
from gathering.core.fast_write import PreparedInsert, prepare
from gathering.core.group_commit import GroupCommit
from gathering.core.local_cache import LocalCache
from gathering.outbox.models import OutboxEmail
from gathering.outbox.services import prepare_email, queue_email
from gathering.registration import tokens
from gathering.transparency import services as transparency
from gathering.transparency.models import Log
from gathering.voices import consent, leaves, pipelined_sign, validation
from gathering.voices.canonical import canonical_email, email_domain
from gathering.voices.errors import (
    AlreadyWithdrawnError,
    CampaignClosedError,
    ConfirmationExpiredError,
    InvalidSignatureDataError,
    LinkNotValidError,
    ModerationError,
    SignatureInvalidatedError,
)
from gathering.voices.models import Campaign, Invalidation, Signature

logger = logging.getLogger(__name__)

Status = Signature.Status
Review = Signature.Review
MessageStatus = Signature.MessageStatus

CONFIRMATION_WINDOW = dt.timedelta(days=7)
# How long the network hash and email domain are kept for moderators' bulk decisions.
ABUSE_WINDOW = dt.timedelta(days=7)

_WRITES = GroupCommit()
_log_ids: LocalCache[int | None] = LocalCache(seconds=300)


class Flag:
    """Why a signature is held for review (stored in ``Signature.flags``)."""

    NO_PROOF = "no_proof_of_work"
    BAD_PROOF = "bad_proof_of_work"
    REPLAYED_PROOF = "replayed_proof_of_work"
    HONEYPOT = "honeypot"
    RATE_ADDRESS = "rate_address"
    RATE_NETWORK = "rate_network"
    RATE_DOMAIN = "rate_domain"


@dataclass(frozen=True)
class SignRequest:
    """What a signer sent, and where from (the client address never leaves this object: only
    a keyed hash of its network is stored)."""

    name: str = ""
    show_name: bool = False
    email: str = ""
    country: str = ""
    city: str = ""
    message: str = ""
    language: str = "en"
    wants_news: bool = False
    client_ip: str = "127.0.0.1"
    proof_of_work: str | None = None
    honeypot: str = ""
    consent: bool = False


@dataclass(frozen=True)
class SignOutcome:
    """``created`` is False when the address had signed already: nothing new was written, and
    the email tells the person (their earlier link again, if still pending)."""

    signature: Signature
    created: bool
    flags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Cleaned:
    name: str
    email: str
    country: str
    city: str
    message: str
    language: str


def _clean(campaign: Campaign, request: SignRequest) -> _Cleaned:
    errors: dict[str, list[str]] = {}
    values: dict[str, str] = {}
    checks = {
        "name": (validation.clean_name, request.name, campaign.asks_name),
        "email": (validation.clean_email, request.email, True),
        "country": (validation.clean_country, request.country, True),
        "city": (validation.clean_city, request.city, campaign.asks_city),
        "message": (validation.clean_message, request.message, campaign.asks_message),
        "language": (validation.clean_language, request.language, True),
    }
    for key, (check, value, asked) in checks.items():
        if not asked:
            values[key] = ""
            continue
        try:
            values[key] = check(value)
        except ValidationError as error:
            errors[key] = [str(message) for message in error.messages]
    if errors:
        raise InvalidSignatureDataError(errors)
    return _Cleaned(**values)


def _rate_hits(
    *, campaign: Campaign, address: Address, network: Network, domain: str
) -> list[tuple[str, ratelimit.PreparedHit]]:
    """The rate-limit hits a signature from ``address`` (in ``network``) with an email
    address at ``domain`` counts, each with the flag it sets when over its limit (prepared:
    keys hashed, nothing counted yet)."""
    limits = settings.VOICES_RATE_LIMITS
    hits = []
    for flag, scope, key in (
        (Flag.RATE_ADDRESS, "voices-address", str(address)),
        (Flag.RATE_NETWORK, "voices-network", str(network)),
        (Flag.RATE_DOMAIN, "voices-domain", domain),
    ):
        if scope == "voices-domain" and domain in settings.VOICES_UNLIMITED_DOMAINS:
            continue
        limit, window = limits[scope]
        hits.append(
            (
                flag,
                ratelimit.prepare(
                    scope=f"{scope}:{campaign.pk}", key=key, limit=limit, window=window
                ),
            )
        )
    return hits


def _rate_flags(hits: list[tuple[str, ratelimit.PreparedHit]]) -> list[str]:
    """Count ``hits``; the flags of those over their limit."""
    return _flags_of(hits, ratelimit.record_all([hit for _flag, hit in hits]))


def _flags_of(
    hits: list[tuple[str, ratelimit.PreparedHit]], counted: list[ratelimit.Hit]
) -> list[str]:
    """The flags of the ``hits`` whose counts (``counted``, in the same order) passed their
    limit."""
    return [flag for (flag, _hit), count in zip(hits, counted, strict=True) if count.over]


def _proof_flags(proof: altcha.AltchaResult | altcha.CheckedSolution) -> list[str]:
    """The flags a proof of work sets, as far as they are known before it is spent."""
    if isinstance(proof, altcha.CheckedSolution) or proof.ok:
        return []  # a checked solution may still turn out replayed: see _sign
    if proof.status == altcha.Status.MISSING:
        return [Flag.NO_PROOF]
    if proof.status == altcha.Status.REPLAYED:
        return [Flag.REPLAYED_PROOF]
    return [Flag.BAD_PROOF]


def sign(*, campaign: Campaign, request: SignRequest, at: dt.datetime | None = None) -> SignOutcome:
    """Record a new pending signature and queue its confirmation email.

    Raises CampaignClosedError outside the campaign's dates and InvalidSignatureDataError for
    fields that do not pass (nothing is written then). A second signature with the same address
    (in any spelling) writes nothing new: the email says the address has signed already."""
    moment = at or now()
    if not campaign.is_open(moment):
        raise CampaignClosedError
    if not request.consent:
        raise InvalidSignatureDataError({"consent": [str(_("Please give your consent to sign."))]})
    cleaned = _clean(campaign, request)
    canonical = canonical_email(cleaned.email)
    # The hash under the current key first, then under the older keys held (after a rotation).
    email_hashes = blind_indexes(canonical, purpose="voices-email")
    domain = email_domain(cleaned.email)
    address = ipaddress.ip_address(request.client_ip)
    network = network_prefix(address)
    # Everything that costs CPU but writes nothing is done here, before the write: on SQLite
    # every process's writes take turns under one lock (core/group_commit.py), and what a job
    # does while holding it bounds the signatures per second of the whole server.
    proof = altcha.check_solution(payload=request.proof_of_work)
    hits = _rate_hits(campaign=campaign, address=address, network=network, domain=domain)
    # On PostgreSQL a counter row stays locked until its transaction commits: counted in their
    # own short transaction, signers of one busy domain do not wait for each other's commits
    # (pipelined_sign sends it with the signature's; otherwise a statement of its own). On
    # SQLite they join the group commit (one flush for the whole batch).
    pipelined = pipelined_sign.possible() and len(email_hashes) == 1
    prepared_hits = [hit for _flag, hit in hits]
    pipelined_hits = prepared_hits if pipelined and ratelimit.sendable(prepared_hits) else []
    rate_flags: list[str] | None = None
    if connection.vendor != "sqlite" and not pipelined_hits:
        rate_flags = _rate_flags(hits)
    confirm_token, withdraw_token = tokens.new_token(), tokens.new_token()
    row = prepare(
        Signature(
            campaign=campaign,
            public_id=secrets.token_hex(16),
            salt=secrets.token_hex(16),
            language=cleaned.language,
            country=cleaned.country,
            name=cleaned.name or None,
            show_name=bool(cleaned.name) and request.show_name,
            city=cleaned.city or None,
            message=cleaned.message or None,
            email=cleaned.email,
            email_hash=email_hashes[0],
            wants_news=request.wants_news,
            consent_version=consent.VERSION,
            email_domain=domain,
            prefix_hash=hash_prefix(network),
            abuse_until=moment + ABUSE_WINDOW,
            flags=[],
            confirm_token_hash=tokens.hash_token(confirm_token),
            withdraw_token_hash=tokens.hash_token(withdraw_token),
            created_at=moment,
            confirm_by=moment + CONFIRMATION_WINDOW,
        )
    )
    email = prepare_email(
        kind="voices.confirm",
        to=cleaned.email,
        language=cleaned.language,
        context={
            "campaign_id": campaign.pk,
            "confirm_token": confirm_token,
            "withdraw_token": withdraw_token,
        },
    )
    if pipelined:
        written = _sign_pipelined(
            proof=proof,
            honeypot=bool(request.honeypot),
            hits=hits,
            counted_here=bool(pipelined_hits),
            rate_flags=rate_flags,
            row=row,
            email=email,
        )
        if isinstance(written, SignOutcome):
            _log_signature(written, campaign)
            return written
        rate_flags = written  # a duplicate address: answered below, its hits counted
    job = functools.partial(
        _sign,
        campaign=campaign,
        cleaned=cleaned,
        email_hashes=email_hashes,
        proof=proof,
        honeypot=bool(request.honeypot),
        hits=hits,
        rate_flags=rate_flags,
        row=row,
        email=email,
    )
    outcome = _WRITES.run(job)
    _log_signature(outcome, campaign)
    return outcome


def _sign_pipelined(
    *,
    proof: altcha.AltchaResult | altcha.CheckedSolution,
    honeypot: bool,
    hits: list[tuple[str, ratelimit.PreparedHit]],
    counted_here: bool,
    rate_flags: list[str] | None,
    row: PreparedInsert[Signature],
    email: PreparedInsert[OutboxEmail],
) -> SignOutcome | list[str]:
    """``sign``'s writes on PostgreSQL outside a transaction (``pipelined_sign``), the rate
    limits counted with them when ``counted_here`` (else ``rate_flags`` are their flags): the
    outcome, or for a duplicate address or a replayed proof (written by the general path) the
    rate limits' flags."""
    known = _proof_flags(proof) + ([Flag.HONEYPOT] if honeypot else [])

    def flags_after(counted: list[ratelimit.Hit]) -> list[str]:
        return known + (_flags_of(hits, counted) if counted_here else rate_flags or [])

    written = pipelined_sign.write(
        hits=[hit for _flag, hit in hits] if counted_here else [],
        checked=proof if isinstance(proof, altcha.CheckedSolution) else None,
        row=row.replace(flags=known + (rate_flags or [])),
        email=email,
        flags_after=flags_after,
    )
    if written.signature is not None:
        return SignOutcome(signature=written.signature, created=True, flags=written.signature.flags)
    return _flags_of(hits, written.counted) if counted_here else rate_flags or []


def _log_signature(outcome: SignOutcome, campaign: Campaign) -> None:
    if outcome.created:
        logger.info(
            "voices signature created signature_id=%s campaign_id=%s flags=%s",
            outcome.signature.pk,
            campaign.pk,
            ",".join(outcome.flags) or "-",
        )


def _sign(
    *,
    campaign: Campaign,
    cleaned: _Cleaned,
    email_hashes: list[str],
    proof: altcha.AltchaResult | altcha.CheckedSolution,
    honeypot: bool,
    hits: list[tuple[str, ratelimit.PreparedHit]],
    rate_flags: list[str] | None,
    row: PreparedInsert[Signature],
    email: PreparedInsert[OutboxEmail],
) -> SignOutcome:
    """The writes of a signature, prepared by ``sign``: spend the proof of work, count the
    rate limits, insert the signature and its email (or tell an address that signed already).

    The proof's spending, the signature and its email are sent together (one round trip to
    PostgreSQL, ``fast_write.pipelined``), each answer read after: a replayed proof then flags
    the new row, and a signature refused as a duplicate takes its email back out, both in this
    transaction (rare cases, one statement each)."""
    flags = _proof_flags(proof)
    if honeypot:
        flags.append(Flag.HONEYPOT)
    flags += _rate_flags(hits) if rate_flags is None else rate_flags
    if len(email_hashes) > 1:
        # The unique index only sees hashes under the current key: a signature made before a
        # key rotation is looked up (one indexed query, only while older keys are held).
        earlier = _existing_signature(campaign, email_hashes[1:])
        if earlier is not None:
            _email_existing(
                earlier, campaign=campaign, email=cleaned.email, language=cleaned.language
            )
            return SignOutcome(signature=earlier, created=False)
    # The row was prepared without flags: converted again only when there are some (this runs
    # under the write lock). A job may run twice: the instance shows this run's flags.
    if flags:
        row = row.replace(flags=flags)
    else:
        row.instance.flags = []
    checked = proof if isinstance(proof, altcha.CheckedSolution) else None
    queued: OutboxEmail | None = None
    if connection.vendor == "postgresql":
        with (
            connection.cursor() as spending,
            connection.cursor() as inserting,
            connection.cursor() as queueing,
        ):
            with fast_write.pipelined():
                if checked is not None:
                    checked.send_spend(spending)
                # Most signers are new: the unique (campaign, email hash) index finds the
                # others, without a look-up first (ON CONFLICT DO NOTHING, no savepoint).
                row.send(inserting, unless_conflict=True)
                email.send(queueing)
            signature = row.written_on(inserting)
            queued = email.written_on(queueing)
            if checked is not None and not checked.spent_on(spending).ok:
                flags = [*flags, Flag.REPLAYED_PROOF]
    else:
        # SQLite runs in this process: one statement after the other costs no round trip.
        if checked is not None and not checked.spend().ok:
            flags = [*flags, Flag.REPLAYED_PROOF]
            row = row.replace(flags=flags)
        signature = row.execute_unless_conflict()
        if signature is not None:
            queued = email.execute()
    if signature is None:
        if queued is not None:
            OutboxEmail.objects.filter(pk=queued.pk).delete()
        existing = _existing_signature(campaign, email_hashes)
        if existing is None:
            # Another unique value collided: a random id or token (128 bits), not to be hidden.
            raise IntegrityError("signature insert refused by a unique constraint")
        _email_existing(existing, campaign=campaign, email=cleaned.email, language=cleaned.language)
        return SignOutcome(signature=existing, created=False)
    if signature.flags != flags:
        signature.flags = flags
        fast_write.update(signature, ("flags",))
    return SignOutcome(signature=signature, created=True, flags=flags)


def _existing_signature(campaign: Campaign, email_hashes: list[str]) -> Signature | None:
    """The campaign's signature (not withdrawn) whose email hash is one of ``email_hashes``."""
    return (
        Signature.objects.filter(campaign=campaign, email_hash__in=email_hashes)
        .exclude(status=Status.WITHDRAWN)
        .order_by()
        .first()
    )


def _email_existing(signature: Signature, *, campaign: Campaign, email: str, language: str) -> None:
    """Tell the owner of an address that signed already; a pending signature gets a new
    confirmation link (the older one stops working)."""
    context: dict[str, object] = {"campaign_id": campaign.pk}
    if signature.status == Status.PENDING:
        confirm_token = tokens.new_token()
        signature.confirm_token_hash = tokens.hash_token(confirm_token)
        signature.save(update_fields=["confirm_token_hash"])
        context["confirm_token"] = confirm_token
    queue_email(kind="voices.already_signed", to=email, language=language, context=context)


def _for_token(token: str, *, kind: str, fields: tuple[str, ...] | None = None) -> Signature:
    """The signature of a private link, locked (its campaign is not loaded: writes need only
    its id). ``fields``: the only ones read (the others load when used)."""
    if not tokens.is_well_formed(token):
        raise LinkNotValidError
    # Raw SQL: the ORM's compiler built this query afresh on every confirmation, more than
    # half of the confirmation's CPU (bench/voices.py --profile).
    found = list(Signature.objects.raw(_token_sql(kind, fields), [tokens.hash_token(token)]))
    if not found:
        raise LinkNotValidError
    return found[0]


@functools.cache
def _token_sql(kind: str, fields: tuple[str, ...] | None) -> str:
    """SELECT … FOR UPDATE (PostgreSQL; SQLite's write transaction holds the database) of the
    signature whose ``<kind>_token_hash`` is the parameter (a unique column)."""
    if kind not in {"confirm", "withdraw"}:
        raise ValueError(kind)
    quote = connection.ops.quote_name
    meta = Signature._meta
    chosen = meta.concrete_fields if fields is None else [meta.get_field(f) for f in fields]
    columns = ", ".join(quote(fast_write.column_of(field)) for field in chosen)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    return (
        f"SELECT {columns} FROM {quote(meta.db_table)} "  # noqa: S608  # nosec B608 # quoted names from the model, the value bound
        f"WHERE {quote(kind + '_token_hash')} = %s{lock}"
    )


def _log_for(campaign_id: int) -> Log:
    """The campaign's transparency log; its id is kept per process once the log exists."""
    slug = Campaign.log_slug_of(campaign_id)
    log_id = _log_ids.get_or_set(
        slug, lambda: Log.objects.filter(slug=slug).values_list("pk", flat=True).first()
    )
    if log_id is None:
        # Made in this transaction, which may still roll back: not kept until seen committed.
        _log_ids.forget(slug)
        return transparency.get_or_create_log(slug=slug)
    return Log(pk=log_id, slug=slug)


def _count(signature: Signature) -> None:
    """Start counting ``signature``: queue its leaf in the campaign's log (same transaction)."""
    log = _log_for(signature.campaign_id)
    entry = transparency.queue_entry(
        log=log,
        data=leaves.leaf_data(
            log_slug=log.slug,
            public_id=signature.public_id,
            country=signature.country,
            salt=signature.salt,
        ),
    )
    signature.leaf = entry


def confirm(*, token: str, at: dt.datetime | None = None) -> Signature:
    """Confirm the address of the signature whose confirmation link holds ``token``.

    Confirming twice is not an error: the confirmed signature is returned. Raises
    LinkNotValidError (unknown or replaced link), ConfirmationExpiredError,
    AlreadyWithdrawnError and SignatureInvalidatedError."""
    moment = at or now()
    signature = _WRITES.run(functools.partial(_confirm, token=token, moment=moment))
    logger.info("voices signature confirmed signature_id=%s", signature.pk)
    return signature


# What confirming reads of a signature (the name, city and address stay encrypted, unread).
_CONFIRM_FIELDS = (
    "id",
    "campaign",
    "status",
    "confirm_by",
    "wants_news",
    "message",
    "message_status",
    "flags",
    "review",
    "public_id",
    "country",
    "salt",
    "leaf",
)


def _confirm(*, token: str, moment: dt.datetime) -> Signature:
    signature = _for_token(token, kind="confirm", fields=_CONFIRM_FIELDS)
    if signature.status == Status.WITHDRAWN:
        raise AlreadyWithdrawnError
    if signature.status == Status.INVALIDATED:
        raise SignatureInvalidatedError
    if signature.status == Status.CONFIRMED:
        return signature
    if signature.confirm_by is not None and moment > signature.confirm_by:
        raise ConfirmationExpiredError
    signature.status = Status.CONFIRMED
    signature.confirmed_at = moment
    if not signature.wants_news:
        signature.email = None  # the keyed hash is enough to refuse a second signature
    if signature.message:
        signature.message_status = MessageStatus.PENDING
    if signature.flags:
        signature.review = Review.HELD
    else:
        _count(signature)
    fast_write.update(
        signature, ("status", "confirmed_at", "email", "message_status", "review", "leaf")
    )
    return signature


def withdraw(*, token: str, at: dt.datetime | None = None) -> Signature:
    """Withdraw the signature of the private link ``token`` (see withdraw_signature).
    Raises LinkNotValidError."""
    with transaction.atomic():
        signature = _for_token(token, kind="withdraw")
        return withdraw_signature(signature=signature, at=at)


def withdraw_signature(*, signature: Signature, at: dt.datetime | None = None) -> Signature:
    """Withdraw ``signature``: it stops counting at once, its name, city, message and address
    are erased, with the keyed hashes of the address and network and the email's domain (the
    consent they rested on is withdrawn; a withdrawn signature needs none of them), and the
    withdrawal is published as a count (its leaf stays in the log, which is append-only). Its
    links keep working, to show that it is withdrawn. Withdrawing twice is not an error; an
    invalidated signature stays so."""
    moment = at or now()
    with transaction.atomic():
        locked = Signature.objects.select_for_update().get(pk=signature.pk)
        if locked.status in {Status.WITHDRAWN, Status.INVALIDATED}:
            return locked
        locked.status = Status.WITHDRAWN
        locked.withdrawn_at = moment
        locked.name = locked.city = locked.message = locked.email = None
        locked.show_name = False
        locked.wants_news = False
        locked.message_status = MessageStatus.NONE
        locked.review = Review.NONE
        # As the retention purge erases it (privacy.services.retention.ERASED_HASH_PREFIX):
        # unique per row, it matches no address.
        locked.email_hash = f"erased:{locked.pk}"
        locked.email_domain = locked.prefix_hash = ""
        locked.abuse_until = None
        locked.save()
    logger.info("voices signature withdrawn signature_id=%s", locked.pk)
    return locked


def get_signature_by_withdraw_token(*, token: str) -> Signature:
    """For the private page (read only). Raises LinkNotValidError."""
    if not tokens.is_well_formed(token):
        raise LinkNotValidError
    try:
        return Signature.objects.select_related("campaign", "campaign__edition", "leaf").get(
            withdraw_token_hash=tokens.hash_token(token)
        )
    except Signature.DoesNotExist:
        raise LinkNotValidError from None


def get_signature_by_confirm_token(*, token: str) -> Signature:
    if not tokens.is_well_formed(token):
        raise LinkNotValidError
    try:
        return Signature.objects.select_related("campaign", "campaign__edition").get(
            confirm_token_hash=tokens.hash_token(token)
        )
    except Signature.DoesNotExist:
        raise LinkNotValidError from None


def expire_unconfirmed(*, at: dt.datetime | None = None) -> int:
    """Delete pending signatures whose confirmation window has passed (they never counted and
    their owner never confirmed the address: nothing of them is kept)."""
    moment = at or now()
    deleted, _by_model = Signature.objects.filter(
        status=Status.PENDING, confirm_by__lt=moment
    ).delete()
    return deleted


def end_abuse_window(*, at: dt.datetime | None = None) -> int:
    """Erase the network hash and email domain of signatures past their anti-abuse window."""
    moment = at or now()
    return Signature.objects.filter(abuse_until__lt=moment).update(
        email_domain="", prefix_hash="", abuse_until=None
    )


# --- moderation ------------------------------------------------------------------------------


def review_held(*, signature: Signature, approve: bool, reason: str, moderator: object) -> None:
    """Decide on a held signature: approving counts it (its leaf is queued), rejecting
    invalidates it (published as a count with ``reason``). Raises ModerationError when the
    signature is not held, or a rejection has no valid reason."""
    if not approve:
        try:
            reason = validation.clean_reason(reason)
        except ValidationError as error:
            raise ModerationError(error.messages[0]) from None
    with transaction.atomic():
        locked = (
            Signature.objects.select_for_update().select_related("campaign").get(pk=signature.pk)
        )
        if locked.status != Status.CONFIRMED or locked.review != Review.HELD:
            raise ModerationError
        if approve:
            locked.review = Review.APPROVED
            _count(locked)
            locked.save(update_fields=["review", "leaf"])
        else:
            _invalidate(
                locked.campaign,
                Signature.objects.filter(pk=locked.pk),
                kind=Invalidation.Kind.SIGNATURE,
                criteria={},
                reason=reason,
                moderator=moderator,
            )
    logger.info(
        "voices held signature %s signature_id=%s",
        "approved" if approve else "rejected",
        signature.pk,
    )


def moderate_message(*, signature: Signature, approve: bool) -> None:
    """Show (or never show) a signature's message on the wall."""
    updated = Signature.objects.filter(
        pk=signature.pk, message_status=MessageStatus.PENDING
    ).update(message_status=MessageStatus.APPROVED if approve else MessageStatus.REJECTED)
    if not updated:
        raise ModerationError


def _bulk_queryset(
    campaign: Campaign,
    *,
    kind: str,
    domain: str = "",
    prefix_hash: str = "",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> QuerySet[Signature]:
    signatures = Signature.objects.filter(campaign=campaign).filter(
        Q(status=Status.CONFIRMED) | Q(status=Status.PENDING)
    )
    if kind == Invalidation.Kind.DOMAIN:
        return signatures.filter(email_domain=domain)
    if kind == Invalidation.Kind.PREFIX:
        return signatures.filter(prefix_hash=prefix_hash)
    if kind == Invalidation.Kind.WINDOW and start is not None and end is not None:
        return signatures.filter(created_at__gte=start, created_at__lt=end)
    raise ModerationError


def preview_invalidation(
    *,
    campaign: Campaign,
    kind: str,
    domain: str = "",
    prefix_hash: str = "",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> int:
    """How many signatures a bulk invalidation would set aside."""
    return _bulk_queryset(
        campaign, kind=kind, domain=domain, prefix_hash=prefix_hash, start=start, end=end
    ).count()


def invalidate(
    *,
    campaign: Campaign,
    kind: str,
    reason: str,
    moderator: object,
    domain: str = "",
    prefix_hash: str = "",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> Invalidation:
    """Stop counting every pending or confirmed signature that matches (by email domain, by
    network, or by time window), with ``reason``; the decision is published as a count."""
    try:
        reason = validation.clean_reason(reason)
    except ValidationError as error:
        raise ModerationError(error.messages[0]) from None
    criteria: dict[str, str] = {}
    if kind == Invalidation.Kind.DOMAIN:
        criteria = {"domain": domain}
    elif kind == Invalidation.Kind.PREFIX:
        criteria = {"prefix_hash": prefix_hash}
    elif kind == Invalidation.Kind.WINDOW and start and end:
        criteria = {"start": start.isoformat(), "end": end.isoformat()}
    with transaction.atomic():
        queryset = _bulk_queryset(
            campaign, kind=kind, domain=domain, prefix_hash=prefix_hash, start=start, end=end
        )
        invalidation = _invalidate(
            campaign, queryset, kind=kind, criteria=criteria, reason=reason, moderator=moderator
        )
    logger.info(
        "voices invalidation invalidation_id=%s campaign_id=%s kind=%s count=%s",
        invalidation.pk,
        campaign.pk,
        kind,
        invalidation.count,
    )
    return invalidation


def _invalidate(
    campaign: Campaign,
    queryset: QuerySet[Signature],
    *,
    kind: str,
    criteria: dict[str, str],
    reason: str,
    moderator: object,
) -> Invalidation:
    ids = list(queryset.select_for_update().values_list("pk", flat=True))
    invalidation = Invalidation.objects.create(
        campaign=campaign,
        kind=kind,
        reason=reason,
        criteria=criteria,
        created_by=moderator if isinstance(moderator, User) else None,
    )
    matched = Signature.objects.filter(pk__in=ids)
    invalidation.count = len(ids)
    invalidation.counted = matched.filter(leaf__isnull=False).count()
    matched.update(
        status=Status.INVALIDATED,
        invalidation=invalidation,
        message_status=MessageStatus.NONE,
        confirm_token_hash=None,
    )
    invalidation.save(update_fields=["count", "counted"])
    return invalidation
