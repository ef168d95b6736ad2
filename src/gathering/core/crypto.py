"""Encryption at rest for personal data (names, emails, phones, answers) and blind indexes.

Keys live outside the database, so a dump of the database alone reveals no personal data:

- ``PII_KEYS`` (JSON ``{"<key id>": "<base64 of 32 bytes>", ...}``) and ``PII_KEY_ID`` (the id
  that encrypts new values) in the environment; or, when ``PII_KEYS`` is not set,
- one file per key in ``<data>/keys/pii/<key id>.key`` (base64, mode 0600) and the current id in
  ``<data>/keys/pii/current``. The first use generates a key there; :func:`rotate_pii_key` adds
  a new current one. ``PII_KEY_ID`` may still choose the current id among the files.

Values are encrypted with AES-256-GCM. A stored value reads::

    pii1:<key id>:<base64url(12-byte nonce || ciphertext || 16-byte tag)>

The key id travels with each value, so rows written under an old key stay readable after a
rotation for as long as that key is kept. The associated data binds a ciphertext to its table
and column (``gathering-pii:v1|<table>.<column>|<key id>``): a value copied into another column
does not decrypt. Decryption failures raise :class:`DecryptionError`; nothing ever returns
garbage.

Encrypted columns cannot be searched: every encryption uses a fresh nonce. For look-ups such as
duplicate detection, store a :func:`blind_index` beside the value: an HMAC-SHA256 of the
normalised value under a separate secret, the keyed-hash key (``core/hmac_keys.py``: ``HMAC_KEYS``
and ``HMAC_KEY_ID``, or the original ``BLIND_INDEX_KEY``, in the environment; else key files
under ``<data>/keys/``). Normalisation, by purpose:

- ``"email"``: Unicode NFC, surrounding whitespace stripped, lower-cased (the whole address,
  so ``" Ali@Example.ORG "`` and ``"ali@example.org"`` collide on purpose);
- any other purpose: Unicode NFKC, runs of whitespace collapsed to one space, stripped,
  case-folded.

The purpose is part of the hashed message, so an index made for one purpose never matches one
made for another. The keyed-hash key rotates (``gathering rotate_hmac_key``) without losing a
look-up: an index carries the id of its key (``<key id>:<48 hex>``; the original key, id
``legacy``, keeps the bare 64 hex characters of old rows), and look-ups ask for the value's
index under every key held (:func:`blind_indexes`). ``gathering reindex_hmac`` recomputes the
indexes of rows whose value can be decrypted; ``key_management`` says which rows still depend
on an old key.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import contextvars
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.utils.timezone import now

from gathering.core import hmac_keys

KEY_BYTES = 32
NONCE_BYTES = 12
PREFIX = "pii1"
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,40}")
_AD_PREFIX = b"gathering-pii:v1"


class DecryptionError(Exception):
    """A stored value cannot be decrypted: tampered, truncated, bound to another column, or
    written under a key that is no longer configured. Never shown to visitors."""


@dataclass(frozen=True)
class PiiKeyring:
    keys: dict[str, bytes]
    current_id: str

    @property
    def current(self) -> bytes:
        return self.keys[self.current_id]


_lock = threading.Lock()
_keyring: PiiKeyring | None = None


def _keys_dir() -> Path:
    return Path(settings.DATA_DIR) / "keys"


def _decode_key(encoded: str, *, where: str) -> bytes:
    try:
        key = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as error:
        raise ImproperlyConfigured(f"{where}: not valid base64.") from error
    if len(key) != KEY_BYTES:
        raise ImproperlyConfigured(f"{where}: a key must be {KEY_BYTES} bytes (base64-encoded).")
    return key


def _check_key_id(key_id: str, *, where: str) -> str:
    if not KEY_ID_PATTERN.fullmatch(key_id):
        raise ImproperlyConfigured(
            f"{where}: key ids are 1-40 characters of letters, digits, '-' and '_'."
        )
    return key_id


def _write_secret_file(path: Path, content: str) -> None:
    """Create ``path`` with mode 0600 (its folder 0700), whole or not at all; never overwrite
    an existing key (raises :class:`FileExistsError`, and the other writer's file stays)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)  # atomic, and fails if the key already exists
    finally:
        temporary.unlink()


def _write_current_id(folder: Path, key_id: str) -> None:
    temporary = folder / f".current.{secrets.token_hex(6)}.tmp"
    temporary.write_text(key_id)
    temporary.replace(folder / "current")


def _new_key_id() -> str:
    return f"{now():%Y%m%d}-{secrets.token_hex(3)}"


def _load_keyring_from_env(raw: str) -> PiiKeyring:
    try:
        entries = json.loads(raw)
    except ValueError as error:
        raise ImproperlyConfigured(
            'PII_KEYS must be JSON: {"<key id>": "<base64 key>"}.'
        ) from error
    if not isinstance(entries, dict) or not entries:
        raise ImproperlyConfigured('PII_KEYS must be a non-empty JSON object {"<id>": "<key>"}.')
    keys = {
        _check_key_id(str(key_id), where="PII_KEYS"): _decode_key(
            str(encoded), where=f"PII_KEYS[{key_id}]"
        )
        for key_id, encoded in entries.items()
    }
    current = os.environ.get("PII_KEY_ID") or (next(iter(keys)) if len(keys) == 1 else "")
    if current not in keys:
        raise ImproperlyConfigured("PII_KEY_ID must name one of the keys in PII_KEYS.")
    return PiiKeyring(keys=keys, current_id=current)


def _load_keyring_from_files() -> PiiKeyring:
    folder = _keys_dir() / "pii"
    keys = {
        path.stem: _decode_key(path.read_text(), where=str(path))
        for path in sorted(folder.glob("*.key"))
        if KEY_ID_PATTERN.fullmatch(path.stem)
    }
    current_file = folder / "current"
    current = os.environ.get("PII_KEY_ID") or (
        current_file.read_text().strip() if current_file.exists() else ""
    )
    if not keys:
        # First use. Two processes starting together may each write a key: both files stay,
        # the last "current" wins, and decrypt() reloads the files on an id it does not know.
        current = _new_key_id()
        _write_secret_file(folder / f"{current}.key", base64.b64encode(_random_key()).decode())
        _write_current_id(folder, current)
        return _load_keyring_from_files()
    if current not in keys:
        raise ImproperlyConfigured(
            f"The current PII key {current!r} has no file in {folder} (set PII_KEY_ID or fix "
            f"{current_file})."
        )
    return PiiKeyring(keys=keys, current_id=current)


def _random_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def pii_keyring() -> PiiKeyring:
    """The configured keys (loaded once per process; :func:`reset_keys` reloads)."""
    global _keyring
    if _keyring is None:
        with _lock:
            if _keyring is None:
                raw = os.environ.get("PII_KEYS")
                _keyring = _load_keyring_from_env(raw) if raw else _load_keyring_from_files()
    return _keyring


def rotate_pii_key() -> str:
    """Generate a new key file and make it the current one; older keys stay for reading.

    Only for key files (with ``PII_KEYS`` set, rotate by editing the environment). Every
    process must reload its keys (restart) to encrypt with the new one. Returns its id.
    """
    if os.environ.get("PII_KEYS"):
        raise ImproperlyConfigured("PII keys come from PII_KEYS: rotate them there.")
    pii_keyring()  # makes sure the folder and a first key exist
    folder = _keys_dir() / "pii"
    key_id = _new_key_id()
    while (folder / f"{key_id}.key").exists():
        key_id = _new_key_id()
    _write_secret_file(folder / f"{key_id}.key", base64.b64encode(_random_key()).decode())
    _write_current_id(folder, key_id)
    reset_keys()
    return key_id


def reset_keys() -> None:
    """Forget the loaded keys, so the next use reads the environment and key files again."""
    global _keyring
    with _lock:
        _keyring = None
    hmac_keys.reset(hmac_keys.HMAC)


def _associated_data(context: str, key_id: str) -> bytes:
    return b"|".join((_AD_PREFIX, context.encode(), key_id.encode()))


def encrypt(plaintext: str, *, context: str) -> str:
    """Encrypt ``plaintext`` under the current key, bound to ``context`` ("table.column")."""
    keyring = pii_keyring()
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = AESGCM(keyring.current).encrypt(
        nonce, plaintext.encode(), _associated_data(context, keyring.current_id)
    )
    body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
    return f"{PREFIX}:{keyring.current_id}:{body}"


def decrypt(stored: str, *, context: str) -> str:
    """The plaintext of a value made by :func:`encrypt` with the same ``context``.

    Raises :class:`DecryptionError` when the value is malformed, tampered with, bound to
    another context or written under a key that is not configured."""
    try:
        prefix, key_id, body = stored.split(":", 2)
    except (AttributeError, ValueError):
        raise DecryptionError("Not an encrypted value.") from None
    if prefix != PREFIX:
        raise DecryptionError("Not an encrypted value (unknown format).")
    key = _key_for_reading(key_id)
    try:
        raw = base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise DecryptionError("The encrypted value is not valid base64.") from None
    if len(raw) < NONCE_BYTES + 16:
        raise DecryptionError("The encrypted value is truncated.")
    try:
        plain = AESGCM(key).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], _associated_data(context, key_id)
        )
    except InvalidTag:
        raise DecryptionError(
            "The encrypted value failed authentication (tampered, or from another column)."
        ) from None
    return plain.decode()


def _key_for_reading(key_id: str) -> bytes:
    global _keyring
    key = pii_keyring().keys.get(key_id)
    if key is None and not os.environ.get("PII_KEYS") and KEY_ID_PATTERN.fullmatch(key_id):
        # Another process may have rotated (or created) keys since this one loaded them.
        with _lock:
            _keyring = None
        key = pii_keyring().keys.get(key_id)
    if key is None:
        raise DecryptionError(f"No PII key with id {key_id!r} is configured.")
    return key


def key_id_of(stored: str) -> str:
    """The key id a stored value was encrypted with (for re-encryption after a rotation)."""
    parts = stored.split(":", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise DecryptionError("Not an encrypted value.")
    return parts[1]


# --- blind indexes ---------------------------------------------------------------------------

# Hex digits of a full index under a key with an id: with the id (up to 15 characters) and ":",
# it fits the 64-character columns that held the 64 digits of the original key's indexes.
TAGGED_HEX_CHARS = 48
LEGACY_HEX_CHARS = 64
LEGACY_KEY_ID = hmac_keys.LEGACY
_HEX = re.compile(r"[0-9a-f]{8,64}")


def normalise(value: str, *, purpose: str) -> str:
    """The form of ``value`` that :func:`blind_index` hashes (see the module docstring)."""
    if purpose == "email":
        return unicodedata.normalize("NFC", value).strip().lower()
    return " ".join(unicodedata.normalize("NFKC", value).split()).casefold()


def _message(value: str, purpose: str) -> bytes:
    return purpose.encode() + b"\x00" + normalise(value, purpose=purpose).encode()


def _tagged(key_id: str, key: bytes, message: bytes, hex_chars: int | None) -> str:
    digest = hmac.new(key, message, hashlib.sha256).hexdigest()
    if key_id == LEGACY_KEY_ID:
        return digest[: hex_chars or LEGACY_HEX_CHARS]
    return f"{key_id}:{digest[: hex_chars or TAGGED_HEX_CHARS]}"


def blind_index(value: str, *, purpose: str, hex_chars: int | None = None) -> str:
    """The keyed hash of the normalised ``value`` under the current key, to store beside an
    encrypted value for exact look-ups. Equal after normalisation means equal index, within
    one ``purpose`` and one key.

    Under the original key (id ``legacy``) it is 64 hex characters; under any other key it is
    ``<key id>:<48 hex characters>`` (at most 64 characters). ``hex_chars`` shortens the hex
    part (the abuse app keeps 32). Look up with :func:`blind_indexes`, never with this alone:
    rows written before a rotation hold their index under an older key."""
    keyring = hmac_keys.load(hmac_keys.HMAC)
    return _tagged(keyring.current_id, keyring.current, _message(value, purpose), hex_chars)


def blind_indexes(value: str, *, purpose: str, hex_chars: int | None = None) -> list[str]:
    """The index of ``value`` under every key held, the current key's first: filter with
    ``<index field>__in=blind_indexes(...)`` to find rows indexed before a rotation too."""
    keyring = hmac_keys.load(hmac_keys.HMAC)
    message = _message(value, purpose)
    return [_tagged(key_id, keyring.keys[key_id], message, hex_chars) for key_id in keyring.ids]


def blind_index_key_id(stored: str) -> str | None:
    """The id of the key a stored index was made with (``legacy`` for bare hex), or None for
    what is not an index (empty, erased by the retention purge)."""
    key_id, separator, digest = stored.partition(":")
    if not separator:
        return LEGACY_KEY_ID if _HEX.fullmatch(stored) else None
    if key_id in hmac_keys.RESERVED_IDS or not hmac_keys.KEY_ID_PATTERN.fullmatch(key_id):
        return None
    return key_id if _HEX.fullmatch(digest) else None


def rotate_hmac_key() -> str:
    """Make a new keyed-hash key the current one (key files only; see ``core/hmac_keys.py``).
    New indexes use it at once, in every process; look-ups still find rows indexed under
    older keys. Returns its id; raises hmac_keys.KeyringError for keys from the environment."""
    return hmac_keys.rotate(hmac_keys.HMAC)


# --- model fields ----------------------------------------------------------------------------

_stored_form: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "gathering_pii_stored_form", default=False
)


@contextlib.contextmanager
def stored_form() -> Iterator[None]:
    """Inside this block, encrypted fields neither decrypt what they read nor encrypt what they
    write: values are their stored form (``pii1:<key id>:…``). Backups copy ciphertexts this
    way (``privacy/services/backups.py``) and a restore writes them back unchanged, beside
    their keys; a value that is not a stored one (plain text by mistake) raises ValueError on
    write."""
    token = _stored_form.set(True)
    try:
        yield
    finally:
        _stored_form.reset(token)


def _is_stored(value: Any) -> bool:
    return isinstance(value, str) and value.count(":") >= 2 and value.startswith(PREFIX + ":")


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """Text stored encrypted (see the module docstring); decrypted when read.

    ``None`` is stored as NULL (the only thing a reader of the table learns); every string,
    the empty one included, is encrypted. The column cannot be filtered or ordered on except
    with ``__isnull``: store a :func:`blind_index` beside it for look-ups.
    """

    description = "Encrypted text"

    @property
    def crypto_context(self) -> str:
        return f"{self.model._meta.db_table}.{self.column}"

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name != "isnull":
            return None  # Django then raises FieldError: "Unsupported lookup"
        return super().get_lookup(lookup_name)

    def serialise(self, value: Any) -> str:
        return str(value)

    def deserialise(self, text: str) -> Any:
        return text

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return None
        if _stored_form.get():
            if not _is_stored(value):
                raise ValueError(f"{self.crypto_context}: not an encrypted value.")
            return value
        return encrypt(self.serialise(value), context=self.crypto_context)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or _stored_form.get():
            return value
        return self.deserialise(decrypt(value, context=self.crypto_context))

    def to_python(self, value: Any) -> Any:
        return value


class EncryptedJSONField(EncryptedTextField):
    """A JSON value (dict, list, str, number, bool) stored encrypted; decrypted when read."""

    description = "Encrypted JSON"

    def serialise(self, value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    def deserialise(self, text: str) -> Any:
        try:
            return json.loads(text)
        except ValueError as error:
            raise DecryptionError("The decrypted value is not JSON.") from error

    def value_to_string(self, obj: Any) -> Any:
        return self.value_from_object(obj)

    def formfield(self, **kwargs: Any) -> Any:
        from django import forms

        return super().formfield(**{"form_class": forms.JSONField, **kwargs})
