"""``gathering create_gate_device 2027 main-entrance "Turnstile 3"``: a gate device and its
bearer token for the check-in API (printed once; only its hash is stored)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gathering.checkin import selectors, services
from gathering.checkin.models import Gate


class Command(BaseCommand):
    help = "Create a gate device and print its API token (shown only once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("year", type=int)
        parser.add_argument("gate", help="the gate's slug")
        parser.add_argument("label", help="a name for the device, such as 'Turnstile 3'")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            gate = selectors.get_gate(year=options["year"], slug=options["gate"])
        except Gate.DoesNotExist:
            raise CommandError(
                f"there is no gate {options['gate']!r} in {options['year']}"
            ) from None
        device, token = services.create_gate_device(gate=gate, label=options["label"])
        self.stdout.write(f"device {device.pk} at {gate.slug}: {token}")
