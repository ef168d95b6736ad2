"""``gathering retire_secret_key ID``: drop an old SECRET_KEY kept as a fallback."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gathering.core import key_management
from gathering.core.hmac_keys import KeyringError


class Command(BaseCommand):
    help = (
        "Remove a fallback secret key (its id as `gathering keys` shows it): sessions and links "
        "it signed stop verifying after the next restart. Refused while they may still be in "
        "use (PASSWORD_RESET_TIMEOUT or the session lifetime after the rotation) unless --force."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("key_id")
        parser.add_argument("--force", action="store_true", help="Retire it now.")

    def handle(self, *args: Any, **options: Any) -> None:
        key_id = options["key_id"]
        try:
            key_management.retire_secret_key(key_id, force=options["force"])
        except KeyringError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Secret key {key_id} is retired; restart every process.")
