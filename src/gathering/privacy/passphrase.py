"""The passphrase of backups: from ``BACKUP_PASSPHRASE`` or typed at a prompt, never an
argument (a command line is visible to every user of the machine and kept in shell histories)."""

from __future__ import annotations

import getpass
import os
import sys

from django.core.management.base import CommandError

VARIABLE = "BACKUP_PASSPHRASE"


def read_passphrase(*, confirm: bool) -> str:
    """The passphrase from the environment, else asked on the terminal (twice if ``confirm``).
    Raises CommandError without either."""
    if passphrase := os.environ.get(VARIABLE):
        return passphrase
    if not sys.stdin.isatty():
        raise CommandError(
            f"Set {VARIABLE} in the environment, or run the command in a terminal to type the "
            "passphrase."
        )
    passphrase = getpass.getpass("Backup passphrase: ")
    if confirm and getpass.getpass("The same passphrase again: ") != passphrase:
        raise CommandError("The two passphrases differ.")
    return passphrase
