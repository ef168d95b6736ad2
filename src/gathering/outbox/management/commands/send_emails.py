"""Send the queued emails that are due now, over one SMTP connection per batch, until none is
left (the worker does this several times a second; this command is for a cron job or a manual
run). With --requeue-failed, failed emails are put back in the queue first (those "in doubt"
may then arrive twice, with the same Message-ID)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from gathering.outbox import services


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=200, help="emails per batch")
        parser.add_argument(
            "--requeue-failed", action="store_true", help="requeue failed emails first"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["requeue_failed"]:
            self.stdout.write(f"{services.requeue_failed()} failed email(s) requeued.")
        total = services.SendReport()
        while True:
            report = services.send_pending(limit=max(1, options["limit"]))
            total += report
            if report.smtp_unavailable or report.claimed < options["limit"]:
                break
        self.stdout.write(
            f"{total.sent} sent, {total.retried} to retry, {total.failed} failed, "
            f"{total.cancelled} cancelled, {total.in_doubt} in doubt"
            + (" (the SMTP server could not be reached)" if total.smtp_unavailable else "")
            + "."
        )
