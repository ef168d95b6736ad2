"""Benchmark: signatures accepted per second through the public sign form ("add your voice"),
submission and confirmation, on SQLite and PostgreSQL.

Serves the demo with the production server (``gathering serve``: granian, WSGI, 2 workers, and
the outbox/transparency worker beside it) after adding an open campaign (``_voices_setup.py``),
and loads it with wrk from the same 2-core machine, in two phases:

1. submissions: each request is one form POST (``POST /en/<year>/voices/<slug>/``) of a new
   address, with the page's CSRF token and cookie (CSRF stays on) and a valid, single-use ALTCHA
   proof of work signed with the server's own key (made beforehand, see ``_voices_setup.py``),
   so the server verifies and spends it. A submission is acknowledged by a 302 to ``/sent/``;
   the signature and its confirmation email (queued in the outbox) are committed before that.
2. confirmations: the worker sends the emails over SMTP to a local sink that this script runs
   (aiosmtpd); the script takes the confirmation link out of each and POSTs them all
   (``POST /en/voice/<token>/confirm/``, CSRF token), acknowledged by a 302. Each confirmation
   counts the signature and queues its leaf in the campaign's transparency log, which the worker
   integrates.

Each phase posts every item once and then stops (wrk threads stop when their share is done and
answered), so nothing is submitted or confirmed twice. At the end the script reads the database:
the signatures counted must equal the confirmations acknowledged, and the log must hold them all,
with gapless indexes.

Rate limits: all the load comes from 127.0.0.1 and one email domain, so the per-address,
per-network and per-domain limits (which flag signatures for review, keeping them out of the
count) are raised with ``VOICES_LIMIT_ADDRESS/NETWORK/DOMAIN`` for the run. They still run (one
counter upsert each per submission, in the database unless ``--redis``); on PostgreSQL the
three counters are hot rows that every submission locks until it commits, which a real load
from many addresses would not do.

PostgreSQL is measured when 127.0.0.1:5432 answers, in a database ``gathering_bench`` that this
script creates and drops. Target (issue 4): >= 1,000 submissions/s with p99 < 100 ms, durable.

    .venv/bin/python bench/voices.py [--submissions 20000] [--connections 16] [--no-postgres]
        [--redis redis://127.0.0.1:6379/14]
    .venv/bin/python bench/voices.py --profile 400     (cProfile of the views, in-process)
"""

from __future__ import annotations

import argparse
import email
import email.policy
import http.cookiejar
import json
import logging
import os
import re
import resource
import shutil
import signal
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

from _server import (
    BIN,
    ROOT,
    Server,
    free_port,
    processes_cpu_seconds,
    production_server,
    setup_data,
)
from checkin import port_open, postgres_database
from program import ensure_wrk

SLUG = "bench-voices"
TARGET_RPS = 1000
TARGET_P99_MS = 100
CONFIRM_LINK = re.compile(r"/voice/([A-Za-z0-9_-]{43})/confirm/")
# Far above anything the run reaches: the limits still count, they just never flag.
NO_LIMIT = "1000000000"

# One item per request, each thread its own share (items id, id + n, id + 2n, ...). Once its
# share is sent, a thread sends a cheap GET (FILLER, answered 200 and not counted; wrk must send
# something) every 50 ms per connection still open, and stops as soon as every item it sent has
# been answered, or GRACE seconds later (a connection that broke loses its answer: that item is
# then neither acknowledged nor failed). A sign or confirm request succeeds with a 302 only.
LUA = r"""
local mode = os.getenv("V_MODE")
local path = os.getenv("V_PATH")
local filler = os.getenv("V_FILLER")
local token = os.getenv("V_TOKEN")
local nthreads = tonumber(os.getenv("V_THREADS"))
local grace = tonumber(os.getenv("V_GRACE"))
local headers = {
  ["Content-Type"] = "application/x-www-form-urlencoded",
  ["Cookie"] = "csrftoken=" .. os.getenv("V_COOKIE"),
}
local items = {}
for line in io.lines(os.getenv("V_ITEMS")) do items[#items + 1] = line end
local threads = {}
local next_id = 0
counter, sent, acked, failed, fillers = 0, 0, 0, 0, 0
local exhausted_at = nil
local stopped = false

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local function exhausted()
  return counter * nthreads + id + 1 > #items
end

local function finished()
  if not exhausted() then return false end
  if exhausted_at == nil then exhausted_at = os.time() end
  return acked + failed >= sent or os.time() - exhausted_at > grace
end

-- wrk's main thread sleeps for the whole -d: a thread that is done says so on stderr, and the
-- bench interrupts wrk (SIGINT) once every thread has, which makes wrk report at once.
local function stop()
  if not stopped then
    stopped = true
    io.stderr:write("V_DONE\n")
    io.stderr:flush()
    wrk.thread:stop()
  end
end

function delay()
  if exhausted() then return 50 end
  return 0
end

-- wrk calls request() once on its first thread before the run, to check the script, and
-- never sends that request: it must not take an item.
function init(args)
  checking = id == 0
end

function request()
  if checking then
    checking = false
    return wrk.format("GET", filler)
  end
  local index = counter * nthreads + id + 1
  if index > #items then
    if finished() then stop() end
    return wrk.format("GET", filler)
  end
  counter = counter + 1
  sent = sent + 1
  if mode == "sign" then
    return wrk.format("POST", path, headers,
      "csrfmiddlewaretoken=" .. token .. "&" .. items[index])
  end
  return wrk.format("POST", path .. items[index] .. "/confirm/", headers,
    "csrfmiddlewaretoken=" .. token)
end

function response(status, headers, body)
  if status == 302 then
    acked = acked + 1
  elseif status == 200 then
    fillers = fillers + 1
  else
    failed = failed + 1
  end
  if finished() then stop() end
end

function done(summary, latency, requests)
  local s, a, f, x = 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    s = s + thread:get("sent")
    a = a + thread:get("acked")
    f = f + thread:get("failed")
    x = x + thread:get("fillers")
  end
  io.write(string.format("VOICES sent=%d acked=%d failed=%d fillers=%d\n", s, a, f, x))
end
"""


class Sink:
    """The SMTP sink's handler: keeps every message with its arrival time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[tuple[float, bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            self.received.append((time.monotonic(), envelope.original_content))
        return "250 Message accepted for delivery"

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.received)

    def since(self, start: int) -> list[tuple[float, bytes]]:
        with self.lock:
            return self.received[start:]


def confirmation_tokens(messages: list[tuple[float, bytes]]) -> list[str]:
    tokens = []
    for _at, raw in messages:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        body = message.get_body(("plain",))  # type: ignore[attr-defined]
        match = CONFIRM_LINK.search(body.get_content() if body else "")
        if match:
            tokens.append(match.group(1))
    return tokens


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def form_token(url: str) -> tuple[str, str]:
    """The CSRF cookie and a form token, from the campaign page."""
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
    wrk: str, url: str, *, env: dict[str, str], connections: int, threads: int, cap: int
) -> dict[str, Any]:
    """wrk until every item is answered (``cap`` seconds at most)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        process = subprocess.Popen(
            [
                wrk,
                f"-t{threads}",
                f"-c{connections}",
                f"-d{cap}s",
                "--timeout",
                "10s",
                "--latency",
                "-s",
                script.name,
                url,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **env, "V_THREADS": str(threads), "V_GRACE": "12"},
        )
        if process.stderr is None or process.stdout is None:
            raise RuntimeError("no pipes")
        done = 0
        for line in process.stderr:
            if line.strip() == "V_DONE":
                done += 1
                if done == threads:
                    process.send_signal(signal.SIGINT)
            else:
                sys.stderr.write(line)
        output = process.stdout.read()
        if process.wait() != 0:
            raise SystemExit(f"wrk failed:\n{output}")
    finally:
        Path(script.name).unlink()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    latencies = {
        int(p): _ms(v, u)
        for p, v, u in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    }
    counts = re.search(r"VOICES sent=(\d+) acked=(\d+) failed=(\d+) fillers=(\d+)", output)
    if counts is None:
        raise SystemExit(f"wrk said:\n{output}")
    runtime = re.search(r"requests in ([\d.]+)(us|ms|s|m)", output)
    if runtime is None:
        raise SystemExit(f"wrk said:\n{output}")
    seconds = (
        float(runtime.group(1)) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[runtime.group(2)]
    )
    sent, acked, failed, fillers = (int(value) for value in counts.groups())
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return {
        "seconds": seconds,
        "sent": sent,
        "acked": acked,
        "failed": failed,
        "fillers": fillers,
        "socket_errors": sum(int(n) for n in errors.groups()) if errors else 0,
        "rps": acked / seconds if seconds else 0.0,
        "p50": latencies[50],
        "p99": latencies[99],
        "wrk_cpu": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
    }


class Cpu:
    """CPU seconds of the server (granian and the worker), PostgreSQL, wrk and this script (the
    SMTP sink) over one phase."""

    def __init__(self, server: Server, *, postgres: bool) -> None:
        self.server, self.postgres = server, postgres
        self.start = self._now()

    def _now(self) -> tuple[float, float, float, float]:
        own = resource.getrusage(resource.RUSAGE_SELF)
        return (
            self.server.cpu_seconds(),
            processes_cpu_seconds("postgres") if self.postgres else 0.0,
            own.ru_utime + own.ru_stime,
            self.server.worker_cpu_seconds(),
        )

    def used(self) -> tuple[float, float, float, float]:
        end = self._now()
        return tuple(after - before for after, before in zip(end, self.start, strict=True))  # type: ignore[return-value]


def _report(environment: dict[str, str]) -> dict[str, Any]:
    output = subprocess.run(
        [str(BIN / "python"), str(ROOT / "bench" / "_voices_setup.py"), "report", SLUG],
        env=environment,
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _print_phase(name: str, what: str, figures: dict[str, Any], cpu: tuple[float, ...]) -> None:
    count = max(figures["acked"], 1)
    server, database, sink, worker = cpu
    verdict = ""
    if what == "submissions":
        met = figures["rps"] >= TARGET_RPS and figures["p99"] < TARGET_P99_MS
        verdict = (
            f"   target >= {TARGET_RPS}/s, p99 < {TARGET_P99_MS} ms: {'met' if met else 'NOT met'}"
        )
    print(
        f"[{name}] {what}: {figures['rps']:8,.1f}/s   p50 {figures['p50']:7.2f} ms   "
        f"p99 {figures['p99']:7.2f} ms   acknowledged {figures['acked']:,} of "
        f"{figures['sent']:,}   failed {figures['failed']:,}   socket errors {figures['socket_errors']}   "
        f"in {figures['seconds']:.1f} s{verdict}"
    )
    print(
        f"[{name}]   CPU per {what[:-1]}: server+worker {server / count * 1000:.2f} ms "
        f"(worker {worker / count * 1000:.2f} ms), "
        f"postgres {_postgres(database, count)}, wrk {figures['wrk_cpu'] / count * 1000:.2f} "
        f"ms, SMTP sink {sink / count * 1000:.2f} ms"
    )


def _postgres(seconds: float, count: int) -> str:
    # The sum over the postgres processes alive at both ends: a backend that exits meanwhile
    # (another client's) takes its CPU time with it, and the figure can even come out negative.
    if seconds <= 0:
        return "n/a (backends came and went)"
    return f"{seconds / count * 1000:.2f} ms (live backends only)"


def _wait_for_emails(sink: Sink, *, start: int, expected: int, patience: float) -> float:
    """Wait until ``expected`` emails arrived after ``start`` (or none came for ``patience``
    seconds); returns when the last one came."""
    last_count, last_change = -1, time.monotonic()
    while True:
        count = sink.count - start
        if count >= expected:
            break
        if count != last_count:
            last_count, last_change = count, time.monotonic()
        elif time.monotonic() - last_change > patience:
            break
        time.sleep(0.1)
    arrived = sink.since(start)
    return arrived[-1][0] if arrived else time.monotonic()


def measure(
    name: str,
    *,
    options: argparse.Namespace,
    wrk: str,
    sink: Sink,
    smtp_port: int,
    env: dict[str, str],
) -> None:
    run = f"{name.lower()}{int(time.time())}"
    items = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False)  # noqa: SIM115
    items.close()
    year: list[str] = []
    server_env: list[dict[str, str]] = []

    def prepare(environment: dict[str, str]) -> None:
        server_env.append(environment)
        started = time.monotonic()
        output = subprocess.run(
            [
                str(BIN / "python"),
                str(ROOT / "bench" / "_voices_setup.py"),
                "prepare",
                SLUG,
                str(options.submissions),
                run,
                items.name,
            ],
            env=environment,
            check=True,
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout
        year.append(output.split()[-1])
        print(
            f"[{name}] prepared {options.submissions:,} submissions with solved proofs of work "
            f"in {time.monotonic() - started:.1f} s"
        )

    environment = {
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "SITE_URL": "http://127.0.0.1",
        "VOICES_LIMIT_ADDRESS": NO_LIMIT,
        "VOICES_LIMIT_NETWORK": NO_LIMIT,
        "VOICES_LIMIT_DOMAIN": NO_LIMIT,
        **env,
    }
    on_postgres = "DATABASE_URL" in env
    tokens_file = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False)  # noqa: SIM115
    tokens_file.close()
    try:
        with production_server(workers=options.workers, env=environment, prepare=prepare) as server:
            base = server.base_url
            path = f"/en/{year[0]}/voices/{SLUG}/"
            cookie, token = form_token(base + path)
            common = {"V_COOKIE": cookie, "V_TOKEN": token, "V_FILLER": "/abuse/altcha/challenge"}
            load = os.getloadavg()[0]

            # 1. Submissions (the worker sends the emails meanwhile).
            mail_start = sink.count
            started = time.monotonic()
            cpu = Cpu(server, postgres=on_postgres)
            signed = run_wrk(
                wrk,
                base + path,
                env={**common, "V_MODE": "sign", "V_PATH": path, "V_ITEMS": items.name},
                connections=options.connections,
                threads=options.threads,
                cap=options.cap,
            )
            _print_phase(name, "submissions", signed, cpu.used())
            during = sink.count - mail_start
            if options.submissions_only:
                report = _report(server_env[0])
                stored_once = (
                    report["signatures"] == signed["acked"] and not report["duplicate_email_hashes"]
                )
                print(
                    f"[{name}] database: {report['signatures']:,} signatures for "
                    f"{signed['acked']:,} acknowledged, flags {report['flags'] or 'none'}: "
                    + ("stored once each" if stored_once and not report["flags"] else "PROBLEMS")
                    + f"; load average before the run: {load:.2f}"
                )
                return

            # The emails: wait for every one (the worker sends them as they are queued).
            last = _wait_for_emails(
                sink, start=mail_start, expected=signed["acked"], patience=options.patience
            )
            arrived = sink.since(mail_start)
            mail_seconds = last - started
            print(
                f"[{name}] emails: {len(arrived):,} received for {signed['acked']:,} "
                f"acknowledged submissions, {during:,} of them during the submissions; all in "
                f"{mail_seconds:.1f} s from the first submission: "
                f"{len(arrived) / mail_seconds if mail_seconds > 0 else 0:,.0f} emails/s"
            )
            tokens = confirmation_tokens(arrived)
            if len(set(tokens)) != len(tokens):
                print(f"[{name}] WARNING: {len(tokens) - len(set(tokens))} duplicate links")
            Path(tokens_file.name).write_text("".join(f"{t}\n" for t in tokens))

            # 2. Confirmations.
            cpu = Cpu(server, postgres=on_postgres)
            confirmed = run_wrk(
                wrk,
                base + path,
                env={
                    **common,
                    "V_MODE": "confirm",
                    "V_PATH": "/en/voice/",
                    "V_ITEMS": tokens_file.name,
                },
                connections=options.connections,
                threads=options.threads,
                cap=options.cap,
            )
            _print_phase(name, "confirmations", confirmed, cpu.used())

            # The worker integrates the log every second: wait for it to take every leaf.
            deadline = time.monotonic() + 30
            while True:
                report = _report(server_env[0])
                if report["entries_queued"] == 0 or time.monotonic() > deadline:
                    break
                time.sleep(1)
            _check(name, report, signed=signed, confirmed=confirmed)
            print(
                f"[{name}] load average before the run: {load:.2f} on {os.cpu_count()} CPUs; "
                f"server resident memory: "
                + ", ".join(f"{size:.0f}" for size in server.worker_rss_mb())
                + " MB"
            )
    finally:
        Path(items.name).unlink(missing_ok=True)
        Path(tokens_file.name).unlink(missing_ok=True)


def _check(
    name: str, report: dict[str, Any], *, signed: dict[str, Any], confirmed: dict[str, Any]
) -> None:
    problems = []
    if report["signatures"] < signed["acked"]:
        problems.append("fewer signatures stored than submissions acknowledged")
    if report["counted"] != confirmed["acked"]:
        problems.append("signatures counted differ from confirmations acknowledged")
    if report["duplicate_email_hashes"]:
        problems.append("duplicate signatures of one address")
    if report["flags"]:
        problems.append(f"flagged signatures: {report['flags']}")
    if report["log_size"] != report["counted"] or report["entries_queued"]:
        problems.append("the transparency log does not hold every counted signature")
    if report["entries_indexed"] and (
        report["index_min"] != 0 or report["index_max"] != report["entries_indexed"] - 1
    ):
        problems.append("the log's indexes are not gapless")
    print(
        f"[{name}] database: {report['signatures']:,} signatures {report['statuses']}, "
        f"{report['counted']:,} counted (confirmations acknowledged: {confirmed['acked']:,}), "
        f"log size {report['log_size']:,} (queued {report['entries_queued']}), "
        f"outbox {report['outbox']}"
    )
    print(f"[{name}] checks: {'all good' if not problems else 'PROBLEMS: ' + '; '.join(problems)}")


def profile(count: int, *, database_url: str = "") -> None:
    """cProfile of the sign and confirm views in-process (``_voices_setup.py profile``), on a
    throw-away data folder and SQLite database (or the PostgreSQL database given)."""
    data = tempfile.mkdtemp(prefix="gathering-bench-")
    environment = {
        **os.environ,
        **({"DATABASE_URL": database_url} if database_url else {}),
        "GATHERING_DATA_DIR": data,
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "VOICES_LIMIT_ADDRESS": NO_LIMIT,
        "VOICES_LIMIT_NETWORK": NO_LIMIT,
        "VOICES_LIMIT_DOMAIN": NO_LIMIT,
    }
    environment.pop("GATHERING_TESTING", None)
    try:
        setup_data(environment)
        subprocess.run(
            [
                str(BIN / "python"),
                str(ROOT / "bench" / "_voices_setup.py"),
                "profile",
                SLUG,
                str(count),
            ],
            env=environment,
            check=True,
            cwd=ROOT,
        )
    finally:
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=20000, help="per database")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument(
        "--server-threads", type=int, default=None, help="threads per server process (WEB_THREADS)"
    )
    parser.add_argument("--cap", type=int, default=300, help="most seconds a phase may take")
    parser.add_argument(
        "--patience", type=float, default=20.0, help="seconds without a new email before giving up"
    )
    parser.add_argument("--redis", default="", help="REDIS_URL for the rate limits and cache")
    parser.add_argument(
        "--submissions-only",
        action="store_true",
        help="stop after the submissions (no emails, no confirmations): for comparing changes",
    )
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="profile N requests in-process instead (each database not left out)",
    )
    options = parser.parse_args()
    if options.profile:
        os.environ.pop("DATABASE_URL", None)
        os.environ.pop("REDIS_URL", None)
        if not options.no_sqlite:
            profile(options.profile)
        if not options.no_postgres and port_open("127.0.0.1", 5432):
            with postgres_database() as url:
                profile(options.profile, database_url=url)
        return
    wrk = ensure_wrk()
    if options.server_threads:
        os.environ["WEB_THREADS"] = str(options.server_threads)
    # The run's own settings only: no database or Redis inherited from the shell.
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    redis = {"REDIS_URL": options.redis} if options.redis else {}
    print(
        f"server: granian WSGI, {options.workers} workers, "
        f"{os.environ.get('WEB_THREADS', 'default')} threads each, worker beside it; load: wrk "
        f"-t{options.threads} -c{options.connections} on the same machine, "
        f"{options.submissions:,} submissions then their confirmations; rate limits raised to "
        f"{NO_LIMIT} (VOICES_LIMIT_*), counted in {'Redis' if redis else 'the database'}"
    )
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    sink = Sink()
    smtp_port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        if not options.no_sqlite:
            measure("SQLite", options=options, wrk=wrk, sink=sink, smtp_port=smtp_port, env=redis)
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
                    env={"DATABASE_URL": url, **redis},
                )
        else:
            print("[PostgreSQL] SKIPPED: nothing answers on 127.0.0.1:5432")
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
