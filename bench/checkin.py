"""Benchmark: online check-ins per second through the check-in API, on SQLite and PostgreSQL.

Serves the demo with the production server (granian, WSGI, 2 workers, ``WEB_THREADS`` threads
each: the server's default unless ``--server-threads``) after adding a gate, a gate device and N
tickets (``_checkin_setup.py``), then loads it with wrk from the same 2-core machine: each
request is one check-in (``POST /api/checkin/<year>/gates/<gate>/scans`` with one scan, a
distinct ticket and a fresh nonce, bearer-token auth, keep-alive), so every request verifies a
signature, looks the ticket up, locks its presence row and commits a scan durably. PostgreSQL
is measured when 127.0.0.1:5432 answers, in a database ``gathering_bench`` that this script
creates and drops. Besides rate and latency it prints the CPU time each check-in cost the
server, PostgreSQL and wrk (what other work on the machine does not change much), and the load
average before each run (other work on the machine shows there). Target (issue 3): >= 1,000
check-ins/s with p99 < 50 ms.

    .venv/bin/python bench/checkin.py [--duration 10] [--tickets 40000] [--connections 32]
        [--threads 2 (wrk)] [--server-threads N] [--no-postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import BIN, ROOT, processes_cpu_seconds, production_server
from program import ensure_wrk

TARGET_RPS = 1000
TARGET_P99_MS = 50
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_BENCH_DB = "gathering_bench"

# One check-in per request: each wrk thread walks its own share of the codes, each request
# with a new nonce. The response is read for the scan's status.
LUA = r"""
local codes = {}
for line in io.lines(os.getenv("CHECKIN_CODES")) do codes[#codes + 1] = line end
local path = os.getenv("CHECKIN_PATH")
local run = os.getenv("CHECKIN_RUN")
local headers = {
  ["Content-Type"] = "application/json",
  ["Authorization"] = "Bearer " .. os.getenv("CHECKIN_TOKEN"),
}
local threads = {}
local next_id = 0
counter, valid, other, failed = 0, 0, 0, 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  nthreads = tonumber(os.getenv("CHECKIN_THREADS"))
end

function request()
  local index = (counter * nthreads + id) % #codes + 1
  counter = counter + 1
  local body = '{"device_id":"wrk","scans":[{"nonce":"' .. run .. "-" .. id .. "-" .. counter
    .. '","code":"' .. codes[index] .. '"}]}'
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  if status ~= 200 then
    failed = failed + 1
  elseif body:find('"status":%s*"valid"') then
    valid = valid + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local v, o, f = 0, 0, 0
  for _, thread in ipairs(threads) do
    v = v + thread:get("valid")
    o = o + thread:get("other")
    f = f + thread:get("failed")
  end
  io.write(string.format("CHECKIN valid=%d other=%d failed=%d\n", v, o, f))
end
"""


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {PG_BENCH_DB}")
    try:
        yield f"postgres://postgres@127.0.0.1:5432/{PG_BENCH_DB}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")


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
                "--latency",
                "-s",
                script.name,
                url,
            ],
            check=True,
            capture_output=True,
            text=True,
            env={**env, "CHECKIN_THREADS": str(threads)},
        ).stdout
    finally:
        Path(script.name).unlink()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    latencies = {
        int(p): _ms(v, u)
        for p, v, u in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    }
    counts = re.search(r"CHECKIN valid=(\d+) other=(\d+) failed=(\d+)", output)
    socket_errors = re.search(r"Socket errors:.*", output)
    return {
        "rps": rps,
        "p50": latencies[50],
        "p99": latencies[99],
        "valid": float(counts.group(1)) if counts else -1,
        "other": float(counts.group(2)) if counts else -1,
        "failed": float(counts.group(3)) if counts else -1,
        "socket_errors": socket_errors.group(0) if socket_errors else "",
        "requests": requests,
        "wrk_cpu": wrk_cpu,
    }


def measure(
    name: str, *, options: argparse.Namespace, wrk: str, env: dict[str, str] | None = None
) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="gathering-checkin-bench-"))
    setup_file = workdir / "setup.json"

    def prepare(environment: dict[str, str]) -> None:
        started = time.monotonic()
        subprocess.run(
            [
                str(BIN / "python"),
                str(ROOT / "bench" / "_checkin_setup.py"),
                str(setup_file),
                str(options.tickets),
            ],
            env=environment,
            check=True,
            cwd=ROOT,
        )
        print(f"[{name}] {options.tickets:,} tickets created in {time.monotonic() - started:.1f} s")

    with production_server(workers=options.workers, env=env, prepare=prepare) as server:
        setup = json.loads(setup_file.read_text())
        codes_file = workdir / "codes.txt"
        codes_file.write_text("\n".join(setup["codes"]) + "\n")
        path = f"/api/checkin/{setup['year']}/gates/{setup['gate']}/scans"
        # One check-in by hand first: the setup works and the answer is what we count.
        probe = urllib.request.Request(
            server.base_url + path,
            data=json.dumps(
                {"scans": [{"nonce": "bench-probe-0001", "code": setup["codes"][-1]}]}
            ).encode(),
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {setup['token']}",
            },
        )
        with urllib.request.urlopen(probe, timeout=10) as response:
            status = json.loads(response.read())["results"][0]["status"]
        if status != "valid":
            raise SystemExit(f"[{name}] the probe check-in answered {status!r}")
        load = os.getloadavg()[0]
        on_postgres = "DATABASE_URL" in (env or {})
        database = processes_cpu_seconds("postgres", database=PG_BENCH_DB) if on_postgres else 0.0
        server_cpu = server.cpu_seconds()
        figures = run_wrk(
            wrk,
            server.base_url + path,
            env={
                "CHECKIN_CODES": str(codes_file),
                "CHECKIN_PATH": path,
                "CHECKIN_TOKEN": setup["token"],
                "CHECKIN_RUN": f"{name}-{int(time.time())}",
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
    count = max(figures["requests"], 1)
    print(
        f"[{name}] {figures['rps']:9,.0f} check-ins/s   p50 {figures['p50']:6.2f} ms   "
        f"p99 {figures['p99']:6.2f} ms   valid {figures['valid']:,.0f}   "
        f"other {figures['other']:,.0f}   non-200 {figures['failed']:,.0f}   "
        f"{figures['socket_errors']}"
    )
    # What each check-in cost in CPU, whatever else ran on the machine: the server's workers,
    # PostgreSQL's processes (when it is the database) and wrk itself.
    print(
        f"[{name}] CPU per check-in: server {server_cpu / count * 1000:.2f} ms, "
        f"database {database_cpu / count * 1000:.2f} ms, wrk {figures['wrk_cpu'] / count * 1000:.2f}"
        f" ms   (load average before the run: {load:.2f} on {os.cpu_count()} CPUs)"
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per database")
    parser.add_argument("--tickets", type=int, default=40_000, help="distinct tickets")
    parser.add_argument("--connections", type=int, default=32)
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
        f"{os.environ.get('WEB_THREADS', 'default')} threads each; load: wrk -t{options.threads} "
        f"-c{options.connections} -d{options.duration}s on the same machine, one check-in "
        "per request (bearer token, keep-alive)"
    )
    os.environ.pop("DATABASE_URL", None)  # the SQLite run: the server's default database
    results = {"SQLite": measure("SQLite", options=options, wrk=wrk)}
    if options.no_postgres:
        pass
    elif port_open("127.0.0.1", 5432):
        with postgres_database() as url:
            results["PostgreSQL"] = measure(
                "PostgreSQL", options=options, wrk=wrk, env={"DATABASE_URL": url}
            )
    else:
        print("[PostgreSQL] SKIPPED: nothing answers on 127.0.0.1:5432")
    for name, figures in results.items():
        met = figures["rps"] >= TARGET_RPS and figures["p99"] < TARGET_P99_MS
        print(
            f"target on {name}: >= {TARGET_RPS:,} check-ins/s with p99 < {TARGET_P99_MS} ms -> "
            f"{'met' if met else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
