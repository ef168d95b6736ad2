"""Rotating the proof-of-work key and the keyed-hash key: nothing in flight is lost."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from gathering.abuse import altcha, ratelimit
from gathering.abuse.altcha import Status
from gathering.abuse.models import RateCounter
from gathering.abuse.tests.conftest import redis_url_or_skip
from gathering.core import hmac_keys, key_management
from gathering.core.hmac_keys import ALTCHA, LEGACY
from gathering.core.key_management import KeyInUseError

pytestmark = pytest.mark.django_db


def solved(*, now: float | None = None) -> str:
    challenge = altcha.create_challenge(max_number=500, now=now)
    number = altcha.solve(challenge)
    assert number is not None
    return altcha.encode_payload(challenge, number)


def salt_of(payload: str) -> str:
    return str(json.loads(base64.b64decode(payload))["salt"])


def test_a_challenge_issued_before_a_rotation_verifies_after_it(isolated_keys: Path) -> None:
    before = solved()
    assert "kid=" not in salt_of(before)  # the original key: the salt as it always was

    key_id = altcha.rotate_key()
    after = solved()

    assert f"&kid={key_id}&" in salt_of(after)
    assert altcha.verify_solution(payload=before).ok
    assert altcha.verify_solution(payload=after).ok
    # Spent is spent, whichever key signed it.
    assert altcha.verify_solution(payload=before).status is Status.REPLAYED
    assert altcha.verify_solution(payload=after).status is Status.REPLAYED


def test_the_old_key_is_retired_only_once_its_challenges_expired(
    isolated_keys: Path, settings
) -> None:
    before = solved()
    key_id = altcha.rotate_key()
    keyring = hmac_keys.load(ALTCHA)
    until = key_management.altcha_challenges_valid_until(keyring)

    with pytest.raises(KeyInUseError, match="may be solved until"):
        key_management.retire_altcha_key(LEGACY)
    with pytest.raises(CommandError, match="may be solved until"):
        call_command("retire_altcha_key", LEGACY)
    with pytest.raises(hmac_keys.KeyringError, match="current one"):
        key_management.retire_altcha_key(key_id, at=until + dt.timedelta(seconds=1))

    key_management.retire_altcha_key(LEGACY, at=until + dt.timedelta(seconds=1))

    assert not (isolated_keys / "keys" / altcha.KEY_FILE).exists()
    assert altcha.verify_solution(payload=before).status is Status.BAD_SIGNATURE
    assert altcha.verify_solution(payload=solved()).ok


def test_a_challenge_naming_an_unknown_key_has_a_bad_signature(isolated_keys: Path) -> None:
    altcha.rotate_key()
    payload = solved()
    fields = json.loads(base64.b64decode(payload))
    nonce, _, _ = str(fields["salt"]).partition("&kid=")
    for kid in ("nosuchkey", "erased", "legacy"):
        fields["salt"] = f"{nonce}&kid={kid}&"
        forged = base64.b64encode(json.dumps(fields).encode()).decode()
        assert altcha.verify_solution(payload=forged).status is Status.BAD_SIGNATURE
    for salt in (f"{nonce}&kid=&", f"{nonce}&kid=UPPER&", f"{nonce}&kid={'a' * 16}&"):
        fields["salt"] = salt
        forged = base64.b64encode(json.dumps(fields).encode()).decode()
        assert altcha.verify_solution(payload=forged).status is Status.MALFORMED


def test_rotate_and_retire_commands(isolated_keys: Path, capsys) -> None:
    call_command("rotate_altcha_key")
    captured = capsys.readouterr()
    key_id = captured.out.strip()
    assert hmac_keys.load(ALTCHA).current_id == key_id
    assert "signs challenges from now on" in captured.err
    call_command("retire_altcha_key", LEGACY, "--force")
    assert "retired" in capsys.readouterr().out
    assert hmac_keys.load(ALTCHA).retired == {LEGACY}


def test_keys_from_the_environment_rotate_there(isolated_keys: Path, monkeypatch) -> None:
    monkeypatch.setenv("ALTCHA_HMAC_KEY", base64.b64encode(b"o" * 32).decode())
    before = solved()
    monkeypatch.setenv("ALTCHA_HMAC_KEYS", json.dumps({"k2": base64.b64encode(b"n" * 32).decode()}))
    monkeypatch.setenv("ALTCHA_HMAC_KEY_ID", "k2")
    after = solved()
    assert "&kid=k2&" in salt_of(after)
    assert altcha.verify_solution(payload=before).ok
    assert altcha.verify_solution(payload=after).ok
    with pytest.raises(CommandError, match="ALTCHA_HMAC_KEYS"):
        call_command("rotate_altcha_key")


# --- rate limits -----------------------------------------------------------------------------

NOW = 1_699_999_200.0  # a window boundary for windows of 60 and 3600 s


@pytest.fixture(params=["database", "redis"])
def backend(request, settings):
    settings.REDIS_URL = redis_url_or_skip() if request.param == "redis" else ""
    return request.param


def test_hits_before_a_rotation_still_count_in_their_window(isolated_keys: Path, backend) -> None:
    scope = f"test-{uuid.uuid4().hex[:12]}"
    for second in range(3):
        ratelimit.hit(scope=scope, key="203.0.113.9", limit=4, window=3600, now=NOW + second)

    key_id = hmac_keys.rotate(hmac_keys.HMAC)

    fourth = ratelimit.hit(scope=scope, key="203.0.113.9", limit=4, window=3600, now=NOW + 10)
    fifth = ratelimit.hit(scope=scope, key="203.0.113.9", limit=4, window=3600, now=NOW + 11)
    other = ratelimit.hit(scope=scope, key="203.0.113.10", limit=4, window=3600, now=NOW + 12)
    assert (fourth.count, fourth.over) == (4, False)
    assert (fifth.count, fifth.over) == (5, True)
    assert other.count == 1
    if backend == "database":
        hashes = set(RateCounter.objects.filter(scope=scope).values_list("hashed_key", flat=True))
        assert {hashed.partition(":")[0] for hashed in hashes if ":" in hashed} == {key_id}
        assert len(hashes) == 3  # one address under two keys, the other under the new key


def test_windows_after_the_rotation_only_count_the_current_key(
    isolated_keys: Path, django_assert_num_queries, settings
) -> None:
    settings.REDIS_URL = ""  # the database backend: its one statement is inspected
    hmac_keys.rotate(hmac_keys.HMAC)
    later = time.time() + 7200
    scope = f"test-{uuid.uuid4().hex[:12]}"
    with django_assert_num_queries(1) as context:
        ratelimit.hit(scope=scope, key="198.51.100.1", limit=1, window=60, now=later)
    assert "SELECT" not in context.captured_queries[0]["sql"].upper().partition("RETURNING")[2]
