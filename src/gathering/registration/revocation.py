"""The gate bundle: what a scanner downloads to decide offline.

It holds the edition year, the public keys that still verify, the revoked ticket ids and the
time it was made. It holds no name, email or other personal data, and no private key.

The bundle is UTF-8 JSON::

    {"format": "gathering.gate-bundle", "version": 1,
     "edition_year": 2026, "generated_at": "2026-06-27T08:00:00Z",
     "keys": {"1": "<base64 of the raw 32-byte Ed25519 public key>", ...},
     "revoked": {"count": 5000, "rice_k": 51, "data": "<base64>"}}

Revoked ids are 64-bit big-endian integers, sorted; each is stored as its gap to the previous
one minus one (the first as its value), Rice-coded with parameter ``rice_k``: the quotient
``gap >> k`` in unary (that many 1 bits, then a 0), then the ``k`` low bits; the bit string is
padded with zero bits to whole bytes. Random 64-bit ids leave nothing for zlib to find, while
Rice coding of the gaps comes within a fraction of a bit of the information content (about 49
bits an id for 100,000 ids): 100,000 revoked ids make a bundle of about 820 kB.
``static/registration/ticket-verify.js`` (``decodeGateBundle``) reads the same format.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gathering.registration.ticket_codes import TICKET_ID_BYTES

FORMAT = "gathering.gate-bundle"
VERSION = 1
_ID_LIMIT = 1 << (8 * TICKET_ID_BYTES)
_KEY_BYTES = 32


class GateBundleError(ValueError):
    """The data is not a gate bundle this version can read."""


@dataclass(frozen=True, slots=True)
class GateBundle:
    edition_year: int
    public_keys: Mapping[int, bytes]
    revoked: frozenset[bytes]
    generated_at: dt.datetime


def _rice_parameter(count: int, largest: int) -> int:
    # The mean gap is about largest / count; k = floor(log2(mean gap)) keeps the unary parts
    # short (their total is at most largest >> k, i.e. about 2 * count bits).
    return max(0, (largest // count).bit_length() - 1)


def _rice_encode(values: list[int], k: int) -> bytes:
    parts: list[str] = []
    previous = -1
    for value in values:
        gap = value - previous - 1
        previous = value
        low = format(gap & ((1 << k) - 1), f"0{k}b") if k else ""
        parts.append("1" * (gap >> k) + "0" + low)
    bits = "".join(parts)
    bits += "0" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big") if bits else b""


def _rice_decode(data: bytes, *, count: int, k: int) -> list[int]:
    total = len(data) * 8
    if count > total:  # every id takes at least one bit
        raise GateBundleError("revoked count exceeds the data")
    bits = bin(int.from_bytes(data, "big"))[2:].zfill(total) if data else ""
    values: list[int] = []
    position = 0
    previous = -1
    for _ in range(count):
        stop = bits.find("0", position)
        if stop < 0 or stop + 1 + k > total:
            raise GateBundleError("revoked ids are truncated")
        quotient = stop - position
        position = stop + 1
        low = int(bits[position : position + k], 2) if k else 0
        position += k
        value = previous + 1 + ((quotient << k) | low)
        if value >= _ID_LIMIT:
            raise GateBundleError("a revoked id is out of range")
        values.append(value)
        previous = value
    if total - position >= 8 or "1" in bits[position:]:
        raise GateBundleError("trailing data after the revoked ids")
    return values


def _iso(moment: dt.datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("generated_at must be an aware datetime")
    utc = moment.astimezone(dt.UTC).replace(microsecond=0)
    return utc.isoformat().replace("+00:00", "Z")


def encode_gate_bundle(
    *,
    edition_year: int,
    public_keys: Mapping[int, bytes],
    revoked: Iterable[bytes],
    generated_at: dt.datetime,
) -> bytes:
    """The bundle for the gates of ``edition_year`` (UTF-8 JSON, see the module docstring).

    Duplicate revoked ids are stored once. Raises ValueError for a revoked id that is not
    8 bytes, a public key that is not 32 bytes or a key id outside 1..65535.
    """
    ids: set[int] = set()
    for ticket_id in revoked:
        if len(ticket_id) != TICKET_ID_BYTES:
            raise ValueError(f"revoked ticket ids must be {TICKET_ID_BYTES} bytes")
        ids.add(int.from_bytes(ticket_id, "big"))
    values = sorted(ids)
    k = _rice_parameter(len(values), values[-1]) if values else 0
    keys: dict[str, str] = {}
    for key_id, raw in sorted(public_keys.items()):
        if not 1 <= key_id <= 0xFFFF or len(raw) != _KEY_BYTES:
            raise ValueError("public keys must be 32 bytes under key ids 1..65535")
        keys[str(key_id)] = base64.b64encode(raw).decode("ascii")
    document = {
        "format": FORMAT,
        "version": VERSION,
        "edition_year": edition_year,
        "generated_at": _iso(generated_at),
        "keys": keys,
        "revoked": {
            "count": len(values),
            "rice_k": k,
            "data": base64.b64encode(_rice_encode(values, k)).decode("ascii"),
        },
    }
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


def _int(value: object, *, low: int, high: int, name: str) -> int:
    if type(value) is not int or not low <= value <= high:
        raise GateBundleError(f"{name} must be an integer in {low}..{high}")
    return value


def _b64(value: object, *, name: str) -> bytes:
    if not isinstance(value, str):
        raise GateBundleError(f"{name} must be base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise GateBundleError(f"{name} is not valid base64") from None


def decode_gate_bundle(data: bytes | str) -> GateBundle:
    """Read a bundle made by ``encode_gate_bundle``.

    Raises GateBundleError for anything else (not JSON, another format or version, a wrong
    field, truncated or padded revoked data).
    """
    try:
        document = json.loads(data)
    except (ValueError, TypeError, RecursionError):
        raise GateBundleError("not JSON") from None
    if not isinstance(document, dict):
        raise GateBundleError("not a gate bundle")
    version = document.get("version")
    if document.get("format") != FORMAT or type(version) is not int or version != VERSION:
        raise GateBundleError("not a gate bundle of this version")
    edition_year = _int(document.get("edition_year"), low=0, high=0xFFFF, name="edition_year")
    generated_text = document.get("generated_at")
    if not isinstance(generated_text, str):
        raise GateBundleError("generated_at must be a time")
    try:
        generated_at = dt.datetime.fromisoformat(generated_text)
    except ValueError:
        raise GateBundleError("generated_at must be an ISO 8601 time") from None
    if generated_at.tzinfo is None:
        raise GateBundleError("generated_at must carry its time zone")
    keys_document = document.get("keys")
    if not isinstance(keys_document, dict):
        raise GateBundleError("keys must be an object")
    public_keys: dict[int, bytes] = {}
    for key_text, encoded in keys_document.items():
        digits = key_text.isascii() and key_text.isdigit() and len(key_text) <= 5
        if not digits or not 1 <= int(key_text) <= 0xFFFF:
            raise GateBundleError("key ids must be integers in 1..65535")
        raw = _b64(encoded, name="a public key")
        if len(raw) != _KEY_BYTES:
            raise GateBundleError("public keys must be 32 bytes")
        public_keys[int(key_text)] = raw
    revoked_document = document.get("revoked")
    if not isinstance(revoked_document, dict):
        raise GateBundleError("revoked must be an object")
    count = _int(revoked_document.get("count"), low=0, high=1 << 32, name="revoked count")
    k = _int(revoked_document.get("rice_k"), low=0, high=63, name="rice_k")
    packed = _b64(revoked_document.get("data"), name="revoked data")
    values = _rice_decode(packed, count=count, k=k)
    revoked = frozenset(value.to_bytes(TICKET_ID_BYTES, "big") for value in values)
    return GateBundle(
        edition_year=edition_year,
        public_keys=public_keys,
        revoked=revoked,
        generated_at=generated_at,
    )
