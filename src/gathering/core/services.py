"""Writes of the core app."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

from django.contrib.auth.models import Group, User
from django.db import transaction

DEMO_STAFF_USERNAME = "organiser"


@dataclass(frozen=True)
class StaffLogin:
    username: str
    password_hint: str
    # Demo only: the authenticator app's key of the demo organiser (or why there is none).
    authenticator_hint: str = ""


@transaction.atomic
def ensure_staff_login(*, data_dir: Path, demo: bool = False) -> StaffLogin:
    """Create the first organiser account once, with a random password kept in
    ``<data>/staff-login.txt`` (mode 600) so ``make run`` can print it on every start.

    An existing account is left alone: once its password is changed, the file is stale and the
    hint says so. With ``demo`` (the demo's set-up only), the account also gets an authenticator
    app whose key is kept beside the password (``accounts.services.ensure_demo_authenticator``):
    staff sign-in needs a second factor. Without it, the organiser sets one up at their first
    sign-in.
    """
    login = _ensure_password(data_dir=data_dir)
    if not demo:
        return login
    from gathering.accounts.services import ensure_demo_authenticator

    user = User.objects.get(username=DEMO_STAFF_USERNAME)
    return replace(
        login, authenticator_hint=ensure_demo_authenticator(user=user, data_dir=data_dir)
    )


def _ensure_password(*, data_dir: Path) -> StaffLogin:
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
