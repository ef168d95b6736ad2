"""The ``gathering`` console command.

gathering setup     secret key, migrations, static files, demo (when empty), staff login
gathering serve     the production server (granian, WSGI) on 127.0.0.1:8000, the live server
                    on LIVE_PORT (default: the port + 1) and the worker
gathering live-serve  the live server alone (Server-Sent Events; --host, --port)
gathering demo      load the Free Iran Gathering demo
gathering worker    send queued emails and run the periodic jobs (`serve` starts two: one
                    --jobs-only, one --emails-only at a lower priority); --once
gathering check     Django's system checks, deployment checks included
gathering keys      every key family: current key, keys held, rows that depend on each
                    (rotate_*_key, reindex_hmac and retire_*_key change them)
gathering <cmd>     any Django management command (migrate, createsuperuser, …)
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import secrets
import shutil
import signal
import subprocess  # nosec B404 # each call is reviewed (B603)
import sys
import threading
import time
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
    _collect_static()
    if load_demo:
        _manage("demo", "--if-empty")
    from gathering.core.services import ensure_staff_login

    login = ensure_staff_login(data_dir=_data_dir(), demo=load_demo)
    print(f"Staff sign-in: user {login.username!r}, password {login.password_hint}")
    if login.authenticator_hint:
        # Demo only: a real installation's staff set up their own app at their first sign-in.
        print(
            f"  second factor (demo only): authenticator app key {login.authenticator_hint}"
            " (add it to any authenticator app, or run `gathering demo_sign_in_code` for the"
            " current code)"
        )


def _static_fingerprint() -> str:
    """What collectstatic would read: every source file's path, size and modification time,
    and the storage that post-processes them."""
    import hashlib

    from django.conf import settings
    from django.contrib.staticfiles.finders import get_finders

    digest = hashlib.sha256(str(settings.STORAGES["staticfiles"]).encode())
    entries = []
    for finder in get_finders():
        for path, storage in finder.list(["CVS", ".*", "*~"]):
            stat = os.stat(storage.path(path))
            entries.append(f"{path}\0{storage.path(path)}\0{stat.st_size}\0{stat.st_mtime_ns}")
    for entry in sorted(entries):
        digest.update(entry.encode() + b"\n")
    return digest.hexdigest()


def _collect_static() -> None:
    """collectstatic, skipped when the sources have not changed since the last collection
    (compressing every file again takes seconds at each start); one process at a time."""
    import fcntl

    from django.conf import settings

    root = Path(settings.STATIC_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    stamp = root / ".collected"
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        fingerprint = _static_fingerprint()
        if stamp.exists() and stamp.read_text() == fingerprint:
            return
        _manage("collectstatic", "--noinput", "--verbosity", "0")
        stamp.write_text(fingerprint)


# Periodic jobs the worker runs: (management command, seconds between runs).
PERIODIC_JOBS: list[tuple[str, int]] = [
    ("expire_registrations", 60),
    ("purge_abuse_records", 300),
    ("integrate_logs", 1),
    ("expire_signatures", 300),
    ("erase_site_contacts", 3600),
    ("purge_expired_personal_data", 3600),
]


# The outbox (queued emails) is polled at every turn of the worker's loop, so an email leaves
# within about OUTBOX_IDLE_PAUSE of being queued; a full batch is followed at once by the next.
OUTBOX_IDLE_PAUSE = 0.2
# While the CPU is contended (a share of the time above OUTBOX_BUSY_PRESSURE with some task
# waiting for it), the email worker sends at most OUTBOX_BUSY_LIMIT emails per OUTBOX_BUSY_PAUSE.
OUTBOX_BUSY_PRESSURE = 0.5
OUTBOX_BUSY_LIMIT = 20
OUTBOX_BUSY_PAUSE = 1.0
# After the SMTP server could not be reached: wait longer before trying it again.
OUTBOX_SMTP_DOWN_PAUSE = 10.0


def worker(
    *,
    once: bool = False,
    stop: threading.Event | None = None,
    emails: bool = True,
    jobs: bool = True,
) -> None:
    """Send queued emails as they come (``emails``) and run each periodic job at its interval
    (``jobs``), until ``stop`` is set (or after one turn with ``once``). A failing job is
    logged and retried at its next turn, never stopping the others."""
    ensure_secret_key()
    _django_setup()
    from django.core.management import call_command
    from django.db import close_old_connections, connection

    from gathering.core.cpu_pressure import CpuPressure
    from gathering.outbox.services import send_pending

    logger = logging.getLogger("gathering.worker")
    if emails and not jobs and not once:
        # `serve` runs the emails in a worker of their own, below the web workers in the CPU
        # scheduler's eyes: under a surge of sign-ups the requests go first and the queued
        # emails wait (durable in the outbox) instead of taking half the cores; with idle CPU
        # they leave as fast as ever (docs/benchmarks.md). At 19 the worker still gets about
        # 1.5 % of a busy CPU. (Linux weighs nice values within a session's autogroup: `serve`
        # keeps its children in its session.) The periodic jobs (the transparency logs, the
        # expiries, the waiting lists) run at the normal priority in the other worker.
        os.nice(int(os.environ.get("WORKER_EMAIL_NICE", "19")))
    stop = stop or threading.Event()
    due = dict.fromkeys((name for name, _interval in PERIODIC_JOBS), 0.0)
    full_limit = 200
    # The email worker also steps aside when the CPU is contended (core/cpu_pressure.py): then
    # it sends one small batch a second, so that even at nice 19 it does not fill every idle
    # moment between the requests of a surge (its writes hold the database's write lock, and a
    # process at nice 19 that holds it while the CPU is busy makes every request wait).
    pressure = CpuPressure() if emails and not jobs and not once else None
    busy = False
    while not stop.is_set():
        if not connection.in_atomic_block:
            # A long-lived process must drop a connection the database has closed.
            close_old_connections()
        for name, interval in PERIODIC_JOBS if jobs else ():
            if time.monotonic() < due[name]:
                continue
            try:
                call_command(name, verbosity=0)
            except Exception:
                logger.exception("periodic job %s failed", name)
            due[name] = time.monotonic() + interval
        pause = OUTBOX_IDLE_PAUSE
        if emails:
            if pressure is not None:
                share = pressure.share()
                busy = busy if share is None else share > OUTBOX_BUSY_PRESSURE
            limit = OUTBOX_BUSY_LIMIT if busy else full_limit
            try:
                report = send_pending(limit=limit)
            except Exception:
                logger.exception("sending queued emails failed")
                pause = OUTBOX_SMTP_DOWN_PAUSE
            else:
                if report.smtp_unavailable:
                    pause = OUTBOX_SMTP_DOWN_PAUSE
                elif report.claimed >= limit:
                    pause = OUTBOX_BUSY_PAUSE if busy else 0.0  # more are waiting
        elif jobs:
            # Only periodic jobs: the shortest interval between two is enough.
            pause = max(0.2, min(due.values()) - time.monotonic())
        if once:
            return
        stop.wait(pause)


def default_web_threads() -> int:
    """Threads per web worker when WEB_THREADS is not set, measured on 2 cores
    (docs/benchmarks.md, 2026-11-28). On SQLite, a thread waiting for its group commit
    (core/group_commit.py) does nothing, and the more requests wait, the larger each commit's
    batch: 8 threads gave 823 signatures/s and 1,864 check-ins/s, 3 gave 689 and 1,586. On
    PostgreSQL, each thread holds a connection and more threads only contend for the
    interpreter: 3 gave 729 signatures/s, 5 gave 658."""
    from django.conf import settings

    return 8 if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") else 3


def serve(*, host: str, port: int, workers: int) -> None:
    """Serve the WSGI application with granian (the fast path) and run the worker beside it;
    stops both when either stops or on SIGINT/SIGTERM."""
    ensure_secret_key()
    granian = shutil.which("granian", path=str(Path(sys.executable).parent)) or shutil.which(
        "granian"
    )
    if granian is None:
        raise SystemExit("granian is not installed: run `make run` (it installs everything).")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gathering.settings")
    server_args = [
        granian,
        "--interface", "wsgi",
        "--host", host,
        "--port", str(port),
        "--workers", str(workers),
        "--blocking-threads", os.environ.get("WEB_THREADS") or str(default_web_threads()),
        "--backlog", "2048",
        "--no-ws",
        "--log-level", "warning",
        "gathering.wsgi:application",
    ]  # fmt: skip
    # The live server (Server-Sent Events) holds thousands of streams in an asyncio process of
    # its own; the pages learn its port from LIVE_PORT, so every child gets the same one.
    live_port = int(os.environ.get("LIVE_PORT") or port + 1)
    os.environ["LIVE_PORT"] = str(live_port)
    live_args = [
        sys.executable, "-m", "gathering.cli", "live-serve", "--host", host, "--port", str(live_port)
    ]  # fmt: skip
    # Each child leads its own process group: stopping a group also stops granian's workers,
    # even when a signal reaches granian before it has finished starting them. They stay in
    # this session, so that Linux's scheduler (autogroups are per session) weighs the worker's
    # niceness against the web workers' (see ``worker``).
    children = [
        subprocess.Popen(server_args, process_group=0),  # noqa: S603  (no shell)  # nosec B603 # our own interpreter and module, no shell
        # Two workers: the periodic jobs, and the emails (at a lower priority, see ``worker``).
        subprocess.Popen(
            [sys.executable, "-m", "gathering.cli", "worker", "--jobs-only"], process_group=0
        ),  # nosec B603 # our own interpreter and module, no shell
        subprocess.Popen(
            [sys.executable, "-m", "gathering.cli", "worker", "--emails-only"], process_group=0
        ),  # nosec B603 # our own interpreter and module, no shell
    ]
    live = subprocess.Popen(live_args, process_group=0)  # noqa: S603  # nosec B603 # our own interpreter and module, no shell
    print(f"Gathering is serving on http://{host}:{port}/  (Ctrl-C stops it)", flush=True)
    print(f"Live updates on http://{host}:{live_port}/", flush=True)
    stopping: list[bool] = []

    def stop(*_args: object) -> None:
        stopping.append(True)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    live_restart_at, live_pause = 0.0, 1.0
    while not stopping and all(child.poll() is None for child in children):
        # Live updates are an extra: their server stopping (its port taken, a crash) must not
        # take the site down with it; it is started again, less often while it keeps failing.
        if live.poll() is not None:
            if not live_restart_at:
                logging.getLogger("gathering.live").error(
                    "the live server stopped (exit status %s); restarting it in %.0f s",
                    live.returncode,
                    live_pause,
                )
                live_restart_at = time.monotonic() + live_pause
                live_pause = min(live_pause * 2, 60.0)
            elif time.monotonic() >= live_restart_at:
                live = subprocess.Popen(live_args, process_group=0)  # noqa: S603  # nosec B603 # our own interpreter and module, no shell
                live_restart_at = 0.0
        time.sleep(0.2)
    children.append(live)
    for child in children:
        _signal_group(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        _signal_group(child.pid, signal.SIGKILL)


def live_serve(*, host: str, port: int) -> None:
    """The live server alone (``serve`` starts it): until SIGTERM or SIGINT."""
    ensure_secret_key()
    _django_setup()
    from gathering.live.sse_server import run

    run(host=host, port=port)


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)


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
    if command == "live-serve":
        parser = argparse.ArgumentParser(prog="gathering live-serve")
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("LIVE_PORT", "8001")))
        options = parser.parse_args(argv[1:])
        live_serve(host=options.host, port=options.port)
        return
    if command == "setup":
        parser = argparse.ArgumentParser(prog="gathering setup")
        parser.add_argument("--no-demo", action="store_true")
        options = parser.parse_args(argv[1:])
        setup(load_demo=not options.no_demo)
        return
    if command == "worker":
        parser = argparse.ArgumentParser(prog="gathering worker")
        parser.add_argument("--once", action="store_true", help="one turn, then exit")
        only = parser.add_mutually_exclusive_group()
        only.add_argument("--emails-only", action="store_true", help="send emails, no jobs")
        only.add_argument("--jobs-only", action="store_true", help="periodic jobs, no emails")
        options = parser.parse_args(argv[1:])
        stop = threading.Event()
        # `gathering serve` stops the worker with SIGTERM: finish the emails being sent first
        # (a kill mid-batch would leave them "in doubt", see gathering.outbox.services).
        signal.signal(signal.SIGTERM, lambda *_args: stop.set())
        signal.signal(signal.SIGINT, lambda *_args: stop.set())
        worker(
            once=options.once,
            stop=stop,
            emails=not options.jobs_only,
            jobs=not options.emails_only,
        )
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
