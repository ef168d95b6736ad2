"""Backups, end to end, as an operator runs them: ``gathering backup`` of a site full of
personal data, ``gathering restore`` into a new, empty database with a new data folder, each in
a process of its own. The restored site must hold the same rows, decrypt every encrypted value
to the same text (its keys came with the archive), sign the same ticket codes and find people
through the blind index. Damaged, altered or foreign archives, a wrong passphrase, a database
that is not empty and keys that would be overwritten are refused, with nothing written.

On SQLite each site is a data folder with its database file; with ``DATABASE_URL`` set each
site gets a PostgreSQL database of its own (created and dropped here).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gathering.core.testing.server import BIN, own_postgres_database, server_env
from gathering.privacy import archive
from gathering.privacy.tests.factories import names

PASSPHRASE = "correct horse battery staple 2031"
TAG = "Zxqwv"
DATABASE_URL = os.environ.get("DATABASE_URL", "")


@dataclass
class Install:
    """A site's data folder and database, and the commands run against them."""

    data_dir: Path
    database_url: str = ""

    @property
    def env(self) -> dict[str, str]:
        extra = {"BACKUP_PASSPHRASE": PASSPHRASE}
        if self.database_url:
            extra["DATABASE_URL"] = self.database_url
        return server_env(self.data_dir, **extra)

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "gathering"), *args],
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    def step(self, *args: str) -> dict:
        result = subprocess.run(
            [str(BIN / "python"), "-m", "gathering.privacy.tests.scripts", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-4000:]
        return json.loads(result.stdout.strip().splitlines()[-1])

    def tables(self) -> list[str]:
        """The tables of the database (none: nothing was written)."""
        if self.database_url:
            import psycopg

            url = self.database_url.replace("postgres://", "postgresql://", 1)
            with psycopg.connect(url) as connection:
                rows = connection.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                ).fetchall()
            return [row[0] for row in rows]
        path = self.data_dir / "gathering.sqlite3"
        if not path.exists():
            return []
        with contextlib.closing(sqlite3.connect(path)) as connection:
            rows = connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            return [row[0] for row in rows]


@contextlib.contextmanager
def new_install(root: Path, name: str) -> Iterator[Install]:
    data_dir = root / name
    if not DATABASE_URL:
        yield Install(data_dir)
        return
    with own_postgres_database(DATABASE_URL, prefix="test_priv_backup") as url:
        yield Install(data_dir, url)


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Iterator[tuple[Install, Path, dict]]:
    """A site with an edition full of personal data, its state, and its backup."""
    root = tmp_path_factory.mktemp("backups")
    with new_install(root, "source") as install:
        install.step("populate", TAG)
        state = install.step("state")
        archive_path = root / "site.backup"
        result = install.run("backup", "--output", str(archive_path))
        assert result.returncode == 0, result.stderr
        assert "Backup written to" in result.stdout
        yield install, archive_path, state


def refused(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode != 0
    assert message in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr


def test_a_restore_brings_back_every_row_key_and_encrypted_value(source, tmp_path):
    _install, archive_path, expected = source
    assert expected["counts"]["registration.registration"] == 6
    assert expected["personal_data"]["registrations"][0][0] == f"Confirmed {TAG}"
    with new_install(tmp_path, "restored") as target:
        result = target.run("restore", str(archive_path))
        assert result.returncode == 0, result.stderr
        assert "Restored the backup of" in result.stdout
        restored = target.step("state")
        differing = {
            label for label, digest in expected["rows"].items() if restored["rows"][label] != digest
        }
        assert differing == set()
        assert restored == expected
        # Ids go on after the loaded ones (sequences were moved on PostgreSQL).
        after = target.step("register")
        assert after["created"]
        assert after["pk"] > 6
        keys = target.data_dir / "keys"
        for path in [keys / "blind_index.key", *keys.glob("pii/*.key"), *keys.glob("tickets/*")]:
            assert path.stat().st_mode & 0o077 == 0, path
        assert (target.data_dir / "secret_key").read_bytes() == (
            source[0].data_dir / "secret_key"
        ).read_bytes()


def test_the_archive_shows_no_personal_data(source):
    _install, archive_path, _state = source
    data = archive_path.read_bytes()
    assert data.startswith(archive.MAGIC)
    assert archive_path.stat().st_mode & 0o077 == 0
    for name in [*names(TAG), TAG]:
        for form in {name, name.lower(), name.upper()}:
            assert form.encode() not in data
            assert form.encode("utf-16-le") not in data


def test_an_altered_archive_is_refused_and_nothing_is_written(source, tmp_path):
    _install, archive_path, _state = source
    data = bytearray(archive_path.read_bytes())
    data[len(data) // 2] ^= 0x20
    altered = tmp_path / "altered.backup"
    altered.write_bytes(bytes(data))
    with new_install(tmp_path, "target") as target:
        refused(target.run("restore", str(altered)), "damaged or was altered")
        assert target.tables() == []
        assert not (target.data_dir / "keys").exists()
        truncated = tmp_path / "truncated.backup"
        truncated.write_bytes(archive_path.read_bytes()[:-100])
        refused(target.run("restore", str(truncated)), "The backup is damaged")
        assert target.tables() == []


def test_a_wrong_passphrase_is_refused_and_nothing_is_written(source, tmp_path):
    _install, archive_path, _state = source
    with new_install(tmp_path, "target") as target:
        env = {**target.env, "BACKUP_PASSPHRASE": "not the right passphrase"}
        refused(target.run("restore", str(archive_path), env=env), "Wrong passphrase")
        assert target.tables() == []
        assert not (target.data_dir / "keys").exists()


def test_without_a_passphrase_nothing_happens(source, tmp_path):
    install, archive_path, _state = source
    env = {k: v for k, v in install.env.items() if k != "BACKUP_PASSPHRASE"}
    refused(install.run("backup", "--output", str(tmp_path / "b"), env=env), "BACKUP_PASSPHRASE")
    assert not (tmp_path / "b").exists()
    refused(install.run("restore", str(archive_path), env=env), "BACKUP_PASSPHRASE")
    short = {**install.env, "BACKUP_PASSPHRASE": "short"}
    refused(install.run("backup", "-o", str(tmp_path / "b"), env=short), "at least 12")
    assert list(tmp_path.iterdir()) == []


def test_a_backup_does_not_overwrite_a_file_unless_forced(source):
    install, archive_path, _state = source
    before = archive_path.read_bytes()
    refused(install.run("backup", "--output", str(archive_path)), "exists already")
    assert archive_path.read_bytes() == before


def test_a_database_that_holds_data_is_refused(source):
    install, archive_path, state = source
    refused(install.run("restore", str(archive_path)), "The database is not empty")
    assert install.step("state") == state


def test_different_keys_in_the_data_folder_are_kept_unless_forced(source, tmp_path):
    _install, archive_path, expected = source
    with new_install(tmp_path, "target") as target:
        keys = target.data_dir / "keys"
        keys.mkdir(parents=True)
        other = keys / "blind_index.key"
        other.write_text("b3RoZXIga2V5IG9mIGFub3RoZXIgc2l0ZSwgMzIgYnl0ZXMhIQ==")
        refused(target.run("restore", str(archive_path)), "already holds other keys")
        assert target.tables() == []
        assert other.read_text().startswith("b3RoZXI")
        result = target.run("restore", "--force", str(archive_path))
        assert result.returncode == 0, result.stderr
        assert target.step("state") == expected


def test_a_file_that_is_no_backup_is_refused(tmp_path):
    with new_install(tmp_path, "target") as target:
        bogus = tmp_path / "bogus.backup"
        bogus.write_text("not an archive")
        refused(target.run("restore", str(bogus)), "not a Gathering backup")
        refused(target.run("restore", str(tmp_path / "missing")), "is not a file")
        assert target.tables() == []
