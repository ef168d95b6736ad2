from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from gathering.cli import default_web_threads, ensure_secret_key


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL"}
    }
    environment.update(env)
    environment["DJANGO_SETTINGS_MODULE"] = "gathering.settings"
    return subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, timeout=60
    )


def test_missing_secret_key_stops_start_when_debug_is_off(tmp_path: Path) -> None:
    result = _python("import django; django.setup()", GATHERING_DATA_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_generated_secret_key_is_private_and_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("GATHERING_DATA_DIR", str(tmp_path))
    ensure_secret_key()
    key_file = tmp_path / "secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    first = key_file.read_text()
    ensure_secret_key()  # a second start keeps the key: sessions survive restarts
    assert key_file.read_text() == first
    result = _python(
        "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)",
        GATHERING_DATA_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == first


def test_database_url_selects_postgresql(tmp_path: Path) -> None:
    result = _python(
        "import django; django.setup(); from django.conf import settings; "
        "d = settings.DATABASES['default']; print(d['ENGINE'], d['NAME'], d['HOST'])",
        GATHERING_DATA_DIR=str(tmp_path),
        SECRET_KEY="x" * 50,
        DATABASE_URL="postgres://someone@db.example:5432/gathering",
    )
    assert result.returncode == 0, result.stderr
    # Django's backend, with a cheaper health check (gathering/core/postgresql/base.py).
    assert result.stdout.split() == ["gathering.core.postgresql", "gathering", "db.example"]


def test_redis_url_selects_redis_cache(tmp_path: Path) -> None:
    result = _python(
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.CACHES['default']['BACKEND'])",
        GATHERING_DATA_DIR=str(tmp_path),
        SECRET_KEY="x" * 50,
        REDIS_URL="redis://127.0.0.1:6379/3",
    )
    assert result.stdout.strip() == "django.core.cache.backends.redis.RedisCache"


@pytest.mark.django_db
def test_sqlite_runs_in_wal_mode() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("this run uses PostgreSQL; WAL is a SQLite setting")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        mode = cursor.fetchone()[0]
    # The test database lives in memory, where SQLite reports "memory"; a file database is WAL.
    assert mode in {"wal", "memory"}
    assert "journal_mode=WAL" in settings.DATABASES["default"]["OPTIONS"]["init_command"]


def test_file_database_is_created_in_wal_mode(tmp_path: Path) -> None:
    result = _python(
        "import django; django.setup(); from django.db import connection; "
        "c = connection.cursor(); c.execute('PRAGMA journal_mode'); print(c.fetchone()[0])",
        GATHERING_DATA_DIR=str(tmp_path),
        SECRET_KEY="x" * 50,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "wal"
    assert (tmp_path / "gathering.sqlite3").exists()


def test_web_threads_default_follows_the_database() -> None:
    # More threads on SQLite (they wait for a shared commit), few on PostgreSQL (measured).
    expected = 8 if connection.vendor == "sqlite" else 3
    assert default_web_threads() == expected
