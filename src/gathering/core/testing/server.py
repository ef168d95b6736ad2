"""The production server (``gathering serve``) in a test: its own data folder and database,
started on free loopback ports, stopped or SIGKILLed as a whole process tree.

Used by the tests that need the real thing: durability under kills (voices) and several
servers sharing PostgreSQL and Redis (live).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

BIN = Path(sys.executable).parent

__all__ = [
    "BIN",
    "Server",
    "children",
    "free_port",
    "migrated_sqlite",
    "own_postgres_database",
    "server_env",
]

SOURCE = Path(__file__).resolve().parents[2]  # src/gathering


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (from /proc)."""
    found = []
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            for token in listing.read_text().split():
                found.append(int(token))
                found.extend(children(int(token)))
    return found


def _migrations_fingerprint() -> str:
    """Changes whenever a migration is added, changed or removed (by content: clones of one
    commit share their templates)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(SOURCE.glob("*/migrations/*.py")):
        digest.update(str(path.relative_to(SOURCE)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def _locked(name: str) -> Iterator[Path]:
    """A folder under the temporary directory, held by this process alone (pytest-xdist's
    workers build each template once, the first one to come)."""
    import fcntl
    import tempfile

    folder = Path(tempfile.gettempdir()) / f"gathering-test-{name}"
    folder.mkdir(exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield folder


def _migrate(env: dict[str, str]) -> None:
    code = (
        "from gathering.cli import ensure_secret_key; ensure_secret_key(); "
        "import django; django.setup(); from django.core.management import call_command; "
        "call_command('migrate', interactive=False, verbosity=0)"
    )
    result = subprocess.run(
        [str(BIN / "python"), "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def migrated_sqlite(data_dir: Path) -> None:
    """Put a migrated, otherwise empty SQLite database into ``data_dir`` (a copy of a template
    migrated once per set of migrations): the servers' `gathering setup` then has nothing left
    to migrate. Every migration takes seconds; the tests start many servers."""
    import shutil
    import sqlite3

    with _locked("sqlite") as folder:
        template = folder / f"{_migrations_fingerprint()}.sqlite3"
        if not template.exists():
            scratch = folder / f"build-{os.getpid()}"
            shutil.rmtree(scratch, ignore_errors=True)
            scratch.mkdir()
            _migrate(server_env(scratch))
            built = scratch / "gathering.sqlite3"
            with contextlib.closing(sqlite3.connect(built)) as connection:
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            built.replace(template)
            shutil.rmtree(scratch, ignore_errors=True)
        data_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, data_dir / "gathering.sqlite3")


def _postgres_template(admin: str, url: str) -> str:
    """The name of a migrated template database on the server of ``url`` (built once per set
    of migrations)."""
    import psycopg

    name = f"gathering_template_{_migrations_fingerprint()}"
    with _locked("postgres"), psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if exists is None:
            building = f"{name}_building"
            connection.execute(f"DROP DATABASE IF EXISTS {building} WITH (FORCE)")
            connection.execute(f"CREATE DATABASE {building}")
            parts = urllib.parse.urlsplit(url)
            with contextlib.ExitStack() as cleanup:
                scratch = Path(cleanup.enter_context(_scratch_dir()))
                _migrate(
                    server_env(scratch, DATABASE_URL=parts._replace(path=f"/{building}").geturl())
                )
            connection.execute(f"ALTER DATABASE {building} RENAME TO {name}")
    return name


@contextlib.contextmanager
def _scratch_dir() -> Iterator[str]:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="gathering-template-") as folder:
        yield folder


@contextlib.contextmanager
def own_postgres_database(
    url: str, *, prefix: str = "gathering_server", migrated: bool = False
) -> Iterator[str]:
    """A database of its own on the server of ``url`` (dropped afterwards); with ``migrated``,
    a copy of a template database that holds every migration already."""
    import psycopg

    parts = urllib.parse.urlsplit(url)
    admin = parts._replace(path="/postgres").geturl().replace("postgres://", "postgresql://", 1)
    name = f"{prefix}_{secrets.token_hex(4)}"
    template = f" TEMPLATE {_postgres_template(admin, url)}" if migrated else ""
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}{template}")
    try:
        yield parts._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def shared_static_root() -> Path:
    """One folder of collected static files for every test server of this checkout (collecting
    and compressing them takes seconds; `gathering setup` skips it when nothing changed)."""
    import hashlib
    import tempfile

    checkout = hashlib.sha256(str(Path(__file__).resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"gathering-test-static-{checkout}"


def server_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a production server with its data in ``data_dir`` (the test run's
    own settings, database and Redis removed: callers add what they want shared)."""
    env = {
        **os.environ,
        "GATHERING_DATA_DIR": str(data_dir),
        "STATIC_ROOT": str(shared_static_root()),
        "DJANGO_SETTINGS_MODULE": "gathering.settings",
        "DEBUG": "0",
        "LOG_LEVEL": "ERROR",
        "SITE_URL": "http://127.0.0.1",
        **extra,
    }
    for name in ("GATHERING_TESTING", "SECRET_KEY", "REDIS_URL", "PYTEST_XDIST_WORKER"):
        if name not in extra:
            env.pop(name, None)
    if "DATABASE_URL" not in extra:
        env.pop("DATABASE_URL", None)
    return env


class Server:
    """``gathering serve`` in its own data folder; SIGKILL-able as a whole process tree."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.live_port = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def live_base(self) -> str:
        return f"http://127.0.0.1:{self.live_port}"

    def python(self, code: str, stdin: str = "") -> str:
        """Run ``code`` with the server's environment (its database and data folder)."""
        result = subprocess.run(
            [str(BIN / "python"), "-c", code],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    def start(self, *, workers: int = 2) -> None:
        self.port = free_port()
        self.live_port = free_port()
        self.process = subprocess.Popen(
            [str(BIN / "gathering"), "serve", "--port", str(self.port), "--workers", str(workers)],
            env={**self.env, "LIVE_PORT": str(self.live_port)},
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        for url in (self.base + "/abuse/altcha/challenge", self.live_base + "/healthz"):
            while True:
                try:
                    with urllib.request.urlopen(url, timeout=2):
                        break
                except OSError:
                    assert self.process.poll() is None, "the server stopped while starting"
                    assert time.monotonic() < deadline, "the server did not start in 60 s"
                    time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL the server, granian's processes, the live server and the worker."""
        assert self.process is not None
        # `gathering serve` starts each child in a process group of its own.
        for pid in [self.process.pid, *children(self.process.pid)]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()
