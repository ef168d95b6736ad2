"""Django's ``flush``, which empties every table on purpose, audit trail included: on SQLite
its DELETE would otherwise be refused by the trail's trigger (on PostgreSQL it is a TRUNCATE,
which row triggers do not see). Tests that use the database in transactions flush with it."""

from __future__ import annotations

from typing import Any

from django.core.management.commands.flush import Command as FlushCommand

from gathering.audit.receivers import unlocked


class Command(FlushCommand):
    def handle(self, **options: Any) -> None:
        with unlocked():
            super().handle(**options)
