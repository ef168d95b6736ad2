"""``gathering keys``: every key family, its current key, the keys held and what uses them."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gathering.core import key_management


class Command(BaseCommand):
    help = (
        "List every key family (ticket signing, transparency, personal data, keyed hashes, "
        "proof of work, Django's SECRET_KEY): where its keys come from, the current key id, the ids still held with "
        "the number of rows that depend on each, retired ids, and rows under ids no longer "
        "held. Prints no secret. Exits with an error when a family's keys cannot be read."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="One JSON document, for scripts.")

    def handle(self, *args: Any, **options: Any) -> None:
        statuses = key_management.key_status()
        broken = [status.name for status in statuses if status.error]
        if options["json"]:
            self.stdout.write(json.dumps([status.as_dict() for status in statuses], indent=2))
        else:
            self._print(statuses)
        if broken:
            raise CommandError(f"The keys of {', '.join(broken)} cannot be read (see above).")

    def _print(self, statuses: list[key_management.FamilyStatus]) -> None:
        for status in statuses:
            self.stdout.write(f"{status.name}: {status.label}")
            if status.error:
                self.stdout.write(self.style.ERROR(f"  cannot be read: {status.error}"))
                continue
            self.stdout.write(f"  source: {status.source}")
            self.stdout.write(f"  current: {status.current_id}")
            for key in status.keys:
                marker = " (current)" if key.current else ""
                counts = [f"{label}: {count}" for label, count in key.rows.items()]
                if len(counts) > 2:  # one a line, to be read
                    self.stdout.write(f"  key {key.key_id}{marker}:")
                    for count in counts:
                        self.stdout.write(f"      {count}")
                else:
                    joined = ", ".join(counts)
                    self.stdout.write(
                        f"  key {key.key_id}{marker}" + (f": {joined}" if joined else "")
                    )
            if status.retired:
                self.stdout.write(f"  retired: {', '.join(status.retired)}")
            for key_id, rows in status.orphaned.items():
                described = ", ".join(f"{label}: {count}" for label, count in rows.items())
                self.stdout.write(
                    self.style.WARNING(f"  rows under key {key_id}, not held: {described}")
                )
            for note in status.notes:
                self.stdout.write(f"  note: {note}")
