"""What a restore refuses before touching anything, for archives that are genuine (the right
passphrase opens them) but whose content is not what ``gathering backup`` writes: a file
outside the data folder's keys and uploads, migrations this version does not know, a missing
end. And the stored form of encrypted fields that backups rely on."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from django.db import transaction

from gathering.core import crypto
from gathering.privacy import archive
from gathering.privacy.services import backups
from gathering.registration.models import Registration
from gathering.registration.tests.factories import CategoryFactory

PASSPHRASE = "a long enough passphrase"


def crafted(path: Path, lines: list[dict]) -> Path:
    out = io.BytesIO()
    writer = archive.Writer(out, PASSPHRASE, n=2**10)
    for line in lines:
        writer.write(json.dumps(line).encode() + b"\n")
    writer.close()
    path.write_bytes(out.getvalue())
    return path


MANIFEST = {"manifest": {"format": "gathering-backup", "version": 1, "migrations": []}}


def file_line(name: str) -> dict:
    return {"file": name, "mode": 0o600, "data": base64.b64encode(b"x").decode()}


@pytest.fixture
def data_dir(settings, tmp_path) -> Path:
    settings.DATA_DIR = tmp_path / "data"
    return settings.DATA_DIR


@pytest.mark.parametrize(
    "name",
    ["../outside", "/etc/passwd", "keys/../../outside", "gathering.sqlite3", "static/x.js", ""],
)
def test_a_file_outside_keys_and_uploads_is_refused(tmp_path, data_dir, name):
    source = crafted(
        tmp_path / "evil.backup", [MANIFEST, file_line(name), {"end": {"rows": {}, "files": 1}}]
    )
    with pytest.raises(archive.DamagedArchiveError, match="may not write"):
        backups.restore(source=source, passphrase=PASSPHRASE)
    assert not data_dir.exists() or list(data_dir.rglob("*")) == []
    assert not (tmp_path / "outside").exists()


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([MANIFEST, file_line("keys/a.key")], "no end"),
        ([MANIFEST, {"end": {"rows": {}, "files": 0}}, file_line("keys/a.key")], "after its end"),
        ([MANIFEST, {"end": {"rows": {"auth.user": 1}, "files": 0}}], "counts disagree"),
        ([MANIFEST, {"something": 1}, {"end": {"rows": {}, "files": 0}}], "unknown kind"),
        ([{"not": "a manifest"}], "no manifest"),
        ([], "no end"),
    ],
)
def test_an_archive_not_as_written_is_refused(tmp_path, data_dir, lines, message):
    source = crafted(tmp_path / "odd.backup", lines)
    with pytest.raises(archive.DamagedArchiveError, match=message):
        backups.restore(source=source, passphrase=PASSPHRASE)
    assert not data_dir.exists() or list(data_dir.rglob("*")) == []


def test_an_archive_from_a_newer_version_is_refused(tmp_path, data_dir):
    manifest = {"manifest": {**MANIFEST["manifest"], "migrations": [["program", "9999_future"]]}}
    source = crafted(tmp_path / "new.backup", [manifest, {"end": {"rows": {}, "files": 0}}])
    with pytest.raises(backups.RestoreError, match=r"newer version of Gathering .*9999_future"):
        backups.restore(source=source, passphrase=PASSPHRASE)


@pytest.mark.django_db
def test_the_stored_form_reads_and_writes_ciphertexts_as_they_are():
    category = CategoryFactory()
    registration = Registration.objects.create(
        edition=category.edition, category=category, name="Stored Form", email="s@example.org"
    )
    with crypto.stored_form():
        stored = Registration.objects.get(pk=registration.pk)
        assert stored.name.startswith("pii1:") and "Stored" not in stored.name
        copy = Registration.objects.create(
            edition=category.edition,
            category=category,
            name=stored.name,
            email=stored.email,
            answers=stored.answers,
        )
        with pytest.raises(ValueError, match="not an encrypted value"), transaction.atomic():
            Registration.objects.create(
                edition=category.edition,
                category=category,
                name="Plain Text",
                email=None,
                answers=stored.answers,
            )
    assert Registration.objects.get(pk=copy.pk).name == "Stored Form"
    # Outside the block, the same value is read decrypted again.
    assert Registration.objects.get(pk=registration.pk).name == "Stored Form"


@pytest.mark.django_db
def test_rows_that_cannot_be_loaded_leave_the_database_as_it_was(tmp_path, data_dir):
    from gathering.program.models import Edition

    source = crafted(
        tmp_path / "bad-row.backup",
        [
            MANIFEST,
            {"model": "program.edition", "pk": 7, "fields": {"no_such_field": 1}},
            {"end": {"rows": {"program.edition": 1}, "files": 0}},
        ],
    )
    with pytest.raises(backups.RestoreError, match=r"could not be loaded .* none were"):
        backups.restore(source=source, passphrase=PASSPHRASE)
    assert not Edition.objects.exists()
