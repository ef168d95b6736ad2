"""Writes of gate check-in: record a scan, create gates and gate devices.

Deciding a scan. The server checks the code's signature with the ticket key ring, looks the
ticket up (it must exist and not be revoked), then locks the ticket's ``TicketPresence`` row
(``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite every transaction is IMMEDIATE, so writers
are serialised anyway) and decides from it: the first valid entry wins, a later entry while
the ticket is inside is a duplicate, an exit lets the ticket enter again. Scanners' clocks are
never trusted: scans are ordered by their arrival at the server.

Retries. Every scan carries a nonce chosen by the scanner. A scan whose nonce is already stored
is a retry: the stored result is returned and nothing is written.

Privacy. Scans name tickets by their id only; logs carry the ticket id and the reason, never a
name.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import translation
from django.utils.timezone import now
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from gathering.checkin.errors import InvalidScanError, NonceReusedError
from gathering.checkin.models import (
    Direction,
    Gate,
    GateDevice,
    Scan,
    ScanStatus,
    TicketPresence,
)
from gathering.checkin.tokens import hash_token, new_token
from gathering.core.dates import localize_digits
from gathering.core.translated import Translated
from gathering.program.models import Edition
from gathering.registration import keys
from gathering.registration.models import Ticket
from gathering.registration.ticket_codes import REASONS, VerdictStatus, verify_ticket

logger = logging.getLogger(__name__)

_TICKET_TABLE = Ticket._meta.db_table
_PRESENCE_TABLE = TicketPresence._meta.db_table
_SCAN_TABLE = Scan._meta.db_table

NONCE_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")
DEVICE_ID_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{0,64}")


def _digest(code: object) -> str:
    text = code if isinstance(code, str) else repr(code)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# --- the result ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScanResult:
    """The decision on one scan, as stored. ``replayed`` is True when the scan was a retry
    (its nonce already stored) and nothing new was written. ``previous`` is the scan that put
    the ticket in (or out) for a duplicate."""

    scan: Scan
    replayed: bool

    @property
    def status(self) -> ScanStatus:
        return ScanStatus(self.scan.status)

    @property
    def accepted(self) -> bool:
        return self.scan.status == ScanStatus.VALID

    @property
    def previous(self) -> Scan | None:
        return self.scan.duplicate_of

    def message(self) -> str:
        """What the person at the gate reads, in the active language."""
        return scan_message(self.scan)


def _gate_name(gate: Gate) -> str:
    name = gate.name
    return str(name) if isinstance(name, Translated) and str(name) else gate.slug


def local_time(moment: dt.datetime, edition: Edition) -> str:
    """``10:42`` in the edition's time zone, with Persian digits on Persian pages."""
    return localize_digits(moment.astimezone(edition.tzinfo).strftime("%H:%M"), get_language())


def message_templates() -> dict[str, str]:
    """Every reason a scan can give, in the active language, by key; ``%(gate)s`` and
    ``%(time)s`` are filled in for duplicates. The scanner page gets the same texts for the
    decisions it makes offline."""
    return dict(_message_templates(get_language() or settings.LANGUAGE_CODE))


@functools.lru_cache(maxsize=16)
def _message_templates(language: str) -> dict[str, str]:
    # Per language and process: translations do not change while the server runs.
    del language  # the cache key; gettext reads the active language itself
    templates = {
        "valid_entry": _("Valid ticket: welcome."),
        "valid_exit": _("Exit recorded."),
        # Translators: e.g. "Already entered at Gate B at 10:42."
        "already_inside_at": _("Already entered at %(gate)s at %(time)s."),
        # Translators: e.g. "Already left at Gate B at 16:05."
        "already_left_at": _("Already left at %(gate)s at %(time)s."),
        "already_inside": _("Already entered."),
        "already_left": _("Already left."),
        "not_inside": _("No entry was recorded for this ticket, so it cannot exit."),
        "unknown_ticket": _(
            "Signed correctly, but no such ticket was issued: it was deleted or is not ours."
        ),
    }
    for status in VerdictStatus:
        if status is not VerdictStatus.VALID:
            templates[status.value] = str(REASONS[status])
    return templates


def scan_message(scan: Scan) -> str:
    """The reason for ``scan``'s result in the active language (``scan.gate``, its edition and
    ``scan.duplicate_of.gate`` are read: load them with ``select_related``)."""
    templates = _message_templates(get_language() or settings.LANGUAGE_CODE)
    status = scan.status
    previous = scan.duplicate_of
    if status == ScanStatus.VALID:
        return templates["valid_exit" if scan.direction == Direction.EXIT else "valid_entry"]
    if status in {ScanStatus.ALREADY_INSIDE, ScanStatus.ALREADY_LEFT}:
        key = "already_inside" if status == ScanStatus.ALREADY_INSIDE else "already_left"
        if previous is None:
            return templates[key]
        values = {
            "gate": _gate_name(previous.gate),
            "time": local_time(previous.server_time, scan.edition),
        }
        return templates[key + "_at"] % values
    return templates[status]


# --- deciding a scan -------------------------------------------------------------------------


class _RevokedLookup:
    """The ``revoked`` container for ``verify_ticket``: looks the ticket up on first use, which
    happens only once the signature and edition checked out (so forged codes cost no query)."""

    def __init__(self, edition: Edition) -> None:
        self.edition = edition
        self.looked_up = False
        self.ticket: dict[str, Any] | None = None

    def lookup(self, ticket_id: bytes) -> dict[str, Any] | None:
        if not self.looked_up:
            self.looked_up = True
            # The hot path of every check-in: plain SQL (the ORM costs more than the query).
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT revoked_at, category_code FROM {_TICKET_TABLE} "  # noqa: S608
                    "WHERE ticket_id = %s AND edition_id = %s",
                    [ticket_id.hex(), self.edition.pk],
                )
                row = cursor.fetchone()
            self.ticket = (
                {"revoked_at": row[0], "category_code": row[1]} if row is not None else None
            )
        return self.ticket

    def __contains__(self, ticket_id: object) -> bool:
        if not isinstance(ticket_id, bytes):
            return False
        ticket = self.lookup(ticket_id)
        return ticket is not None and ticket["revoked_at"] is not None


@dataclass(frozen=True)
class _Decision:
    status: ScanStatus
    ticket_id: str
    category_code: int | None


def _verify(code: str, *, edition: Edition, at: dt.datetime) -> _Decision:
    """The offline verdict, completed with the server's knowledge of the ticket."""
    revoked = _RevokedLookup(edition)
    verdict = verify_ticket(
        code, public_keys=keys.public_keys(), edition_year=edition.year, now=at, revoked=revoked
    )
    ticket_id = verdict.ticket_id.hex() if verdict.ticket_id is not None else ""
    category = int(verdict.category) if verdict.category is not None else None
    status = ScanStatus(verdict.status.value)
    # Signed by our key for this edition: the ticket must also exist here (the lookup was
    # made, and is reused, when verify_ticket asked whether it is revoked).
    if (
        verdict.ticket_id is not None
        and status != ScanStatus.WRONG_EDITION
        and revoked.lookup(verdict.ticket_id) is None
    ):
        status = ScanStatus.UNKNOWN_TICKET
    return _Decision(status=status, ticket_id=ticket_id, category_code=category)


@dataclass
class _Presence:
    pk: int
    inside: bool
    last_scan_id: int | None


def _lock_presence(*, edition: Edition, ticket_id: str) -> _Presence:
    """The ticket's presence row, created if missing, locked until the transaction ends.

    Must be called inside ``transaction.atomic``. Plain SQL (this is every check-in's path);
    ``INSERT … ON CONFLICT DO NOTHING`` works on SQLite and PostgreSQL alike: concurrent first
    scans all get past it, and the row lock (``FOR UPDATE``) then orders them."""
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_PRESENCE_TABLE} (edition_id, ticket_id, inside, last_scan_id) "  # noqa: S608
            "VALUES (%s, %s, %s, NULL) ON CONFLICT (edition_id, ticket_id) DO NOTHING",
            [edition.pk, ticket_id, False],
        )
        cursor.execute(
            f"SELECT id, inside, last_scan_id FROM {_PRESENCE_TABLE} "  # noqa: S608
            f"WHERE edition_id = %s AND ticket_id = %s{lock}",
            [edition.pk, ticket_id],
        )
        pk, inside, last_scan_id = cursor.fetchone()
    return _Presence(pk=pk, inside=bool(inside), last_scan_id=last_scan_id)


def _set_presence(presence: _Presence, *, inside: bool, scan: Scan) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_PRESENCE_TABLE} SET inside = %s, last_scan_id = %s WHERE id = %s",  # noqa: S608
            [inside, scan.pk, presence.pk],
        )


def _stored_scan(nonce: str, *, known: bool = False) -> Scan | None:
    # Most nonces are new: ask the unique index first, load the stored scan only for a retry.
    if not known:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {_SCAN_TABLE} WHERE nonce = %s", [nonce])  # noqa: S608
            if cursor.fetchone() is None:
                return None
    return (
        Scan.objects.select_related("gate", "edition", "duplicate_of", "duplicate_of__gate")
        .filter(nonce=nonce)
        .order_by()
        .first()
    )


def _replay(scan: Scan, *, digest: str, gate: Gate, direction: str) -> ScanResult:
    if scan.code_digest != digest or scan.gate_id != gate.pk or scan.direction != direction:
        logger.warning(
            "checkin scan rejected status=nonce_reused gate_id=%s scan_id=%s", gate.pk, scan.pk
        )
        raise NonceReusedError
    return ScanResult(scan=scan, replayed=True)


def _english_reason(scan: Scan) -> str:
    with translation.override("en"):
        return scan_message(scan)[:300]


def record_scan(
    *,
    code: str,
    gate: Gate,
    direction: str,
    nonce: str,
    device_id: str = "",
    device_time: dt.datetime | None = None,
    device: GateDevice | None = None,
    scanned_by: Any = None,
    offline: bool = False,
    at: dt.datetime | None = None,
) -> ScanResult:
    """Decide on a scanned ``code`` at ``gate`` and store the scan.

    ``code`` may be anything a scanner read (garbage, truncated, forged, another year's): the
    result says why it is refused; nothing here raises because of it. A retry (same ``nonce``,
    same code, gate and direction) returns the stored result and writes nothing.

    Raises InvalidScanError for a malformed nonce, device id or direction (a scanner bug,
    not a ticket problem) and NonceReusedError when ``nonce`` is stored for another code, gate
    or direction.
    """
    if not isinstance(nonce, str) or not NONCE_PATTERN.fullmatch(nonce):
        raise InvalidScanError(_("A scan id is 8 to 64 letters, digits, '-' or '_'."))
    if not isinstance(device_id, str) or not DEVICE_ID_PATTERN.fullmatch(device_id):
        raise InvalidScanError(_("A scanner id is up to 64 letters, digits, '.', ':', '-' or '_'."))
    if direction not in Direction.values:
        raise InvalidScanError(_("The direction is entry or exit."))
    if device_time is not None and (device_time.tzinfo is None or device_time.utcoffset() is None):
        device_time = device_time.replace(tzinfo=dt.UTC)
    digest = _digest(code)
    stored = _stored_scan(nonce)
    if stored is not None:
        return _replay(stored, digest=digest, gate=gate, direction=direction)

    edition = gate.edition
    moment = at or now()
    decision = _verify(code if isinstance(code, str) else "", edition=edition, at=moment)
    scan = Scan(
        edition=edition,
        gate=gate,
        ticket_id=decision.ticket_id,
        category_code=decision.category_code,
        direction=direction,
        status=decision.status,
        nonce=nonce,
        code_digest=digest,
        device=device,
        scanned_by=scanned_by if getattr(scanned_by, "pk", None) else None,
        scanner_id=device_id,
        device_time=device_time,
        offline=offline,
        server_time=moment,
    )
    try:
        with transaction.atomic():
            presence = None
            if decision.status == ScanStatus.VALID:
                presence = _lock_presence(edition=edition, ticket_id=decision.ticket_id)
                _decide(scan, presence=presence)
            scan.reason = _english_reason(scan)
            scan.save(force_insert=True)
            if presence is not None and scan.status == ScanStatus.VALID:
                _set_presence(presence, inside=scan.direction == Direction.ENTRY, scan=scan)
    except IntegrityError:
        # The same nonce arrived twice at once (a retry racing its original): the other one
        # was stored, this one is its replay.
        stored = _stored_scan(nonce, known=True)
        if stored is None:
            raise
        return _replay(stored, digest=digest, gate=gate, direction=direction)

    if scan.status != ScanStatus.VALID:
        logger.warning(
            "checkin scan rejected status=%s ticket_id=%s gate_id=%s scan_id=%s device=%s "
            "reason=%r",
            scan.status,
            scan.ticket_id or "-",
            gate.pk,
            scan.pk,
            device.pk if device else (device_id or "-"),
            scan.reason,
        )
    else:
        logger.debug("checkin scan valid ticket_id=%s gate_id=%s", scan.ticket_id, gate.pk)
    return ScanResult(scan=scan, replayed=False)


def _decide(scan: Scan, *, presence: _Presence) -> None:
    """Set ``scan``'s status from the ticket's presence (held locked by the caller)."""
    duplicate = presence.inside if scan.direction == Direction.ENTRY else not presence.inside
    if not duplicate:
        return
    last = (
        Scan.objects.select_related("gate").get(pk=presence.last_scan_id)
        if presence.last_scan_id is not None
        else None
    )
    scan.duplicate_of = last
    if scan.direction == Direction.ENTRY:
        scan.status = ScanStatus.ALREADY_INSIDE
    else:
        scan.status = ScanStatus.ALREADY_LEFT if last is not None else ScanStatus.NOT_INSIDE


# --- gates and devices -----------------------------------------------------------------------


def create_gate(*, edition: Edition, slug: str, name: dict[str, str], position: int = 0) -> Gate:
    return Gate.objects.create(edition=edition, slug=slug, name=name, position=position)


def create_gate_device(*, gate: Gate, label: str) -> tuple[GateDevice, str]:
    """A new device for ``gate`` and its bearer token. The token is returned here only: the
    database keeps its hash."""
    token = new_token()
    device = GateDevice.objects.create(gate=gate, label=label[:100], token_hash=hash_token(token))
    logger.info("gate device created device_id=%s gate_id=%s", device.pk, gate.pk)
    return device, token


def revoke_gate_device(*, device: GateDevice) -> None:
    """Refuse ``device`` from now on (other server processes follow within
    ``selectors.DEVICE_CACHE_SECONDS``)."""
    from gathering.checkin.selectors import forget_gate_device

    GateDevice.objects.filter(pk=device.pk).update(revoked=True)
    device.revoked = True
    forget_gate_device(device=device)
    logger.info("gate device revoked device_id=%s", device.pk)
