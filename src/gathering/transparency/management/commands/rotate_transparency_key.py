"""``gathering rotate_transparency_key``: a new key that signs tree heads from now on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gathering.transparency.keys import KeyringError, public_keys, rotate_transparency_key


class Command(BaseCommand):
    help = (
        "Create a new tree-head signing key and print its id. It signs every tree head from now "
        "on; older keys stay listed at /api/transparency/keys so older heads keep verifying."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--directory",
            type=Path,
            default=None,
            help="Key folder (default: keys/transparency in the data folder).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        directory = options["directory"]
        try:
            key = rotate_transparency_key(directory=directory)
            listed = ", ".join(str(key_id) for key_id in public_keys(directory=directory))
        except KeyringError as error:
            raise CommandError(str(error)) from error
        # The id alone on stdout, for scripts; the explanation on stderr, for people.
        self.stdout.write(str(key.key_id))
        self.stderr.write(
            f"Transparency key {key.key_id} signs tree heads from now on; keys listed: {listed}."
        )
