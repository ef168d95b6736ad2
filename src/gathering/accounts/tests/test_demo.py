"""The demo's organiser can sign in: ``gathering setup`` (with the demo) gives it an
authenticator whose key is kept beside its password; a real set-up does not."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from gathering.accounts import totp
from gathering.accounts.models import TotpDevice
from gathering.accounts.tests.conftest import VERIFY
from gathering.core.services import ensure_staff_login

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, settings) -> Path:
    """A data folder of the test's own; the keys stay those of the test run (loaded first)."""
    from gathering.core.crypto import blind_index, pii_keyring

    pii_keyring()
    blind_index("loaded", purpose="test")
    settings.DATA_DIR = tmp_path
    return tmp_path


def test_the_demo_organiser_gets_an_authenticator_kept_beside_the_password(
    tmp_path: Path,
) -> None:
    login = ensure_staff_login(data_dir=tmp_path, demo=True)
    secret = login.authenticator_hint
    key_file = tmp_path / "staff-authenticator.txt"
    assert key_file.read_text().strip() == secret
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    device = TotpDevice.objects.get(user__username="organiser")
    assert device.confirmed_at is not None and device.secret == secret
    # The same on every start.
    assert ensure_staff_login(data_dir=tmp_path, demo=True).authenticator_hint == secret

    out = io.StringIO()
    call_command("demo_sign_in_code", stdout=out)
    code = out.getvalue().strip()
    assert code == totp.current_code(secret)

    client = Client()
    password = (tmp_path / "staff-login.txt").read_text().strip()
    client.post("/staff/login/", {"username": "organiser", "password": password})
    assert client.post(VERIFY, {"code": code})["Location"] == "/admin/"


def test_once_the_app_is_replaced_the_hint_says_so_and_the_command_refuses(
    tmp_path: Path,
) -> None:
    ensure_staff_login(data_dir=tmp_path, demo=True)
    TotpDevice.objects.filter(user__username="organiser").update(secret=totp.generate_secret())
    assert "changed" in ensure_staff_login(data_dir=tmp_path, demo=True).authenticator_hint
    with pytest.raises(CommandError, match="demo set up by"):
        call_command("demo_sign_in_code", stdout=io.StringIO())


def test_a_real_set_up_leaves_the_second_factor_to_the_first_sign_in(
    tmp_path: Path,
) -> None:
    login = ensure_staff_login(data_dir=tmp_path)
    assert login.authenticator_hint == ""
    assert not (tmp_path / "staff-authenticator.txt").exists()
    assert not TotpDevice.objects.exists()
    with pytest.raises(CommandError):
        call_command("demo_sign_in_code", stdout=io.StringIO())
