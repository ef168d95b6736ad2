"""Erase the personal data of every edition whose retention period is over (its
``retention_days`` after its last day): names, email addresses, phones, answers, signers'
messages and keyed hashes, site contacts, unsent emails. Counts and anonymous statistics stay.
Prints what was erased; ``--dry-run`` prints what would be, and changes nothing. The worker runs
it every hour (``purge_expired_personal_data``); running it twice erases nothing more."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from gathering.privacy.services import PurgeReport, purge_expired

LABELS = {
    "registrations": "registrations (name, email, phone, answers, private link)",
    "signatures": "signatures (name, city, message, email and its hash, network hash, links)",
    "site_contacts": "satellite site contacts (name, email)",
    "invalidations": "bulk invalidations (email domain or network matched)",
    "queued_emails": "unsent emails (cancelled: recipient and content)",
}


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be erased; change nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = purge_expired(dry_run=options["dry_run"])
        self.stdout.write(describe(report))


def describe(report: PurgeReport) -> str:
    verb = "would be erased" if report.dry_run else "erased"
    if not report.editions:
        return "No edition is past its retention period: nothing to erase."
    lines = [
        "Editions past their retention period: " + ", ".join(map(str, report.editions)) + ".",
        f"Personal data {verb}:",
    ]
    lines += [f"  {report.erased[kind]:>8}  {label}" for kind, label in LABELS.items()]
    if report.campaigns_waiting:
        lines.append(
            f"{report.campaigns_waiting} campaign(s) of those editions closed later and keep "
            "their signatures until their own retention period is over."
        )
    return "\n".join(lines)
