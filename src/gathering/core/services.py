"""Writes of the core app."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth.models import Group, User
from django.db import transaction

DEMO_STAFF_USERNAME = "organiser"


@dataclass(frozen=True)
class StaffLogin:
    username: str
    password_hint: str


@transaction.atomic
def ensure_staff_login(*, data_dir: Path) -> StaffLogin:
    """Create the first organiser account once, with a random password kept in
    ``<data>/staff-login.txt`` (mode 600) so ``make run`` can print it on every start.

    An existing account is left alone: once its password is changed, the file is stale and the
    hint says so.
    """
    login_file = data_dir / "staff-login.txt"
    user = User.objects.filter(username=DEMO_STAFF_USERNAME).first()
    if user is None:
        password = secrets.token_urlsafe(12)
        user = User.objects.create_user(
            username=DEMO_STAFF_USERNAME, password=password, is_staff=True
        )
        user.groups.add(Group.objects.get(name="organiser"))
        fd = os.open(login_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(password + "\n")
        return StaffLogin(username=user.username, password_hint=repr(password))
    if login_file.exists() and user.check_password(login_file.read_text().strip()):
        return StaffLogin(
            username=user.username, password_hint=repr(login_file.read_text().strip())
        )
    return StaffLogin(
        username=user.username,
        password_hint="(changed since it was generated)",  # noqa: S106  # nosec B106 # a hint shown to the operator, not a password
    )
