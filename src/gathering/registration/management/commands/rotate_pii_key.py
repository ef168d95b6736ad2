"""Make a new key for encrypting personal data; older keys stay to read existing rows.

Only for keys kept as files in the data folder (with PII_KEYS in the environment, add a key
there and change PII_KEY_ID). Restart the server processes afterwards so that they encrypt
with the new key; they read rows under either key in the meantime."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from gathering.core.crypto import rotate_pii_key


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            key_id = rotate_pii_key()
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"New personal-data key {key_id} encrypts from now on.")
