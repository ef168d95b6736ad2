"""Benchmark: the transparency log with 1,000,000 entries, on SQLite and PostgreSQL.

Measures, in one process on this machine:

- queueing: ``queue_entry`` each in its own transaction (as a confirmation does), entries/s;
- integration: ``integrate`` in batches of 10,000 from 0 to N entries (numbering, frontier,
  stored subtree hashes, a signed tree head per batch), entries/s;
- proofs at N entries: inclusion proofs (latest size and random older sizes) and consistency
  proofs from the selectors, and inclusion proofs through the HTTP API (Django's test client,
  whole middleware stack, no network), each as mean / p50 / p99 milliseconds.

The N entries are bulk-inserted first (not measured: that is the signatures' work). PostgreSQL
is measured when 127.0.0.1:5432 answers, in a database ``gathering_bench_transparency`` that
this script creates and drops.

    .venv/bin/python bench/transparency.py [--entries 1000000] [--sqlite-only]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
PG_BENCH_DB = "gathering_bench_transparency"


def timings(count: int, work: Callable[[int], object]) -> dict[str, float]:
    samples = []
    cpu = time.process_time()
    for i in range(count):
        start = time.perf_counter()
        work(i)
        samples.append((time.perf_counter() - start) * 1000)
    cpu_ms = (time.process_time() - cpu) / count * 1000
    samples.sort()
    return {
        "cpu_ms": round(cpu_ms, 3),
        "mean_ms": round(statistics.fmean(samples), 3),
        "p50_ms": round(samples[len(samples) // 2], 3),
        "p99_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 3),
    }


def child(entries: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gathering.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import Client

    from gathering.transparency import merkle, selectors, services
    from gathering.transparency.models import Entry, Log, Node

    call_command("migrate", verbosity=0)
    generator = random.Random(7)  # noqa: S311  (reproducible sample positions)
    result: dict[str, Any] = {"database": connection.vendor, "entries": entries}

    def leaf(i: int) -> bytes:
        return b'{"campaign":"bench","country":"FR","id":"p%d","salt":"%032x","v":1}' % (i, i)

    # Queueing, one transaction per entry (a confirmation's share of the work).
    queue_log = services.get_or_create_log(slug="bench-queue")
    count = 3000
    start = time.perf_counter()
    for i in range(count):
        with transaction.atomic():
            services.queue_entry(log=queue_log, data=leaf(i))
    result["queue_entry_per_s"] = round(count / (time.perf_counter() - start))
    # The INSERT alone, without a commit of its own (100 per transaction).
    start = time.perf_counter()
    for first in range(0, count, 100):
        with transaction.atomic():
            for i in range(first, first + 100):
                services.queue_entry(log=queue_log, data=leaf(count + i))
    result["queue_insert_per_s"] = round(count / (time.perf_counter() - start))

    # Fill (not measured), then integrate everything in batches of 10,000.
    log = services.get_or_create_log(slug="bench")
    start = time.perf_counter()
    batch = 20_000
    for offset in range(0, entries, batch):
        rows = [
            Entry(log_id=log.pk, data=data, leaf_hash=merkle.leaf_hash(data))
            for data in (leaf(i) for i in range(offset, min(entries, offset + batch)))
        ]
        with transaction.atomic():
            Entry.objects.bulk_create(rows, batch_size=2000)
    result["fill_s"] = round(time.perf_counter() - start, 1)
    start, cpu = time.perf_counter(), time.process_time()
    heads = 0
    while services.integrate(log=log, limit=10_000) is not None:
        heads += 1
    elapsed = time.perf_counter() - start
    result["integrated_per_s"] = round(entries / elapsed)
    result["integrate_cpu_per_s"] = round(entries / (time.process_time() - cpu))
    result["integrate_batch_ms"] = round(elapsed / heads * 1000, 1)
    result["stored_nodes"] = Node.objects.filter(log=log).count()

    log = Log.objects.get(pk=log.pk)
    size = log.size
    if size != entries or selectors.get_root(log=log, size=size) != bytes(
        selectors.get_latest_tree_head(log=log).root
    ):
        raise SystemExit("the stored hashes do not give the signed root")
    sizes = sorted(
        selectors.list_tree_heads(log=log, since=1, limit=1000), key=lambda head: head.size
    )
    old_sizes = [head.size for head in sizes]
    result["inclusion_latest"] = timings(
        500,
        lambda _i: selectors.get_inclusion_proof(
            log=log, index=generator.randrange(size), tree_size=size
        ),
    )

    def older(_i: int) -> object:
        tree_size = generator.choice(old_sizes)
        return selectors.get_inclusion_proof(
            log=log, index=generator.randrange(tree_size), tree_size=tree_size
        )

    result["inclusion_older"] = timings(500, older)
    result["consistency"] = timings(
        300,
        lambda _i: selectors.get_consistency_proof(
            log=log, first=generator.choice(old_sizes), second=size
        ),
    )
    client = Client(HTTP_HOST="127.0.0.1")

    def over_http(_i: int) -> object:
        index = generator.randrange(size)
        response = client.get(
            f"/api/transparency/logs/bench/proof/inclusion?index={index}&tree_size={size}"
        )
        if response.status_code != 200:
            raise SystemExit(response.content)
        return response

    result["inclusion_http"] = timings(300, over_http)
    result["tree_head_http"] = timings(
        300, lambda _i: client.get("/api/transparency/logs/bench/tree-head")
    )
    print(json.dumps(result))


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


def run(entries: int, database_url: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="gathering-bench-") as data_dir:
        env = {
            **os.environ,
            "GATHERING_DATA_DIR": data_dir,
            "SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
            "PYTHONPATH": str(ROOT / "src"),
        }
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
        if database_url:
            env["DATABASE_URL"] = database_url
        output = subprocess.run(
            [sys.executable, __file__, "--child", "--entries", str(entries)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        return dict(json.loads(output.stdout.strip().splitlines()[-1]))


def report(result: dict[str, Any]) -> None:
    print(f"\n{result['database']}: {result['entries']:,} entries")
    print(f"  queue_entry (own transaction)   {result['queue_entry_per_s']:>10,} entries/s")
    print(f"  queue_entry (100 a transaction) {result['queue_insert_per_s']:>10,} entries/s")
    print(
        f"  integrate (batches of 10,000)   {result['integrated_per_s']:>10,} entries/s "
        f"(per CPU second of this process: {result['integrate_cpu_per_s']:,})"
    )
    print(f"    one batch and its signed head {result['integrate_batch_ms']:>10} ms")
    print(f"  stored subtree hashes           {result['stored_nodes']:>10,} rows")
    print(f"  (bulk fill, not measured        {result['fill_s']:>10} s)")
    for name in [
        "inclusion_latest",
        "inclusion_older",
        "consistency",
        "inclusion_http",
        "tree_head_http",
    ]:
        figures = result[name]
        print(
            f"  {name:<24} mean {figures['mean_ms']:>7} ms  p50 {figures['p50_ms']:>7} ms  "
            f"p99 {figures['p99_ms']:>7} ms  (this process's CPU {figures['cpu_ms']} ms)"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        child(options.entries)
        return
    report(run(options.entries, None))
    if not options.sqlite_only:
        import socket

        with socket.socket() as sock:
            sock.settimeout(1)
            available = sock.connect_ex(("127.0.0.1", 5432)) == 0
        if available:
            with postgres_database() as url:
                report(run(options.entries, url))
        else:
            print("\nPostgreSQL: 127.0.0.1:5432 does not answer, skipped")


if __name__ == "__main__":
    main()
