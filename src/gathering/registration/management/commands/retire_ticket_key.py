"""``gathering retire_ticket_key ID``: stop accepting tickets signed with a key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gathering.registration.keys import KeyringError, retire_ticket_key


class Command(BaseCommand):
    help = (
        "Retire a ticket signing key: its private key is deleted and gates answer 'unknown key' "
        "for its tickets after their next download. The current key cannot be retired: run "
        "rotate_ticket_key first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("key_id", type=int)
        parser.add_argument(
            "--directory",
            type=Path,
            default=None,
            help="Key folder (default: keys/tickets in the data folder).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            retire_ticket_key(options["key_id"], directory=options["directory"])
        except KeyringError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Ticket key {options['key_id']} is retired.")
