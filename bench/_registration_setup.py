"""Set up ``bench/registration.py``: an open public category without questions, with room for
every registration of the run, in the demo's latest edition (run with the server's environment,
before it starts). Prints the edition's year.

    python bench/_registration_setup.py SLUG
"""

from __future__ import annotations

import datetime as dt
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gathering.settings")

import django

django.setup()

from django.utils.timezone import now  # noqa: E402

from gathering.program.models import Edition  # noqa: E402
from gathering.registration.models import Category  # noqa: E402


def main() -> None:
    slug = sys.argv[1]
    edition = Edition.objects.order_by("-year").first()
    if edition is None:
        raise SystemExit("no edition: the demo did not load")
    moment = now()
    Category.objects.update_or_create(
        edition=edition,
        slug=slug,
        defaults={
            "kind": Category.Kind.ATTENDEE,
            "name": {"en": "Bench attendee"},
            "capacity": 1_000_000,
            "opens_at": moment - dt.timedelta(days=1),
            "closes_at": moment + dt.timedelta(days=1),
            "is_public": True,
        },
    )
    print(edition.year)


if __name__ == "__main__":
    main()
