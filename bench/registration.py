"""Benchmark: registrations per second through the public registration form, on SQLite and
PostgreSQL.

Serves the demo with the production server (granian, WSGI, 2 workers) after adding an open
public category without questions (``_registration_setup.py``), and loads it with wrk from the
same 2-core machine: each request is one registration, the form POST of a new person with the
page's CSRF token (``RegistrationCreateView``), which validates the form, encrypts the personal
data, takes a place and queues the confirmation email in one transaction (the outbox); the
worker that ``gathering serve`` runs beside the server sends it over SMTP, to a local SMTP sink
that this script runs (aiosmtpd); it counts them (emails still queued at the end are not).
PostgreSQL is measured when 127.0.0.1:5432 answers, in a database ``gathering_bench`` that
this script creates and drops.

    .venv/bin/python bench/registration.py [--duration 10] [--connections 16]
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import BIN, ROOT, free_port, processes_cpu_seconds, production_server
from checkin import PG_BENCH_DB, port_open, postgres_database
from program import ensure_wrk

SLUG = "bench-public"

# One registration per request: a new email address each time, the same CSRF cookie and token
# (a token stays valid for its cookie). A registration answers with a redirect (302) to the
# "check your email" page; anything else is counted as a failure.
LUA = r"""
local path = os.getenv("REG_PATH")
local run = os.getenv("REG_RUN")
local token = os.getenv("REG_TOKEN")
local headers = {
  ["Content-Type"] = "application/x-www-form-urlencoded",
  ["Cookie"] = "csrftoken=" .. os.getenv("REG_COOKIE"),
}
local threads = {}
local next_id = 0
counter, registered, failed = 0, 0, 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  local body = "csrfmiddlewaretoken=" .. token .. "&name=Bench+Person+" .. counter
    .. "&email=" .. run .. "-" .. id .. "-" .. counter .. "%40example.org"
    .. "&language=en&country=FR&phone=&consent=on"
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  if status == 302 then
    registered = registered + 1
  else
    failed = failed + 1
  end
end

function done(summary, latency, requests)
  local r, f = 0, 0
  for _, thread in ipairs(threads) do
    r = r + thread:get("registered")
    f = f + thread:get("failed")
  end
  io.write(string.format("REGISTRATIONS registered=%d failed=%d\n", r, f))
end
"""


class CountingHandler:
    """The SMTP sink's handler: accepts every message and counts them."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            self.count += 1
        return "250 Message accepted for delivery"


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def form_token(url: str) -> tuple[str, str]:
    """The CSRF cookie and a form token, from the registration page."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(url, timeout=10) as response:
        page = response.read().decode()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    cookie = next((c.value for c in jar if c.name == "csrftoken"), None)
    if match is None or cookie is None:
        raise SystemExit(f"no CSRF token on {url}")
    return cookie, match.group(1)


def run_wrk(
    wrk: str, url: str, *, env: dict[str, str], duration: int, connections: int, threads: int
) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        output = subprocess.run(
            [
                wrk,
                f"-t{threads}",
                f"-c{connections}",
                f"-d{duration}s",
                "--timeout",
                "10s",
                "--latency",
                "-s",
                script.name,
                url,
            ],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, **env},
        ).stdout
    finally:
        Path(script.name).unlink()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    latencies = {
        int(p): _ms(v, u)
        for p, v, u in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    }
    counts = re.search(r"REGISTRATIONS registered=(\d+) failed=(\d+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),  # type: ignore[union-attr]
        "p50": latencies[50],
        "p99": latencies[99],
        "registered": int(counts.group(1)) if counts else -1,
        "failed": int(counts.group(2)) if counts else -1,
        "wrk_cpu": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
    }


def measure(
    name: str,
    *,
    options: argparse.Namespace,
    wrk: str,
    sink: CountingHandler,
    smtp_port: int,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    year: list[str] = []

    def prepare(environment: dict[str, str]) -> None:
        output = subprocess.run(
            [str(BIN / "python"), str(ROOT / "bench" / "_registration_setup.py"), SLUG],
            env=environment,
            check=True,
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout
        year.append(output.split()[-1])

    mail = {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(smtp_port), **(env or {})}
    with production_server(workers=options.workers, env=mail, prepare=prepare) as server:
        path = f"/en/{year[0]}/register/{SLUG}/"
        cookie, token = form_token(server.base_url + path)
        emails_before = sink.count
        load = os.getloadavg()[0]
        on_postgres = "DATABASE_URL" in (env or {})
        database = processes_cpu_seconds("postgres", database=PG_BENCH_DB) if on_postgres else 0.0
        server_cpu = server.cpu_seconds()
        figures = run_wrk(
            wrk,
            server.base_url + path,
            env={
                "REG_PATH": path,
                "REG_RUN": f"{name.lower()}{int(time.time())}",
                "REG_COOKIE": cookie,
                "REG_TOKEN": token,
            },
            duration=options.duration,
            connections=options.connections,
            threads=options.threads,
        )
        server_cpu = server.cpu_seconds() - server_cpu
        database_cpu = (
            processes_cpu_seconds("postgres", database=PG_BENCH_DB) - database
            if on_postgres
            else 0.0
        )
        emails = sink.count - emails_before
    count = max(figures["requests"], 1)
    print(
        f"[{name}] {figures['rps']:9,.1f} registrations/s   p50 {figures['p50']:7.2f} ms   "
        f"p99 {figures['p99']:7.2f} ms   registered {figures['registered']:,}   "
        f"failed {figures['failed']:,}   emails received {emails:,}"
    )
    print(
        f"[{name}] CPU per registration: server {server_cpu / count * 1000:.2f} ms, "
        f"database {database_cpu / count * 1000:.2f} ms, wrk "
        f"{figures['wrk_cpu'] / count * 1000:.2f} ms   (load average before the run: "
        f"{load:.2f} on {os.cpu_count()} CPUs)"
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per database")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument(
        "--server-threads", type=int, default=None, help="threads per server process (WEB_THREADS)"
    )
    parser.add_argument("--no-postgres", action="store_true")
    options = parser.parse_args()
    wrk = ensure_wrk()
    if options.server_threads:
        os.environ["WEB_THREADS"] = str(options.server_threads)
    print(
        f"server: granian WSGI, {options.workers} workers, "
        f"{os.environ.get('WEB_THREADS', 'default')} threads each; load: wrk "
        f"-t{options.threads} -c{options.connections} -d{options.duration}s on the same machine, "
        "one registration (form POST, confirmation email to a local SMTP sink) per request"
    )
    sink = CountingHandler()
    smtp_port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        os.environ.pop("DATABASE_URL", None)  # the SQLite run: the server's default database
        measure("SQLite", options=options, wrk=wrk, sink=sink, smtp_port=smtp_port)
        if options.no_postgres:
            pass
        elif port_open("127.0.0.1", 5432):
            with postgres_database() as url:
                measure(
                    "PostgreSQL",
                    options=options,
                    wrk=wrk,
                    sink=sink,
                    smtp_port=smtp_port,
                    env={"DATABASE_URL": url},
                )
        else:
            print("[PostgreSQL] SKIPPED: nothing answers on 127.0.0.1:5432")
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
