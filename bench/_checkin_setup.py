"""Set up check-in data for ``bench/checkin.py`` in the server's data folder and database
(run with the server's environment, before it starts): a gate, a gate device and its token,
and N confirmed registrations with tickets, whose signed codes are written to a file.

    python bench/_checkin_setup.py OUTPUT.json N
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gathering.settings")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.utils.timezone import now  # noqa: E402

from gathering.checkin import services  # noqa: E402
from gathering.checkin.models import Gate  # noqa: E402
from gathering.program.models import Edition  # noqa: E402
from gathering.registration import keys  # noqa: E402
from gathering.registration.models import Category, Registration, Ticket  # noqa: E402
from gathering.registration.ticket_codes import TicketClaims, new_ticket_id, sign_ticket  # noqa: E402

BATCH = 2000


def main() -> None:
    output, count = sys.argv[1], int(sys.argv[2])
    edition = Edition.objects.order_by("-year").first()
    if edition is None:
        raise SystemExit("no edition: the demo did not load")
    moment = now()
    category, _created = Category.objects.get_or_create(
        edition=edition,
        slug="bench-attendee",
        defaults={
            "kind": Category.Kind.ATTENDEE,
            "name": {"en": "Bench attendee"},
            "capacity": count,
            "opens_at": moment - dt.timedelta(days=1),
            "closes_at": moment + dt.timedelta(days=1),
            "is_public": False,
        },
    )
    gate, _created = Gate.objects.get_or_create(
        edition=edition, slug="bench-gate", defaults={"name": {"en": "Bench gate"}}
    )
    _device, token = services.create_gate_device(gate=gate, label="bench")
    key = keys.current_signing_key()
    valid_from = (moment - dt.timedelta(hours=1)).replace(microsecond=0)
    valid_until = (moment + dt.timedelta(days=1)).replace(microsecond=0)
    codes: list[str] = []
    for start in range(0, count, BATCH):
        size = min(BATCH, count - start)
        with transaction.atomic():
            registrations = Registration.objects.bulk_create(
                [
                    Registration(
                        edition=edition,
                        category=category,
                        status=Registration.Status.CONFIRMED,
                        confirmed_at=moment,
                    )
                    for _ in range(size)
                ]
            )
            ids = [new_ticket_id() for _ in range(size)]
            Ticket.objects.bulk_create(
                [
                    Ticket(
                        ticket_id=ticket_id.hex(),
                        registration=registration,
                        edition=edition,
                        category_code=int(category.code),
                        key_id=key.key_id,
                        valid_from=valid_from,
                        valid_until=valid_until,
                    )
                    for ticket_id, registration in zip(ids, registrations, strict=True)
                ]
            )
        codes.extend(
            sign_ticket(
                TicketClaims(
                    ticket_id=ticket_id,
                    edition_year=edition.year,
                    category=category.code,
                    valid_from=valid_from,
                    valid_until=valid_until,
                ),
                key=key,
            )
            for ticket_id in ids
        )
    # Fresh statistics, as a database that has been in use has (PostgreSQL's autovacuum would
    # take a minute to notice 40,000 new tickets, and planned the look-ups badly meanwhile).
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    with open(output, "w") as handle:
        json.dump({"year": edition.year, "gate": gate.slug, "token": token, "codes": codes}, handle)


if __name__ == "__main__":
    main()
