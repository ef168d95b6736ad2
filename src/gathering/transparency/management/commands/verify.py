"""``gathering verify``: check a receipt or two tree heads of a transparency log.

The work is ``gathering.transparency.verify`` (which runs without Django too); see its
docstring or ``gathering verify --help`` for the arguments."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gathering.transparency import verify


class Command(BaseCommand):
    help = (
        "Check a transparency-log receipt (verify receipt) or two tree heads (verify consistency)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("arguments", nargs=argparse.REMAINDER)

    def run_from_argv(self, argv: list[str]) -> None:
        # The pure module parses its own arguments (and prints its own --help); exit 1 when the
        # check fails, not Django's traceback-or-error path.
        sys.exit(verify.main(argv[2:]))

    def handle(self, *args: Any, **options: Any) -> None:
        status = verify.main(list(options["arguments"]), stdout=self.stdout, stderr=self.stderr)
        if status:
            raise CommandError("the check failed", returncode=status)
