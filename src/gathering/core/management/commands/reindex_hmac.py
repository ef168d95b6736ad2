"""``gathering reindex_hmac``: re-hash, under the current keyed-hash key, what can be."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from gathering.core import key_management


class Command(BaseCommand):
    help = (
        "Recompute, under the current keyed-hash key, the blind index of every row hashed under "
        "an older key whose value is still kept (registrations, site contacts, signatures not "
        "yet confirmed). Confirmed signatures keep only their hash: they need their key until "
        "the retention purge erases them. Safe to run again and while the site runs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500, help="Rows per transaction.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        try:
            report = key_management.reindex_blind_indexes(batch_size=options["batch_size"])
            left = key_management.count_hashes_by_key()
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Re-hashed under key {report.current_id}:")
        labels = [c.label for c in key_management.hash_columns() if c.source is not None]
        for label in labels:
            self.stdout.write(f"  {label}: {report.updated[label]}")
        for label, count in report.conflicts.items():
            self.stderr.write(
                f"  {label}: {count} left under their old key: another row holds the same "
                "hash (the same person twice, made under two keys)."
            )
        for label, count in report.unreadable.items():
            self.stderr.write(f"  {label}: {count} could not be decrypted (their PII key is gone).")
        older = {key_id: rows for key_id, rows in left.items() if key_id != report.current_id}
        if older:
            self.stdout.write("Still under older keys:")
            for key_id, rows in sorted(older.items()):
                described = ", ".join(f"{label}: {count}" for label, count in rows.items())
                self.stdout.write(f"  {key_id}: {described}")
        else:
            self.stdout.write("Nothing depends on an older key any more.")
