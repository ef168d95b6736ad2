"""Erase the contact name and email of satellite sites whose edition ended more than the
retention period ago (see ``satellites/consent.py``). Run it daily or more often; running it
twice changes nothing."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from gathering.satellites import services


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args: Any, **options: Any) -> None:
        erased = services.erase_expired_contacts()
        self.stdout.write(f"{erased} site contact(s) erased.")
