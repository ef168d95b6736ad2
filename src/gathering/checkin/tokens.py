"""Bearer tokens of gate devices: made once, shown once, stored as a hash."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "gd_"  # noqa: S105 (a prefix, not a secret)  # nosec B105 # a public prefix, not a secret


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The stored form of a token. Tokens carry 256 random bits, so a plain SHA-256 suffices:
    there is nothing to guess that a slow hash would protect."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
