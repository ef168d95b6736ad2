"""Keyrings of the HMAC secrets (``core/hmac_keys.py``) and blind indexes across rotations."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from gathering.core import crypto, hmac_keys
from gathering.core.hmac_keys import ALTCHA, HMAC, LEGACY, KeyringError

pytestmark = pytest.mark.engine_agnostic


def b64key(byte: int, size: int = 32) -> str:
    return base64.b64encode(bytes([byte]) * size).decode()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_use_makes_the_original_key_and_indexes_look_as_before(isolated_keys: Path) -> None:
    index = crypto.blind_index("ali@example.org", purpose="email")

    legacy_file = isolated_keys / "keys" / "blind_index.key"
    assert mode(legacy_file) == 0o600
    keyring = hmac_keys.load(HMAC)
    assert keyring.current_id == LEGACY and list(keyring.keys) == [LEGACY]
    # Bare 64 hex characters: rows written before key ids existed keep matching.
    assert len(index) == 64 and ":" not in index
    assert crypto.blind_index_key_id(index) == LEGACY
    assert crypto.blind_indexes("ali@example.org", purpose="email") == [index]


def test_rotation_tags_new_indexes_and_look_ups_still_find_old_ones(isolated_keys: Path) -> None:
    before = crypto.blind_index(" Ali@Example.ORG ", purpose="email")

    key_id = crypto.rotate_hmac_key()

    after = crypto.blind_index("ali@example.org", purpose="email")
    assert after.startswith(f"{key_id}:") and len(after) <= 64
    assert len(after.partition(":")[2]) == crypto.TAGGED_HEX_CHARS
    assert crypto.blind_index_key_id(after) == key_id
    assert crypto.blind_indexes("ALI@example.org", purpose="email") == [after, before]
    folder = isolated_keys / "keys" / "hmac"
    assert mode(folder) == 0o700
    assert mode(folder / f"{key_id}.key") == 0o600
    assert (folder / "current").read_text() == key_id
    assert len(base64.b64decode((folder / f"{key_id}.key").read_text())) == 32


def test_short_hashes_keep_their_length_after_the_key_id(isolated_keys: Path) -> None:
    legacy = crypto.blind_index("203.0.113.0/24", purpose="abuse-prefix", hex_chars=32)
    key_id = crypto.rotate_hmac_key()
    tagged = crypto.blind_index("203.0.113.0/24", purpose="abuse-prefix", hex_chars=32)
    assert len(legacy) == 32
    assert tagged == f"{key_id}:{tagged[-32:]}"


def test_a_rotation_in_another_process_is_seen_without_a_restart(isolated_keys: Path) -> None:
    crypto.blind_index("x@example.org", purpose="email")
    stale = hmac_keys._cache[HMAC.name]
    key_id = hmac_keys.rotate(HMAC)
    # This process still holds the keyring it loaded before the other process rotated.
    hmac_keys._cache[HMAC.name] = stale
    assert crypto.blind_index("x@example.org", purpose="email").startswith(f"{key_id}:")


def test_retiring_the_original_key_deletes_it_and_leaves_a_tombstone(isolated_keys: Path) -> None:
    crypto.blind_index("x@example.org", purpose="email")
    with pytest.raises(KeyringError, match="current one: rotate"):
        hmac_keys.retire(HMAC, LEGACY)
    key_id = hmac_keys.rotate(HMAC)

    hmac_keys.retire(HMAC, LEGACY)

    assert not (isolated_keys / "keys" / "blind_index.key").exists()
    assert (isolated_keys / "keys" / "hmac" / "legacy.retired").exists()
    keyring = hmac_keys.load(HMAC)
    assert list(keyring.keys) == [key_id] and keyring.retired == {LEGACY}
    assert crypto.blind_indexes("x@example.org", purpose="email") == [
        crypto.blind_index("x@example.org", purpose="email")
    ]
    hmac_keys.retire(HMAC, LEGACY)  # again: nothing to do
    with pytest.raises(KeyringError, match="no keyed-hash"):
        hmac_keys.retire(HMAC, "nonexistent")


def test_the_current_key_may_be_chosen_among_the_files(isolated_keys: Path, monkeypatch) -> None:
    key_id = hmac_keys.rotate(HMAC)
    monkeypatch.setenv("HMAC_KEY_ID", LEGACY)
    assert hmac_keys.load(HMAC).current_id == LEGACY
    monkeypatch.setenv("HMAC_KEY_ID", "2020-gone")
    with pytest.raises(ImproperlyConfigured, match="has no file"):
        hmac_keys.load(HMAC)
    monkeypatch.delenv("HMAC_KEY_ID")
    assert hmac_keys.load(HMAC).current_id == key_id


def test_a_current_file_naming_a_missing_key_is_a_clear_error(isolated_keys: Path) -> None:
    key_id = hmac_keys.rotate(HMAC)
    (isolated_keys / "keys" / "hmac" / f"{key_id}.key").unlink()
    with pytest.raises(ImproperlyConfigured, match=f"{key_id}.*has no file"):
        hmac_keys.load(HMAC)


def test_a_damaged_key_file_is_a_clear_error(isolated_keys: Path) -> None:
    key_id = hmac_keys.rotate(HMAC)
    (isolated_keys / "keys" / "hmac" / f"{key_id}.key").write_text("not base64!")
    with pytest.raises(ImproperlyConfigured, match="not valid base64"):
        hmac_keys.load(HMAC)


def test_keys_from_the_environment(isolated_keys: Path, monkeypatch) -> None:
    monkeypatch.setenv("BLIND_INDEX_KEY", b64key(1))
    old = crypto.blind_index("ali@example.org", purpose="email")
    monkeypatch.setenv("HMAC_KEYS", json.dumps({"2027a": b64key(2)}))
    monkeypatch.setenv("HMAC_KEY_ID", "2027a")

    new = crypto.blind_index("ali@example.org", purpose="email")

    assert ":" not in old and new.startswith("2027a:")
    assert crypto.blind_indexes("ali@example.org", purpose="email") == [new, old]
    assert not (isolated_keys / "keys").exists(), "no key file is written when keys come from env"
    with pytest.raises(KeyringError, match="HMAC_KEYS"):
        hmac_keys.rotate(HMAC)
    with pytest.raises(KeyringError, match="remove the key 'legacy' from BLIND_INDEX_KEY"):
        hmac_keys.retire(HMAC, LEGACY)
    files = hmac_keys.environment_files()
    assert files["keys/hmac/current"] == b"2027a"
    assert base64.b64decode(files["keys/hmac/2027a.key"]) == bytes([2]) * 32
    assert base64.b64decode(files["keys/blind_index.key"]) == bytes([1]) * 32


@pytest.mark.parametrize("family", [HMAC, ALTCHA], ids=["hmac", "altcha"])
def test_the_raw_environment_read_on_each_use_follows_os_environ(
    isolated_keys: Path, monkeypatch, family
) -> None:
    """Each use compares the raw environment (bytes) with the keys': it must see every change
    made through os.environ, as os.environ reads it."""

    def expected() -> tuple[bytes | None, ...]:
        names = (family.env_keys, family.legacy_env, family.env_key_id)
        return tuple(os.fsencode(os.environ[n]) if n in os.environ else None for n in names)

    for name in (family.env_keys, family.legacy_env, family.env_key_id):
        monkeypatch.delenv(name, raising=False)
    assert hmac_keys._environment_stamp(family) == expected() == (None, None, None)
    monkeypatch.setenv(family.legacy_env, b64key(1))
    monkeypatch.setenv(family.env_key_id, "légacy-ü")  # not a valid id: only compared here
    assert hmac_keys._environment_stamp(family) == expected()
    os.environ[family.env_keys] = json.dumps({"k1": b64key(2)})
    try:
        assert hmac_keys._environment_stamp(family) == expected()
        assert hmac_keys._environment_stamp(family)[0] is not None
    finally:
        del os.environ[family.env_keys]
    assert hmac_keys._environment_stamp(family) == expected()
    assert hmac_keys._environment_stamp(family)[0] is None


def test_a_key_set_in_the_environment_is_used_at_once(isolated_keys: Path, monkeypatch) -> None:
    before = crypto.blind_index("a", purpose="email")
    monkeypatch.setenv("HMAC_KEYS", json.dumps({"k9": b64key(9)}))
    assert crypto.blind_index("a", purpose="email").startswith("k9:")
    monkeypatch.delenv("HMAC_KEYS")
    assert crypto.blind_index("a", purpose="email") == before


def test_one_key_in_the_environment_needs_no_id(isolated_keys: Path, monkeypatch) -> None:
    monkeypatch.setenv("HMAC_KEYS", json.dumps({"k1": b64key(3)}))
    assert crypto.blind_index("a", purpose="email").startswith("k1:")


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"HMAC_KEYS": "not json"}, "HMAC_KEYS must be JSON"),
        ({"HMAC_KEYS": "{}"}, "non-empty JSON object"),
        ({"HMAC_KEYS": "[1]"}, "non-empty JSON object"),
        ({"HMAC_KEYS": json.dumps({"k1": "short"})}, r"HMAC_KEYS\[k1\]: not valid base64"),
        ({"HMAC_KEYS": json.dumps({"k1": b64key(1, 16)})}, "at least 32 bytes"),
        ({"HMAC_KEYS": json.dumps({"k1": 42})}, "not valid base64"),
        ({"HMAC_KEYS": json.dumps({"Bad Id!": b64key(1)})}, "not a key id"),
        ({"HMAC_KEYS": json.dumps({"a" * 16: b64key(1)})}, "not a key id"),
        ({"HMAC_KEYS": json.dumps({"erased": b64key(1)})}, "not a key id"),
        ({"HMAC_KEYS": json.dumps({"legacy": b64key(1)})}, "is the key in BLIND_INDEX_KEY"),
        (
            {"HMAC_KEYS": json.dumps({"k1": b64key(1), "k2": b64key(2)})},
            "HMAC_KEY_ID must name one of the keys: k1, k2",
        ),
        (
            {"HMAC_KEYS": json.dumps({"k1": b64key(1)}), "BLIND_INDEX_KEY": b64key(2)},
            "HMAC_KEY_ID must name one of the keys: k1, legacy",
        ),
        (
            {"HMAC_KEYS": json.dumps({"k1": b64key(1)}), "HMAC_KEY_ID": "k2"},
            "HMAC_KEY_ID must name",
        ),
        ({"BLIND_INDEX_KEY": "***"}, "BLIND_INDEX_KEY: not valid base64"),
        ({"BLIND_INDEX_KEY": b64key(1, 8)}, "BLIND_INDEX_KEY: the key must hold at least 32"),
        ({"ALTCHA_HMAC_KEYS": "{"}, "ALTCHA_HMAC_KEYS must be JSON"),
    ],
)
def test_bad_configuration_stops_with_a_clear_message(
    isolated_keys: Path, monkeypatch, variables: dict[str, str], message: str
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    family = ALTCHA if any(name.startswith("ALTCHA") for name in variables) else HMAC
    with pytest.raises(ImproperlyConfigured, match=message):
        hmac_keys.load(family)


@pytest.mark.parametrize(
    ("stored", "key_id"),
    [
        ("ab" * 32, LEGACY),
        ("ab" * 16, LEGACY),
        ("20270101-abc123:" + "cd" * 24, "20270101-abc123"),
        ("k1:" + "cd" * 16, "k1"),
        ("erased:42", None),
        ("", None),
        ("not a hash", None),
        ("Bad:" + "cd" * 24, None),
    ],
)
def test_key_id_of_a_stored_hash(stored: str, key_id: str | None) -> None:
    assert crypto.blind_index_key_id(stored) == key_id


def test_the_two_families_are_separate(isolated_keys: Path) -> None:
    hmac_id = hmac_keys.rotate(HMAC)
    assert hmac_keys.load(ALTCHA).current_id == LEGACY
    altcha_id = hmac_keys.rotate(ALTCHA)
    assert hmac_keys.load(HMAC).current_id == hmac_id
    assert (isolated_keys / "keys" / "altcha" / f"{altcha_id}.key").exists()
    assert mode(isolated_keys / "keys" / "altcha_hmac.key") == 0o600
