"""Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP), as authenticator apps make
them: HMAC-SHA-1, 30-second steps from the Unix epoch, 6 digits. A code is accepted for the
current step and one step either side (clocks drift); the caller refuses a step at or before
the last one it accepted, so that a code cannot be replayed.

Typed codes are normalised first (:func:`normalise_digits`): any Unicode decimal digit counts
as its ASCII digit, so a code typed on a Persian keyboard (``۱۲۳۴۵۶``) or an Arabic one
(``١٢٣٤٥٦``) works, and spaces and hyphens are dropped.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import struct
import time
import unicodedata
from urllib.parse import quote, urlencode

STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1
SECRET_BYTES = 20  # 160 bits, as RFC 4226 recommends for HMAC-SHA-1
_SEPARATORS = frozenset(" -\u00a0\u2009\u202f\u200c\u200f\u200e\t")


def generate_secret() -> str:
    """A new secret as authenticator apps take it: base32, without padding (32 characters)."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii").rstrip("=")


def secret_bytes(secret: str) -> bytes:
    """The key of a base32 ``secret`` (padding optional, case and spaces ignored)."""
    text = secret.replace(" ", "").upper()
    return base64.b32decode(text + "=" * (-len(text) % 8))


def hotp(key: bytes, counter: int, *, digits: int = DIGITS, digest: str = "sha1") -> str:
    """RFC 4226: the ``digits``-digit code of ``counter`` (dynamic truncation)."""
    mac = hmac.new(key, struct.pack(">Q", counter), digest).digest()
    offset = mac[-1] & 0x0F
    binary = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(binary % 10**digits).zfill(digits)


def step_at(moment: float, *, step_seconds: int = STEP_SECONDS) -> int:
    return int(moment // step_seconds)


def totp(
    key: bytes,
    moment: float,
    *,
    digits: int = DIGITS,
    digest: str = "sha1",
    step_seconds: int = STEP_SECONDS,
) -> str:
    """RFC 6238: the code at Unix time ``moment``."""
    return hotp(key, step_at(moment, step_seconds=step_seconds), digits=digits, digest=digest)


def current_code(secret: str, *, moment: float | None = None) -> str:
    """The code an authenticator app shows now for ``secret`` (or at ``moment``)."""
    return totp(secret_bytes(secret), time.time() if moment is None else moment)


def matching_step(
    secret: str, code: str, *, moment: float | None = None, after_step: int | None = None
) -> int | None:
    """The step (``DRIFT_STEPS`` either side of now) whose code is ``code``, later than
    ``after_step`` (the last step accepted: replays are refused), or None. ``code`` must be
    normalised already (ASCII digits); anything else matches nothing."""
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    key = secret_bytes(secret)
    current = step_at(time.time() if moment is None else moment)
    found = None
    # Every candidate is computed and compared in constant time, whichever matches.
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if after_step is not None and step <= after_step:
            continue
        if hmac.compare_digest(hotp(key, step).encode(), code.encode()) and found is None:
            found = step
    return found


def normalise_digits(text: str) -> str:
    """``text`` with every Unicode decimal digit as its ASCII digit (Persian ``۳`` and
    Arabic-Indic ``٣`` give ``3``), compatibility forms folded (NFKC: full-width digits) and
    separators (spaces, hyphens, joiners, direction marks) removed."""
    folded = unicodedata.normalize("NFKC", text)
    out = []
    for char in folded:
        if char in _SEPARATORS:
            continue
        value = unicodedata.decimal(char, None) if not char.isascii() else None
        out.append(str(value) if value is not None else char)
    return "".join(out)


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """The ``otpauth://`` address an authenticator app reads from the QR code."""
    label = quote(f"{issuer}:{account}", safe="")
    query = urlencode(
        {
            "secret": secret,
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": STEP_SECONDS,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"
