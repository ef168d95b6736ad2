"""Write an encrypted backup of the database and of the data folder's keys (PII keys,
blind-index key, ticket and transparency signing keys, secret key) and uploaded files.

The archive is compressed, then encrypted with AES-256-GCM under a key derived from a
passphrase (scrypt): set BACKUP_PASSPHRASE, or type it when asked. Keep the passphrase apart
from the archive: whoever holds both holds every attendee's personal data. Restore it with
`gathering restore FILE` into an empty database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gathering.privacy.archive import ArchiveError
from gathering.privacy.passphrase import read_passphrase
from gathering.privacy.services import backups


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", "-o", required=True, help="the archive to write")
        parser.add_argument("--force", action="store_true", help="replace an existing file")

    def handle(self, *args: Any, **options: Any) -> None:
        passphrase = read_passphrase(confirm=True)
        try:
            report = backups.backup(
                output=Path(options["output"]), passphrase=passphrase, overwrite=options["force"]
            )
        except (ArchiveError, FileExistsError, OSError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"Backup written to {report.path}: {report.rows.total()} rows, "
            f"{report.files} files (keys and uploads), {report.size} bytes, encrypted."
        )
