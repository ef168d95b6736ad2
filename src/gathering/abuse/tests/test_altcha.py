"""The ALTCHA protocol: challenges, each verification outcome, replays, expiry, the key."""

from __future__ import annotations

import base64
import json
import time

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from gathering.abuse import altcha
from gathering.abuse.altcha import Status
from gathering.abuse.models import SpentChallenge

pytestmark = pytest.mark.django_db


def _payload(fields: dict[str, object]) -> str:
    return base64.b64encode(json.dumps(fields).encode()).decode()


def _decode(payload: str) -> dict[str, object]:
    return json.loads(base64.b64decode(payload))


def test_challenge_has_the_widget_shape_and_our_signature(settings) -> None:
    settings.ALTCHA_MAX_NUMBER = 50_000
    challenge = altcha.create_challenge()
    assert set(challenge) == {"algorithm", "challenge", "maxnumber", "salt", "signature"}
    assert challenge["algorithm"] == "SHA-256"
    assert challenge["maxnumber"] == 50_000
    salt = challenge["salt"]
    assert len(salt) >= 10  # the widget refuses shorter salts
    expires = int(salt.split("expires=")[1].rstrip("&"))
    assert abs(expires - (time.time() + settings.ALTCHA_EXPIRES)) < 5
    assert len(challenge["challenge"]) == len(challenge["signature"]) == 64
    assert altcha.create_challenge()["salt"] != salt


def test_solved_challenge_verifies_ok_and_is_recorded_as_spent(solved) -> None:
    payload = solved()
    result = altcha.verify_solution(payload=payload)
    assert result.ok
    assert result.status is Status.OK
    assert SpentChallenge.objects.count() == 1


def test_widget_extras_took_and_test_are_ignored(solved) -> None:
    fields = _decode(solved()) | {"took": 412, "test": None}
    assert altcha.verify_solution(payload=_payload(fields)).ok


@pytest.mark.parametrize("payload", [None, "", "   ", "\n"])
def test_no_payload_is_missing(payload) -> None:
    assert altcha.verify_solution(payload=payload).status is Status.MISSING


@pytest.mark.parametrize(
    "payload",
    [
        "not base64 at all!",
        "<script>alert(1)</script>",
        "\u202eeyJhbGdvcml0aG0iOiJTSEEtMjU2In0=",  # RTL override in front
        "eyJhbGdv\u200bcml0aG0iOiJTSEEtMjU2In0=",  # zero-width space inside
        base64.b64encode(b"\xff\xfe\x00garbage").decode(),
        base64.b64encode(b"[1, 2, 3]").decode(),
        base64.b64encode(b"null").decode(),
        base64.b64encode(b"{").decode(),
        base64.b64encode(b"[" * 5000 + b"]" * 5000).decode()[:900],
        "A" * 100_000,
        "ç" * 50,
    ],
)
def test_garbage_is_malformed(payload) -> None:
    assert altcha.verify_solution(payload=payload).status is Status.MALFORMED


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("algorithm", "SHA-1"),
        ("algorithm", None),
        ("number", "42"),
        ("number", 4.0),
        ("number", True),
        ("number", -1),
        ("number", 10**30),
        ("challenge", "ABC"),
        ("challenge", None),
        ("signature", 12),
        ("salt", "short"),
        ("salt", "0123456789abcdef01234567?expires=9999999999"),  # no "&": splicing possible
        ("salt", "0123456789abcdef01234567?expires=9999999999&x=<script>&"),
    ],
)
def test_wrong_shapes_are_malformed(solved, field, value) -> None:
    fields = _decode(solved()) | {field: value}
    assert altcha.verify_solution(payload=_payload(fields)).status is Status.MALFORMED


def test_missing_field_is_malformed(solved) -> None:
    fields = _decode(solved())
    del fields["salt"]
    assert altcha.verify_solution(payload=_payload(fields)).status is Status.MALFORMED


def test_a_challenge_not_signed_by_us_has_a_bad_signature(solved) -> None:
    fields = _decode(solved())
    fields["signature"] = "0" * 64
    assert altcha.verify_solution(payload=_payload(fields)).status is Status.BAD_SIGNATURE


def test_a_challenge_signed_with_another_key_has_a_bad_signature(solved, monkeypatch) -> None:
    payload = solved()
    monkeypatch.setenv("ALTCHA_HMAC_KEY", base64.b64encode(b"k" * 32).decode())
    altcha.reset_key()
    try:
        assert altcha.verify_solution(payload=payload).status is Status.BAD_SIGNATURE
    finally:
        monkeypatch.delenv("ALTCHA_HMAC_KEY")
        altcha.reset_key()
    assert altcha.verify_solution(payload=payload).ok


def test_wrong_number_is_a_wrong_solution(solved) -> None:
    fields = _decode(solved())
    fields["number"] = int(fields["number"]) + 1
    assert altcha.verify_solution(payload=_payload(fields)).status is Status.WRONG_SOLUTION


def test_a_moved_expiry_no_longer_matches_the_challenge(solved) -> None:
    fields = _decode(solved(now=time.time() - 10_000))
    nonce = str(fields["salt"]).split("?")[0]
    fields["salt"] = f"{nonce}?expires={int(time.time()) + 3600}&"
    assert altcha.verify_solution(payload=_payload(fields)).status is Status.WRONG_SOLUTION


def test_a_solution_after_expiry_is_expired(solved, settings) -> None:
    created = time.time()
    payload = solved(now=created)
    later = created + settings.ALTCHA_EXPIRES + 1
    assert altcha.verify_solution(payload=payload, now=later).status is Status.EXPIRED
    assert not SpentChallenge.objects.exists()
    assert altcha.verify_solution(payload=payload, now=later - 2).ok


def test_expiry_follows_the_clock(solved, settings) -> None:
    freezegun = pytest.importorskip("freezegun")
    with freezegun.freeze_time("2026-06-27 10:00:00"):
        payload = solved()
    with freezegun.freeze_time("2026-06-27 10:00:00") as clock:
        clock.tick(settings.ALTCHA_EXPIRES + 1)
        assert altcha.verify_solution(payload=payload).status is Status.EXPIRED


def test_second_use_of_a_solution_is_replayed(solved) -> None:
    payload = solved()
    assert altcha.verify_solution(payload=payload).ok
    assert altcha.verify_solution(payload=payload).status is Status.REPLAYED
    assert altcha.verify_solution(payload=payload).status is Status.REPLAYED
    assert SpentChallenge.objects.count() == 1


def test_a_replay_with_padding_or_whitespace_is_still_a_replay(solved) -> None:
    payload = solved()
    assert altcha.verify_solution(payload=payload).ok
    assert altcha.verify_solution(payload=f"  {payload}\n").status is Status.REPLAYED


def test_a_rolled_back_transaction_does_not_spend_the_challenge(solved) -> None:
    payload = solved()

    class BoomError(Exception):
        pass

    with pytest.raises(BoomError), transaction.atomic():
        assert altcha.verify_solution(payload=payload).ok
        raise BoomError
    assert not SpentChallenge.objects.exists()
    assert altcha.verify_solution(payload=payload).ok


def test_create_challenge_refuses_a_silly_difficulty() -> None:
    with pytest.raises(ValueError, match="max_number"):
        altcha.create_challenge(max_number=0)


def test_key_file_is_created_once_and_kept(settings) -> None:
    altcha.reset_key()
    key = altcha.hmac_key()
    path = settings.DATA_DIR / "keys" / altcha.KEY_FILE
    assert path.exists()
    assert path.stat().st_mode & 0o777 == 0o600
    altcha.reset_key()
    assert altcha.hmac_key() == key


@pytest.mark.parametrize("value", ["not base64!", base64.b64encode(b"short").decode()])
def test_a_bad_key_in_the_environment_stops_with_a_clear_error(monkeypatch, value) -> None:
    monkeypatch.setenv("ALTCHA_HMAC_KEY", value)
    altcha.reset_key()
    try:
        with pytest.raises(ImproperlyConfigured, match="ALTCHA_HMAC_KEY"):
            altcha.hmac_key()
    finally:
        monkeypatch.delenv("ALTCHA_HMAC_KEY")
        altcha.reset_key()


def test_verify_is_one_query(solved, django_assert_num_queries) -> None:
    payload = solved()
    with django_assert_num_queries(1):
        assert altcha.verify_solution(payload=payload).ok
    with django_assert_num_queries(0):
        assert altcha.verify_solution(payload="garbage").status is Status.MALFORMED


# --- checked outside the transaction, spent inside -------------------------------------------


def test_check_solution_writes_nothing_and_tells_what_to_spend(
    solved, django_assert_num_queries
) -> None:
    payload = solved()
    salt = str(_decode(payload)["salt"])
    expires = int(salt.split("expires=")[1].split("&")[0])

    with django_assert_num_queries(0):
        checked = altcha.check_solution(payload=payload)

    assert isinstance(checked, altcha.CheckedSolution)
    assert checked.challenge == _decode(payload)["challenge"]
    assert checked.expires_at.timestamp() == expires
    assert not SpentChallenge.objects.exists()
    # Checking again is not a replay: nothing was spent.
    assert isinstance(altcha.check_solution(payload=payload), altcha.CheckedSolution)


def _failures(solved) -> dict[Status, tuple[str | None, float | None]]:
    """A payload (and a moment to check it at) for each way a solution fails."""
    fields = _decode(solved())
    wrong_number = fields | {"number": int(fields["number"]) + 1}
    created = time.time()
    return {
        Status.MISSING: (None, None),
        Status.MALFORMED: ("not base64 at all!", None),
        Status.BAD_SIGNATURE: (_payload(fields | {"signature": "0" * 64}), None),
        Status.WRONG_SOLUTION: (_payload(wrong_number), None),
        Status.EXPIRED: (solved(now=created), created + 10**6),
    }


def test_check_solution_fails_as_verify_solution_does(solved, django_assert_num_queries) -> None:
    for status, (payload, moment) in _failures(solved).items():
        with django_assert_num_queries(0):
            checked = altcha.check_solution(payload=payload, now=moment)

        assert checked == altcha.verify_solution(payload=payload, now=moment)
        assert isinstance(checked, altcha.AltchaResult) and checked.status is status

    assert not SpentChallenge.objects.exists()


def test_spending_a_checked_solution_twice_is_ok_then_replayed(solved) -> None:
    payload = solved()
    checked = altcha.check_solution(payload=payload)
    assert isinstance(checked, altcha.CheckedSolution)

    first, second = checked.spend(), checked.spend()

    assert first.status is Status.OK and first.ok
    assert second.status is Status.REPLAYED and not second.ok
    assert SpentChallenge.objects.count() == 1
    assert altcha.verify_solution(payload=payload).status is Status.REPLAYED


def test_two_checks_of_one_solution_spend_it_once(solved) -> None:
    # Two requests with the same solution both pass the check; only one may spend it.
    payload = solved()
    one, other = altcha.check_solution(payload=payload), altcha.check_solution(payload=payload)
    assert isinstance(one, altcha.CheckedSolution) and isinstance(other, altcha.CheckedSolution)

    assert [one.spend().status, other.spend().status] == [Status.OK, Status.REPLAYED]


def test_a_solution_spent_before_still_passes_the_check(solved) -> None:
    # The check cannot know (it reads nothing): spending tells.
    payload = solved()
    assert altcha.verify_solution(payload=payload).ok

    checked = altcha.check_solution(payload=payload)

    assert isinstance(checked, altcha.CheckedSolution)
    assert checked.spend().status is Status.REPLAYED


def test_a_spend_in_a_rolled_back_transaction_does_not_count(solved) -> None:
    payload = solved()
    checked = altcha.check_solution(payload=payload)
    assert isinstance(checked, altcha.CheckedSolution)

    class BoomError(Exception):
        pass

    with pytest.raises(BoomError), transaction.atomic():
        assert checked.spend().ok
        raise BoomError

    assert not SpentChallenge.objects.exists()
    assert checked.spend().ok
