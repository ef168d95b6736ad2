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

__all__ = ["BIN", "Server", "children", "free_port", "own_postgres_database", "server_env"]


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


@contextlib.contextmanager
def own_postgres_database(url: str, *, prefix: str = "gathering_server") -> Iterator[str]:
    """A database of its own on the server of ``url`` (dropped afterwards)."""
    import psycopg

    parts = urllib.parse.urlsplit(url)
    admin = parts._replace(path="/postgres").geturl().replace("postgres://", "postgresql://", 1)
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    try:
        yield parts._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def server_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a production server with its data in ``data_dir`` (the test run's
    own settings, database and Redis removed: callers add what they want shared)."""
    env = {
        **os.environ,
        "GATHERING_DATA_DIR": str(data_dir),
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
