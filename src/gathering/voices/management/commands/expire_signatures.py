"""Delete signatures never confirmed in time, and erase the network hash and email domain of
signatures past their anti-abuse window. The worker runs it every few minutes; running it twice
changes nothing."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from gathering.voices import services


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args: Any, **options: Any) -> None:
        expired = services.expire_unconfirmed()
        ended = services.end_abuse_window()
        self.stdout.write(
            f"{expired} unconfirmed signature(s) deleted, anti-abuse data erased from {ended}."
        )
