"""``gathering demo_sign_in_code``: demo only. The current authenticator code of the demo
organiser, from the key ``gathering setup`` kept in ``<data>/staff-authenticator.txt`` (see
``accounts.services.ensure_demo_authenticator``). Refuses when that file is missing or no longer
the account's key (a real installation never has one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from gathering.accounts.services import demo_sign_in_code
from gathering.core.services import DEMO_STAFF_USERNAME


class Command(BaseCommand):
    help = "Demo only: the demo organiser's current authenticator code."

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=DEMO_STAFF_USERNAME).first()
        code = (
            demo_sign_in_code(user=user, data_dir=Path(settings.DATA_DIR))
            if user is not None
            else None
        )
        if code is None:
            raise CommandError(
                "No demo authenticator here: this command works for the demo set up by "
                "`gathering setup` only."
            )
        self.stdout.write(code)
