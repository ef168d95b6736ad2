"""Signed ticket codes: what a ticket's QR code says and how a gate checks it offline.

A ticket code is ``GT1:`` followed by RFC 4648 base32 (uppercase, no padding) of 86 bytes::

    offset  size  field
         0     1  format version (1)
         1     2  key id (1..65535), big-endian
         3     8  ticket id (random, never sequential: ids must not reveal counts)
        11     2  edition year, big-endian
        13     1  category (``CategoryCode``)
        14     4  valid from, seconds since 1970-01-01 UTC, big-endian unsigned
        18     4  valid until (exclusive), same encoding
        22    64  Ed25519 signature over bytes 0..21

That is 142 characters, all in the QR alphanumeric set (``0-9 A-Z $%*+-./:`` and space), so the
code fits a version 6 QR code (41 x 41 modules) at error-correction level M. The code carries no
name and no email: a gate learns the ticket id, the category and the entry window, nothing about
the person.

Decoding is strict (exact length, exact prefix, canonical base32 with zero padding bits, known
version and category, a non-empty window): any other spelling of the same bytes is malformed,
so a code has exactly one accepted form. ``static/registration/ticket-verify.js`` implements the
same checks for the scanner page; keep the two in step.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import re
import secrets
import struct
from collections.abc import Container, Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from gathering.registration.keys import SigningKey

PREFIX = "GT1:"
VERSION = 1
TICKET_ID_BYTES = 8
SIGNATURE_BYTES = 64
_LAYOUT = struct.Struct(">BH8sHBII")
PAYLOAD_BYTES = _LAYOUT.size  # 22
CODE_BYTES = PAYLOAD_BYTES + SIGNATURE_BYTES  # 86
_BODY_CHARS = -(-CODE_BYTES * 8 // 5)  # 138 base32 characters
CODE_LENGTH = len(PREFIX) + _BODY_CHARS  # 142
_PADDING_BITS = _BODY_CHARS * 5 - CODE_BYTES * 8  # 2
_PADDING_MASK = (1 << _PADDING_BITS) - 1
_BODY = re.compile(f"[A-Z2-7]{{{_BODY_CHARS}}}")
_BASE32_TO_DIGITS = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789abcdefghijklmnopqrstuv"
)
_UINT16_MAX = 0xFFFF
_UINT32_MAX = 0xFFFFFFFF
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class CategoryCode(IntEnum):
    """The category byte in a ticket code (stable numbers: printed tickets carry them)."""

    ATTENDEE = 1
    DELEGATION = 2
    PRESS = 3
    GUEST = 4
    VOLUNTEER = 5
    STAFF = 6


class MalformedTicketError(ValueError):
    """The text is not a well-formed ticket code (says nothing about its signature)."""


@dataclass(frozen=True, slots=True)
class TicketClaims:
    """What a ticket code asserts. Times are aware; they travel as whole seconds."""

    ticket_id: bytes
    edition_year: int
    category: CategoryCode
    valid_from: dt.datetime
    valid_until: dt.datetime

    def __post_init__(self) -> None:
        if not isinstance(self.ticket_id, bytes) or len(self.ticket_id) != TICKET_ID_BYTES:
            raise ValueError(f"ticket_id must be {TICKET_ID_BYTES} bytes")
        if not 0 <= self.edition_year <= _UINT16_MAX:
            raise ValueError("edition_year must fit in 16 bits")
        # ValueError for an unknown category; a plain int becomes its CategoryCode.
        object.__setattr__(self, "category", CategoryCode(self.category))
        for name in ("valid_from", "valid_until"):
            value = getattr(self, name)
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"{name} must be an aware datetime")
        if self.valid_from >= self.valid_until:
            raise ValueError("valid_from must be before valid_until")


class VerdictStatus(StrEnum):
    VALID = "valid"
    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown_key"
    FORGED = "forged"
    REVOKED = "revoked"
    WRONG_EDITION = "wrong_edition"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"


REASONS: dict[VerdictStatus, Promise] = {
    VerdictStatus.VALID: _("Valid ticket."),
    VerdictStatus.MALFORMED: _(
        "Not a readable ticket code: it is damaged, incomplete or not a ticket of this gathering."
    ),
    # Translators: a ticket's signing key; "this gate" is the scanning device at an entrance.
    VerdictStatus.UNKNOWN_KEY: _(
        "Signed with a key this gate does not know: the key was retired or the code is not ours."
    ),
    VerdictStatus.FORGED: _("The signature does not match: this code was forged or altered."),
    VerdictStatus.REVOKED: _("This ticket was cancelled or replaced."),
    # Translators: "edition" is one year's gathering (e.g. the 2026 gathering).
    VerdictStatus.WRONG_EDITION: _("This ticket is for another year's gathering."),
    VerdictStatus.NOT_YET_VALID: _(
        "This ticket is not valid yet: its entry window has not opened."
    ),
    VerdictStatus.EXPIRED: _("This ticket has expired: its entry window has closed."),
}


@dataclass(frozen=True)
class Verdict:
    """A gate's decision on one code.

    ``ticket_id`` and ``category`` are set only once the signature checked out (statuses after
    FORGED); for MALFORMED, UNKNOWN_KEY and FORGED they are None because the code's content is
    not to be trusted. ``reason`` is a lazy translatable text for the person at the gate.
    """

    status: VerdictStatus
    ticket_id: bytes | None
    category: CategoryCode | None
    reason: Promise | str
    claims: TicketClaims | None = None
    key_id: int | None = None

    @property
    def accepted(self) -> bool:
        return self.status is VerdictStatus.VALID


def new_ticket_id() -> bytes:
    """A fresh random ticket id (64 bits: collisions are negligible at a few million tickets)."""
    return secrets.token_bytes(TICKET_ID_BYTES)


def _seconds(moment: dt.datetime) -> int:
    # Whole seconds, rounded down: the code's window starts at most a second early.
    seconds = (moment - _EPOCH) // dt.timedelta(seconds=1)
    if not 0 <= seconds <= _UINT32_MAX:
        raise ValueError("ticket validity must lie between 1970 and 2106")
    return seconds


def encode_payload(claims: TicketClaims, *, key_id: int) -> bytes:
    """The 22 bytes that the signature covers."""
    if not 1 <= key_id <= _UINT16_MAX:
        raise ValueError("key_id must be in 1..65535")
    valid_from, valid_until = _seconds(claims.valid_from), _seconds(claims.valid_until)
    if valid_from >= valid_until:
        raise ValueError("the validity window is empty once rounded to seconds")
    return _LAYOUT.pack(
        VERSION,
        key_id,
        claims.ticket_id,
        claims.edition_year,
        int(claims.category),
        valid_from,
        valid_until,
    )


def sign_ticket(claims: TicketClaims, *, key: SigningKey) -> str:
    """The QR text for ``claims``, signed by ``key``.

    Raises ValueError when the claims cannot be encoded (window outside 1970-2106 or shorter
    than a second once rounded down to whole seconds).
    """
    payload = encode_payload(claims, key_id=key.key_id)
    signature = key.sign(payload)
    body = base64.b32encode(payload + signature).decode("ascii").rstrip("=")
    return PREFIX + body


def decode_ticket(code: str) -> tuple[TicketClaims, int, bytes, bytes]:
    """Parse a code without checking its signature.

    Returns ``(claims, key_id, signed_bytes, signature)``. Raises MalformedTicketError for any
    input that is not exactly a code in canonical form, whatever its type or size.
    """
    if isinstance(code, bytes | bytearray | memoryview):
        try:
            code = bytes(code).decode("ascii")
        except UnicodeDecodeError:
            raise MalformedTicketError("not ASCII") from None
    if not isinstance(code, str):
        raise MalformedTicketError("not text")
    # Length first: garbage of any size is rejected before any work proportional to it.
    if len(code) != CODE_LENGTH:
        raise MalformedTicketError("wrong length")
    if not code.startswith(PREFIX):
        raise MalformedTicketError("wrong prefix")
    body = code[len(PREFIX) :]
    if not _BODY.fullmatch(body):
        raise MalformedTicketError("not base32")
    # Base32 digits are base-32 digits: int() reads them in linear time once translated.
    number = int(body.translate(_BASE32_TO_DIGITS), 32)
    # Canonical form only: non-zero padding bits would give a second spelling of one ticket.
    if number & _PADDING_MASK:
        raise MalformedTicketError("not canonical base32")
    raw = (number >> _PADDING_BITS).to_bytes(CODE_BYTES, "big")
    signed, signature = raw[:PAYLOAD_BYTES], raw[PAYLOAD_BYTES:]
    version, key_id, ticket_id, year, category, valid_from, valid_until = _LAYOUT.unpack(signed)
    if version != VERSION:
        raise MalformedTicketError("unknown format version")
    if key_id == 0:
        raise MalformedTicketError("key id 0")
    if category not in _CATEGORY_VALUES:
        raise MalformedTicketError("unknown category")
    if valid_from >= valid_until:
        raise MalformedTicketError("empty validity window")
    claims = TicketClaims(
        ticket_id=ticket_id,
        edition_year=year,
        category=CategoryCode(category),
        valid_from=_EPOCH + dt.timedelta(seconds=valid_from),
        valid_until=_EPOCH + dt.timedelta(seconds=valid_until),
    )
    return claims, key_id, signed, signature


_CATEGORY_VALUES = frozenset(int(member) for member in CategoryCode)


@functools.lru_cache(maxsize=64)
def _public_key(raw: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(raw)


def _verdict(
    status: VerdictStatus,
    claims: TicketClaims | None = None,
    key_id: int | None = None,
) -> Verdict:
    return Verdict(
        status=status,
        ticket_id=claims.ticket_id if claims else None,
        category=claims.category if claims else None,
        reason=REASONS[status],
        claims=claims,
        key_id=key_id,
    )


def verify_ticket(
    code: str,
    *,
    public_keys: Mapping[int, bytes],
    edition_year: int,
    now: dt.datetime,
    revoked: Container[bytes],
) -> Verdict:
    """Decide on a scanned code offline, in this order: malformed, unknown key, forged (bad
    signature), wrong edition, revoked, not yet valid, expired, valid.

    ``public_keys`` maps key ids to raw 32-byte Ed25519 public keys; ``revoked`` holds the
    revoked ticket ids. Never raises because of ``code``, whatever it holds; raises ValueError
    only when ``now`` is naive (a programming error).
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    try:
        claims, key_id, signed, signature = decode_ticket(code)
    except MalformedTicketError:
        return _verdict(VerdictStatus.MALFORMED)
    raw_key = public_keys.get(key_id)
    if raw_key is None:
        return _verdict(VerdictStatus.UNKNOWN_KEY, key_id=key_id)
    try:
        _public_key(bytes(raw_key)).verify(signature, signed)
    except InvalidSignature:
        return _verdict(VerdictStatus.FORGED, key_id=key_id)
    except ValueError:  # not a usable Ed25519 public key: the gate cannot check this code
        return _verdict(VerdictStatus.UNKNOWN_KEY, key_id=key_id)
    if claims.edition_year != edition_year:
        return _verdict(VerdictStatus.WRONG_EDITION, claims, key_id)
    if claims.ticket_id in revoked:
        return _verdict(VerdictStatus.REVOKED, claims, key_id)
    if now < claims.valid_from:
        return _verdict(VerdictStatus.NOT_YET_VALID, claims, key_id)
    if now >= claims.valid_until:
        return _verdict(VerdictStatus.EXPIRED, claims, key_id)
    return _verdict(VerdictStatus.VALID, claims, key_id)
