"""Set up and check ``bench/voices.py`` (run with the server's environment: its data folder and
database, so the ALTCHA key is the server's own).

    python bench/_voices_setup.py prepare SLUG COUNT RUN OUT
        an open campaign SLUG in the demo's latest edition, and COUNT sign-form bodies in OUT
        (one a line, URL-encoded, without the CSRF token), each with a new address and its own
        solved proof of work. Prints the edition's year.
    python bench/_voices_setup.py report SLUG
        the campaign's signatures, its transparency log and the outbox, as JSON.

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
    duplicates = (
        signatures.values("email_hash").annotate(n=Count("id")).filter(n__gt=1).count()
    )
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


def main() -> None:
    command = sys.argv[1]
    if command == "prepare":
        prepare(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
    elif command == "report":
        report(sys.argv[2])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
