"""``gathering rotate_hmac_key``: a new keyed-hash key that hashes from now on."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from gathering.core import crypto, hmac_keys


class Command(BaseCommand):
    help = (
        "Create a new keyed-hash (HMAC) key and print its id. New blind indexes (emails, "
        "networks, rate-limit keys) use it at once in every process; look-ups still find rows "
        "hashed under the older keys. Then run reindex_hmac, and retire_hmac_key once nothing "
        "depends on an old key (`gathering keys` shows what does). With HMAC_KEYS or "
        "BLIND_INDEX_KEY in the environment, rotate there instead."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            key_id = crypto.rotate_hmac_key()
            held = ", ".join(hmac_keys.load(hmac_keys.HMAC).ids)
        except (hmac_keys.KeyringError, ImproperlyConfigured) as error:
            raise CommandError(str(error)) from error
        # The id alone on stdout, for scripts; the explanation on stderr, for people.
        self.stdout.write(key_id)
        self.stderr.write(
            f"Keyed-hash key {key_id} hashes from now on; keys held for look-ups: {held}. "
            "Run `gathering reindex_hmac` to re-hash what can be."
        )
