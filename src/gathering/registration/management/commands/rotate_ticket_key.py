"""``gathering rotate_ticket_key``: a new ticket signing key that signs from now on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gathering.registration.keys import KeyringError, load_keyring, rotate_ticket_key


class Command(BaseCommand):
    help = (
        "Create a new ticket signing key and print its id. It signs every ticket issued from now "
        "on; tickets signed with older keys keep verifying until those keys are retired "
        "(retire_ticket_key). Gates pick the new public key up with their next download."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--directory",
            type=Path,
            default=None,
            help="Key folder (default: keys/tickets in the data folder).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        directory = options["directory"]
        try:
            key = rotate_ticket_key(directory=directory)
            verifying = ", ".join(
                str(key_id) for key_id in load_keyring(directory=directory).active
            )
        except KeyringError as error:
            raise CommandError(str(error)) from error
        # The id alone on stdout, for scripts; the explanation on stderr, for people.
        self.stdout.write(str(key.key_id))
        self.stderr.write(
            f"Ticket key {key.key_id} signs from now on; keys that verify: {verifying}."
        )
