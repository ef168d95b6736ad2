"""The keys that sign tree heads: Ed25519 key files with ids, in ``DATA_DIR/keys/transparency``.

Same layout, file modes (0600 keys in a 0700 folder), atomic creation and rotation as the ticket
keys (``registration/keys.py``, whose functions do the work on this folder). The newest key
signs; rotation adds a key and keeps the older ones, so tree heads signed before a rotation keep
verifying with the public keys the API lists. Transparency keys are never retired: a retired
key's heads would stop verifying.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from gathering.registration import keys as keyfiles
from gathering.registration.keys import KeyringError, SigningKey

__all__ = [
    "KeyringError",
    "SigningKey",
    "current_signing_key",
    "default_directory",
    "public_keys",
    "rotate_transparency_key",
]


def default_directory() -> Path:
    return Path(settings.DATA_DIR) / "keys" / "transparency"


def current_signing_key(*, directory: Path | None = None) -> SigningKey:
    """The key that signs tree heads now (created on first use)."""
    return keyfiles.current_signing_key(directory=directory or default_directory())


def rotate_transparency_key(*, directory: Path | None = None) -> SigningKey:
    """A key with a new id that signs tree heads from now on; older keys still verify."""
    return keyfiles.rotate_ticket_key(directory=directory or default_directory())


def public_keys(*, directory: Path | None = None) -> dict[int, bytes]:
    """Raw 32-byte Ed25519 public keys by key id, of every key that signed or signs."""
    return keyfiles.public_keys(directory=directory or default_directory())
