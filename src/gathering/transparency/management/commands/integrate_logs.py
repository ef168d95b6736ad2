"""``gathering integrate_logs``: give queued transparency-log entries their indexes and sign
new tree heads (the worker runs it every second)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from gathering.transparency.services import integrate_all


class Command(BaseCommand):
    help = (
        "Integrate the queued entries of every transparency log and sign their new tree heads. "
        "Safe to run from several processes at once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=10_000, help="Entries per batch.")

    def handle(self, *args: Any, **options: Any) -> None:
        count = integrate_all(limit=max(1, options["limit"]))
        if options["verbosity"] >= 1 and count:
            self.stdout.write(f"Integrated {count} entries.")
