"""Every key of the site, what depends on each, and the work of the key commands.

Key families (``gathering keys`` lists them):

- ``tickets``: Ed25519 keys that sign tickets (``registration/keys.py``); a ticket names its key.
- ``transparency``: Ed25519 keys that sign tree heads (``transparency/keys.py``).
- ``pii``: AES-256-GCM keys that encrypt personal data (``core/crypto.py``); a value names its key.
- ``hmac``: the keyed-hash key of the blind indexes (``core/crypto.py``, ``core/hmac_keys.py``):
  emails of registrations, site contacts and signers, networks, rate-limit keys.
- ``altcha``: the key that signs proof-of-work challenges (``abuse/altcha.py``).
- ``django``: Django's ``SECRET_KEY`` (sessions' authentication hash, the links that let a site
  coordinator choose a password); older keys stay in ``SECRET_KEY_FALLBACKS`` after a rotation.

After a rotation of the keyed-hash key, rows keep the hash made under their key (the hash names
it) and look-ups ask for every key held. :func:`reindex_blind_indexes` recomputes the hashes of
rows whose value can still be decrypted (registrations, site contacts, signatures that are not
confirmed yet or whose signer wants news); a confirmed signature keeps only its hash, so it
depends on its key until the retention purge erases it. :func:`retire_hmac_key` refuses to
delete a key while duplicate detection depends on it (unless forced); networks and rate-limit
counters (kept days and minutes) are reported, never blocking.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import IntegrityError, models, transaction
from django.db.models import Case, CharField, Count, Q, Value, When
from django.db.models.functions import Greatest, StrIndex, Substr
from django.utils.module_loading import import_string
from django.utils.timezone import now

from gathering.core import crypto, hmac_keys
from gathering.core.hmac_keys import KeyringError

logger = logging.getLogger(__name__)

ERASED_PREFIX = "erased:"


class KeyInUseError(KeyringError):
    """Data still depends on the key to retire; ``rows`` counts it by kind."""

    def __init__(self, message: str, rows: dict[str, int] | None = None) -> None:
        super().__init__(message)
        self.rows = rows or {}


@dataclass(frozen=True)
class HashColumn:
    """A column that holds keyed hashes (``crypto.blind_index``).

    ``source`` is the encrypted column whose value was hashed (after ``canonical``, a dotted
    path), when the row keeps it: such rows can be re-indexed. ``blocking``: retiring a key
    is refused while such rows depend on it (duplicate detection needs them). ``live``
    narrows the rows that still matter (rate counters of windows not over)."""

    model: str
    field: str
    purpose: str
    label: str
    source: str | None = None
    canonical: str | None = None
    hex_chars: int | None = None
    blocking: bool = True
    live: Callable[[], Q] | None = None


def _live_rate_counters() -> Q:
    return Q(expires__gte=int(time.time()))


HASH_COLUMNS: tuple[HashColumn, ...] = (
    HashColumn(
        "registration.Registration",
        "email_index",
        "email",
        "registrations (email)",
        source="email",
    ),
    HashColumn(
        "registration.Registration",
        "name_index",
        "registration-name",
        "registrations (name, for the desk)",
        source="name",
    ),
    HashColumn(
        "satellites.Site",
        "contact_email_index",
        "email",
        "site applications (contact email)",
        source="contact_email",
    ),
    HashColumn(
        "voices.Signature",
        "email_hash",
        "voices-email",
        "signatures (email)",
        source="email",
        canonical="gathering.voices.canonical.canonical_email",
    ),
    HashColumn(
        "voices.Signature",
        "prefix_hash",
        "abuse-prefix",
        "signatures (network, kept 7 days)",
        hex_chars=32,
        blocking=False,
    ),
    HashColumn(
        "privacy.DataSubjectRequest",
        "email_hash",
        "privacy-request-email",
        "data-subject requests (email, counts earlier requests)",
        blocking=False,
    ),
    HashColumn(
        "accounts.RecoveryCode",
        "code_hash",
        "accounts-recovery-code",
        "staff recovery codes",
    ),
    HashColumn(
        "accounts.SignInThrottle",
        "hashed_key",
        "accounts-throttle",
        "sign-in throttles",
        blocking=False,
    ),
    HashColumn(
        "abuse.RateCounter",
        "hashed_key",
        "abuse-ratelimit",
        "rate-limit counters (current windows)",
        hex_chars=32,
        blocking=False,
        live=_live_rate_counters,
    ),
)


def hash_columns() -> list[HashColumn]:
    """The columns of :data:`HASH_COLUMNS` that the installed apps have."""
    present = []
    for column in HASH_COLUMNS:
        try:
            model = apps.get_model(column.model)
            model._meta.get_field(column.field)
            if column.source is not None:
                model._meta.get_field(column.source)
        except (LookupError, FieldDoesNotExist):
            continue
        present.append(column)
    return present


# --- counting --------------------------------------------------------------------------------


def _hashes(column: HashColumn) -> models.QuerySet[Any]:
    model = apps.get_model(column.model)
    rows: models.QuerySet[Any] = (
        model._base_manager.filter(**{f"{column.field}__isnull": False})
        .exclude(**{column.field: ""})
        .exclude(**{f"{column.field}__startswith": ERASED_PREFIX})
    )
    if column.live is not None:
        rows = rows.filter(column.live())
    return rows


def _key_id_of(field_name: str) -> Case:
    """SQL: the key id of a stored hash (``legacy`` for bare hex)."""
    return Case(
        When(
            **{f"{field_name}__contains": ":"},
            then=Substr(
                field_name,
                1,
                StrIndex(field_name, Value(":")) - 1,
                output_field=CharField(),
            ),
        ),
        default=Value(hmac_keys.LEGACY),
        output_field=CharField(),
    )


def count_hashes_by_key() -> dict[str, dict[str, int]]:
    """Rows per key id and column label (only non-zero counts), in one query per column."""
    counts: dict[str, dict[str, int]] = {}
    for column in hash_columns():
        grouped = (
            _hashes(column)
            .order_by()
            .annotate(key_id=_key_id_of(column.field))
            .values("key_id")
            .annotate(rows=Count("*"))
        )
        for entry in grouped:
            counts.setdefault(entry["key_id"], {})[column.label] = entry["rows"]
    return counts


def _encrypted_columns() -> Iterable[tuple[type[models.Model], crypto.EncryptedTextField]]:
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue  # a proxy's rows are its concrete model's, counted there
        for model_field in model._meta.concrete_fields:
            if isinstance(model_field, crypto.EncryptedTextField):
                yield model, model_field


def count_encrypted_by_key() -> dict[str, int]:
    """Encrypted values per PII key id, over every encrypted column (one query per column)."""
    counts: Counter[str] = Counter()
    start = len(crypto.PREFIX) + 2  # after "pii1:"
    for model, model_field in _encrypted_columns():
        rest = Substr(model_field.name, start, output_field=CharField())
        key_id = Substr(
            model_field.name,
            start,
            # Greatest: a malformed value (no second ":") gives "", never a negative length.
            Greatest(StrIndex(rest, Value(":")) - 1, Value(0)),
            output_field=CharField(),
        )
        grouped = (
            model._base_manager.filter(**{f"{model_field.name}__isnull": False})
            .order_by()
            .annotate(pii_key_id=key_id)
            .values("pii_key_id")
            .annotate(rows=Count("*"))
        )
        for entry in grouped:
            counts[entry["pii_key_id"]] += entry["rows"]
    return dict(counts)


def hmac_key_dependencies(key_id: str) -> tuple[dict[str, int], dict[str, int]]:
    """Rows that still hold hashes made with ``key_id``: (blocking, not blocking), by label."""
    by_key = count_hashes_by_key().get(key_id, {})
    blocking = {c.label: by_key[c.label] for c in HASH_COLUMNS if c.blocking and c.label in by_key}
    other = {c.label: by_key[c.label] for c in HASH_COLUMNS if not c.blocking and c.label in by_key}
    return blocking, other


# --- re-indexing -----------------------------------------------------------------------------


@dataclass
class ReindexReport:
    """Rows re-indexed, rows left because another row holds the same hash (a duplicate made
    under two keys: see them in the admin), and rows whose value could not be decrypted."""

    current_id: str
    updated: Counter[str] = field(default_factory=Counter)
    conflicts: Counter[str] = field(default_factory=Counter)
    unreadable: Counter[str] = field(default_factory=Counter)


def _older_rows(column: HashColumn, current_id: str) -> models.QuerySet[Any]:
    rows = _hashes(column).filter(**{f"{column.source}__isnull": False})
    if current_id == hmac_keys.LEGACY:
        return rows.filter(**{f"{column.field}__contains": ":"})
    return rows.exclude(**{f"{column.field}__startswith": f"{current_id}:"})


def reindex_blind_indexes(*, batch_size: int = 500) -> ReindexReport:
    """Recompute, under the current keyed-hash key, every hash made under an older key whose
    value the row still holds (encrypted). Runs in batches of ``batch_size`` rows, one
    transaction each; a row changed meanwhile (erased, cancelled) is left as it is. Safe to
    run again, and beside the running site."""
    keyring = hmac_keys.load(hmac_keys.HMAC)
    report = ReindexReport(current_id=keyring.current_id)
    for column in hash_columns():
        if column.source is None:
            continue
        _reindex_column(column, keyring.current_id, report, batch_size=batch_size)
    logger.info(
        "keyed hashes re-indexed key_id=%s updated=%s conflicts=%s unreadable=%s",
        keyring.current_id,
        sum(report.updated.values()),
        sum(report.conflicts.values()),
        sum(report.unreadable.values()),
    )
    return report


def _reindex_column(
    column: HashColumn, current_id: str, report: ReindexReport, *, batch_size: int
) -> None:
    assert column.source is not None  # noqa: S101  # nosec B101 # checked by the caller
    model = apps.get_model(column.model)
    source_field = model._meta.get_field(column.source)
    assert isinstance(source_field, crypto.EncryptedTextField)  # noqa: S101  # nosec B101
    canonical: Callable[[str], str] = (
        import_string(column.canonical) if column.canonical else (lambda value: value)
    )
    last_pk: Any = None
    while True:
        rows = _older_rows(column, current_id).order_by("pk")
        if last_pk is not None:
            rows = rows.filter(pk__gt=last_pk)
        with crypto.stored_form():
            batch = list(rows.values_list("pk", column.source, column.field)[:batch_size])
        if not batch:
            return
        last_pk = batch[-1][0]
        changes: list[tuple[Any, str, str]] = []
        for pk, stored, old in batch:
            try:
                plain = crypto.decrypt(stored, context=source_field.crypto_context)
            except crypto.DecryptionError:
                report.unreadable[column.label] += 1
                continue
            new = crypto.blind_index(
                canonical(plain), purpose=column.purpose, hex_chars=column.hex_chars
            )
            changes.append((pk, old, new))
        try:
            with transaction.atomic():
                updated = sum(_update_hash(model, column, pk, old, new) for pk, old, new in changes)
            report.updated[column.label] += updated
        except IntegrityError:
            # Nothing of this batch was kept: again row by row, to find the conflicting rows.
            for pk, old, new in changes:
                try:
                    with transaction.atomic():
                        report.updated[column.label] += _update_hash(model, column, pk, old, new)
                except IntegrityError:
                    report.conflicts[column.label] += 1


def _update_hash(model: type[models.Model], column: HashColumn, pk: Any, old: str, new: str) -> int:
    return int(
        model._base_manager.filter(pk=pk, **{column.field: old}).update(**{column.field: new})
    )


# --- retiring --------------------------------------------------------------------------------


def _describe(rows: dict[str, int]) -> str:
    return ", ".join(f"{label}: {count}" for label, count in rows.items())


def retire_hmac_key(key_id: str, *, force: bool = False) -> dict[str, int]:
    """Delete the keyed-hash key ``key_id`` (key files; with keys from the environment, say
    whether it may be removed there). Returns the rows that still held hashes under it.

    Raises KeyInUseError while registrations, site applications or signatures still depend
    on it for duplicate detection (unless ``force``: those people could then register or sign
    a second time), and KeyringError for an unknown or current key."""
    keyring = hmac_keys.load(hmac_keys.HMAC)
    if key_id in keyring.retired and key_id not in keyring.keys:
        return {}
    if key_id not in keyring.keys:
        raise KeyringError(f"There is no keyed-hash key {key_id!r}.")
    if key_id == keyring.current_id:
        raise KeyringError(
            f"The keyed-hash key {key_id!r} is the current one: rotate to a new key first."
        )
    blocking, other = hmac_key_dependencies(key_id)
    if blocking and not force:
        raise KeyInUseError(
            f"Key {key_id!r} is still needed to find these rows: {_describe(blocking)}. Run "
            "`gathering reindex_hmac` first: it re-hashes every row whose email is still kept. "
            "Confirmed signatures keep only the hash: they need the key until the retention "
            "purge erases them. --force retires it anyway (those people could then register "
            "or sign a second time).",
            blocking,
        )
    hmac_keys.retire(hmac_keys.HMAC, key_id)
    logger.warning(
        "keyed-hash key retired key_id=%s rows_left=%s", key_id, sum({**blocking, **other}.values())
    )
    return {**blocking, **other}


def altcha_challenges_valid_until(keyring: hmac_keys.Keyring) -> dt.datetime:
    """The last moment a challenge signed with an older key may still be solved."""
    return dt.datetime.fromtimestamp(keyring.current_since + settings.ALTCHA_EXPIRES, tz=dt.UTC)


def retire_altcha_key(key_id: str, *, force: bool = False, at: dt.datetime | None = None) -> None:
    """Delete the proof-of-work key ``key_id``. Refused (KeyInUseError) while challenges it
    signed may still be solved, ``ALTCHA_EXPIRES`` seconds after the rotation that replaced it
    (unless ``force``: forms showing such a challenge then ask for a new proof)."""
    keyring = hmac_keys.load(hmac_keys.ALTCHA)
    if key_id in keyring.keys and key_id != keyring.current_id and not force:
        until = altcha_challenges_valid_until(keyring)
        if (at or now()) <= until:
            raise KeyInUseError(
                f"Challenges signed with key {key_id!r} may be solved until "
                f"{until.isoformat(timespec='seconds')}: retire it after that (or --force)."
            )
    hmac_keys.retire(hmac_keys.ALTCHA, key_id)


# --- status ----------------------------------------------------------------------------------


@dataclass
class KeyStatus:
    key_id: str
    current: bool
    rows: dict[str, int] = field(default_factory=dict)


@dataclass
class FamilyStatus:
    """One family: where its keys come from, the keys held (with the rows that depend on
    each), retired ids, rows under ids no longer held, and notes. ``error`` replaces all of it
    when the configuration cannot be read."""

    name: str
    label: str
    source: str = ""
    current_id: str = ""
    keys: list[KeyStatus] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    orphaned: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "family": self.name,
            "label": self.label,
            "source": self.source,
            "current": self.current_id,
            "keys": [
                {"id": key.key_id, "current": key.current, "rows": key.rows} for key in self.keys
            ],
            "retired": self.retired,
            "orphaned": self.orphaned,
            "notes": self.notes,
            "error": self.error,
        }


# --- Django's SECRET_KEY ----------------------------------------------------------------------

SECRET_KEY_FILE = "secret_key"  # noqa: S105  # nosec B105 # a file name
FALLBACKS_FILE = "keys/secret_key_fallbacks"


def secret_key_id(key: str) -> str:
    """A short id of a secret key (8 hex characters of a hash): names it, reveals nothing."""
    return hashlib.sha256(b"gathering-key-id\x00" + key.encode()).hexdigest()[:8]


def _secret_files() -> tuple[Path, Path]:
    data = Path(settings.DATA_DIR)
    return data / SECRET_KEY_FILE, data / FALLBACKS_FILE


def _refuse_secret_key_from_environment() -> None:
    if os.environ.get("SECRET_KEY") or os.environ.get("SECRET_KEY_FALLBACKS"):
        raise KeyringError(
            "The secret key comes from the environment (SECRET_KEY, SECRET_KEY_FALLBACKS): set a "
            "new SECRET_KEY, list the old one in SECRET_KEY_FALLBACKS (comma-separated), then "
            "restart every process; remove it from there once nothing it signed is needed."
        )


def _read_fallbacks(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def _replace_secret_file(path: Path, content: str) -> None:
    """Replace ``path`` (mode 0600) whole: readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)


def rotate_secret_key() -> str:
    """A new Django ``SECRET_KEY`` in ``<data>/secret_key``; the old one goes first in
    ``<data>/keys/secret_key_fallbacks``, so sessions and links it signed stay valid. Takes
    effect when the processes restart. Returns the new key's id. Raises KeyringError when the
    key comes from the environment or there is no key file."""
    _refuse_secret_key_from_environment()
    key_file, fallbacks_file = _secret_files()
    if not key_file.exists():
        raise KeyringError(f"There is no {key_file}: run `gathering setup` first.")
    old = key_file.read_text().strip()
    new = secrets.token_urlsafe(50)
    kept = [old, *(key for key in _read_fallbacks(fallbacks_file) if key != old)]
    # Fallbacks first: a restart between the two writes still knows the old key.
    _replace_secret_file(fallbacks_file, "\n".join(kept) + "\n")
    _replace_secret_file(key_file, new)
    logger.warning("secret key rotated key_id=%s", secret_key_id(new))
    return secret_key_id(new)


def secret_key_fallbacks_needed_until() -> dt.datetime | None:
    """Until when what the fallback keys signed may still be in use (password links, staff
    sessions), counted from the last rotation; None without fallbacks in files."""
    _key_file, fallbacks_file = _secret_files()
    if not fallbacks_file.exists():
        return None
    session_seconds = getattr(settings, "ACCOUNTS_ABSOLUTE_TIMEOUT", settings.SESSION_COOKIE_AGE)
    seconds = max(int(settings.PASSWORD_RESET_TIMEOUT), int(session_seconds))
    return dt.datetime.fromtimestamp(fallbacks_file.stat().st_mtime + seconds, tz=dt.UTC)


def retire_secret_key(key_id: str, *, force: bool = False, at: dt.datetime | None = None) -> None:
    """Remove the fallback key ``key_id`` (its id as ``gathering keys`` shows it): what it
    signed stops verifying (after a restart). Refused (KeyInUseError) while password links
    and sessions signed before the last rotation may still be in use, unless ``force``."""
    _refuse_secret_key_from_environment()
    key_file, fallbacks_file = _secret_files()
    if key_file.exists() and secret_key_id(key_file.read_text().strip()) == key_id:
        raise KeyringError(f"The secret key {key_id} is the current one: rotate first.")
    fallbacks = _read_fallbacks(fallbacks_file)
    kept = [key for key in fallbacks if secret_key_id(key) != key_id]
    if len(kept) == len(fallbacks):
        raise KeyringError(f"There is no fallback secret key {key_id!r}.")
    until = secret_key_fallbacks_needed_until()
    if not force and until is not None and (at or now()) <= until:
        raise KeyInUseError(
            f"Password links and sessions signed with key {key_id} may be in use until "
            f"{until.isoformat(timespec='seconds')}: retire it after that (or --force: those "
            "people sign in, or ask for a link, again)."
        )
    _replace_secret_file(fallbacks_file, "".join(f"{key}\n" for key in kept))
    logger.warning("secret key retired key_id=%s", key_id)


def _secret_key_status() -> FamilyStatus:
    from_environment = bool(os.environ.get("SECRET_KEY"))
    key_file, fallbacks_file = _secret_files()
    status = FamilyStatus(
        name="django",
        label="Django SECRET_KEY (sessions, links to choose a password)",
        source=(
            "environment (SECRET_KEY, SECRET_KEY_FALLBACKS)"
            if from_environment
            else f"files {key_file} and {fallbacks_file}"
        ),
        current_id=secret_key_id(settings.SECRET_KEY),
    )
    status.keys.append(KeyStatus(status.current_id, True))
    for key in settings.SECRET_KEY_FALLBACKS:
        status.keys.append(KeyStatus(secret_key_id(key), False))
    on_disk = "" if from_environment or not key_file.exists() else key_file.read_text().strip()
    if on_disk and secret_key_id(on_disk) != status.current_id:
        status.notes.append(
            f"The key file holds key {secret_key_id(on_disk)}: restart every process to use it."
        )
    until = secret_key_fallbacks_needed_until()
    if settings.SECRET_KEY_FALLBACKS and until is not None:
        status.notes.append(
            "Older keys verify password links and sessions that may be in use until "
            f"{until.isoformat(timespec='seconds')}; retire_secret_key ID after that."
        )
    return status


# --- the status of each family ----------------------------------------------------------------


def _signing_family(
    name: str, label: str, folder: Path, rows: dict[int, dict[str, int]], none: dict[str, int]
) -> FamilyStatus:
    from gathering.registration import keys as keyfiles

    keyring = keyfiles.load_keyring(directory=folder)
    status = FamilyStatus(
        name=name, label=label, source=f"files in {folder}", current_id=str(keyring.current.key_id)
    )
    for key_id in sorted(keyring.active):
        status.keys.append(
            KeyStatus(str(key_id), key_id == keyring.current.key_id, rows.get(key_id, none))
        )
    status.retired = [str(key_id) for key_id in sorted(keyring.retired)]
    status.orphaned = {
        str(key_id): counts for key_id, counts in rows.items() if key_id not in keyring.active
    }
    return status


def _ticket_status() -> FamilyStatus:
    from gathering.registration import keys as keyfiles
    from gathering.registration.models import Ticket

    moment = now()
    rows: dict[int, dict[str, int]] = {}
    for entry in (
        Ticket.objects.order_by()
        .values("key_id")
        .annotate(
            total=Count("*"),
            valid=Count("pk", filter=Q(revoked_at__isnull=True, valid_until__gt=moment)),
        )
    ):
        rows[entry["key_id"]] = {"tickets": entry["total"], "tickets still valid": entry["valid"]}
    status = _signing_family(
        "tickets",
        "ticket signing (Ed25519)",
        keyfiles.default_directory(),
        rows,
        {"tickets": 0, "tickets still valid": 0},
    )
    status.notes.append(
        "Retire a key (retire_ticket_key) once no ticket it signed is still valid: its tickets "
        "then scan as 'unknown key'."
    )
    return status


def _transparency_status() -> FamilyStatus:
    from gathering.transparency import keys as transparency_keys
    from gathering.transparency.models import TreeHead

    rows = {
        entry["key_id"]: {"tree heads": entry["total"]}
        for entry in TreeHead.objects.order_by().values("key_id").annotate(total=Count("*"))
    }
    status = _signing_family(
        "transparency",
        "transparency tree heads (Ed25519)",
        transparency_keys.default_directory(),
        rows,
        {"tree heads": 0},
    )
    status.notes.append("Never retired: every published tree head must keep verifying.")
    return status


def _pii_status() -> FamilyStatus:
    keyring = crypto.pii_keyring()
    source = (
        "environment (PII_KEYS, PII_KEY_ID)"
        if os.environ.get("PII_KEYS")
        else f"files in {crypto._keys_dir() / 'pii'}"
    )
    counts = count_encrypted_by_key()
    status = FamilyStatus(
        name="pii", label="personal data (AES-256-GCM)", source=source,
        current_id=keyring.current_id,
    )  # fmt: skip
    for key_id in sorted(keyring.keys, key=lambda k: (k != keyring.current_id, k)):
        status.keys.append(
            KeyStatus(
                key_id, key_id == keyring.current_id, {"encrypted values": counts.get(key_id, 0)}
            )
        )
    status.orphaned = {
        key_id or "(malformed)": {"encrypted values (cannot be decrypted)": count}
        for key_id, count in counts.items()
        if key_id not in keyring.keys
    }
    return status


def _symmetric_source(keyring: hmac_keys.Keyring) -> str:
    family = keyring.family
    if keyring.from_environment:
        return f"environment ({family.env_keys}, {family.env_key_id}, {family.legacy_env})"
    return f"files in {keyring.folder} (and {hmac_keys.keys_dir() / family.legacy_file})"


def _hmac_status() -> FamilyStatus:
    keyring = hmac_keys.load(hmac_keys.HMAC)
    counts = count_hashes_by_key()
    status = FamilyStatus(
        name="hmac",
        label=hmac_keys.HMAC.label,
        source=_symmetric_source(keyring),
        current_id=keyring.current_id,
        retired=sorted(keyring.retired),
    )
    for key_id in keyring.ids:
        rows = {
            column.label: counts.get(key_id, {}).get(column.label, 0) for column in hash_columns()
        }
        status.keys.append(KeyStatus(key_id, key_id == keyring.current_id, rows))
    status.orphaned = {
        key_id: rows for key_id, rows in counts.items() if key_id not in keyring.keys
    }
    if len(keyring.keys) > 1:
        status.notes.append(
            "Look-ups use every key held. `gathering reindex_hmac` moves what can be re-hashed "
            "to the current key; then `gathering retire_hmac_key ID`."
        )
    return status


def _altcha_status() -> FamilyStatus:
    keyring = hmac_keys.load(hmac_keys.ALTCHA)
    status = FamilyStatus(
        name="altcha",
        label=hmac_keys.ALTCHA.label,
        source=_symmetric_source(keyring),
        current_id=keyring.current_id,
        retired=sorted(keyring.retired),
    )
    for key_id in keyring.ids:
        status.keys.append(KeyStatus(key_id, key_id == keyring.current_id))
    if len(keyring.keys) > 1:
        until = altcha_challenges_valid_until(keyring)
        status.notes.append(
            "Challenges signed with older keys may be solved until "
            f"{until.isoformat(timespec='seconds')}; retire those keys after that."
        )
    return status


def key_status() -> list[FamilyStatus]:
    """Every key family's status (no secret in it). A family whose configuration is broken
    gets its error instead, and the others are still reported."""
    families: list[tuple[str, str, Callable[[], FamilyStatus]]] = [
        ("tickets", "ticket signing (Ed25519)", _ticket_status),
        ("transparency", "transparency tree heads (Ed25519)", _transparency_status),
        ("pii", "personal data (AES-256-GCM)", _pii_status),
        ("hmac", hmac_keys.HMAC.label, _hmac_status),
        ("altcha", hmac_keys.ALTCHA.label, _altcha_status),
        ("django", "Django SECRET_KEY", _secret_key_status),
    ]
    statuses = []
    for name, label, build in families:
        try:
            statuses.append(build())
        except Exception as error:  # a broken family must not hide the others
            statuses.append(FamilyStatus(name=name, label=label, error=str(error)))
    return statuses
