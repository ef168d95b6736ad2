"""ALTCHA proof of work, self-hosted (no third-party service), with replay protection.

The protocol (ALTCHA "v1", what the official widget 2.x speaks; implemented here because it is
a few lines, and because we need each failure told apart and strict limits on hostile input):

1. ``GET /abuse/altcha/challenge`` returns a challenge (:func:`create_challenge`)::

       {"algorithm": "SHA-256", "challenge": sha256_hex(salt + str(number)),
        "maxnumber": N, "salt": "<24 hex>?expires=<unix seconds>&[kid=<key id>&]",
        "signature": hmac_sha256_hex(server key, challenge)}

   ``number`` is secret, drawn uniformly from 0..N. The trailing ``&`` of the salt keeps digits
   from being moved between ``number`` and ``expires`` (``…expires=17&`` + ``5`` never reads as
   ``…expires=175`` + ``""``). The signature makes the challenge ours; the hash binds the salt,
   and so the expiry, to it.
2. The widget tries 0, 1, 2, … until the hash matches, and puts in the form (field
   :data:`FIELD`) ``base64(JSON {"algorithm", "challenge", "number", "salt", "signature"})``
   (it may add ``"took"`` and ``"test"``; they are ignored).
3. :func:`verify_solution` checks, in this order: present, well formed (our exact salt format),
   signed by us, solved (the hash matches), not expired, not spent before. The last check
   records the challenge as spent (``services.spend_challenge``) in the caller's transaction.

The server's work per verify is a base64 and JSON decode, one SHA-256, one HMAC and one INSERT.

The keys (``core/hmac_keys.py``, family ``ALTCHA``): ``ALTCHA_HMAC_KEYS``/``ALTCHA_HMAC_KEY_ID``
or the original ``ALTCHA_HMAC_KEY`` in the environment (base64 of at least 32 bytes), else key
files: ``<data>/keys/altcha_hmac.key`` (id ``legacy``, generated on first use, mode 0600) and
those ``gathering rotate_altcha_key`` adds under ``<data>/keys/altcha/``. A challenge names the
key that signed it in its salt (``kid=``; none for the original key), so challenges issued
before a rotation verify until they expire; ``gathering retire_altcha_key`` refuses to delete a
key before its last challenges have expired. The ``kid`` is part of the salt, so the hash binds
it too. Difficulty: ``settings.ALTCHA_MAX_NUMBER``; lifetime: ``settings.ALTCHA_EXPIRES``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from gathering.abuse import services
from gathering.core import hmac_keys

ALGORITHM = "SHA-256"
# The form field that carries the solution (the widget's ``name`` attribute).
FIELD = "altcha"
KEY_FILE = hmac_keys.ALTCHA.legacy_file
MIN_KEY_BYTES = hmac_keys.KEY_BYTES
# A real payload is about 330 characters; anything much longer is not one of ours.
MAX_PAYLOAD_CHARS = 1000
_SALT = re.compile(r"[0-9a-f]{24}\?expires=([0-9]{1,11})&(?:kid=([a-z0-9][a-z0-9-]{0,14})&)?")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_MAX_NUMBER_LIMIT = 10**9


class Status(enum.StrEnum):
    """Outcome of :func:`verify_solution` (the value is what a caller may store)."""

    OK = "ok"
    MISSING = "missing"  # no payload: no JavaScript, or a client that skipped the widget
    MALFORMED = "malformed"  # not base64 JSON of the expected shape
    BAD_SIGNATURE = "bad_signature"  # not a challenge of ours (or signed with another key)
    WRONG_SOLUTION = "wrong_solution"  # our challenge, but the number does not solve it
    EXPIRED = "expired"  # solved, but too late
    REPLAYED = "replayed"  # solved, but that challenge was spent already


@dataclass(frozen=True, slots=True)
class AltchaResult:
    status: Status

    @property
    def ok(self) -> bool:
        return self.status is Status.OK


_RESULTS = {status: AltchaResult(status) for status in Status}


def hmac_key() -> bytes:
    """The key that signs new challenges (``core/hmac_keys.py`` reloads it after a rotation)."""
    return hmac_keys.load(hmac_keys.ALTCHA).current


def reset_key() -> None:
    """Forget the loaded keys, so the next use reads the environment and key files again."""
    hmac_keys.reset(hmac_keys.ALTCHA)


def rotate_key() -> str:
    """Make a new key sign challenges from now on (key files only); challenges signed with
    older keys keep verifying until those keys are retired. Returns the new key id."""
    return hmac_keys.rotate(hmac_keys.ALTCHA)


def _sign(challenge: str, key: bytes) -> str:
    return hmac.new(key, challenge.encode(), hashlib.sha256).hexdigest()


def _hash(salt: str, number: int) -> str:
    return hashlib.sha256(f"{salt}{number}".encode()).hexdigest()


def create_challenge(
    *, max_number: int | None = None, now: float | None = None, number: int | None = None
) -> dict[str, Any]:
    """A new signed challenge (the JSON the widget fetches), valid ``ALTCHA_EXPIRES`` seconds.

    ``max_number`` defaults to ``settings.ALTCHA_MAX_NUMBER`` (the difficulty: the client tries
    ``max_number / 2`` hashes on average). ``now`` (Unix seconds) and ``number`` are for tests.
    Writes nothing: challenges cost the server one hash and one HMAC."""
    top = settings.ALTCHA_MAX_NUMBER if max_number is None else max_number
    if not 1 <= top <= _MAX_NUMBER_LIMIT:
        raise ValueError(f"max_number must be between 1 and {_MAX_NUMBER_LIMIT}.")
    expires = int((time.time() if now is None else now) + settings.ALTCHA_EXPIRES)
    keyring = hmac_keys.load(hmac_keys.ALTCHA)
    # The original key's challenges keep the salt they had before keys had ids.
    kid = "" if keyring.current_id == hmac_keys.LEGACY else f"kid={keyring.current_id}&"
    salt = f"{secrets.token_hex(12)}?expires={expires}&{kid}"
    secret = secrets.randbelow(top + 1) if number is None else number
    challenge = _hash(salt, secret)
    return {
        "algorithm": ALGORITHM,
        "challenge": challenge,
        "maxnumber": top,
        "salt": salt,
        "signature": _sign(challenge, keyring.current),
    }


def encode_payload(challenge: dict[str, Any], number: int) -> str:
    """The payload the widget would send for ``challenge`` solved by ``number`` (for tests and
    benchmarks; the browser builds its own)."""
    fields = {key: challenge[key] for key in ("algorithm", "challenge", "salt", "signature")}
    return base64.b64encode(json.dumps({**fields, "number": number}).encode()).decode()


def solve(challenge: dict[str, Any]) -> int | None:
    """Find the number by brute force as the widget does (tests, benchmarks); None if none."""
    for number in range(int(challenge["maxnumber"]) + 1):
        if _hash(challenge["salt"], number) == challenge["challenge"]:
            return number
    return None


def verify_solution(*, payload: str | None, now: float | None = None) -> AltchaResult:
    """Check a solution from the form field :data:`FIELD`; on success, spend its challenge.

    Call it inside the transaction that records what the solution was for: the challenge is
    recorded as spent there (one INSERT), so a rolled-back transaction does not burn it, and of
    two requests using one solution at once exactly one gets ``ok`` (the other ``replayed``).
    Never raises for bad input: every failure is a :class:`Status`. ``now`` (Unix seconds) is
    for tests."""
    checked = check_solution(payload=payload, now=now)
    if isinstance(checked, AltchaResult):
        return checked
    return checked.spend()


@dataclass(frozen=True)
class CheckedSolution:
    """A solution that passed every check but one: whether its challenge was spent already.
    :meth:`spend` (inside the transaction that records what the solution was for) tells."""

    challenge: str
    expires_at: dt.datetime

    def spend(self) -> AltchaResult:
        spent = services.spend_challenge(challenge=self.challenge, expires_at=self.expires_at)
        return _RESULTS[Status.OK if spent else Status.REPLAYED]

    def send_spend(self, cursor: Any) -> None:
        """:meth:`spend`'s statement on ``cursor`` (pipelined); :meth:`spent_on` reads it."""
        services.send_spend(cursor, challenge=self.challenge, expires_at=self.expires_at)

    @staticmethod
    def spent_on(cursor: Any) -> AltchaResult:
        return _RESULTS[Status.OK if cursor.rowcount == 1 else Status.REPLAYED]


def check_solution(
    *, payload: str | None, now: float | None = None
) -> AltchaResult | CheckedSolution:
    """:func:`verify_solution` without the spending: the failure, or the solution to spend.
    Writes nothing, so a caller can check before its transaction and spend inside it."""
    if payload is None or not payload.strip():
        return _RESULTS[Status.MISSING]
    parsed = _parse(payload)
    if parsed is None:
        return _RESULTS[Status.MALFORMED]
    challenge, number, salt, signature, expires, key_id = parsed
    key = hmac_keys.load(hmac_keys.ALTCHA).keys.get(key_id)
    if key is None or not hmac.compare_digest(_sign(challenge, key), signature):
        return _RESULTS[Status.BAD_SIGNATURE]
    if _hash(salt, number) != challenge:
        return _RESULTS[Status.WRONG_SOLUTION]
    if expires < (time.time() if now is None else now):
        return _RESULTS[Status.EXPIRED]
    return CheckedSolution(
        challenge=challenge, expires_at=dt.datetime.fromtimestamp(expires, tz=dt.UTC)
    )


def _parse(payload: str) -> tuple[str, int, str, str, int, str] | None:
    if len(payload) > MAX_PAYLOAD_CHARS:
        return None
    try:
        data = json.loads(base64.b64decode(payload.strip(), validate=True))
    except (binascii.Error, ValueError, RecursionError):
        return None  # UnicodeDecodeError and JSONDecodeError are ValueErrors
    if not isinstance(data, dict) or data.get("algorithm") != ALGORITHM:
        return None
    challenge, number = data.get("challenge"), data.get("number")
    salt, signature = data.get("salt"), data.get("signature")
    if not (
        isinstance(challenge, str)
        and isinstance(signature, str)
        and isinstance(salt, str)
        and type(number) is int  # not bool, not float
        and 0 <= number <= _MAX_NUMBER_LIMIT
        and _HEX64.fullmatch(challenge)
        and _HEX64.fullmatch(signature)
    ):
        return None
    match = _SALT.fullmatch(salt)
    if match is None:
        return None
    return (
        challenge,
        number,
        salt,
        signature,
        int(match.group(1)),
        match.group(2) or hmac_keys.LEGACY,
    )
