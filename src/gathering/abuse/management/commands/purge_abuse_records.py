from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from gathering.abuse.services import purge_expired


class Command(BaseCommand):
    help = "Delete spent proof-of-work challenges and rate-limit windows that have expired."

    def handle(self, *args: Any, **options: Any) -> None:
        purged = purge_expired()
        if options["verbosity"] > 1:
            self.stdout.write(
                f"purged {purged.spent_challenges} spent challenges, "
                f"{purged.rate_counters} rate counters"
            )
