"""Benchmark: live updates to N concurrent viewers (Server-Sent Events), on SQLite or PostgreSQL,
with the in-process broadcaster or Redis.

Serves the demo with the production server (``gathering serve``: granian WSGI, the worker, and
the live server, ``gathering live-serve``, on LIVE_PORT) after adding a gate, a gate device and
tickets (``_checkin_setup.py``). A separate process (``_live_clients.py``, raw asyncio sockets)
opens N streams on ``/live/<year>/events`` and waits until every one got the initial state.
Then the script makes K real changes of a counter through the product, a few seconds apart:
each is one check-in through the check-in API (``POST /api/checkin/<year>/gates/<gate>/scans``,
a distinct valid ticket), which adds one to ``checked_in``. For every change and every client
it records the delay from the moment the check-in request was sent (its commit comes a few
milliseconds later, so the figures are slightly pessimistic) to the arrival of the event
carrying the new value (changes are ``--pause`` plus a random 0-1 s apart, so they land
anywhere in the live server's poll cycle), and prints p50/p99/max, the events lost (clients that never got a
value), the streams the server closed, and the live server's memory (RSS from /proc) and CPU.

The live server polls the counters every LIVE_POLL_SECONDS (0.5 s): a check-in reaches the
viewers after up to that long plus the fan-out. Everything runs on the same machine: the
clients' process takes CPU the server would otherwise have.

    .venv/bin/python bench/live.py [--clients 10000] [--changes 10] [--pause 3]
        [--postgres] [--redis redis://127.0.0.1:6379/5 [--live-servers 2]]

With ``--live-servers 2`` (and Redis) a second ``gathering live-serve`` runs beside the first on
the same database and Redis, and the clients are split between them (one clients' process each).
Target (issue 5), 2-core machine: >= 10,000 viewers with p99 delivery < 1 s within 1 GB.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import BIN, ROOT, _children, _cpu_seconds, free_port, production_server
from checkin import port_open, postgres_database

TARGET_CLIENTS = 10_000
TARGET_P99_S = 1.0
TARGET_RSS_MB = 1024


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def live_pids(serve_pid: int) -> list[int]:
    """The live server's process tree under ``gathering serve``."""
    for pid in _children(serve_pid):
        with contextlib.suppress(OSError):
            if b"live-serve" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return [pid, *_children(pid)]
    return []


def wait_until_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} does not answer") from None
            time.sleep(0.2)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class Clients:
    def __init__(self, host: str, port: int, path: str, count: int, concurrency: int) -> None:
        self.count = count
        self.process = subprocess.Popen(
            [
                str(BIN / "python"),
                str(ROOT / "bench" / "_live_clients.py"),
                host,
                str(port),
                path,
                str(count),
                "checked_in",
                str(concurrency),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def wait_ready(self) -> tuple[int, int, int, float]:
        if self.process.stdout is None:
            raise RuntimeError("no pipe")
        started = time.monotonic()
        for line in self.process.stdout:
            words = line.split()
            if words and words[0] in {"PROGRESS", "READY"}:
                connected, ready, failed = (int(word) for word in words[1:4])
                if words[0] == "READY":
                    return connected, ready, failed, time.monotonic() - started
        raise SystemExit("the clients' process stopped")

    def results(self, values: list[int]) -> dict[str, Any]:
        if self.process.stdin is None or self.process.stdout is None:
            raise RuntimeError("no pipes")
        self.process.stdin.write("DONE " + " ".join(str(v) for v in values) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        self.process.wait(timeout=60)
        return json.loads(line)  # type: ignore[no-any-return]

    def cpu_seconds(self) -> float:
        return _cpu_seconds(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def check_in(base_url: str, setup: dict[str, Any], index: int) -> float:
    """One valid check-in; returns when its request was sent (time.monotonic())."""
    path = f"/api/checkin/{setup['year']}/gates/{setup['gate']}/scans"
    body = {
        "scans": [
            {"nonce": f"live-bench-{index:06d}-{int(time.time())}", "code": setup["codes"][index]}
        ]
    }
    request = urllib.request.Request(
        base_url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {setup['token']}"},
    )
    sent = time.monotonic()
    with urllib.request.urlopen(request, timeout=30) as response:
        status = json.loads(response.read())["results"][0]["status"]
    if status != "valid":
        raise SystemExit(f"check-in {index} answered {status!r}")
    return sent


def measure(name: str, options: argparse.Namespace, env: dict[str, str]) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="gathering-live-bench-"))
    setup_file = workdir / "setup.json"
    live_port = free_port()
    server_env: dict[str, str] = {}

    def prepare(environment: dict[str, str]) -> None:
        server_env.update(environment)
        subprocess.run(
            [
                str(BIN / "python"),
                str(ROOT / "bench" / "_checkin_setup.py"),
                str(setup_file),
                str(options.changes + 5),
            ],
            env=environment,
            check=True,
            cwd=ROOT,
        )

    with production_server(
        workers=options.workers, env={**env, "LIVE_PORT": str(live_port)}, prepare=prepare
    ) as server:
        setup = json.loads(setup_file.read_text())
        shutil.rmtree(workdir, ignore_errors=True)
        live_url = f"http://127.0.0.1:{live_port}"
        wait_until_up(live_url + "/healthz")
        state_url = f"{live_url}/live/{setup['year']}/state.json"
        with urllib.request.urlopen(state_url, timeout=10) as response:
            state = json.loads(response.read())
        base = int(state["topics"]["checked_in"])
        pids = live_pids(server.process.pid)
        # More live servers (Redis mode): `gathering live-serve` beside the first, same
        # database and Redis, each with its share of the clients.
        ports = [live_port]
        extra: list[subprocess.Popen[bytes]] = []
        for _ in range(options.live_servers - 1):
            port = free_port()
            extra.append(
                subprocess.Popen(
                    [str(BIN / "gathering"), "live-serve", "--port", str(port)],
                    env=server_env,
                    cwd=ROOT,
                    start_new_session=True,
                )
            )
            wait_until_up(f"http://127.0.0.1:{port}/healthz")
            ports.append(port)
            pids += [extra[-1].pid, *_children(extra[-1].pid)]
        idle_rss = rss_mb(pids)
        cpu_before = sum(_cpu_seconds(pid) for pid in pids)
        print(
            f"[{name}] {len(ports)} live server(s), pids {pids}, {idle_rss:.0f} MB before any "
            f"client; edition {setup['year']}, checked_in = {base}; topics: {', '.join(state['topics'])}"
        )
        shares = [options.clients // len(ports)] * len(ports)
        shares[0] += options.clients - sum(shares)
        clients = [
            Clients("127.0.0.1", port, f"/live/{setup['year']}/events", share, options.concurrency)
            for port, share in zip(ports, shares, strict=True)
        ]
        load = os.getloadavg()[0]
        try:
            readiness = [group.wait_ready() for group in clients]
            connected, ready, failed = (sum(r[i] for r in readiness) for i in range(3))
            took = max(r[3] for r in readiness)
            held_rss = rss_mb(pids)
            print(
                f"[{name}] {ready:,} of {options.clients:,} streams got the initial state in "
                f"{took:.1f} s ({connected:,} connected, {failed:,} failed); live server RSS "
                f"{held_rss:.0f} MB"
            )
            cpu_held = sum(_cpu_seconds(pid) for pid in pids)
            client_cpu = sum(group.cpu_seconds() for group in clients)
            sent: list[tuple[int, float]] = []
            for index in range(options.changes):
                # A random part: changes land anywhere in the live server's poll cycle.
                time.sleep(options.pause + random.random())  # noqa: S311
                sent.append((base + index + 1, check_in(server.base_url, setup, index)))
            time.sleep(options.grace)
            end_rss = rss_mb(pids)
            cpu_after = sum(_cpu_seconds(pid) for pid in pids)
            client_cpu = sum(group.cpu_seconds() for group in clients) - client_cpu
            health = {"clients": 0}
            for port in ports:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/healthz", timeout=10
                ) as answer:
                    health["clients"] += json.loads(answer.read())["clients"]
            parts = [group.results([value for value, _at in sent]) for group in clients]
        finally:
            for group in clients:
                group.stop()
            for process in extra:
                process.terminate()
                process.wait(timeout=20)
        serve_rss = sum(server.worker_rss_mb())
    results: dict[str, Any] = {
        "firsts": {
            str(value): [moment for part in parts for moment in part["firsts"][str(value)]]
            for value, _at in sent
        },
        "clients": sum(part["clients"] for part in parts),
        "closed": sum(part["closed"] for part in parts),
        "statuses": {},
    }
    for part in parts:
        for status, count in part["statuses"].items():
            results["statuses"][status] = results["statuses"].get(status, 0) + count
    delays: list[float] = []
    lost = 0
    per_change = []
    spreads = []
    for value, at in sent:
        arrivals = results["firsts"][str(value)]
        got = [moment - at for moment in arrivals if moment is not None]
        lost += len(arrivals) - len(got)
        delays.extend(got)
        if got:
            per_change.append(percentile(got, 0.99))
            # From the first client's arrival to the last one's: the fan-out (and the
            # clients' process reading 10,000 sockets).
            spreads.append(max(got) - min(got))
    if not delays:
        raise SystemExit(f"[{name}] no event arrived")
    p50, p99, worst = percentile(delays, 0.5), percentile(delays, 0.99), max(delays)
    print(
        f"[{name}] {results['clients']:,} clients, {len(sent)} changes: delivery p50 "
        f"{p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {worst * 1000:.0f} ms; "
        f"events lost {lost:,} of {len(sent) * results['clients']:,}; streams closed by the "
        f"server {results['closed']:,}; statuses {results['statuses']}"
    )
    print(
        f"[{name}] p99 per change (ms): {', '.join(f'{v * 1000:.0f}' for v in per_change)}; "
        f"first to last client (ms): {', '.join(f'{v * 1000:.0f}' for v in spreads)}"
    )
    print(
        f"[{name}] live server: RSS {held_rss:.0f} MB with the clients connected, {end_rss:.0f} "
        f"MB at the end ({idle_rss:.0f} MB idle); CPU {cpu_held - cpu_before:.1f} s for the "
        f"connections, {cpu_after - cpu_held:.1f} s over the {len(sent)} changes "
        f"({options.pause:.0f} s apart, heartbeats included); clients' process CPU "
        f"{client_cpu:.1f} s over the changes; healthz says {health['clients']:,} clients. "
        f"Whole `gathering serve` tree: {serve_rss:.0f} MB. Load average before the clients: "
        f"{load:.2f} on {os.cpu_count()} CPUs"
    )
    met = (
        results["clients"] >= TARGET_CLIENTS
        and p99 < TARGET_P99_S
        and held_rss < TARGET_RSS_MB
        and lost == 0
    )
    print(
        f"target on {name}: >= {TARGET_CLIENTS:,} viewers, p99 < {TARGET_P99_S:.0f} s, live "
        f"server < {TARGET_RSS_MB} MB, nothing lost -> {'met' if met else 'NOT met'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--pause", type=float, default=3.0, help="seconds between changes")
    parser.add_argument("--grace", type=float, default=5.0, help="seconds after the last change")
    parser.add_argument("--concurrency", type=int, default=200, help="connections opened at once")
    parser.add_argument("--workers", type=int, default=2, help="web server processes")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--redis", default="", help="REDIS_URL (e.g. redis://127.0.0.1:6379/5)")
    parser.add_argument(
        "--live-servers", type=int, default=1, help="live server processes (more need --redis)"
    )
    options = parser.parse_args()
    if options.live_servers > 1 and not options.redis:
        raise SystemExit("several live servers share their updates through Redis: add --redis")
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    env = {"REDIS_URL": options.redis} if options.redis else {}
    where = "Redis pub/sub" if options.redis else "in-process broadcaster"
    print(
        f"live server: `gathering live-serve` started by `gathering serve` ({where}); "
        f"{options.clients:,} SSE clients from one asyncio process on the same machine; "
        f"{options.changes} check-ins {options.pause:.0f} s apart"
    )
    if options.postgres:
        if not port_open("127.0.0.1", 5432):
            raise SystemExit("nothing answers on 127.0.0.1:5432")
        with postgres_database() as url:
            measure(
                "PostgreSQL" + (" + Redis" if options.redis else ""),
                options,
                {**env, "DATABASE_URL": url},
            )
    else:
        measure("SQLite" + (" + Redis" if options.redis else ""), options, env)


if __name__ == "__main__":
    main()
