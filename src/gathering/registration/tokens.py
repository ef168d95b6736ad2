"""Private link tokens: random, sent by email only, stored as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import re
import secrets

TOKEN_BYTES = 32
# token_urlsafe(32) gives 43 characters of the URL-safe base64 alphabet.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    # 256 random bits need no slow hash: guessing is hopeless; the hash keeps a database
    # dump from turning into working links.
    return hashlib.sha256(token.encode()).hexdigest()


def is_well_formed(token: str) -> bool:
    return bool(TOKEN_PATTERN.fullmatch(token or ""))
