"""``gathering demo`` / ``manage.py demo``: load the demo content (see ``program/demo.py``)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from gathering.program.demo import load_demo
from gathering.program.selectors import list_editions


class Command(BaseCommand):
    help = (
        "Load the demo: the Free Iran Gathering with past editions near Paris and a planned 2027 "
        "program, with sample speakers only. Running it again changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Load the demo only when there is no edition yet (for first start-up).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["if_empty"] and list_editions().exists():
            self.stdout.write("Editions exist already: the demo was not loaded.")
            return
        summary = load_demo()
        # Registration builds on the program: its demo categories join the planned edition.
        from gathering.registration.demo import load_registration_demo

        categories = load_registration_demo()
        from gathering.voices.demo import load_voices_demo

        campaigns = load_voices_demo()
        from gathering.satellites.demo import load_satellites_demo

        sites = load_satellites_demo()
        from gathering.live.demo import load_live_demo

        announcements = load_live_demo()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo loaded: {summary.editions} editions, {summary.sessions} sessions, "
                f"{summary.speakers} speakers ({summary.created} objects created, "
                f"{summary.updated} updated, {summary.unchanged} unchanged); "
                f"{categories} registration categories, {campaigns} campaigns and "
                f"{sites} satellite sites and {announcements} announcements created."
            )
        )
