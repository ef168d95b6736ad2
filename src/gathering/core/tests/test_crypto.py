"""Encryption at rest and blind indexes (``gathering.core.crypto``)."""

from __future__ import annotations

import base64
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from gathering.core import crypto


@pytest.fixture
def key_folder(tmp_path: Path, settings, monkeypatch) -> Iterator[Path]:
    """A fresh data folder with no keys: the first use generates them there."""
    monkeypatch.delenv("PII_KEYS", raising=False)
    monkeypatch.delenv("PII_KEY_ID", raising=False)
    monkeypatch.delenv("BLIND_INDEX_KEY", raising=False)
    settings.DATA_DIR = tmp_path
    crypto.reset_keys()
    yield tmp_path / "keys"
    crypto.reset_keys()


def b64key(byte: int) -> str:
    return base64.b64encode(bytes([byte]) * 32).decode()


def test_round_trip_keeps_unicode_text(key_folder: Path) -> None:
    text = "Zahra Rahimi — زهرا رحیمی\u200c ✓"
    stored = crypto.encrypt(text, context="t.name")
    assert text not in stored
    assert stored.startswith(f"pii1:{crypto.pii_keyring().current_id}:")
    assert crypto.decrypt(stored, context="t.name") == text


def test_same_text_encrypts_differently_each_time(key_folder: Path) -> None:
    assert crypto.encrypt("a@example.org", context="t.email") != crypto.encrypt(
        "a@example.org", context="t.email"
    )


def test_first_use_writes_a_private_key_file(key_folder: Path) -> None:
    key_id = crypto.pii_keyring().current_id
    key_file = key_folder / "pii" / f"{key_id}.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert (key_folder / "pii" / "current").read_text() == key_id
    assert len(base64.b64decode(key_file.read_text())) == 32
    crypto.blind_index("x", purpose="email")
    assert stat.S_IMODE((key_folder / "blind_index.key").stat().st_mode) == 0o600


def _standard_plus(stored: str) -> str:
    """A '+' of the standard alphabet in place of a character of the body. Not in place of a
    '-': the decoder reads '-' as '+', so that change would leave the bytes as they were (the
    test failed on one chance in 64: the random value had a '-' there)."""
    index = next(i for i in range(30, len(stored)) if stored[i] != "-")
    return stored[:index] + "+" + stored[index + 1 :]


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda s: s[:-2] + ("A" if s[-2] != "A" else "B") + s[-1], id="last-bytes"),
        pytest.param(lambda s: s[:20] + ("A" if s[20] != "A" else "B") + s[21:], id="nonce"),
        pytest.param(lambda s: s[:-10], id="truncated"),
        pytest.param(lambda s: s.split(":")[0] + ":" + s.split(":")[1] + ":", id="empty-body"),
        pytest.param(lambda s: s.replace("pii1:", "pii2:"), id="unknown-format"),
        pytest.param(lambda s: "plain text", id="not-encrypted"),
        pytest.param(lambda s: s + "!!", id="bad-base64"),
        pytest.param(lambda s: s[:30] + "!" + s[30:], id="junk-inside-base64"),
        pytest.param(_standard_plus, id="standard-alphabet"),
    ],
)
def test_tampered_value_raises_instead_of_returning_garbage(key_folder: Path, mutate) -> None:
    stored = crypto.encrypt("Reza Tehrani", context="t.name")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(mutate(stored), context="t.name")


def test_value_moved_to_another_column_does_not_decrypt(key_folder: Path) -> None:
    stored = crypto.encrypt("Reza Tehrani", context="registration.name")
    with pytest.raises(crypto.DecryptionError, match="authentication"):
        crypto.decrypt(stored, context="registration.email")


def test_value_relabelled_with_another_key_id_does_not_decrypt(key_folder: Path) -> None:
    stored = crypto.encrypt("Reza", context="t.name")
    old_id = crypto.pii_keyring().current_id
    new_id = crypto.rotate_pii_key()
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(stored.replace(old_id, new_id), context="t.name")


def test_rotation_keeps_old_values_readable_and_encrypts_with_new_key(key_folder: Path) -> None:
    old = crypto.encrypt("written before rotation", context="t.name")
    old_id = crypto.key_id_of(old)
    new_id = crypto.rotate_pii_key()
    assert new_id != old_id
    new = crypto.encrypt("written after rotation", context="t.name")
    assert crypto.key_id_of(new) == new_id
    assert crypto.decrypt(old, context="t.name") == "written before rotation"
    assert crypto.decrypt(new, context="t.name") == "written after rotation"


def test_key_written_by_another_process_is_found_on_read(key_folder: Path) -> None:
    crypto.pii_keyring()
    # Another process rotates: this one still has the old keyring loaded.
    snapshot = crypto._keyring
    new_id = crypto.rotate_pii_key()
    written_elsewhere = crypto.encrypt("from the other process", context="t.name")
    crypto._keyring = snapshot
    assert new_id not in crypto.pii_keyring().keys
    assert crypto.decrypt(written_elsewhere, context="t.name") == "from the other process"


def test_removed_key_makes_its_values_fail_loudly(key_folder: Path) -> None:
    stored = crypto.encrypt("Reza", context="t.name")
    old_id = crypto.key_id_of(stored)
    crypto.rotate_pii_key()
    (key_folder / "pii" / f"{old_id}.key").unlink()
    crypto.reset_keys()
    with pytest.raises(crypto.DecryptionError, match="No PII key"):
        crypto.decrypt(stored, context="t.name")


def test_keys_from_environment(key_folder: Path, monkeypatch) -> None:
    monkeypatch.setenv("PII_KEYS", json.dumps({"2025a": b64key(1), "2026a": b64key(2)}))
    monkeypatch.setenv("PII_KEY_ID", "2025a")
    crypto.reset_keys()
    old = crypto.encrypt("old", context="t.c")
    monkeypatch.setenv("PII_KEY_ID", "2026a")
    crypto.reset_keys()
    new = crypto.encrypt("new", context="t.c")
    assert crypto.key_id_of(old) == "2025a"
    assert crypto.key_id_of(new) == "2026a"
    assert crypto.decrypt(old, context="t.c") == "old"
    assert not (key_folder / "pii").exists(), "no key file is written when keys come from env"


@pytest.mark.parametrize(
    ("keys", "current", "message"),
    [
        ("not json", "a", "must be JSON"),
        ("{}", "a", "non-empty"),
        (json.dumps({"a": "short"}), "a", "base64|32 bytes"),
        (json.dumps({"a": b64key(1)}), "b", "PII_KEY_ID"),
        (json.dumps({"bad id!": b64key(1)}), "bad id!", "key ids"),
    ],
)
def test_bad_environment_keys_stop_with_a_clear_message(
    key_folder: Path, monkeypatch, keys: str, current: str, message: str
) -> None:
    monkeypatch.setenv("PII_KEYS", keys)
    monkeypatch.setenv("PII_KEY_ID", current)
    crypto.reset_keys()
    with pytest.raises(ImproperlyConfigured, match=message):
        crypto.encrypt("x", context="t.c")


def test_blind_index_normalises_emails(key_folder: Path) -> None:
    index = crypto.blind_index("ali@example.org", purpose="email")
    assert len(index) == 64
    assert crypto.blind_index("  ALI@Example.ORG\t", purpose="email") == index
    assert crypto.blind_index("ali2@example.org", purpose="email") != index


def test_blind_index_depends_on_purpose_and_key(key_folder: Path, monkeypatch) -> None:
    email_index = crypto.blind_index("ali@example.org", purpose="email")
    assert crypto.blind_index("ali@example.org", purpose="phone") != email_index
    monkeypatch.setenv("BLIND_INDEX_KEY", b64key(7))
    crypto.reset_keys()
    assert crypto.blind_index("ali@example.org", purpose="email") != email_index


def test_blind_index_of_other_purposes_collapses_spaces_and_case(key_folder: Path) -> None:
    assert crypto.blind_index(" Zahra  RAHIMI ", purpose="name") == crypto.blind_index(
        "zahra rahimi", purpose="name"
    )


def test_short_blind_index_key_is_refused(key_folder: Path, monkeypatch) -> None:
    monkeypatch.setenv("BLIND_INDEX_KEY", base64.b64encode(b"short").decode())
    crypto.reset_keys()
    with pytest.raises(ImproperlyConfigured, match="at least 32 bytes"):
        crypto.blind_index("x", purpose="email")
