"""Ticket signing keys: one Ed25519 key per key id, kept as files in the data folder.

Layout of the key folder (default ``settings.DATA_DIR / "keys" / "tickets"``, mode 0700)::

    00001.key       PKCS#8 PEM private key, mode 0600: active (signs if newest, else verifies)
    00002.retired   tombstone of a retired key: its public key, no private key

The newest active key signs; older active keys still verify tickets issued before a rotation.
Retiring a key deletes its private key and leaves a tombstone, so its id is never reused and
its tickets verify as UNKNOWN_KEY from then on. The private keys never leave the server: gates
get ``public_keys()`` only.

Files are created under a temporary name and hard-linked into place, so a reader never sees a
half-written key and two processes creating the same key id cannot overwrite each other.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import stat
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.utils.timezone import now

KEY_ID_MIN = 1
KEY_ID_MAX = 0xFFFF
_ACTIVE = "key"
_RETIRED = "retired"
_FILE_NAME = re.compile(r"^(\d{5})\.(key|retired)$")
# A folder whose last change is younger than this is not cached: file times are coarse (a few
# milliseconds), so a change in the same tick as our read would leave the same stamp behind.
_RACY_NS = 2_000_000_000


class KeyringError(Exception):
    """The key folder cannot be used as asked (bad permissions, unknown or current key id)."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A private ticket-signing key and its id (1..65535). Never sent to a gate."""

    key_id: int
    private_key: Ed25519PrivateKey = field(repr=False)

    def __post_init__(self) -> None:
        if not KEY_ID_MIN <= self.key_id <= KEY_ID_MAX:
            raise ValueError("key_id must be in 1..65535")

    @property
    def public_bytes(self) -> bytes:
        """The raw 32-byte Ed25519 public key."""
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data)

    @classmethod
    def generate(cls, key_id: int) -> SigningKey:
        return cls(key_id=key_id, private_key=Ed25519PrivateKey.generate())


@dataclass(frozen=True)
class TicketKeyring:
    """The keys found in one key folder at one moment."""

    directory: Path
    active: Mapping[int, SigningKey]
    retired: frozenset[int]

    @property
    def current(self) -> SigningKey:
        """The key that signs new tickets: the active key with the highest id."""
        if not self.active:
            raise KeyringError(f"no active ticket signing key in {self.directory}")
        return self.active[max(self.active)]

    @property
    def known_ids(self) -> frozenset[int]:
        return frozenset(self.active) | self.retired

    def public_keys(self) -> dict[int, bytes]:
        """Raw 32-byte public keys of the keys that still verify, by key id."""
        return dict(self._public_keys)

    @functools.cached_property
    def _public_keys(self) -> dict[int, bytes]:
        # Derived once per keyring: every check-in asks for them.
        return {key_id: key.public_bytes for key_id, key in sorted(self.active.items())}


_cache: dict[Path, tuple[tuple[int, int], TicketKeyring]] = {}
# public_keys() looks at the key folder at most this often (a system call per check-in let
# other threads take the interpreter on the gates' hot path): another process's rotation or
# retirement reaches a server within this delay.
STAT_INTERVAL = 1.0
_stats: dict[Path, tuple[float, tuple[int, int]]] = {}
_lock = threading.Lock()


def default_directory() -> Path:
    from django.conf import settings

    return _directory_in(settings.DATA_DIR)


@functools.lru_cache(maxsize=4)
def _directory_in(data_dir: str | Path) -> Path:
    return Path(data_dir) / "keys" / "tickets"


def _folder(directory: Path | None) -> Path:
    folder = Path(directory) if directory is not None else default_directory()
    if not folder.is_dir():
        # Both levels private: the folder names reveal nothing, but keep others out entirely.
        folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _path(folder: Path, key_id: int, kind: str) -> Path:
    return folder / f"{key_id:05d}.{kind}"


def _read_key(path: Path, key_id: int) -> SigningKey:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyringError(
            f"{path} is readable by other users (mode {stat.S_IMODE(mode):o}): chmod 600 it"
        )
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise KeyringError(f"{path} is not an Ed25519 private key")
    return SigningKey(key_id=key_id, private_key=private)


def _scan(folder: Path) -> TicketKeyring:
    active_ids: set[int] = set()
    retired: set[int] = set()
    for entry in os.scandir(folder):
        match = _FILE_NAME.match(entry.name)
        if not match:
            continue
        key_id = int(match.group(1))
        if not KEY_ID_MIN <= key_id <= KEY_ID_MAX:
            continue
        (active_ids if match.group(2) == _ACTIVE else retired).add(key_id)
    # A tombstone wins: retiring writes it before deleting the private key.
    active = {
        key_id: _read_key(_path(folder, key_id, _ACTIVE), key_id)
        for key_id in sorted(active_ids - retired)
    }
    return TicketKeyring(directory=folder, active=active, retired=frozenset(retired))


def _load(folder: Path) -> TicketKeyring:
    before = folder.stat()
    stamp = (before.st_mtime_ns, before.st_ino)
    cached = _cache.get(folder)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    keyring = _scan(folder)
    if time.time_ns() - before.st_mtime_ns > _RACY_NS:
        with _lock:
            _cache[folder] = (stamp, keyring)
    return keyring


def _write_exclusive(path: Path, content: bytes) -> None:
    """Create ``path`` with mode 0600 holding ``content``; FileExistsError if it exists."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)  # atomic, and never replaces an existing key
    finally:
        os.unlink(temporary)
    directory_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory_fd)
    finally:
        os.close(directory_fd)


def _create_key(folder: Path, key_id: int) -> SigningKey:
    if not KEY_ID_MIN <= key_id <= KEY_ID_MAX:
        raise KeyringError("all 65535 ticket key ids are used")
    key = SigningKey.generate(key_id)
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_exclusive(_path(folder, key_id, _ACTIVE), pem)
    return key


def load_keyring(*, directory: Path | None = None) -> TicketKeyring:
    """The keyring in ``directory`` (default: the data folder's), creating the first key when
    there is no active key (first use, or every key retired).

    Raises KeyringError when a key file is readable by other users.
    """
    folder = _folder(directory)
    keyring = _load(folder)
    while not keyring.active:
        next_id = max(keyring.known_ids, default=0) + 1
        with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
            _create_key(folder, next_id)
        keyring = _scan(folder)
    return keyring


def current_signing_key(*, directory: Path | None = None) -> SigningKey:
    """The key that signs new tickets now."""
    return load_keyring(directory=directory).current


def rotate_ticket_key(*, directory: Path | None = None) -> SigningKey:
    """Create a key with a new id, which signs from now on; older keys keep verifying."""
    try:
        return _rotate(_folder(directory))
    finally:
        _stats.clear()  # this process sees its own change at once


def _rotate(folder: Path) -> SigningKey:
    while True:
        next_id = max(_scan(folder).known_ids, default=0) + 1
        try:
            return _create_key(folder, next_id)
        except FileExistsError:
            continue  # a concurrent rotation took this id: take the next one


def retire_ticket_key(key_id: int, *, directory: Path | None = None) -> None:
    """Stop verifying tickets signed with ``key_id`` and delete its private key.

    Idempotent for an already retired key. Raises KeyringError for an unknown key id and for
    the current key (rotate first, so that something still signs).
    """
    try:
        _retire(key_id, _folder(directory))
    finally:
        _stats.clear()  # this process sees its own change at once


def _retire(key_id: int, folder: Path) -> None:
    keyring = _scan(folder)
    if key_id in keyring.retired:
        _path(folder, key_id, _ACTIVE).unlink(missing_ok=True)
        return
    if key_id not in keyring.active:
        raise KeyringError(f"there is no ticket key {key_id}")
    if key_id == keyring.current.key_id:
        raise KeyringError(
            f"key {key_id} signs new tickets: rotate to a new key before retiring it"
        )
    public = keyring.active[key_id].public_bytes.hex()
    retired_at = now().isoformat(timespec="seconds")
    tombstone = f"public-key: {public}\nretired-at: {retired_at}\n".encode()
    with contextlib.suppress(FileExistsError):  # retired concurrently
        _write_exclusive(_path(folder, key_id, _RETIRED), tombstone)
    _path(folder, key_id, _ACTIVE).unlink(missing_ok=True)


def public_keys(*, directory: Path | None = None) -> dict[int, bytes]:
    """Raw 32-byte public keys of every key that still verifies, by key id (for gates).

    Kept per process and folder; a ``stat`` of the folder at most every STAT_INTERVAL notices
    a rotation or a retirement by another process (both change the folder), so a call after
    it reads the keys again; this process's own rotations and retirements count at once."""
    folder = Path(directory) if directory is not None else default_directory()
    cached = _cache.get(folder)
    seen = _stats.get(folder)
    moment = time.monotonic()
    if cached is not None and seen is not None and moment - seen[0] < STAT_INTERVAL:
        stamp = seen[1]
    else:
        try:
            before = os.stat(folder)
        except FileNotFoundError:
            return load_keyring(directory=folder).public_keys()
        stamp = (before.st_mtime_ns, before.st_ino)
        _stats[folder] = (moment, stamp)
    if cached is not None and cached[0] == stamp:
        return cached[1].public_keys()
    return load_keyring(directory=folder).public_keys()
