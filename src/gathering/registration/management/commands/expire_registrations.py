"""Give back places that lapsed: unconfirmed registrations and waiting-list offers not accepted
in time; each freed place is offered to the next person on the waiting list. Run it often
(every few minutes, e.g. from cron or a systemd timer); running it twice changes nothing."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from gathering.registration import services


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args: Any, **options: Any) -> None:
        offers = services.expire_offers()
        unconfirmed = services.expire_unconfirmed()
        self.stdout.write(
            f"{offers} offer(s) expired, {unconfirmed} unconfirmed registration(s) lapsed."
        )
