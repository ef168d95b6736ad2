"""Recovery codes: single-use codes for a staff member who has lost their authenticator.

A code is 10 characters of a 32-letter alphabet without look-alikes (no 0/O, 1/I), 50 random
bits, shown as ``ABCDE-FGHJK``. Only a keyed hash is stored (``core/crypto.blind_index``, under
the keyed-hash key kept outside the database), so neither a dump of the database nor its reader
can use a code; the high entropy makes a slow password hash unnecessary. Codes stored before a
rotation of that key keep working: look-ups try the code's hash under every key held.
"""

from __future__ import annotations

import secrets

from gathering.accounts.totp import normalise_digits
from gathering.core.crypto import blind_index, blind_indexes

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_CHARS = 10
COUNT = 10
_PURPOSE = "accounts-recovery-code"


def generate_codes(count: int = COUNT) -> list[str]:
    """``count`` new, distinct codes, formatted for reading (``ABCDE-FGHJK``)."""
    codes: set[str] = set()
    while len(codes) < count:
        codes.add("".join(secrets.choice(ALPHABET) for _ in range(CODE_CHARS)))
    return [f"{code[:5]}-{code[5:]}" for code in sorted(codes)]


def normalise(text: str) -> str:
    """A typed code in its canonical form: separators dropped, digits of any script as ASCII,
    upper case. Not necessarily a valid code (see :func:`is_well_formed`)."""
    return normalise_digits(text).upper()


def is_well_formed(code: str) -> bool:
    """Whether the normalised ``code`` has the shape of a recovery code."""
    return len(code) == CODE_CHARS and all(char in ALPHABET for char in code)


def hash_code(code: str) -> str:
    """The stored form of a (normalised or typed) code: a keyed hash (at most 64 characters)."""
    return blind_index(normalise(code), purpose=_PURPOSE)


def hash_candidates(code: str) -> list[str]:
    """The hashes ``code`` may be stored under (one per keyed-hash key held)."""
    return blind_indexes(normalise(code), purpose=_PURPOSE)
