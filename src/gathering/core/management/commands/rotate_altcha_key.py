"""``gathering rotate_altcha_key``: a new key that signs proof-of-work challenges from now on."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from gathering.abuse import altcha
from gathering.core import hmac_keys


class Command(BaseCommand):
    help = (
        "Create a new proof-of-work (ALTCHA) key and print its id. It signs every challenge from "
        "now on; challenges signed with older keys keep verifying until they expire "
        "(ALTCHA_EXPIRES seconds), after which retire_altcha_key may delete those keys. With "
        "ALTCHA_HMAC_KEYS or ALTCHA_HMAC_KEY in the environment, rotate there instead."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            key_id = altcha.rotate_key()
            held = ", ".join(hmac_keys.load(hmac_keys.ALTCHA).ids)
        except (hmac_keys.KeyringError, ImproperlyConfigured) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(key_id)
        self.stderr.write(
            f"Proof-of-work key {key_id} signs challenges from now on; keys that verify: {held}. "
            f"Older keys may be retired in {settings.ALTCHA_EXPIRES} seconds."
        )
