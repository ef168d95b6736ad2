"""The worker's hourly run of ``gathering purge``: erase the personal data of the editions
whose retention period is over (see that command)."""

from __future__ import annotations

from gathering.privacy.management.commands.purge import Command as PurgeCommand


class Command(PurgeCommand):
    help = __doc__
