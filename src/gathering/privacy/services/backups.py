"""Backups: the whole database and the data folder's keys in one encrypted archive, and its
restore into an empty database.

Content (JSON lines, inside the container of ``privacy/archive.py``):

1. a manifest: format, creation time, database engine, the migrations applied;
2. the files of the data folder a restored site needs: ``secret_key``, everything under
   ``keys/`` (PII keys, blind-index key, ticket and transparency signing keys, proof-of-work
   key) and ``media/`` (uploaded photos). Keys given in the environment (``PII_KEYS``,
   ``BLIND_INDEX_KEY``, ``HMAC_KEYS``, ``ALTCHA_HMAC_KEY``, ``ALTCHA_HMAC_KEYS``, ``SECRET_KEY``)
   are written as the files that would hold them, so the archive alone restores a working site;
3. every row of every app, as Django's ``jsonl`` serialisation with natural keys (users and
   groups by name, content types and permissions by app and codename, so the restored database
   may number them differently); content types, permissions and sessions are left out (the
   migrations make the first two again, sessions are disposable). Encrypted columns are copied
   as stored (``core.crypto.stored_form``): the archive holds the same ciphertexts as the
   database, beside the keys that open them;
4. a trailer with the number of rows per model and of files: an archive that does not end with
   it is incomplete.

The rows are read in one read-only transaction that sees a single snapshot (repeatable read on
PostgreSQL, a deferred read transaction on SQLite, which lets the site keep writing), so the
backup of a running site is consistent.

A restore first reads the whole archive, checking every authentication tag and the trailer,
then refuses a database that holds data and keys that differ from the data folder's (unless
forced), and only then migrates, writes the files and loads every row in one transaction.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import secrets
import stat
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from django.apps import apps
from django.conf import settings
from django.core import serializers
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.core.management import call_command
from django.core.management.color import no_style
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, models, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from gathering.core import crypto, hmac_keys
from gathering.privacy import archive
from gathering.privacy.archive import ArchiveError

logger = logging.getLogger(__name__)

# Rebuilt by the migrations (content types, permissions) or disposable (sessions).
EXCLUDED_APPS = frozenset({"contenttypes", "sessions"})
EXCLUDED_MODELS = frozenset({"auth.permission"})
# Made by every migrate (``core.roles``): present in an empty database, matched by name.
MADE_BY_MIGRATE = frozenset({"auth.group"})
# What a restore may write in the data folder.
FILE_ROOTS = ("secret_key", "keys/", "media/")
SECRET_KEY_FILE = "secret_key"  # noqa: S105 (a file name)  # nosec B105 # a file name
ENVIRONMENT_KEYS = {
    "BLIND_INDEX_KEY": "keys/blind_index.key",
    "ALTCHA_HMAC_KEY": "keys/altcha_hmac.key",
}


class RestoreError(Exception):
    """The restore was refused before anything was written; the message says why."""


@dataclass
class BackupReport:
    path: Path
    rows: Counter[str] = field(default_factory=Counter)
    files: int = 0
    size: int = 0


@dataclass
class RestoreReport:
    rows: Counter[str] = field(default_factory=Counter)
    files_written: int = 0
    files_unchanged: int = 0
    kept_secret_key: bool = False
    created_at: str = ""


# --- backup ----------------------------------------------------------------------------------


def backup(*, output: Path, passphrase: str, overwrite: bool = False) -> BackupReport:
    """Write an encrypted archive of the database and the data folder's keys to ``output``
    (mode 0600; written under a temporary name and renamed when complete, so a failed backup
    leaves no file that looks whole). Raises ArchiveError (passphrase too short) and
    FileExistsError (``output`` exists and not ``overwrite``)."""
    output = Path(output)
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output} exists already: choose another name (or --force).")
    report = BackupReport(path=output)
    temporary = output.with_name(f".{output.name}.{secrets.token_hex(4)}.partial")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            writer = archive.Writer(handle, passphrase)
            _write_content(writer, report)
            writer.close()
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(output)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    report.size = output.stat().st_size
    logger.info(
        "privacy backup written rows=%s files=%s bytes=%s",
        report.rows.total(),
        report.files,
        report.size,
    )
    return report


def _line(value: dict[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _write_content(writer: archive.Writer, report: BackupReport) -> None:
    connection = connections[DEFAULT_DB_ALIAS]
    with _snapshot(connection):
        writer.write(
            _line(
                {
                    "manifest": {
                        "format": "gathering-backup",
                        "version": 1,
                        "created_at": timezone.now().isoformat(),
                        "engine": connection.vendor,
                        "migrations": sorted(
                            [app, name]
                            for app, name in MigrationRecorder(connection).applied_migrations()
                        ),
                    }
                }
            )
        )
        for path, mode, content in _data_files():
            writer.write(
                _line({"file": path, "mode": mode, "data": base64.b64encode(content).decode()})
            )
            report.files += 1
        stream = _ArchiveText(writer)
        with crypto.stored_form():
            serializers.serialize(
                "jsonl",
                _all_rows(connection.alias, counts=report.rows),
                stream=stream,
                use_natural_foreign_keys=True,
                use_natural_primary_keys=True,
                ensure_ascii=False,
                cls=_ExactEncoder,
            )
        stream.flush()
        writer.write(_line({"end": {"rows": dict(report.rows), "files": report.files}}))


class _ExactEncoder(DjangoJSONEncoder):
    """Django's encoder keeps milliseconds of times; a backup keeps them whole."""

    def default(self, o: Any) -> Any:
        if isinstance(o, dt.datetime | dt.time):
            return o.isoformat()
        return super().default(o)


class _ArchiveText:
    """The serialiser's stream: text into the archive, in pieces of about 64 KiB (``json.dump``
    writes each token apart)."""

    def __init__(self, writer: archive.Writer) -> None:
        self._writer = writer
        self._pending: list[str] = []
        self._size = 0

    def write(self, text: str) -> int:
        self._pending.append(text)
        self._size += len(text)
        if self._size >= 1 << 16:
            self.flush()
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._writer.write("".join(self._pending).encode())
            self._pending.clear()
            self._size = 0


def _dumped_models() -> list[type[models.Model]]:
    app_list = [
        (config, None)
        for config in apps.get_app_configs()
        if config.models_module is not None and config.label not in EXCLUDED_APPS
    ]
    return [
        model
        for model in serializers.sort_dependencies(app_list, allow_cycles=True)
        if model._meta.label_lower not in EXCLUDED_MODELS
        and not model._meta.proxy
        and model._meta.managed
    ]


def _all_rows(using: str, *, counts: Counter[str]) -> Iterator[models.Model]:
    for model in _dumped_models():
        label = model._meta.label_lower
        rows = model._base_manager.using(using).order_by(model._meta.pk.name)
        for row in rows.iterator(chunk_size=2000):
            counts[label] += 1
            yield row


@contextlib.contextmanager
def _snapshot(connection: Any) -> Iterator[None]:
    """Every read inside sees the database as it was at the first one."""
    connection.ensure_connection()
    if connection.vendor == "postgresql":
        with transaction.atomic(using=connection.alias):
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield
        return
    if connection.vendor == "sqlite":
        # Django's transactions on SQLite are IMMEDIATE (they take the write lock): a backup
        # must not stop check-ins. A deferred transaction in WAL mode reads one snapshot and
        # lets writers go on.
        with connection.cursor() as cursor:
            cursor.execute("BEGIN DEFERRED")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("ROLLBACK")
        return
    with transaction.atomic(using=connection.alias):
        yield


def _data_files() -> Iterator[tuple[str, int, bytes]]:
    """(relative path, mode, content) of the files a restored site needs, keys from the
    environment written as the files that would hold them."""
    data_dir = Path(settings.DATA_DIR)
    found: dict[str, tuple[int, bytes]] = {}
    secret = data_dir / SECRET_KEY_FILE
    if secret.is_file():
        found[SECRET_KEY_FILE] = (0o600, secret.read_bytes())
    for folder in ("keys", "media"):
        root = data_dir / folder
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink() and not path.name.endswith(".tmp"):
                relative = path.relative_to(data_dir).as_posix()
                found[relative] = (stat.S_IMODE(path.stat().st_mode), path.read_bytes())
    found.update(_environment_keys())
    for relative, (mode, content) in sorted(found.items()):
        yield relative, mode, content


def _environment_keys() -> dict[str, tuple[int, bytes]]:
    written: dict[str, tuple[int, bytes]] = {}
    if key := os.environ.get("SECRET_KEY"):
        written[SECRET_KEY_FILE] = (0o600, key.encode())
    if os.environ.get("PII_KEYS"):
        keyring = crypto.pii_keyring()
        for key_id, key_bytes in keyring.keys.items():
            written[f"keys/pii/{key_id}.key"] = (0o600, base64.b64encode(key_bytes))
        written["keys/pii/current"] = (0o600, keyring.current_id.encode())
    # Keyed-hash and proof-of-work keys (HMAC_KEYS, ALTCHA_HMAC_KEYS, ...), with their ids.
    for relative, content in hmac_keys.environment_files().items():
        written[relative] = (0o600, content)
    for variable, relative in ENVIRONMENT_KEYS.items():
        if value := os.environ.get(variable):
            written[relative] = (0o600, value.strip().encode())
    return written


# --- restore ---------------------------------------------------------------------------------


@dataclass
class _Contents:
    manifest: dict[str, Any]
    files: dict[str, tuple[int, str]]  # path: (mode, sha256)
    rows: Counter[str]


def restore(*, source: Path, passphrase: str, force: bool = False) -> RestoreReport:
    """Restore the archive ``source`` into the (empty) default database and the data folder.

    In order, stopping at the first problem: the whole archive is read and authenticated (a
    wrong passphrase or any alteration raises ArchiveError); the database must hold no data
    (else RestoreError; the groups the migrations make do not count); files of the data folder
    that differ from the archive's are refused unless ``force`` (except the secret key, which
    only signs sessions and one-time links: replaced in a new data folder, else kept). Nothing is written before these pass.
    Then the migrations run, the files are written, and every row is loaded in one transaction
    (any failure rolls it back whole)."""
    source = Path(source)
    with source.open("rb") as handle:
        contents = _verified_contents(handle, passphrase)
    _check_migrations(contents.manifest)
    occupied = _occupied_models()
    if occupied:
        raise RestoreError(
            "The database is not empty (it holds "
            + ", ".join(occupied[:8])
            + (", …" if len(occupied) > 8 else "")
            + "): restore into a new, empty database (for SQLite: a new data folder)."
        )
    plan = _plan_files(contents.files, force=force)

    call_command("migrate", interactive=False, verbosity=0)
    report = RestoreReport(created_at=str(contents.manifest.get("created_at", "")))
    report.kept_secret_key = plan.kept_secret_key
    report.files_unchanged = len(plan.unchanged)
    with source.open("rb") as handle:
        lines = archive.read_lines(handle, passphrase)
        _skip_manifest(lines)
        rows = _write_files(lines, plan, report)
        crypto.reset_keys()
        try:
            _load_rows(rows, report, expected=contents.rows)
        except (
            serializers.base.DeserializationError,
            DatabaseError,
            FieldDoesNotExist,
            ObjectDoesNotExist,
            ValueError,
        ) as error:
            raise RestoreError(
                f"The backup's rows could not be loaded ({type(error).__name__}: {error}); "
                "none were (the transaction was rolled back). The keys were written to the "
                "data folder: running the restore again uses them."
            ) from error
    logger.info("privacy restore done rows=%s files=%s", report.rows.total(), report.files_written)
    return report


def _parse(line: bytes) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except ValueError as error:
        raise archive.DamagedArchiveError("The backup's content is not readable.") from error
    if not isinstance(value, dict):
        raise archive.DamagedArchiveError("The backup's content is not readable.")
    return value


def _verified_contents(handle: BinaryIO, passphrase: str) -> _Contents:
    manifest: dict[str, Any] | None = None
    files: dict[str, tuple[int, str]] = {}
    rows: Counter[str] = Counter()
    trailer: dict[str, Any] | None = None
    for line in archive.read_lines(handle, passphrase):
        if not line.strip():
            continue
        if trailer is not None:
            raise archive.DamagedArchiveError("The backup has content after its end.")
        value = _parse(line)
        if manifest is None:
            if not isinstance(value.get("manifest"), dict):
                raise archive.DamagedArchiveError("The backup has no manifest.")
            manifest = value["manifest"]
        elif "file" in value:
            path = _safe_path(value["file"])
            content = base64.b64decode(value["data"], validate=True)
            files[path] = (int(value["mode"]) & 0o777, hashlib.sha256(content).hexdigest())
        elif "model" in value:
            rows[str(value["model"])] += 1
        elif isinstance(value.get("end"), dict):
            trailer = value["end"]
        else:
            raise archive.DamagedArchiveError("The backup holds a line of unknown kind.")
    if manifest is None or trailer is None:
        raise archive.DamagedArchiveError("The backup is incomplete (it has no end).")
    if Counter(trailer.get("rows", {})) != rows or trailer.get("files") != len(files):
        raise archive.DamagedArchiveError("The backup is incomplete (its counts disagree).")
    return _Contents(manifest=manifest, files=files, rows=rows)


def _safe_path(value: Any) -> str:
    path = str(value)
    parts = Path(path).parts
    if (
        not path
        or Path(path).is_absolute()
        or ".." in parts
        or "\\" in path
        or not any(path == root or path.startswith(root) for root in FILE_ROOTS)
    ):
        raise archive.DamagedArchiveError(f"The backup names a file it may not write: {path!r}.")
    return path


def _check_migrations(manifest: dict[str, Any]) -> None:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    known = set(loader.disk_migrations)
    archived = {(str(app), str(name)) for app, name in manifest.get("migrations", [])}
    newer = sorted(archived - known)
    if newer:
        raise RestoreError(
            "This backup was made by a newer version of Gathering (migrations unknown here: "
            + ", ".join(f"{app}.{name}" for app, name in newer[:5])
            + "): update Gathering, then restore."
        )


def _occupied_models() -> list[str]:
    """Labels of the models that have rows (those the migrations make excepted)."""
    connection = connections[DEFAULT_DB_ALIAS]
    tables = set(connection.introspection.table_names())
    occupied = []
    for model in _dumped_models():
        label = model._meta.label_lower
        if label in MADE_BY_MIGRATE or model._meta.db_table not in tables:
            continue
        if model._base_manager.using(connection.alias).exists():
            occupied.append(label)
    return occupied


@dataclass
class _FilePlan:
    write: set[str] = field(default_factory=set)
    unchanged: set[str] = field(default_factory=set)
    kept_secret_key: bool = False


def _plan_files(files: dict[str, tuple[int, str]], *, force: bool) -> _FilePlan:
    data_dir = Path(settings.DATA_DIR)
    plan = _FilePlan()
    conflicts = []
    # A data folder without keys is new: its secret key was made when this command started
    # (``gathering`` makes one) and nothing depends on it yet.
    fresh = not (data_dir / "keys").exists()
    for relative, (_mode, digest) in sorted(files.items()):
        target = data_dir / relative
        if not target.exists():
            plan.write.add(relative)
        elif target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == digest:
            plan.unchanged.add(relative)
        elif force or (relative == SECRET_KEY_FILE and fresh):
            plan.write.add(relative)
        elif relative == SECRET_KEY_FILE:
            plan.kept_secret_key = True
        else:
            conflicts.append(relative)
    if conflicts:
        raise RestoreError(
            f"The data folder {data_dir} already holds other keys or files than the backup's ("
            + ", ".join(conflicts[:5])
            + (", …" if len(conflicts) > 5 else "")
            + "): restore into a new data folder, or --force to replace them (data encrypted "
            "or signed with the replaced keys would become unreadable)."
        )
    return plan


def _skip_manifest(lines: Iterator[bytes]) -> None:
    for line in lines:
        if line.strip():
            return


def _write_files(
    lines: Iterator[bytes], plan: _FilePlan, report: RestoreReport
) -> Iterator[dict[str, Any]]:
    """Write the archive's files as planned; returns the rest of the lines (rows, trailer)."""
    data_dir = Path(settings.DATA_DIR)
    for line in lines:
        if not line.strip():
            continue
        value = _parse(line)
        if "file" not in value:
            return _chain(value, lines)
        relative = _safe_path(value["file"])
        if relative in plan.write:
            _write_file(data_dir / relative, base64.b64decode(value["data"]), int(value["mode"]))
            report.files_written += 1
    return iter(())


def _chain(first: dict[str, Any], lines: Iterable[bytes]) -> Iterator[dict[str, Any]]:
    yield first
    for line in lines:
        if line.strip():
            yield _parse(line)


def _write_file(path: Path, content: bytes, mode: int) -> None:
    """Whole or not at all, private (0600 at most; folders 0700), replacing any old file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.restore")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode & 0o600 or 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


# Rows inserted per statement by a restore.
INSERT_BATCH = 1000


def _load_rows(
    values: Iterator[dict[str, Any]], report: RestoreReport, *, expected: Counter[str]
) -> None:
    """Load every row in one transaction, as ``loaddata`` does (raw saves: no ``auto_now``,
    no signals; foreign keys checked at the end; sequences moved past the loaded ids), but
    with many rows per INSERT: the database was empty, so a row with its id is new."""
    connection = connections[DEFAULT_DB_ALIAS]
    alias = connection.alias
    loaded: set[type[models.Model]] = set()
    batch: list[models.Model] = []

    def rows() -> Iterator[dict[str, Any]]:
        for value in values:
            if "model" in value:
                report.rows[str(value["model"])] += 1
                yield value

    def flush() -> None:
        if batch:
            model = type(batch[0])
            # The insert Model.save() makes (raw: values as they are), for many rows at once;
            # bulk_create() would set auto_now fields to the present moment.
            model._base_manager.using(alias)._insert(  # type: ignore[attr-defined]
                batch, fields=model._meta.local_concrete_fields, using=alias, raw=True
            )
            batch.clear()

    with crypto.stored_form(), transaction.atomic(using=alias):
        with connection.constraint_checks_disabled():
            deferred = []
            for item in serializers.deserialize(
                "python", rows(), using=alias, handle_forward_references=True
            ):
                row = item.object
                model = type(row)
                loaded.add(model)
                if batch and (type(batch[0]) is not model or len(batch) >= INSERT_BATCH):
                    flush()
                if (
                    row.pk is not None
                    and not item.deferred_fields
                    and not any((item.m2m_data or {}).values())
                    and model._meta.label_lower not in MADE_BY_MIGRATE
                    and not model._meta.parents
                ):
                    batch.append(row)
                    continue
                # Rows with many-to-many links, forward references, no id of their own (users
                # and groups are matched by name) or made by the migrations: one by one.
                flush()
                item.save(using=alias)
                if item.deferred_fields:
                    deferred.append(item)
            flush()
            for item in deferred:
                item.save_deferred_fields(using=alias)
        connection.check_constraints(table_names=[model._meta.db_table for model in loaded])
        statements = connection.ops.sequence_reset_sql(no_style(), list(loaded))
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
        if report.rows != expected:
            # Cannot happen with an archive verified, then read again: refuse if it does.
            raise ArchiveError("The backup changed while it was being restored.")
