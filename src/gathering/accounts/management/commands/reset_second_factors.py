"""``gathering reset_second_factors <username>``: remove every second factor of a staff account
and end its sessions, for when no organiser can sign in to do it (the last organiser lost their
phone and recovery codes). Whoever runs it has the server: recorded as "(command line)"."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from gathering.accounts.services import reset_second_factors


class Command(BaseCommand):
    help = "Remove every second factor of a staff account and end its sessions."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        model = get_user_model()
        user = model.objects.filter(**{model.USERNAME_FIELD: options["username"]}).first()
        if user is None:
            raise CommandError(f"No account named {options['username']!r}.")
        reset_second_factors(None, user=user)
        self.stdout.write(
            f"The second factors of {user.get_username()!r} are removed and their sessions "
            "ended: they set up an authenticator app at their next sign-in."
        )
