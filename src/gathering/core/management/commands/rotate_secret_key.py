"""``gathering rotate_secret_key``: a new Django SECRET_KEY; the old one stays as a fallback."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from gathering.core import key_management
from gathering.core.hmac_keys import KeyringError


class Command(BaseCommand):
    help = (
        "Write a new SECRET_KEY to the data folder and print its id; the old key goes to "
        "keys/secret_key_fallbacks, so staff sessions and links to choose a password signed "
        "with it stay valid. Restart every process to use the new key. Retire the old key with "
        "retire_secret_key once those have expired. With SECRET_KEY in the environment, rotate "
        "there (SECRET_KEY_FALLBACKS keeps the old one)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            key_id = key_management.rotate_secret_key()
        except KeyringError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(key_id)
        self.stderr.write(
            f"Secret key {key_id} is written; restart every process to sign with it. The old "
            "key still verifies what it signed."
        )
