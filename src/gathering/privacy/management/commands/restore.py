"""Restore a backup made by `gathering backup` into an empty database and the data folder.

The whole archive is read and authenticated first (a wrong passphrase, or an archive damaged
or altered, stops the restore before anything is written). The database must be empty: create
a new one (for SQLite, use a new data folder: GATHERING_DATA_DIR). Keys already in the data
folder that differ from the archive's are not replaced unless --force. Then the migrations run,
the keys are written and every row is loaded in one transaction. The passphrase comes from
BACKUP_PASSPHRASE or is asked for."""

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
        parser.add_argument("archive", help="the file written by `gathering backup`")
        parser.add_argument(
            "--force",
            action="store_true",
            help="replace keys and files of the data folder that differ from the archive's",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        source = Path(options["archive"])
        if not source.is_file():
            raise CommandError(f"{source} is not a file.")
        passphrase = read_passphrase(confirm=False)
        try:
            report = backups.restore(source=source, passphrase=passphrase, force=options["force"])
        except (ArchiveError, backups.RestoreError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"Restored the backup of {report.created_at or 'an unknown date'}: "
            f"{report.rows.total()} rows, {report.files_written} files written "
            f"({report.files_unchanged} already in place)."
        )
        if report.kept_secret_key:
            self.stdout.write(
                "The data folder's own secret key was kept (it differs from the backup's): "
                "sessions and password links from before the backup no longer work. "
                "Use --force to take the backup's."
            )
