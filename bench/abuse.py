"""Benchmark: the anti-abuse checks of one signature, per call, on SQLite, PostgreSQL and Redis.

Measures, in microseconds per call (p50/p99/mean over ``--rounds`` calls, each timed alone):
``verify_solution`` (a fresh solved payload each time: decode, SHA-256, HMAC, one INSERT),
``verify_solution`` of garbage, ``create_challenge``, ``client_ip`` behind a trusted proxy,
``hash_prefix``, and ``ratelimit.hit``. Database writes are timed both alone (autocommit: one
commit each, as a request outside any transaction would) and inside a shared transaction (as
a signature's own transaction, or SQLite's group commit, runs them). Each backend runs in a
child process on a throw-away database: SQLite in a temporary folder (WAL, synchronous=FULL as
configured), PostgreSQL in a database ``gathering_bench_abuse`` created and dropped here when
127.0.0.1:5432 answers, Redis (db 15, keys under a random prefix) when 127.0.0.1:6379 answers.
Target (issue 4): ~1,000 signatures/s on 2 cores, so each check costs microseconds.

    .venv/bin/python bench/abuse.py [--rounds 3000] [--no-postgres] [--no-redis]
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_BENCH_DB = "gathering_bench_abuse"
REDIS_URL = "redis://127.0.0.1:6379/15"


def answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def timed(function: Callable[[int], object], rounds: int) -> list[float]:
    clock = time.perf_counter_ns
    times: list[float] = []
    for i in range(rounds):
        started = clock()
        function(i)
        times.append((clock() - started) / 1000)
    times.sort()
    return times


def report(label: str, times: list[float]) -> None:
    p50 = times[len(times) // 2]
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(
        f"  {label:<52} p50 {p50:8.1f} us   p99 {p99:8.1f} us   mean {statistics.fmean(times):8.1f} us",
        flush=True,
    )


def child(backend: str, rounds: int) -> None:
    """Runs in a child process whose environment selects the backend."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gathering.settings")
    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import RequestFactory

    from gathering.abuse import altcha, ratelimit
    from gathering.abuse.client import client_ip, hash_prefix, network_prefix

    call_command("migrate", verbosity=0)
    print(
        f"{backend}: database {connection.vendor}, REDIS_URL {'set' if settings.REDIS_URL else 'unset'}"
    )

    # Solving is the client's work: pre-solve with a small difficulty (verify costs the same).
    payloads = []
    for _ in range(3 * rounds):
        challenge = altcha.create_challenge(max_number=200)
        payloads.append(altcha.encode_payload(challenge, altcha.solve(challenge) or 0))
    ok = iter(payloads)

    def verify(_i: int) -> None:
        if not altcha.verify_solution(payload=next(ok)).ok:
            raise SystemExit("a fresh solution was not accepted")

    if backend != "redis":
        report("verify_solution (autocommit: one commit each)", timed(verify, rounds))
        with transaction.atomic():
            report("verify_solution (inside one transaction)", timed(verify, rounds))
        report(
            "verify_solution of garbage (no query)",
            timed(lambda _i: altcha.verify_solution(payload="eyJhIjoxfQ=="), rounds),
        )
        report("create_challenge", timed(lambda _i: altcha.create_challenge(), rounds))
        settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
        request = RequestFactory().get(
            "/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9, 10.0.0.2"
        )
        report(
            "client_ip (behind two trusted proxies)", timed(lambda _i: client_ip(request), rounds)
        )
        address = client_ip(request)
        report(
            "hash_prefix(network_prefix(ip))",
            timed(lambda _i: hash_prefix(network_prefix(address)), rounds),
        )

    scope = f"bench-{secrets.token_hex(4)}"
    label = "hit() Redis" if settings.REDIS_URL else f"hit() {connection.vendor}"
    report(
        f"{label}, distinct keys (autocommit)",
        timed(lambda i: ratelimit.hit(scope=scope, key=f"k{i}", limit=100, window=3600), rounds),
    )
    report(
        f"{label}, one hot key (autocommit)",
        timed(lambda _i: ratelimit.hit(scope=scope, key="hot", limit=100, window=3600), rounds),
    )
    if not settings.REDIS_URL:
        with transaction.atomic():
            report(
                f"{label}, one hot key (inside one transaction)",
                timed(
                    lambda _i: ratelimit.hit(scope=scope, key="hot2", limit=100, window=3600),
                    rounds,
                ),
            )
    if connection.vendor == "postgresql" or settings.REDIS_URL:
        # Hits of one key from 8 threads at once, each in its own transaction (on PostgreSQL
        # with a challenge spent beside it): what a hot key costs when its row lock is held
        # until the commit.
        threads, per_thread = 8, rounds // 16
        spare = list(ok)
        for hot in (True, False):
            hot_scope = f"{scope}-threads-{hot}"
            barrier = threading.Barrier(threads)

            def work(
                mine: list[str],
                thread: int,
                hot: bool = hot,
                scope: str = hot_scope,
                barrier: threading.Barrier = barrier,
            ) -> None:
                barrier.wait()
                for i in range(per_thread):
                    key = "hot" if hot else f"t{thread}-{i}"
                    if settings.REDIS_URL:
                        ratelimit.hit(scope=scope, key=key, limit=10**6, window=3600)
                        continue
                    with transaction.atomic():
                        ratelimit.hit(scope=scope, key=key, limit=10**6, window=3600)
                        if not altcha.verify_solution(payload=mine[i]).ok:
                            raise SystemExit("a fresh solution was not accepted")
                connection.close()

            workers = [
                threading.Thread(
                    target=work, args=(spare[t * per_thread : (t + 1) * per_thread], t)
                )
                for t in range(threads)
            ]
            spare = spare[per_thread * threads :]
            started = time.perf_counter()
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            elapsed = time.perf_counter() - started
            total = threads * per_thread
            what = "one hot key" if hot else "distinct keys"
            extra = "" if settings.REDIS_URL else " + spend, a transaction each"
            print(
                f"  {label}: 8 threads, {what}{extra}: {total / elapsed:,.0f}/s "
                f"({total} in {elapsed:.2f} s)",
                flush=True,
            )


def run_child(backend: str, rounds: int, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, __file__, "--child", backend, "--rounds", str(rounds)],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT / "src")},
        check=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-redis", action="store_true")
    parser.add_argument("--child", choices=["sqlite", "postgresql", "redis"])
    options = parser.parse_args()
    if options.child:
        child(options.child, options.rounds)
        return
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores; other work shows here)")
    with tempfile.TemporaryDirectory(prefix="gathering-bench-abuse-") as data:
        base = {
            "GATHERING_DATA_DIR": data,
            "SECRET_KEY": secrets.token_urlsafe(32),
            "DATABASE_URL": "",
            "REDIS_URL": "",
        }
        base = {key: value for key, value in base.items() if value}
        clean = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DATABASE_URL", "REDIS_URL"}
        }
        os.environ.clear()
        os.environ.update(clean)
        run_child("sqlite", options.rounds, base)
        pg_url = f"postgres://postgres@127.0.0.1:5432/{PG_BENCH_DB}"
        if not options.no_postgres and answers(5432):
            import psycopg

            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {PG_BENCH_DB}")
                admin.execute(f"CREATE DATABASE {PG_BENCH_DB}")
            try:
                run_child("postgresql", options.rounds, {**base, "DATABASE_URL": pg_url})
            finally:
                with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                    admin.execute(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")
        else:
            print("postgresql: skipped (127.0.0.1:5432 does not answer or --no-postgres)")
        if not options.no_redis and answers(6379):
            prefix = f"gathering-bench-{secrets.token_hex(4)}"
            run_child(
                "redis",
                options.rounds,
                {**base, "REDIS_URL": REDIS_URL, "CACHE_KEY_PREFIX": prefix},
            )
            import redis

            client = redis.Redis.from_url(REDIS_URL)
            for key in client.scan_iter(match=f"{prefix}:*"):
                client.delete(key)
        else:
            print("redis: skipped (127.0.0.1:6379 does not answer or --no-redis)")


if __name__ == "__main__":
    main()
