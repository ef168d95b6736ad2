"""``gathering keys`` and the keyed-hash key commands (``core/key_management.py``)."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from gathering.abuse import altcha
from gathering.core import crypto, hmac_keys
from gathering.core.hmac_keys import LEGACY
from gathering.registration import keys as ticket_keys
from gathering.registration.models import Registration
from gathering.registration.services.registrations import issue_ticket
from gathering.registration.tests.factories import CategoryFactory, register_person
from gathering.transparency import keys as transparency_keys
from gathering.transparency import services as transparency
from gathering.transparency.tests.test_services import fill

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def secrets_in(folder: Path) -> list[str]:
    """Every key in the data folder, in the forms an output could leak it."""
    found = []
    for path in folder.rglob("*"):
        if not path.is_file() or path.name == "current" or path.suffix == ".retired":
            continue
        text = path.read_text().strip()
        found.append(text)
        if path.suffix == ".key" and "PRIVATE" not in text:
            found.append(base64.b64decode(text).hex())
    return found


def family(statuses: list[dict], name: str) -> dict:
    [found] = [status for status in statuses if status["family"] == name]
    return found


def rows_of(status: dict) -> dict[str, dict[str, int]]:
    return {key["id"]: key["rows"] for key in status["keys"]}


def test_status_lists_every_family_its_keys_and_what_depends_on_each(isolated_keys: Path) -> None:
    category = CategoryFactory()
    old_people = [register_person(category).registration for _ in range(2)]
    issue_ticket(registration=old_people[0])
    log = transparency.get_or_create_log(slug="keys-status")  # signs the empty tree's head
    pii_old = crypto.pii_keyring().current_id

    ticket_new = ticket_keys.rotate_ticket_key()
    transparency_new = transparency_keys.rotate_transparency_key()
    pii_new = crypto.rotate_pii_key()
    hmac_new = crypto.rotate_hmac_key()
    altcha_new = altcha.rotate_key()
    newcomer = register_person(category).registration
    issue_ticket(registration=newcomer)
    fill(log, 1)
    transparency.integrate(log=log)

    out, _ = run("keys", "--json")
    statuses = json.loads(out)

    assert [status["family"] for status in statuses] == [
        "tickets",
        "transparency",
        "pii",
        "hmac",
        "altcha",
        "django",
    ]
    assert not any(status["error"] for status in statuses)
    tickets = family(statuses, "tickets")
    assert tickets["current"] == str(ticket_new.key_id)
    assert rows_of(tickets) == {
        "1": {"tickets": 1, "tickets still valid": 1},
        str(ticket_new.key_id): {"tickets": 1, "tickets still valid": 1},
    }
    heads = family(statuses, "transparency")
    assert rows_of(heads) == {
        "1": {"tree heads": 1},
        str(transparency_new.key_id): {"tree heads": 1},
    }
    pii = family(statuses, "pii")
    assert pii["current"] == pii_new
    # Two old registrations (name, email), the newcomer under the new key; answers are
    # encrypted too ({} by default).
    assert rows_of(pii)[pii_old]["encrypted values"] >= 4
    assert rows_of(pii)[pii_new]["encrypted values"] >= 2
    hmac_status = family(statuses, "hmac")
    assert hmac_status["current"] == hmac_new
    assert [key["id"] for key in hmac_status["keys"]] == [hmac_new, LEGACY]
    assert rows_of(hmac_status)[LEGACY]["registrations (email)"] == 2
    assert rows_of(hmac_status)[hmac_new]["registrations (email)"] == 1
    assert rows_of(hmac_status)[hmac_new]["signatures (email)"] == 0
    assert "reindex_hmac" in " ".join(hmac_status["notes"])
    altcha_status = family(statuses, "altcha")
    assert altcha_status["current"] == altcha_new
    assert [key["id"] for key in altcha_status["keys"]] == [altcha_new, LEGACY]

    text, _ = run("keys")
    assert f"  key {hmac_new} (current):\n      registrations (email): 1\n" in text
    assert "  key legacy:\n      registrations (email): 2\n" in text
    assert f"  key {ticket_new.key_id} (current): tickets: 1, tickets still valid: 1" in text
    assert f"files in {isolated_keys / 'keys' / 'pii'}" in text
    for secret in secrets_in(isolated_keys / "keys"):
        assert secret not in text and secret not in out


def test_status_shows_rows_under_a_key_no_longer_held(isolated_keys: Path) -> None:
    person = register_person(CategoryFactory()).registration
    Registration.objects.filter(pk=person.pk).update(email_index="gone1:" + "ab" * 24)

    text, _ = run("keys")

    assert "rows under key gone1, not held: registrations (email): 1" in text


def test_status_counts_encrypted_values_it_cannot_read(isolated_keys: Path) -> None:
    from django.db import connection

    first, second = (register_person(CategoryFactory()).registration for _ in range(2))
    table = Registration._meta.db_table
    with connection.cursor() as cursor:
        for pk, stored in ((first.pk, "pii1:nokey:AAAA"), (second.pk, "pii1:malformed")):
            cursor.execute(f"UPDATE {table} SET name = %s WHERE id = %s", [stored, pk])  # noqa: S608

    text, _ = run("keys")

    assert "rows under key nokey, not held: encrypted values (cannot be decrypted): 1" in text
    assert "rows under key (malformed), not held: encrypted values (cannot be decrypted): 1" in text


def test_a_broken_family_is_reported_and_the_others_still_listed(
    isolated_keys: Path, monkeypatch
) -> None:
    monkeypatch.setenv("HMAC_KEYS", "{not json")
    out = io.StringIO()
    with pytest.raises(CommandError, match="The keys of hmac cannot be read"):
        call_command("keys", stdout=out)
    text = out.getvalue()
    assert "cannot be read: HMAC_KEYS must be JSON" in text
    assert "pii: personal data" in text and "altcha: proof-of-work" in text


def test_rotate_reindex_and_retire_commands(isolated_keys: Path) -> None:
    category = CategoryFactory()
    register_person(category)

    out, err = run("rotate_hmac_key")
    key_id = out.strip()
    assert hmac_keys.load(hmac_keys.HMAC).current_id == key_id
    assert f"keys held for look-ups: {key_id}, legacy" in err
    with pytest.raises(CommandError, match=r"registrations \(email\): 1.*reindex_hmac"):
        run("retire_hmac_key", LEGACY)
    with pytest.raises(CommandError, match="current one"):
        run("retire_hmac_key", key_id)
    with pytest.raises(CommandError, match="no keyed-hash key 'nosuch'"):
        run("retire_hmac_key", "nosuch")

    out, _ = run("reindex_hmac")
    assert f"Re-hashed under key {key_id}:" in out
    assert "  registrations (email): 1" in out
    assert "Nothing depends on an older key any more." in out

    out, _ = run("retire_hmac_key", LEGACY)
    assert "Keyed-hash key legacy is retired." in out
    assert not (isolated_keys / "keys" / "blind_index.key").exists()
    with pytest.raises(CommandError, match="at least 1"):
        run("reindex_hmac", "--batch-size", "0")


def test_with_keys_from_the_environment_commands_say_what_to_do(
    isolated_keys: Path, monkeypatch
) -> None:
    monkeypatch.setenv("BLIND_INDEX_KEY", base64.b64encode(b"o" * 32).decode())
    register_person(CategoryFactory())
    monkeypatch.setenv("HMAC_KEYS", json.dumps({"k2": base64.b64encode(b"n" * 32).decode()}))
    monkeypatch.setenv("HMAC_KEY_ID", "k2")

    with pytest.raises(CommandError, match="add a key to HMAC_KEYS and name it in HMAC_KEY_ID"):
        run("rotate_hmac_key")
    with pytest.raises(CommandError, match="registrations \\(email\\): 1"):
        run("retire_hmac_key", LEGACY)
    run("reindex_hmac")
    with pytest.raises(CommandError, match="remove the key 'legacy' from BLIND_INDEX_KEY"):
        run("retire_hmac_key", LEGACY)
    text, _ = run("keys")
    assert "environment (HMAC_KEYS, HMAC_KEY_ID, BLIND_INDEX_KEY)" in text
    assert "  key legacy:\n      registrations (email): 0\n" in text


def test_secret_key_rotation_keeps_password_links_valid_until_retired(
    isolated_keys: Path, monkeypatch, settings, django_user_model
) -> None:
    from django.contrib.auth.tokens import PasswordResetTokenGenerator

    from gathering.core import key_management
    from gathering.settings import read_secret_key_fallbacks

    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("SECRET_KEY_FALLBACKS", raising=False)
    (isolated_keys / "secret_key").write_text("old-secret-key-" + "x" * 40)
    settings.SECRET_KEY = "old-secret-key-" + "x" * 40
    user = django_user_model.objects.create_user(username="coordinator", password="unused")
    link_token = PasswordResetTokenGenerator().make_token(user)
    old_id = key_management.secret_key_id(settings.SECRET_KEY)

    out, err = run("rotate_secret_key")

    new_key = (isolated_keys / "secret_key").read_text()
    new_id = out.strip()
    assert new_id == key_management.secret_key_id(new_key) != old_id
    fallbacks = isolated_keys / "keys" / "secret_key_fallbacks"
    assert fallbacks.read_text().splitlines() == [settings.SECRET_KEY]
    assert fallbacks.stat().st_mode & 0o077 == 0
    assert (isolated_keys / "secret_key").stat().st_mode & 0o077 == 0
    assert "restart every process" in err
    # What the restarted processes read (settings.py), and a link signed before the rotation.
    monkeypatch.setattr("gathering.settings.DATA_DIR", isolated_keys)
    settings.SECRET_KEY_FALLBACKS = read_secret_key_fallbacks()
    settings.SECRET_KEY = new_key
    assert PasswordResetTokenGenerator().check_token(user, link_token)
    statuses = {status.name: status for status in key_management.key_status()}
    assert [key.key_id for key in statuses["django"].keys] == [new_id, old_id]
    assert new_key not in run("keys")[0]

    with pytest.raises(CommandError, match="may be in use until"):
        run("retire_secret_key", old_id)
    with pytest.raises(CommandError, match="current one"):
        run("retire_secret_key", new_id)
    with pytest.raises(CommandError, match="no fallback secret key"):
        run("retire_secret_key", "00000000")
    run("retire_secret_key", old_id, "--force")

    settings.SECRET_KEY_FALLBACKS = read_secret_key_fallbacks()
    assert settings.SECRET_KEY_FALLBACKS == []
    assert not PasswordResetTokenGenerator().check_token(user, link_token)


def test_secret_key_from_the_environment_rotates_there(isolated_keys: Path, monkeypatch) -> None:
    from gathering.settings import read_secret_key_fallbacks

    monkeypatch.setenv("SECRET_KEY", "from-the-environment-" + "y" * 40)
    with pytest.raises(CommandError, match="SECRET_KEY_FALLBACKS"):
        run("rotate_secret_key")
    monkeypatch.setenv("SECRET_KEY_FALLBACKS", "old-one, older-one")
    assert read_secret_key_fallbacks() == ["old-one", "older-one"]
