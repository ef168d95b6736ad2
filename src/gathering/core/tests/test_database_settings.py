"""Database settings that guarantees rest on: commits reach the disk before a request is answered
(a gate's "valid" must survive a power cut), and PostgreSQL keeps its prepared statements."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL"}
    }
    environment.update({"SECRET_KEY": "x" * 50, **env})
    environment["DJANGO_SETTINGS_MODULE"] = "gathering.settings"
    return subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, timeout=60
    )


def test_sqlite_commits_are_flushed_to_disk(tmp_path: Path) -> None:
    # synchronous=FULL (2) in WAL mode: a commit returns once the log is on disk. NORMAL (1)
    # would return before, and could lose the last scans on a power cut.
    result = _python(
        "import django; django.setup(); from django.db import connection; "
        "c = connection.cursor(); c.execute('PRAGMA synchronous'); print(c.fetchone()[0])",
        GATHERING_DATA_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2"


def test_postgresql_binds_on_the_server_and_prepares_repeated_statements(
    tmp_path: Path,
) -> None:
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "o = settings.DATABASES['default']['OPTIONS']; "
        "print(o['server_side_binding'], o['prepare_threshold'])"
    )
    url = "postgres://gathering@db.example:5432/gathering"
    default = _python(code, GATHERING_DATA_DIR=str(tmp_path), DATABASE_URL=url)
    pooled = _python(
        code, GATHERING_DATA_DIR=str(tmp_path), DATABASE_URL=url, DB_PREPARED_STATEMENTS="0"
    )

    assert default.returncode == 0, default.stderr
    assert default.stdout.split() == ["True", "5"]
    assert pooled.stdout.split() == ["True", "None"]
