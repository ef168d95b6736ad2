"""Writes of gate check-in: record a scan, create gates and gate devices.

Deciding a scan. The server checks the code's signature with the ticket key ring (kept per
process, reloaded on rotation) and looks the ticket up (it must exist and not be revoked).
Then, in a transaction, it locks the ticket's ``TicketPresence`` row (created or updated in
place by one ``INSERT … ON CONFLICT DO UPDATE``, which holds the row lock on PostgreSQL; on
SQLite the transaction holds the only write lock) and decides from it: the first valid entry
wins, a later entry while the ticket is inside is a duplicate, an exit lets the ticket enter
again. Scanners' clocks are never trusted: scans are ordered by their arrival at the server.

Every scan is committed before its answer. On SQLite, the transactions of concurrent scans of
one server process share a commit (``core/group_commit.py``): one flush to disk for several
scans. On PostgreSQL the common case, a valid entry or exit, is one statement that does all
of the above (``_store_valid_scan_fast``); anything else goes the general way.

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
from contextlib import nullcontext
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
from gathering.core.group_commit import GroupCommit
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
    the ticket in (or out) for a duplicate (with its gate).

    The fields are what a scanner is answered; ``scan``, the stored row, is read from the
    database on first use (answering does not need it)."""

    pk: int
    nonce: str
    status: ScanStatus
    direction: str
    ticket_id: str
    category_code: int | None
    gate: Gate
    edition: Edition
    server_time: dt.datetime
    previous: Scan | None
    replayed: bool

    @classmethod
    def of(cls, scan: Scan, *, replayed: bool) -> ScanResult:
        """The result of a stored ``scan`` (loaded with its gate, edition and duplicate_of)."""
        result = cls(
            pk=scan.pk,
            nonce=scan.nonce,
            status=ScanStatus(scan.status),
            direction=scan.direction,
            ticket_id=scan.ticket_id,
            category_code=scan.category_code,
            gate=scan.gate,
            edition=scan.edition,
            server_time=scan.server_time,
            previous=scan.duplicate_of,
            replayed=replayed,
        )
        result.__dict__["scan"] = scan
        return result

    @property
    def accepted(self) -> bool:
        return self.status == ScanStatus.VALID

    @functools.cached_property
    def scan(self) -> Scan:
        return Scan.objects.select_related(
            "gate", "edition", "duplicate_of", "duplicate_of__gate"
        ).get(pk=self.pk)

    def message(self) -> str:
        """What the person at the gate reads, in the active language."""
        return _message(
            status=self.status,
            direction=self.direction,
            previous=self.previous,
            edition=self.edition,
            language=get_language() or settings.LANGUAGE_CODE,
        )


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
    with translation.override(language):
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
    return _message(
        status=scan.status,
        direction=scan.direction,
        previous=scan.duplicate_of,
        edition=scan.edition,
        language=get_language() or settings.LANGUAGE_CODE,
    )


def _message(
    *, status: str, direction: str, previous: Scan | None, edition: Edition, language: str
) -> str:
    templates = _message_templates(language)
    if status == ScanStatus.VALID:
        return templates["valid_exit" if direction == Direction.EXIT else "valid_entry"]
    if status in {ScanStatus.ALREADY_INSIDE, ScanStatus.ALREADY_LEFT}:
        key = "already_inside" if status == ScanStatus.ALREADY_INSIDE else "already_left"
        if previous is None:
            return templates[key]
        with translation.override(language):  # the gate's name and the digits
            values = {
                "gate": _gate_name(previous.gate),
                "time": local_time(previous.server_time, edition),
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
                    f"SELECT revoked_at, category_code FROM {_TICKET_TABLE} "  # noqa: S608  # nosec B608 # quoted names from our models; every value is a bound parameter
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


@dataclass(frozen=True)
class _ScanWrite:
    """What storing a scan needs, all decided before its transaction."""

    edition: Edition
    gate: Gate
    decision: _Decision
    direction: str
    nonce: str
    digest: str
    device: GateDevice | None
    scanned_by_id: int | None
    device_id: str
    device_time: dt.datetime | None
    offline: bool
    moment: dt.datetime


@dataclass(frozen=True)
class _Stored:
    """What the transaction wrote: the scan's id, its final status and the scan it repeats."""

    pk: int
    status: ScanStatus
    reason: str
    previous: Scan | None


class _NonceTakenError(Exception):
    """Rolls back the transaction of a scan whose nonce turned out to be stored already."""


# Group commit (SQLite): concurrent check-ins of this process share one durable commit.
_WRITES = GroupCommit()


def _store_scan(write: _ScanWrite) -> _Stored | None:
    """Decide ``write``'s final status and store the scan; None when its nonce is already stored
    (a retry: nothing is written then). Runs inside a transaction, possibly in another request's
    thread (``GroupCommit``): it reads nothing but its argument and the connection.

    Deciding: the ticket's ``TicketPresence`` row is created or updated in place by one
    ``INSERT … ON CONFLICT DO UPDATE``, which locks it until the commit (on PostgreSQL a
    concurrent scan of the ticket waits there and then sees this one's result; on SQLite the
    transaction holds the only write lock). The first valid entry wins; a later entry while
    the ticket is inside is a duplicate; an exit lets it enter again."""
    status = write.decision.status
    edition_id = write.edition.pk
    ticket_id = write.decision.ticket_id
    previous: Scan | None = None
    presence_pk: int | None = None
    ops = connection.ops
    with connection.cursor() as cursor:
        if status == ScanStatus.VALID:
            # Unless the nonce is stored already (a retry: then nothing is written).
            cursor.execute(
                f"INSERT INTO {_PRESENCE_TABLE} AS p (edition_id, ticket_id, inside, last_scan_id) "  # noqa: S608  # nosec B608 # quoted names from our models; every value is a bound parameter
                f"SELECT %s, %s, %s, NULL WHERE NOT EXISTS (SELECT 1 FROM {_SCAN_TABLE} "
                "WHERE nonce = %s) ON CONFLICT (edition_id, ticket_id) "
                "DO UPDATE SET inside = p.inside RETURNING id, inside, last_scan_id",
                [edition_id, ticket_id, False, write.nonce],
            )
            locked = cursor.fetchone()
            if locked is None:
                return None
            presence_pk, inside, last_scan_id = locked
            entry = write.direction == Direction.ENTRY
            if bool(inside) == entry:  # already in (or already out): a duplicate
                if last_scan_id is not None:
                    previous = Scan.objects.select_related("gate").get(pk=last_scan_id)
                if entry:
                    status = ScanStatus.ALREADY_INSIDE
                else:
                    status = ScanStatus.ALREADY_LEFT if previous else ScanStatus.NOT_INSIDE
        reason = _message(
            status=status,
            direction=write.direction,
            previous=previous,
            edition=write.edition,
            language="en",
        )[:300]
        # nonce: scanners retry on timeout; a retry must be a no-op (the unique nonce says so,
        # also when the retry races its original).
        cursor.execute(
            f"INSERT INTO {_SCAN_TABLE} (edition_id, gate_id, ticket_id, category_code, "  # noqa: S608  # nosec B608 # quoted names from our models; every value is a bound parameter
            "direction, status, reason, nonce, code_digest, device_id, scanned_by_id, "
            "scanner_id, device_time, offline, server_time, duplicate_of_id) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (nonce) DO NOTHING RETURNING id",
            [
                edition_id,
                write.gate.pk,
                ticket_id,
                write.decision.category_code,
                write.direction,
                str(status),
                reason,
                write.nonce,
                write.digest,
                write.device.pk if write.device is not None else None,
                write.scanned_by_id,
                write.device_id,
                ops.adapt_datetimefield_value(write.device_time),
                write.offline,
                ops.adapt_datetimefield_value(write.moment),
                previous.pk if previous is not None else None,
            ],
        )
        row = cursor.fetchone()
        if row is None:
            if presence_pk is not None:
                # A retry racing its original (PostgreSQL): undo the presence row we touched.
                raise _NonceTakenError
            return None
        if presence_pk is not None and status == ScanStatus.VALID:
            cursor.execute(
                f"UPDATE {_PRESENCE_TABLE} SET inside = %s, last_scan_id = %s WHERE id = %s",  # noqa: S608  # nosec B608 # quoted names from our models; every value is a bound parameter
                [write.direction == Direction.ENTRY, row[0], presence_pk],
            )
    return _Stored(pk=row[0], status=status, reason=reason, previous=previous)


# PostgreSQL, the common case: a valid entry (or exit) of a ticket that is not inside (or is).
# One statement, its own transaction, instead of a look-up and a transaction of five round
# trips: it claims a scan id only if the ticket exists unrevoked and the nonce is new, flips
# the presence row only if the ticket is out (in), and stores the scan pointing at it. Any
# other case leaves no row (and no trace: a nonce stored meanwhile fails the scan's unique
# index, and the whole statement with it), and the general path decides.
_CLAIM = (
    "WITH claim AS ("  # noqa: S608  # nosec B608 # quoted names from our models; every value is a bound parameter
    f"SELECT nextval(pg_get_serial_sequence('{_SCAN_TABLE}', 'id')) AS id FROM {_TICKET_TABLE} "
    "WHERE ticket_id = %s::varchar AND edition_id = %s::bigint AND revoked_at IS NULL "
    f"AND NOT EXISTS (SELECT 1 FROM {_SCAN_TABLE} WHERE nonce = %s::varchar))"
)
_MOVE_IN = (
    f", moved AS (INSERT INTO {_PRESENCE_TABLE} AS p (edition_id, ticket_id, inside, "  # noqa: S608  # nosec B608 # quoted names from our models; every value is a bound parameter
    "last_scan_id) SELECT %s::bigint, %s::varchar, TRUE, id FROM claim "
    "ON CONFLICT (edition_id, ticket_id) DO UPDATE SET inside = TRUE, "
    "last_scan_id = EXCLUDED.last_scan_id WHERE NOT p.inside RETURNING p.last_scan_id)"
)
_MOVE_OUT = (
    f", moved AS (UPDATE {_PRESENCE_TABLE} AS p SET inside = FALSE, last_scan_id = claim.id "  # noqa: S608  # nosec B608 # quoted names from our models; every value is a bound parameter
    "FROM claim WHERE p.edition_id = %s::bigint AND p.ticket_id = %s::varchar AND p.inside "
    "RETURNING p.last_scan_id)"
)
_STORE = (
    f" INSERT INTO {_SCAN_TABLE} (id, edition_id, gate_id, ticket_id, category_code, "  # noqa: S608  # nosec B608 # quoted names from our models; every value is a bound parameter
    "direction, status, reason, nonce, code_digest, device_id, scanned_by_id, scanner_id, "
    "device_time, offline, server_time, duplicate_of_id) SELECT last_scan_id, %s::bigint, "
    "%s::bigint, %s::varchar, %s::smallint, %s::varchar, %s::varchar, %s::varchar, %s::varchar, "
    "%s::varchar, %s::bigint, %s::integer, %s::varchar, %s::timestamptz, %s::boolean, "
    "%s::timestamptz, NULL FROM moved RETURNING id"
)
_FAST_ENTRY_SQL = _CLAIM + _MOVE_IN + _STORE
_FAST_EXIT_SQL = _CLAIM + _MOVE_OUT + _STORE


def _store_valid_scan_fast(write: _ScanWrite, *, reason: str) -> int | None:
    """Store ``write`` as a valid scan in one statement (PostgreSQL); its id, or None when it
    is not that simple (unknown or revoked ticket, already in or out, nonce stored)."""
    entry = write.direction == Direction.ENTRY
    ticket_id, edition_id = write.decision.ticket_id, write.edition.pk
    params: list[Any] = [
        ticket_id,
        edition_id,
        write.nonce,
        edition_id,
        ticket_id,
        edition_id,
        write.gate.pk,
        ticket_id,
        write.decision.category_code,
        write.direction,
        str(ScanStatus.VALID),
        reason,
        write.nonce,
        write.digest,
        write.device.pk if write.device is not None else None,
        write.scanned_by_id,
        write.device_id,
        write.device_time,
        write.offline,
        write.moment,
    ]
    sql = _FAST_ENTRY_SQL if entry else _FAST_EXIT_SQL
    try:
        # Inside a caller's transaction (tests), a savepoint keeps a failure from spoiling it.
        with (
            transaction.atomic() if connection.in_atomic_block else nullcontext(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, params)
            row = cursor.fetchone()
    except IntegrityError:
        return None
    return row[0] if row is not None else None


def _stored_scan(nonce: str) -> Scan | None:
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
    return ScanResult.of(scan, replayed=True)


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
    """Decide on a scanned ``code`` at ``gate`` and store the scan; return once it is committed.

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
    edition = gate.edition
    moment = at or now()
    text = code if isinstance(code, str) else ""

    def write_of(decision: _Decision) -> _ScanWrite:
        return _ScanWrite(
            edition=edition,
            gate=gate,
            decision=decision,
            direction=direction,
            nonce=nonce,
            digest=digest,
            device=device,
            scanned_by_id=getattr(scanned_by, "pk", None),
            device_id=device_id,
            device_time=device_time,
            offline=offline,
            moment=moment,
        )

    stored: _Stored | None = None
    if connection.vendor == "postgresql":
        # Valid offline, if the ticket is not revoked: the one-statement path checks that.
        verdict = verify_ticket(
            text, public_keys=keys.public_keys(), edition_year=edition.year, now=moment, revoked=()
        )
        if verdict.status is VerdictStatus.VALID and verdict.ticket_id is not None:
            decision = _Decision(
                status=ScanStatus.VALID,
                ticket_id=verdict.ticket_id.hex(),
                category_code=int(verdict.category) if verdict.category is not None else None,
            )
            reason = _message(
                status=ScanStatus.VALID,
                direction=direction,
                previous=None,
                edition=edition,
                language="en",
            )
            pk = _store_valid_scan_fast(write_of(decision), reason=reason)
            if pk is not None:
                stored = _Stored(pk=pk, status=ScanStatus.VALID, reason=reason, previous=None)
    if stored is None:
        # Signature, key ring and the ticket's revocation: checked before the transaction,
        # which then holds its lock (and, on SQLite, the whole database's) for the writes only.
        decision = _verify(text, edition=edition, at=moment)
        try:
            stored = _WRITES.run(functools.partial(_store_scan, write_of(decision)))
        except _NonceTakenError:
            stored = None
        if stored is None:
            # The nonce was stored before (or by a racing twin of this request): a retry.
            existing = _stored_scan(nonce)
            if existing is None:  # the unique index just said it is there
                raise RuntimeError(f"scan with nonce {nonce!r} vanished")
            return _replay(existing, digest=digest, gate=gate, direction=direction)

    result = ScanResult(
        pk=stored.pk,
        nonce=nonce,
        status=stored.status,
        direction=direction,
        ticket_id=decision.ticket_id,
        category_code=decision.category_code,
        gate=gate,
        edition=edition,
        server_time=moment,
        previous=stored.previous,
        replayed=False,
    )
    if result.status != ScanStatus.VALID:
        logger.warning(
            "checkin scan rejected status=%s ticket_id=%s gate_id=%s scan_id=%s device=%s "
            "reason=%r",
            result.status,
            result.ticket_id or "-",
            gate.pk,
            result.pk,
            device.pk if device else (device_id or "-"),
            stored.reason,
        )
    else:
        logger.debug("checkin scan valid ticket_id=%s gate_id=%s", result.ticket_id, gate.pk)
    return result


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
