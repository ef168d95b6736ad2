"""Keyrings of the HMAC secrets: every key has an id, rotation adds a key, old keys stay.

Two families of keys share this code:

- ``HMAC``, the keyed-hash (blind-index) key of ``core/crypto.py``: emails of registrations and
  site applications, signers' emails, networks and rate-limit keys;
- ``ALTCHA``, the key that signs proof-of-work challenges (``abuse/altcha.py``).

Where a family's keys come from (names for ``HMAC``; ``ALTCHA`` in brackets):

- the environment, when ``HMAC_KEYS`` (``ALTCHA_HMAC_KEYS``) or the original single key
  ``BLIND_INDEX_KEY`` (``ALTCHA_HMAC_KEY``) is set. ``HMAC_KEYS`` is JSON
  ``{"<key id>": "<base64 of at least 32 bytes>", ...}``; the original single key is the key
  with the id ``legacy``. ``HMAC_KEY_ID`` (``ALTCHA_HMAC_KEY_ID``) names the current key (it
  may be ``legacy``); it is needed as soon as there are several keys. Rotate by adding a key
  and changing the id, then restarting; retire by removing the key;
- else files in the data folder: ``keys/hmac/<key id>.key`` (``keys/altcha/``; base64, mode
  0600 in a 0700 folder), the current id in ``keys/hmac/current``, and the original key
  ``keys/blind_index.key`` (``keys/altcha_hmac.key``) with the id ``legacy``. The first use
  creates the original key file, as before key ids existed; :func:`rotate` adds a key and makes
  it current; :func:`retire` deletes a key and leaves a tombstone ``<key id>.retired``, so the id
  is never used again. ``HMAC_KEY_ID`` may still choose the current key among the files.

Key ids are 1-15 characters of lower-case letters, digits and ``-`` (rotation makes
``YYYYMMDD-xxxxxx``): short, so that a hash tagged with its key id still fits the 64-character
columns (see ``crypto.blind_index``), and lower-case, so that moderators may paste hashes in
either case. ``erased`` is not an id (the retention purge marks erased hashes with it).

Uses check (with one ``stat`` of the key folder, at most once a second per process) whether
another process rotated or retired a key since the keys were loaded, and reload them if so: no
restart is needed for files, and a rotation reaches every process within a second. Keys from
the environment are read once per process.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.timezone import now

KEY_BYTES = 32
LEGACY = "legacy"
RESERVED_IDS = frozenset({"erased"})
KEY_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,14}")
CURRENT_FILE = "current"
# A folder whose last change is younger than this is not cached: file times are coarse, so a
# change in the same tick as our read would leave the same stamp behind (registration/keys.py).
_RACY_NS = 2_000_000_000


class KeyringError(Exception):
    """The keys cannot be changed as asked (unknown or current key id, keys from the
    environment); the message says why and what to do."""


@dataclass(frozen=True)
class KeyFamily:
    """Where one family's keys live (see the module docstring)."""

    name: str
    label: str
    env_keys: str
    env_key_id: str
    legacy_env: str
    legacy_file: str
    folder: str
    # The variables' names as the raw environment holds them (see _environment_stamp).
    raw_names: tuple[bytes, bytes, bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = (self.env_keys, self.legacy_env, self.env_key_id)
        object.__setattr__(self, "raw_names", tuple(os.fsencode(name) for name in names))


HMAC = KeyFamily(
    name="hmac",
    label="keyed-hash (HMAC)",
    env_keys="HMAC_KEYS",
    env_key_id="HMAC_KEY_ID",
    legacy_env="BLIND_INDEX_KEY",
    legacy_file="blind_index.key",
    folder="hmac",
)
ALTCHA = KeyFamily(
    name="altcha",
    label="proof-of-work (ALTCHA)",
    env_keys="ALTCHA_HMAC_KEYS",
    env_key_id="ALTCHA_HMAC_KEY_ID",
    legacy_env="ALTCHA_HMAC_KEY",
    legacy_file="altcha_hmac.key",
    folder="altcha",
)
FAMILIES = (HMAC, ALTCHA)


@dataclass(frozen=True)
class Keyring:
    """The keys of one family at one moment. ``current_since`` (Unix seconds) is no earlier
    than the moment the current key became current: the ``current`` file's time, or for keys
    from the environment the moment this process loaded them."""

    family: KeyFamily
    keys: Mapping[str, bytes]
    current_id: str
    current_since: float
    retired: frozenset[str]
    from_environment: bool
    folder: Path

    @property
    def current(self) -> bytes:
        return self.keys[self.current_id]

    @property
    def ids(self) -> list[str]:
        """Every key id held, the current one first (then oldest first: ``legacy``, then by
        id, which starts with the rotation date)."""
        others = sorted(key_id for key_id in self.keys if key_id != self.current_id)
        if LEGACY in others:
            others.remove(LEGACY)
            others.insert(0, LEGACY)
        return [self.current_id, *others]

    @property
    def old_ids(self) -> list[str]:
        return self.ids[1:]


_lock = threading.RLock()
_cache: dict[str, tuple[tuple[object, ...], Keyring]] = {}
_folders: dict[str, tuple[object, str]] = {}
# The key folder is looked at (a stat) at most this often per process: on the hot paths a
# system call per keyed hash (nine a signature) let other threads take the interpreter. Another
# process's rotation is seen within this delay (rotating here resets it at once), well inside
# the slack that rate limits allow for it (``abuse.ratelimit.ROTATION_SLACK``).
STAT_INTERVAL = 1.0
_stats: dict[str, tuple[float, tuple[object, ...]]] = {}


def keys_dir() -> Path:
    return Path(settings.DATA_DIR) / "keys"


def _environment(family: KeyFamily) -> tuple[str, str, str]:
    return (
        os.environ.get(family.env_keys, ""),
        os.environ.get(family.legacy_env, ""),
        os.environ.get(family.env_key_id, ""),
    )


# The environment as os.environ holds it on POSIX (bytes to bytes; os.environ's own writes,
# monkeypatch's included, keep it current). Every use of a key compares the variables with
# those the keys were loaded from: through ``os.environ`` (a key encoded and a value decoded
# per variable) that was 80 % of a use's cost, 2 % of a signature's CPU.
_RAW_ENVIRONMENT: dict[bytes, bytes] | None = (
    os.environ._data  # type: ignore[attr-defined]
    if os.name == "posix" and isinstance(getattr(os.environ, "_data", None), dict)
    else None
)


def _environment_stamp(family: KeyFamily) -> tuple[object, ...]:
    """What the family's variables are, to compare: raw bytes where they can be read so."""
    raw = _RAW_ENVIRONMENT
    if raw is None:
        return _environment(family)
    keys, legacy, key_id = family.raw_names
    return (raw.get(keys), raw.get(legacy), raw.get(key_id))


def _stamp(family: KeyFamily) -> tuple[object, ...]:
    """What the loaded keys depend on: the environment, the key folder and its last change
    (rotating and retiring both change the folder), looked at most every STAT_INTERVAL.
    Cheap: it runs on every use."""
    environment = _environment_stamp(family)
    if environment[0] or environment[1]:
        return (environment,)
    data_dir = settings.DATA_DIR
    known = _folders.get(family.name)
    if known is not None and known[0] is data_dir:
        folder = known[1]
    else:
        folder = os.path.join(data_dir, "keys", family.folder)
        _folders[family.name] = (data_dir, folder)
    moment = time.monotonic()
    seen = _stats.get(folder)
    if seen is not None and moment - seen[0] < STAT_INTERVAL:
        return (environment, folder, *seen[1])
    try:
        found = os.stat(folder)
    except FileNotFoundError:
        folder_stamp: tuple[object, ...] = (None,)
    else:
        folder_stamp = (found.st_mtime_ns, found.st_ino)
    _stats[folder] = (moment, folder_stamp)
    return (environment, folder, *folder_stamp)


def load(family: KeyFamily) -> Keyring:
    """The family's keys (created on first use; reloaded when the files or the environment
    change). Raises ImproperlyConfigured for a configuration that cannot be used."""
    stamp = _stamp(family)
    cached = _cache.get(family.name)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    with _lock:
        keyring = _load(family)
        changed_at = stamp[2] if len(stamp) > 3 else None
        if not (isinstance(changed_at, int) and time.time_ns() - changed_at < _RACY_NS):
            _cache[family.name] = (stamp, keyring)
    return keyring


def reset(family: KeyFamily | None = None) -> None:
    """Forget the loaded keys (of one family, or all), so the next use reads them again."""
    with _lock:
        for name in [family.name] if family else list(_cache):
            _cache.pop(name, None)
        _stats.clear()


def _decode(encoded: str, *, where: str) -> bytes:
    try:
        key = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as error:
        raise ImproperlyConfigured(f"{where}: not valid base64.") from error
    if len(key) < KEY_BYTES:
        raise ImproperlyConfigured(f"{where}: the key must hold at least {KEY_BYTES} bytes.")
    return key


def check_key_id(key_id: str, *, where: str) -> str:
    """``key_id`` if it may name a key; ImproperlyConfigured otherwise."""
    if not KEY_ID_PATTERN.fullmatch(key_id) or key_id in RESERVED_IDS:
        raise ImproperlyConfigured(
            f"{where}: {key_id!r} is not a key id (1-15 characters: lower-case letters, digits "
            f"and '-'; not {', '.join(sorted(RESERVED_IDS))})."
        )
    return key_id


def _load(family: KeyFamily) -> Keyring:
    raw, legacy, chosen = _environment(family)
    if raw or legacy:
        return _load_from_environment(family, raw=raw, legacy=legacy, chosen=chosen)
    return _load_from_files(family, chosen=chosen)


def _load_from_environment(family: KeyFamily, *, raw: str, legacy: str, chosen: str) -> Keyring:
    keys: dict[str, bytes] = {}
    if raw:
        try:
            entries = json.loads(raw)
        except ValueError as error:
            raise ImproperlyConfigured(
                f'{family.env_keys} must be JSON: {{"<key id>": "<base64 key>"}}.'
            ) from error
        if not isinstance(entries, dict) or not entries:
            raise ImproperlyConfigured(
                f'{family.env_keys} must be a non-empty JSON object {{"<key id>": "<key>"}}.'
            )
        for key_id, encoded in entries.items():
            if key_id == LEGACY:
                raise ImproperlyConfigured(
                    f"{family.env_keys}: the id {LEGACY!r} is the key in {family.legacy_env}."
                )
            check_key_id(str(key_id), where=family.env_keys)
            if not isinstance(encoded, str):
                raise ImproperlyConfigured(f"{family.env_keys}[{key_id}]: not valid base64.")
            keys[str(key_id)] = _decode(encoded, where=f"{family.env_keys}[{key_id}]")
    if legacy:
        keys[LEGACY] = _decode(legacy, where=family.legacy_env)
    current = chosen or (next(iter(keys)) if len(keys) == 1 else "")
    if current not in keys:
        raise ImproperlyConfigured(
            f"{family.env_key_id} must name one of the keys: "
            f"{', '.join(sorted(keys))} ({family.env_keys}, {family.legacy_env})."
        )
    return Keyring(
        family=family,
        keys=keys,
        current_id=current,
        current_since=time.time(),
        retired=frozenset(),
        from_environment=True,
        folder=keys_dir() / family.folder,
    )


def _load_from_files(family: KeyFamily, *, chosen: str) -> Keyring:
    base = keys_dir()
    folder = base / family.folder
    legacy_path = base / family.legacy_file
    retired: set[str] = set()
    keys: dict[str, bytes] = {}
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            stem, suffix = path.stem, path.suffix
            if not KEY_ID_PATTERN.fullmatch(stem) or stem in RESERVED_IDS:
                continue
            if suffix == ".retired":
                retired.add(stem)
            elif suffix == ".key" and stem != LEGACY:
                keys[stem] = _decode(path.read_text(), where=str(path))
    for key_id in retired:
        keys.pop(key_id, None)
    if LEGACY not in retired and legacy_path.exists():
        keys[LEGACY] = _decode(legacy_path.read_text(), where=str(legacy_path))
    if not keys:
        if retired:
            raise ImproperlyConfigured(
                f"Every {family.label} key in {folder} is retired and no key is left: restore "
                "the keys from a backup."
            )
        # First use: the original key file, as before key ids existed. FileExistsError:
        # another process created it first; use theirs.
        with contextlib.suppress(FileExistsError):
            write_secret_file(legacy_path, base64.b64encode(secrets.token_bytes(KEY_BYTES)))
        return _load_from_files(family, chosen=chosen)
    current_file = folder / CURRENT_FILE
    current_since = time.time()
    if chosen:
        current = chosen
    elif current_file.exists():
        current = current_file.read_text().strip()
        current_since = current_file.stat().st_mtime
    else:
        current = LEGACY if LEGACY in keys else ""
    if current not in keys:
        raise ImproperlyConfigured(
            f"The current {family.label} key {current!r} has no file in {folder} (set "
            f"{family.env_key_id} or fix {current_file})."
        )
    return Keyring(
        family=family,
        keys=keys,
        current_id=current,
        current_since=current_since,
        retired=frozenset(retired),
        from_environment=False,
        folder=folder,
    )


def write_secret_file(path: Path, content: bytes) -> None:
    """Create ``path`` with mode 0600 (its folder 0700), whole or not at all; never overwrite
    an existing file (raises FileExistsError, and the other writer's file stays)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)  # atomic, and fails if the file exists already
    finally:
        temporary.unlink()


def _write_current_id(folder: Path, key_id: str) -> None:
    temporary = folder / f".{CURRENT_FILE}.{secrets.token_hex(6)}.tmp"
    temporary.write_text(key_id)
    temporary.replace(folder / CURRENT_FILE)


def _new_key_id() -> str:
    return f"{now():%Y%m%d}-{secrets.token_hex(3)}"


def _refuse_environment(keyring: Keyring, action: str) -> None:
    if keyring.from_environment:
        family = keyring.family
        raise KeyringError(
            f"The {family.label} keys come from the environment ({family.env_keys}, "
            f"{family.legacy_env}): {action} there, then restart every process."
        )


def rotate(family: KeyFamily) -> str:
    """Make a new key the current one (files only); older keys stay for look-ups and
    verification. Returns the new key id. Raises KeyringError for keys from the environment."""
    keyring = load(family)  # creates the first key if there is none
    _refuse_environment(
        keyring, f"add a key to {family.env_keys} and name it in {family.env_key_id}"
    )
    folder = keyring.folder
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_id = _new_key_id()
    while (folder / f"{key_id}.key").exists() or (folder / f"{key_id}.retired").exists():
        key_id = _new_key_id()
    write_secret_file(folder / f"{key_id}.key", base64.b64encode(secrets.token_bytes(KEY_BYTES)))
    _write_current_id(folder, key_id)
    reset(family)
    return key_id


def retire(family: KeyFamily, key_id: str) -> None:
    """Delete the key ``key_id`` (files only) and leave a tombstone: what was hashed or signed
    with it is no longer recognised. Idempotent for a retired key. Raises KeyringError for an
    unknown key, for the current key (rotate first) and for keys from the environment.

    Checks nothing about the data: see ``key_management.retire_hmac_key`` and
    ``retire_altcha_key``, which refuse while data still depends on the key."""
    keyring = load(family)
    variable = family.legacy_env if key_id == LEGACY else family.env_keys
    _refuse_environment(keyring, f"remove the key {key_id!r} from {variable}")
    if key_id in keyring.retired and key_id not in keyring.keys:
        return
    if key_id not in keyring.keys:
        raise KeyringError(f"There is no {family.label} key {key_id!r}.")
    if key_id == keyring.current_id:
        raise KeyringError(
            f"The {family.label} key {key_id!r} is the current one: rotate to a new key first."
        )
    folder = keyring.folder
    tombstone = f"retired-at: {now().isoformat(timespec='seconds')}\n".encode()
    with contextlib.suppress(FileExistsError):  # retired concurrently
        write_secret_file(folder / f"{key_id}.retired", tombstone)
    path = keys_dir() / family.legacy_file if key_id == LEGACY else folder / f"{key_id}.key"
    path.unlink(missing_ok=True)
    reset(family)


def environment_files() -> dict[str, bytes]:
    """The keys that come from the environment, as the files (relative to the data folder)
    that would hold them: a backup then restores a site that works without the environment."""
    written: dict[str, bytes] = {}
    for family in FAMILIES:
        raw, legacy, _chosen = _environment(family)
        if not (raw or legacy):
            continue
        keyring = load(family)
        for key_id, key in keyring.keys.items():
            relative = (
                f"keys/{family.legacy_file}"
                if key_id == LEGACY
                else f"keys/{family.folder}/{key_id}.key"
            )
            written[relative] = base64.b64encode(key)
        if keyring.current_id != LEGACY:
            written[f"keys/{family.folder}/{CURRENT_FILE}"] = keyring.current_id.encode()
    return written
