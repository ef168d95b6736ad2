"""Benchmark: the email outbox (``gathering.outbox``), on SQLite and PostgreSQL.

- queued/s: ``queue_email`` of a registration confirmation, each in its own transaction (as a
  sign-up commits it): one INSERT with the recipient and context encrypted. This is what a
  request pays for its email.
- sent/s: one worker (``send_pending``, batches of 200 over one SMTP connection) renders and
  sends them, in the recipient's language, to a local SMTP sink (aiosmtpd, in a process of its
  own so it does not share this one's interpreter), and marks them sent.

PostgreSQL is measured when 127.0.0.1:5432 answers, in a database ``gathering_bench`` that this
script creates and drops. Loopback only; bounded by ``--emails``.

    .venv/bin/python bench/outbox.py [--emails 3000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import ROOT, free_port
from checkin import port_open, postgres_database

LANGUAGES = ("en", "fa", "fr")


def run_sink(port: int, count: Any, ready: Any) -> None:
    """An SMTP server that accepts and counts messages (runs in a child process)."""
    import logging

    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)

    class Counter:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            with count.get_lock():
                count.value += 1
            return "250 Message accepted for delivery"

    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


def measure(emails: int, smtp_port: int) -> dict[str, Any]:
    """Runs in a child process whose environment chose the database."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gathering.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, transaction

    from gathering.outbox.models import OutboxEmail
    from gathering.outbox.services import queue_email, send_pending
    from gathering.program.tests.factories import EditionFactory
    from gathering.registration import emails as registration_emails
    from gathering.registration.tests.factories import CategoryFactory, register_person

    call_command("migrate", "--noinput", "--verbosity", "0")
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": smtp_port, "timeout": 20},
        }
    }
    settings.SITE_URL = "https://gathering.test"
    # A real registration, so each email is the confirmation the sign-up form queues.
    category = CategoryFactory(edition=EditionFactory(year=2090), capacity=10)
    registration = register_person(category, email="bench@example.org").registration
    [queued] = list(OutboxEmail.objects.all())
    context = dict(queued.context or {})
    OutboxEmail.objects.all().delete()

    def queue(n: int) -> None:
        queue_email(
            kind=registration_emails.outbox_kind("confirm"),
            to=f"signer{n}@example.org",
            language=LANGUAGES[n % 3],
            context=context,
        )

    # What a sign-up's transaction pays on top of its own writes: the INSERT alone (these
    # are rolled back, and the commit is the sign-up's anyway).
    inserts = min(emails, 2000)
    with contextlib.suppress(RuntimeError), transaction.atomic():
        started, cpu = time.perf_counter(), time.process_time()
        for n in range(inserts):
            queue(n)
        insert_seconds = time.perf_counter() - started
        insert_cpu = time.process_time() - cpu
        raise RuntimeError("roll back")

    started, cpu = time.perf_counter(), time.process_time()
    for n in range(emails):
        with transaction.atomic():
            queue(n)
    queue_seconds = time.perf_counter() - started
    queue_cpu = time.process_time() - cpu

    started, cpu = time.perf_counter(), time.process_time()
    sent = 0
    runs = 0
    while True:
        report = send_pending(limit=200)
        runs += 1
        sent += report.sent
        if not report.claimed:
            break
        if report.smtp_unavailable:
            raise SystemExit("the SMTP sink did not answer")
    send_seconds = time.perf_counter() - started
    send_cpu = time.process_time() - cpu
    left = OutboxEmail.objects.exclude(status=OutboxEmail.Status.SENT).count()
    return {
        "database": connection.vendor,
        "registration_id": registration.pk,
        "queued": emails,
        "inserts": inserts,
        "insert_seconds": insert_seconds,
        "insert_cpu": insert_cpu,
        "queue_cpu": queue_cpu,
        "send_cpu": send_cpu,
        "queue_seconds": queue_seconds,
        "sent": sent,
        "send_seconds": send_seconds,
        "runs": runs,
        "not_sent": left,
    }


def run_child(database_url: str | None, *, emails: int, smtp_port: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="gathering-bench-outbox-") as data:
        env = {
            **os.environ,
            "GATHERING_DATA_DIR": data,
            "SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PYTHONPATH": str(ROOT / "src"),
        }
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
        if database_url:
            env["DATABASE_URL"] = database_url
        output = subprocess.run(
            [sys.executable, __file__, "--child", str(emails), str(smtp_port)],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        return dict(json.loads(output.stdout.strip().splitlines()[-1]))


def report(result: dict[str, Any], received: int) -> None:
    queued_per_s = result["queued"] / result["queue_seconds"]
    insert_us = result["insert_seconds"] / result["inserts"] * 1e6
    insert_cpu_us = result["insert_cpu"] / result["inserts"] * 1e6
    print(
        f"{result['database']:>10}: queue_email inside a transaction (the INSERT a sign-up "
        f"adds): {insert_us:,.0f} µs = {1e6 / insert_us:,.0f} emails/s "
        f"({insert_cpu_us:,.0f} µs of this process's CPU each)"
    )
    sent_per_s = result["sent"] / result["send_seconds"]
    print(
        f"{'':>10}  queued {result['queued']} emails, one transaction each, in "
        f"{result['queue_seconds']:.2f} s = {queued_per_s:,.0f} emails/s "
        f"({1e6 / queued_per_s:,.0f} µs per queue_email + commit, "
        f"{result['queue_cpu'] / result['queued'] * 1e6:,.0f} µs CPU)"
    )
    print(
        f"{'':>10}  sent {result['sent']} in {result['send_seconds']:.2f} s by one worker "
        f"({result['runs']} runs) = {sent_per_s:,.0f} emails/s; the sink received {received}; "
        f"not sent: {result['not_sent']}; the worker's CPU per email: "
        f"{result['send_cpu'] / max(result['sent'], 1) * 1e3:,.1f} ms "
        f"(= {max(result['sent'], 1) / max(result['send_cpu'], 1e-9):,.0f} emails/s per core)"
    )


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        result = measure(int(sys.argv[2]), int(sys.argv[3]))
        print(json.dumps(result))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=3000)
    options = parser.parse_args()
    emails = max(1, min(options.emails, 100_000))

    count = multiprocessing.Value("i", 0)
    ready = multiprocessing.Event()
    port = free_port()
    sink = multiprocessing.Process(target=run_sink, args=(port, count, ready), daemon=True)
    sink.start()
    try:
        if not ready.wait(30):
            raise SystemExit("the SMTP sink did not start")
        print(f"Outbox: {emails} confirmation emails, 2 cores, SMTP sink on 127.0.0.1:{port}")
        print(f"(load average before: {os.getloadavg()[0]:.1f}; a busy machine slows every figure)")
        targets: list[tuple[str, Any]] = [("SQLite", None)]
        if port_open("127.0.0.1", 5432):
            targets.append(("PostgreSQL", postgres_database))
        for _label, database in targets:
            with count.get_lock():
                count.value = 0
            with database() if database else contextlib.nullcontext() as url:
                result = run_child(url, emails=emails, smtp_port=port)
            report(result, count.value)
    finally:
        sink.terminate()
        sink.join(10)


if __name__ == "__main__":
    main()
