"""The ``gathering`` console command.

gathering setup     secret key, migrations, static files, demo (when empty), staff login
gathering serve     the production server (granian, WSGI) on 127.0.0.1:8000
gathering demo      load the Free Iran Gathering demo
gathering check     Django's system checks, deployment checks included
gathering <cmd>     any Django management command (migrate, createsuperuser, …)
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
from pathlib import Path


def _data_dir() -> Path:
    project = Path(__file__).resolve().parent.parent.parent
    return Path(os.environ.get("GATHERING_DATA_DIR", project / "data")).resolve()


def ensure_secret_key() -> None:
    """Generate ``<data>/secret_key`` on first run (never committed: the data folder is ignored)."""
    if os.environ.get("SECRET_KEY"):
        return
    key_file = _data_dir() / "secret_key"
    if key_file.exists():
        return
    key_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(50))


def _django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gathering.settings")
    import django

    django.setup()


def _manage(*args: str) -> None:
    from django.core.management import call_command

    call_command(*args)


def setup(*, load_demo: bool = True) -> None:
    """Everything a fresh clone needs before serving; safe to run on every start."""
    ensure_secret_key()
    _django_setup()
    _manage("migrate", "--noinput", "--verbosity", "0")
    _manage("collectstatic", "--noinput", "--verbosity", "0")
    if load_demo:
        _manage("demo", "--if-empty")
    from gathering.core.services import ensure_staff_login

    login = ensure_staff_login(data_dir=_data_dir())
    print(f"Staff sign-in: user {login.username!r}, password {login.password_hint}")


def serve(*, host: str, port: int, workers: int) -> None:
    """Replace this process with granian serving the WSGI application (the fast path)."""
    ensure_secret_key()
    granian = shutil.which("granian", path=str(Path(sys.executable).parent)) or shutil.which(
        "granian"
    )
    if granian is None:
        raise SystemExit("granian is not installed: run `make run` (it installs everything).")
    print(f"Gathering is serving on http://{host}:{port}/  (Ctrl-C stops it)", flush=True)
    args = [
        granian,
        "--interface", "wsgi",
        "--host", host,
        "--port", str(port),
        "--workers", str(workers),
        "--blocking-threads", os.environ.get("WEB_THREADS", "1"),
        "--backlog", "2048",
        "--no-ws",
        "--log-level", "warning",
        "gathering.wsgi:application",
    ]  # fmt: skip
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gathering.settings")
    os.execv(granian, args)  # noqa: S606  (a fixed argument list, no shell)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv else "help"
    if command in {"help", "-h", "--help"}:
        print(__doc__)
        return
    if command == "serve":
        parser = argparse.ArgumentParser(prog="gathering serve")
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--workers", type=int, default=int(os.environ.get("WEB_WORKERS", os.cpu_count() or 1))
        )
        options = parser.parse_args(argv[1:])
        serve(host=options.host, port=options.port, workers=options.workers)
        return
    if command == "setup":
        parser = argparse.ArgumentParser(prog="gathering setup")
        parser.add_argument("--no-demo", action="store_true")
        options = parser.parse_args(argv[1:])
        setup(load_demo=not options.no_demo)
        return
    if command == "check":
        ensure_secret_key()
        _django_setup()
        _manage("check", "--deploy", *argv[1:])
        return
    ensure_secret_key()
    from django.core.management import execute_from_command_line

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gathering.settings")
    execute_from_command_line(["gathering", *argv])


if __name__ == "__main__":
    main()
