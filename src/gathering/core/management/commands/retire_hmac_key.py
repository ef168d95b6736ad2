"""``gathering retire_hmac_key ID``: delete an old keyed-hash key nothing depends on."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from gathering.core import key_management
from gathering.core.hmac_keys import KeyringError


class Command(BaseCommand):
    help = (
        "Retire a keyed-hash (HMAC) key: its file is deleted and a tombstone keeps its id from "
        "being used again. Refused while registrations, site applications or signatures still "
        "hold hashes made with it (run reindex_hmac first; --force retires it anyway, and those "
        "people could then register or sign a second time). The current key cannot be retired."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("key_id")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Retire even though data depends on the key (a leaked key, for instance).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        key_id = options["key_id"]
        try:
            left = key_management.retire_hmac_key(key_id, force=options["force"])
        except (KeyringError, ImproperlyConfigured) as error:
            raise CommandError(str(error)) from error
        if left:
            described = ", ".join(f"{label}: {count}" for label, count in left.items())
            self.stderr.write(f"Rows whose hash no look-up finds any more: {described}.")
        self.stdout.write(f"Keyed-hash key {key_id} is retired.")
