"""``gathering retire_altcha_key ID``: delete a proof-of-work key whose challenges expired."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from gathering.core import key_management
from gathering.core.hmac_keys import KeyringError


class Command(BaseCommand):
    help = (
        "Retire a proof-of-work (ALTCHA) key: challenges it signed stop verifying. Refused until "
        "the challenges it may have signed have expired (ALTCHA_EXPIRES seconds after the "
        "rotation); --force retires it at once (forms showing such a challenge ask for a new "
        "proof). The current key cannot be retired."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("key_id")
        parser.add_argument("--force", action="store_true", help="Retire it now.")

    def handle(self, *args: Any, **options: Any) -> None:
        key_id = options["key_id"]
        try:
            key_management.retire_altcha_key(key_id, force=options["force"])
        except (KeyringError, ImproperlyConfigured) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Proof-of-work key {key_id} is retired.")
