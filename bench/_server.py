"""Start the production server (``gathering serve``: granian, WSGI) on a throw-away data folder
with the demo loaded, for benchmarks. Loopback only."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def setup_data(environment: dict[str, str]) -> None:
    """``gathering setup`` (migrations, the demo) in the data folder ``environment`` names."""
    subprocess.run(
        [str(BIN / "gathering"), "setup"],
        env=environment,
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )


@dataclass
class Server:
    base_url: str
    process: subprocess.Popen[bytes]

    def worker_rss_mb(self) -> list[float]:
        """Resident memory of the server process and each of its children, in MB."""
        pids = [self.process.pid, *_children(self.process.pid)]
        sizes = []
        for pid in pids:
            with contextlib.suppress(OSError):
                status = Path(f"/proc/{pid}/status").read_text()
                match = re.search(r"VmRSS:\s+(\d+) kB", status)
                if match:
                    sizes.append(int(match.group(1)) / 1024)
        return sizes

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the server process and its workers."""
        return sum(_cpu_seconds(pid) for pid in [self.process.pid, *_children(self.process.pid)])

    def worker_cpu_seconds(self) -> float:
        """CPU time used so far by the workers alone (``gathering.cli worker``: emails, jobs)."""
        total = 0.0
        for pid in _children(self.process.pid):
            with contextlib.suppress(OSError):
                if b"gathering.cli\0worker" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    total += _cpu_seconds(pid)
        return total


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime and stime are fields 14 and 15 of stat(5), counted after "pid (comm)".
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def processes_cpu_seconds(name: str, *, database: str | None = None) -> float:
    """CPU time used so far by every process called ``name`` (e.g. "postgres"). With
    ``database``, PostgreSQL's connections and autovacuum workers of other databases are left
    out: other work on the machine (test suites) has its own, which come and go."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() != name:
                    continue
                if database is not None:
                    title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                    of_a_database = (
                        "(" in title or "[local]" in title or "autovacuum worker" in title
                    )
                    if of_a_database and database not in title.split():
                        continue
                total += _cpu_seconds(int(entry.name))
    return total


def _children(pid: int) -> list[int]:
    found = []
    for child in Path(f"/proc/{pid}/task").glob("*/children"):
        for token in child.read_text().split():
            found.append(int(token))
            found.extend(_children(int(token)))
    return found


@contextlib.contextmanager
def production_server(
    *,
    workers: int = 2,
    env: dict[str, str] | None = None,
    prepare: Callable[[dict[str, str]], None] | None = None,
) -> Iterator[Server]:
    """``prepare`` (optional) runs after ``gathering setup`` and before the server starts, with
    the server's environment (its data folder and database): benchmarks add their data there."""
    data = tempfile.mkdtemp(prefix="gathering-bench-")
    environment = {
        **os.environ,
        "GATHERING_DATA_DIR": data,
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    environment.pop("GATHERING_TESTING", None)
    gathering = str(BIN / "gathering")
    setup_data(environment)
    if prepare is not None:
        prepare(environment)
    port = free_port()
    process = subprocess.Popen(
        [gathering, "serve", "--port", str(port), "--workers", str(workers)],
        env=environment,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base_url + "/en/", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.2)
        yield Server(base_url=base_url, process=process)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(data, ignore_errors=True)
