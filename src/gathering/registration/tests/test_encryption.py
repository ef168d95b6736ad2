"""Personal data is encrypted at rest: a database dump shows no name, email, phone or answer."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from django.core.exceptions import FieldError
from django.db import connection

from gathering.core import crypto
from gathering.registration import selectors
from gathering.registration.models import Registration
from gathering.registration.tests.factories import (
    CategoryFactory,
    QuestionFactory,
    register_person,
    reload,
)

CANARY_NAMES = ["Canaryname Xylophonist", "کاناری‌نام زیلوفون"]
CANARY_EMAILS = ["canary.mailbox.4711@example.org", "Second.Canary+Tag@Example.ORG"]
CANARY_PHONE = "+33 6 47 11 47 11"
CANARY_ANSWER = "canary-answer-quetzalcoatl"


def _register_canaries(committed) -> list[Registration]:
    category = CategoryFactory()
    QuestionFactory(category=category, key="note")
    with committed():
        return [
            register_person(
                category,
                name=name,
                email=email,
                phone=CANARY_PHONE,
                answers={"note": CANARY_ANSWER},
            ).registration
            for name, email in zip(CANARY_NAMES, CANARY_EMAILS, strict=True)
        ]


def _needles() -> list[bytes]:
    texts = [*CANARY_NAMES, *CANARY_EMAILS, CANARY_PHONE, CANARY_ANSWER]
    texts += [text.lower() for text in CANARY_EMAILS]
    texts += ["Canaryname", "Xylophonist", "کاناری", "canary.mailbox", "quetzalcoatl", "4711 47"]
    needles = [text.encode() for text in texts]
    # JSON columns may escape non-ASCII text; look for that spelling too.
    needles += [json.dumps(text).strip('"').encode() for text in texts]
    return needles


def _all_rows_as_text() -> str:
    """Every row of every table, as the database returns it (no model fields involved)."""
    parts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            parts.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(parts)


@pytest.mark.django_db(transaction=True)
def test_raw_rows_and_database_file_reveal_no_names_or_emails(committed, tmp_path: Path) -> None:
    registrations = _register_canaries(committed)
    # They read back decrypted through the models.
    assert [reload(r).name for r in registrations] == CANARY_NAMES
    assert reload(registrations[1]).email == CANARY_EMAILS[1]

    rows = _all_rows_as_text()
    assert "pii1:" in rows, "the encrypted values are there"
    for needle in _needles():
        assert needle.decode() not in rows, needle

    # The database as a file: the live file (and its WAL) or, for an in-memory test
    # database, a copy written out with VACUUM INTO. On PostgreSQL the rows above are the dump.
    if connection.vendor == "sqlite":
        name = str(connection.settings_dict["NAME"])
        if connection.is_in_memory_db():
            dump = tmp_path / "dump.sqlite3"
            with connection.cursor() as cursor:
                cursor.execute("VACUUM INTO %s", [str(dump)])
            files = [dump]
        else:
            files = [Path(name), Path(name + "-wal")]
        raw = b"".join(path.read_bytes() for path in files if path.exists())
        assert len(raw) > 10_000
        assert b"pii1:" in raw
        for needle in _needles():
            assert needle not in raw, needle


@pytest.mark.django_db
def test_encrypted_columns_hold_ciphertext_bound_to_their_column(committed) -> None:
    [registration, _other] = _register_canaries(committed)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, email, phone, answers, email_index FROM registration_registration "
            "WHERE id = %s",
            [registration.pk],
        )
        name, email, phone, answers, email_index = cursor.fetchone()

    for stored in (name, email, phone, answers):
        assert stored.startswith(f"pii1:{crypto.pii_keyring().current_id}:")
    assert crypto.decrypt(name, context="registration_registration.name") == CANARY_NAMES[0]
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(name, context="registration_registration.email")
    assert email_index == crypto.blind_index(CANARY_EMAILS[0], purpose="email")


@pytest.mark.django_db
def test_swapped_or_tampered_ciphertext_fails_loudly_on_read(committed) -> None:
    [first, second] = _register_canaries(committed)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, email FROM registration_registration WHERE id = %s", [first.pk]
        )
        name, email = cursor.fetchone()
        # Copy the email ciphertext into the name column: it must not decrypt there.
        cursor.execute(
            "UPDATE registration_registration SET name = %s WHERE id = %s", [email, second.pk]
        )
    with pytest.raises(crypto.DecryptionError):
        reload(second)

    prefix, key_id, body = name.split(":", 2)
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[-1] ^= 0x01
    tampered = f"{prefix}:{key_id}:{base64.urlsafe_b64encode(bytes(raw)).decode().rstrip('=')}"
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE registration_registration SET name = %s WHERE id = %s", [tampered, first.pk]
        )
    with pytest.raises(crypto.DecryptionError, match="authentication"):
        reload(first)


@pytest.mark.django_db
def test_rows_written_before_a_key_rotation_stay_readable(committed, settings, tmp_path) -> None:
    settings.DATA_DIR = tmp_path
    crypto.reset_keys()
    try:
        category = CategoryFactory()
        with committed():
            before = register_person(category, name="Before Rotation").registration
        old_id = crypto.pii_keyring().current_id
        new_id = crypto.rotate_pii_key()
        with committed():
            after = register_person(category, name="After Rotation").registration

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, name FROM registration_registration WHERE id IN (%s, %s)",
                [before.pk, after.pk],
            )
            stored = dict(cursor.fetchall())
        assert crypto.key_id_of(stored[before.pk]) == old_id
        assert crypto.key_id_of(stored[after.pk]) == new_id
        assert reload(before).name == "Before Rotation"
        assert reload(after).name == "After Rotation"
    finally:
        crypto.reset_keys()


@pytest.mark.django_db
def test_encrypted_fields_cannot_be_searched_but_the_blind_index_finds_people(committed) -> None:
    [registration, _other] = _register_canaries(committed)
    with pytest.raises(FieldError):
        Registration.objects.filter(name=CANARY_NAMES[0]).count()
    with pytest.raises(FieldError):
        Registration.objects.filter(email__icontains="canary").count()
    assert Registration.objects.filter(phone__isnull=False).count() == 2

    found = selectors.find_active_registration(
        edition=registration.edition, email="  CANARY.mailbox.4711@EXAMPLE.org "
    )
    assert found is not None and found.pk == registration.pk
