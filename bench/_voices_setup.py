"""Set up and check ``bench/voices.py`` (run with the server's environment: its data folder and
database, so the ALTCHA key is the server's own).

    python bench/_voices_setup.py prepare SLUG COUNT RUN OUT
        an open campaign SLUG in the demo's latest edition, and COUNT sign-form bodies in OUT
        (one a line, URL-encoded, without the CSRF token), each with a new address and its own
        solved proof of work. Prints the edition's year.
    python bench/_voices_setup.py report SLUG
        the campaign's signatures, its transparency log and the outbox, as JSON.
    python bench/_voices_setup.py profile SLUG COUNT
        cProfile of COUNT submissions and COUNT confirmations through the whole Django stack
        (middleware, CSRF, form, service, templates; Django's test client, one thread, no HTTP
        server), after a warm-up; prints where the time goes (and saves the profiles as
        $VOICES_PROFILE_DUMP-sign.prof and -confirm.prof when that is set).

The proofs of work are real, single-use solutions of challenges signed with the server's key:
made with ``altcha.create_challenge(number=…)``, which draws the challenge around a number the
script picks (uniformly, as the server does) instead of brute-forcing ~50,000 hashes each as a
browser would. The server cannot tell them apart and verifies them as any other (one SHA-256,
one HMAC, one INSERT of the spent challenge).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import sys
import urllib.parse
from collections import Counter
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gathering.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db.models import Count, Max, Min  # noqa: E402
from django.utils.timezone import now  # noqa: E402

from gathering.abuse import altcha  # noqa: E402
from gathering.outbox.models import OutboxEmail  # noqa: E402
from gathering.program.models import Edition  # noqa: E402
from gathering.transparency.models import Entry, Log  # noqa: E402
from gathering.voices.models import Campaign, Signature  # noqa: E402

COUNTRIES = ["FR", "DE", "GB", "US", "CA", "SE", "NL", "IT", "BE", "CH"]
CITIES = ["Paris", "Berlin", "London", "Toronto", "Stockholm", "Köln", "Montréal"]


def prepare(slug: str, count: int, run: str, out: str) -> None:
    edition = Edition.objects.order_by("-year").first()
    if edition is None:
        raise SystemExit("no edition: the demo did not load")
    moment = now()
    Campaign.objects.update_or_create(
        edition=edition,
        slug=slug,
        defaults={
            "kind": Campaign.Kind.STATEMENT,
            "title": {"en": "Bench statement", "fa": "بیانیه", "fr": "Déclaration"},
            "text": {"en": "We support a free future.", "fr": "Nous soutenons."},
            "goal": 1_000_000,
            "opens_at": moment - dt.timedelta(days=1),
            "closes_at": moment + dt.timedelta(days=1),
            "country_threshold": 1,
        },
    )
    top = settings.ALTCHA_MAX_NUMBER
    with open(out, "w") as handle:
        for index in range(count):
            number = secrets.randbelow(top + 1)
            payload = altcha.encode_payload(altcha.create_challenge(number=number), number)
            fields = {
                "name": f"Bench Signer {index}",
                "show_name": "on",
                "email": f"{run}-{index}@bench.example.org",
                "country": COUNTRIES[index % len(COUNTRIES)],
                "city": CITIES[index % len(CITIES)],
                "message": "",
                "language": "en",
                "consent": "on",
                "website": "",
                "altcha": payload,
            }
            handle.write(urllib.parse.urlencode(fields) + "\n")
    print(edition.year)


def report(slug: str) -> None:
    campaign = Campaign.objects.get(slug=slug)
    signatures = Signature.objects.filter(campaign=campaign)
    statuses = dict(Counter(signatures.values_list("status", flat=True)))
    flags: Counter[str] = Counter()
    for row in signatures.exclude(flags=[]).values_list("flags", flat=True):
        flags.update(row)
    counted = (
        signatures.filter(status=Signature.Status.CONFIRMED)
        .exclude(review=Signature.Review.HELD)
        .count()
    )
    duplicates = signatures.values("email_hash").annotate(n=Count("id")).filter(n__gt=1).count()
    log = Log.objects.filter(slug=campaign.log_slug).first()
    entries = Entry.objects.filter(log=log) if log else Entry.objects.none()
    indexed = entries.filter(index__isnull=False).aggregate(
        n=Count("id"), low=Min("index"), high=Max("index")
    )
    outbox = dict(Counter(OutboxEmail.objects.values_list("status", flat=True)))
    print(
        json.dumps(
            {
                "signatures": signatures.count(),
                "statuses": statuses,
                "flags": dict(flags),
                "counted": counted,
                "counted_with_leaf": signatures.filter(
                    status=Signature.Status.CONFIRMED, leaf__isnull=False
                ).count(),
                "duplicate_email_hashes": duplicates,
                "log_size": log.size if log else 0,
                "entries": entries.count(),
                "entries_queued": entries.filter(index__isnull=True).count(),
                "entries_indexed": indexed["n"],
                "index_min": indexed["low"],
                "index_max": indexed["high"],
                "outbox": outbox,
            }
        )
    )


def profile(slug: str, count: int) -> None:
    import cProfile
    import pstats
    import re
    import tempfile
    import time

    from django.test import Client

    from gathering.outbox.models import OutboxEmail

    out = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False)  # noqa: SIM115
    out.close()
    run = f"profile{int(time.time())}"
    prepare(slug, count + 50, run, out.name)
    year = Edition.objects.order_by("-year").values_list("year", flat=True).first()
    bodies = open(out.name).read().splitlines()  # noqa: SIM115
    os.unlink(out.name)
    client = Client(enforce_csrf_checks=True, HTTP_HOST="127.0.0.1")
    path = f"/en/{year}/voices/{slug}/"
    page = client.get(path).content.decode()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if match is None:
        raise SystemExit("no CSRF token on the campaign page")
    csrf = match.group(1)

    def sign(body: str) -> None:
        response = client.post(
            path,
            data=f"csrfmiddlewaretoken={csrf}&{body}",
            content_type="application/x-www-form-urlencoded",
        )
        if response.status_code != 302:
            raise SystemExit(f"answered {response.status_code}")

    def confirm(token: str) -> None:
        response = client.post(
            f"/en/voice/{token}/confirm/",
            data=f"csrfmiddlewaretoken={csrf}",
            content_type="application/x-www-form-urlencoded",
        )
        if response.status_code != 302:
            raise SystemExit(f"answered {response.status_code}")

    for body in bodies[:50]:  # warm-up: imports, caches, prepared statements
        sign(body)
    started, cpu = time.perf_counter(), time.process_time()
    for body in bodies[50 : 50 + count // 2]:
        sign(body)
    each = (time.perf_counter() - started) / (count // 2) * 1000
    each_cpu = (time.process_time() - cpu) / (count // 2) * 1000
    print(f"== submissions without the profiler: {each:.2f} ms each, {each_cpu:.2f} ms of CPU")
    # CPU time, not wall time: other work on the machine does not inflate the figures (the
    # disk flush of each commit then shows as almost nothing: see the wall figures above).
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for body in bodies[50 + count // 2 :]:
        sign(body)
    profiler.disable()
    print(f"== {count - count // 2} submissions under cProfile (CPU time)")
    if dump := os.environ.get("VOICES_PROFILE_DUMP"):
        profiler.dump_stats(f"{dump}-sign.prof")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)

    tokens = [
        row.context["confirm_token"]
        for row in OutboxEmail.objects.filter(kind="voices.confirm").order_by("-id")[:count]
        if row.context
    ]
    half = len(tokens) // 2
    started, cpu = time.perf_counter(), time.process_time()
    for token in tokens[:half]:
        confirm(token)
    each = (time.perf_counter() - started) / half * 1000
    each_cpu = (time.process_time() - cpu) / half * 1000
    print(f"== confirmations without the profiler: {each:.2f} ms each, {each_cpu:.2f} ms of CPU")
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for token in tokens[half:]:
        confirm(token)
    profiler.disable()
    print(f"== {len(tokens) - half} confirmations under cProfile (CPU time)")
    if dump := os.environ.get("VOICES_PROFILE_DUMP"):
        profiler.dump_stats(f"{dump}-confirm.prof")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
    profile_emails()


def profile_emails() -> None:
    """The worker's side: the queued confirmation emails rendered and sent over SMTP to a sink
    in this process (its thread's CPU is counted in the figures, not in the profile)."""
    import cProfile
    import pstats
    import time

    from aiosmtpd.controller import Controller
    from django.conf import settings

    from gathering.outbox.models import OutboxEmail
    from gathering.outbox.services import send_pending

    class Sink:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            return "250 Message accepted for delivery"

    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 20},
        }
    }
    pending = OutboxEmail.objects.filter(status=OutboxEmail.Status.PENDING).count()
    try:
        started, cpu = time.perf_counter(), time.process_time()
        send_pending(limit=pending // 2)
        half = pending // 2
        each = (time.perf_counter() - started) / max(half, 1) * 1000
        each_cpu = (time.process_time() - cpu) / max(half, 1) * 1000
        print(f"== emails without the profiler: {each:.2f} ms each, {each_cpu:.2f} ms of CPU")
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        report = send_pending(limit=pending)
        profiler.disable()
    finally:
        controller.stop()
    print(f"== {report.sent} emails under cProfile (CPU time)")
    if dump := os.environ.get("VOICES_PROFILE_DUMP"):
        profiler.dump_stats(f"{dump}-emails.prof")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)


def main() -> None:
    command = sys.argv[1]
    if command == "prepare":
        prepare(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
    elif command == "profile":
        profile(sys.argv[2], int(sys.argv[3]))
    elif command == "report":
        report(sys.argv[2])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
