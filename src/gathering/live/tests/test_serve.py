"""``gathering serve`` starts the live server beside the web server, restarts it if it stops,
and stops it with the rest (a real ``gathering serve`` on free loopback ports, SQLite)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from gathering.core.testing.server import migrated_sqlite, shared_static_root
from gathering.live.tests.sse_client import SseClient, wait_for

BIN = Path(sys.executable).parent
YEAR = 2031

SETUP = f"""
import datetime as dt
from gathering.cli import setup
setup(load_demo=False)
from gathering.program.models import Edition
Edition.objects.create(
    year={YEAR}, title={{"en": "Live"}}, city={{"en": "Paris"}}, venue_name={{"en": "Hall"}},
    start_date=dt.date({YEAR}, 6, 1), end_date=dt.date({YEAR}, 6, 2),
)
"""

ANNOUNCE = f"""
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gathering.settings")
import django
django.setup()
from gathering.live.services import post_announcement
from gathering.program.models import Edition
post_announcement(edition=Edition.objects.get(year={YEAR}), text={{"en": "Doors open <b>now</b>"}})
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    found = []
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            for token in listing.read_text().split():
                found.append(int(token))
                found.extend(_children(int(token)))
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _answers(url: str) -> bool:
    try:
        return _get(url)[0] == 200
    except OSError:
        return False


def _alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def test_serve_runs_the_live_server_and_stops_it(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "GATHERING_DATA_DIR": str(tmp_path / "data"),
        "STATIC_ROOT": str(shared_static_root()),
        "DJANGO_SETTINGS_MODULE": "gathering.settings",
        "DEBUG": "0",
        "LOG_LEVEL": "ERROR",
    }
    for name in (
        "GATHERING_TESTING",
        "SECRET_KEY",
        "REDIS_URL",
        "DATABASE_URL",
        "PYTEST_XDIST_WORKER",
    ):
        env.pop(name, None)
    migrated_sqlite(tmp_path / "data")
    subprocess.run(
        [str(BIN / "python"), "-c", SETUP], env=env, check=True, timeout=180, capture_output=True
    )
    port, live_port = _free_port(), _free_port()
    env["LIVE_PORT"] = str(live_port)
    process = subprocess.Popen(
        [str(BIN / "gathering"), "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    live = f"http://127.0.0.1:{live_port}"
    try:
        assert wait_for(lambda: _answers(f"{live}/healthz"), timeout=60, step=0.2), "no live server"
        status, body = _get(f"{live}/live/{YEAR}/state.json")
        assert status == 200
        state = json.loads(body)
        assert state["topics"]["checked_in"] == 0 and state["id"] > 0
        assert _get(f"{live}/live/1999/state.json")[0] == 404

        # A change made through the product reaches the stream.
        client = SseClient(live_port, f"/live/{YEAR}/events")
        assert {event.event for event in client.events(len(state["topics"]))} == set(
            state["topics"]
        )
        subprocess.run(
            [str(BIN / "python"), "-c", ANNOUNCE],
            env=env,
            check=True,
            timeout=60,
            capture_output=True,
        )
        event = client.next_event()
        while event.event != "announcements":
            event = client.next_event()
        assert event.data["en"][0]["text"] == "Doors open <b>now</b>"
        client.close()

        # The live server stopping does not stop the site; it is started again.
        [live_pid] = [pid for pid in _children(process.pid) if "live-serve" in _cmdline(pid)]
        os.kill(live_pid, signal.SIGKILL)
        assert wait_for(
            lambda: any(
                "live-serve" in _cmdline(pid) and pid != live_pid for pid in _children(process.pid)
            ),
            timeout=30,
        )
        assert wait_for(lambda: _answers(f"{live}/healthz"), timeout=60, step=0.2)
        assert process.poll() is None

        tree = [process.pid, *_children(process.pid)]
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        assert wait_for(lambda: not any(_alive(pid) for pid in tree), timeout=20)
        with pytest.raises(OSError):
            _get(f"{live}/healthz")
    finally:
        if process.poll() is None:
            for pid in [process.pid, *_children(process.pid)]:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
            process.wait(timeout=10)


# Nothing here depends on the database engine: the PostgreSQL run of `make test` leaves it out.
pytestmark = pytest.mark.engine_agnostic
