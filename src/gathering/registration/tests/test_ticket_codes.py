"""Ticket codes (sign, decode, verify) and the signing keys behind them. No database needed."""

from __future__ import annotations

import base64
import datetime as dt
import io
import os
import stat
import threading
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from gathering.registration.keys import (
    KeyringError,
    SigningKey,
    current_signing_key,
    load_keyring,
    public_keys,
    retire_ticket_key,
    rotate_ticket_key,
)
from gathering.registration.management.commands import retire_ticket_key as retire_command
from gathering.registration.management.commands import rotate_ticket_key as rotate_command
from gathering.registration.ticket_codes import (
    CODE_LENGTH,
    PREFIX,
    REASONS,
    CategoryCode,
    MalformedTicketError,
    TicketClaims,
    Verdict,
    VerdictStatus,
    decode_ticket,
    new_ticket_id,
    sign_ticket,
    verify_ticket,
)

UTC = dt.UTC
OPENS = dt.datetime(2026, 6, 27, 6, 0, tzinfo=UTC)
CLOSES = dt.datetime(2026, 6, 28, 22, 0, tzinfo=UTC)
DURING = dt.datetime(2026, 6, 27, 10, 42, tzinfo=UTC)
QR_ALPHANUMERIC = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")


def claims(**overrides: object) -> TicketClaims:
    values: dict[str, object] = {
        "ticket_id": bytes.fromhex("0123456789abcdef"),
        "edition_year": 2026,
        "category": CategoryCode.DELEGATION,
        "valid_from": OPENS,
        "valid_until": CLOSES,
    }
    values.update(overrides)
    return TicketClaims(**values)  # type: ignore[arg-type]


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.generate(7)


def check(
    code: object, key: SigningKey, *, now: dt.datetime = DURING, revoked: object = frozenset()
) -> Verdict:
    return verify_ticket(
        code,  # type: ignore[arg-type]
        public_keys={key.key_id: key.public_bytes},
        edition_year=2026,
        now=now,
        revoked=revoked,  # type: ignore[arg-type]
    )


# --- the code itself -------------------------------------------------------------------------


def test_round_trip_gives_back_the_claims_key_id_and_signed_bytes(key: SigningKey) -> None:
    original = claims(category=CategoryCode.PRESS)
    code = sign_ticket(original, key=key)

    decoded, key_id, signed, signature = decode_ticket(code)

    assert decoded == original
    assert key_id == 7
    assert len(signed) == 22
    assert len(signature) == 64
    key.private_key.public_key().verify(signature, signed)  # raises if not genuine


def test_code_is_short_and_made_of_qr_alphanumeric_characters_only(key: SigningKey) -> None:
    code = sign_ticket(claims(), key=key)

    assert code.startswith(PREFIX)
    assert len(code) == CODE_LENGTH == 142
    assert set(code) <= QR_ALPHANUMERIC


def test_code_carries_no_personal_data_only_the_claims(key: SigningKey) -> None:
    code = sign_ticket(claims(), key=key)
    raw = base64.b32decode(code.removeprefix(PREFIX) + "======")

    assert raw[3:11] == bytes.fromhex("0123456789abcdef")  # ticket id, in the clear
    assert len(raw) == 86  # 22 bytes of claims and ids, 64 of signature: no room for a name


def test_times_travel_as_whole_seconds_rounded_down(key: SigningKey) -> None:
    code = sign_ticket(
        claims(valid_from=OPENS.replace(microsecond=999_999), valid_until=CLOSES), key=key
    )

    assert decode_ticket(code)[0].valid_from == OPENS


def test_times_in_other_zones_mean_the_same_instant(key: SigningKey) -> None:
    paris = dt.timezone(dt.timedelta(hours=2))
    code = sign_ticket(claims(valid_from=OPENS.astimezone(paris)), key=key)

    assert decode_ticket(code)[0].valid_from == OPENS


def test_ticket_ids_are_random_not_sequential() -> None:
    ids = [new_ticket_id() for _ in range(1000)]

    assert len(set(ids)) == 1000
    assert all(len(ticket_id) == 8 for ticket_id in ids)
    numbers = sorted(int.from_bytes(ticket_id, "big") for ticket_id in ids)
    assert numbers[-1] - numbers[0] > 2**60  # spread over the whole space, not a counter


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ticket_id": b"short"}, "ticket_id"),
        ({"ticket_id": "0123456789abcdef"}, "ticket_id"),
        ({"edition_year": 70000}, "edition_year"),
        ({"category": 9}, "CategoryCode"),
        ({"valid_from": dt.datetime(2026, 6, 27, 6, 0)}, "aware"),  # noqa: DTZ001
        ({"valid_from": CLOSES, "valid_until": OPENS}, "before"),
        ({"valid_from": OPENS, "valid_until": OPENS}, "before"),
    ],
)
def test_claims_refuse_what_a_code_cannot_carry(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        claims(**overrides)


def test_plain_int_category_becomes_its_category_code() -> None:
    assert claims(category=5).category is CategoryCode.VOLUNTEER


@pytest.mark.parametrize(
    ("valid_from", "valid_until", "message"),
    [
        (dt.datetime(1969, 1, 1, tzinfo=UTC), CLOSES, "1970 and 2106"),
        (OPENS, dt.datetime(2107, 1, 1, tzinfo=UTC), "1970 and 2106"),
        (OPENS, OPENS + dt.timedelta(microseconds=500), "empty"),
    ],
)
def test_sign_refuses_windows_the_code_cannot_hold(
    key: SigningKey, valid_from: dt.datetime, valid_until: dt.datetime, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        sign_ticket(claims(valid_from=valid_from, valid_until=valid_until), key=key)


def test_decode_refuses_a_non_canonical_spelling_of_a_genuine_code(key: SigningKey) -> None:
    code = sign_ticket(claims(), key=key)
    # The last character's two low bits are padding; setting one gives the same bytes to a
    # lenient decoder, so it must be refused or one ticket would have two accepted codes.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    last = alphabet.index(code[-1])
    sloppy = code[:-1] + alphabet[last | 1]

    with pytest.raises(MalformedTicketError, match="canonical"):
        decode_ticket(sloppy)
    assert check(sloppy, key).status is VerdictStatus.MALFORMED
    assert check(code.lower(), key).status is VerdictStatus.MALFORMED
    assert check(code + " ", key).status is VerdictStatus.MALFORMED


def test_decode_accepts_the_code_as_ascii_bytes(key: SigningKey) -> None:
    code = sign_ticket(claims(), key=key)

    assert decode_ticket(code.encode())[0] == claims()  # type: ignore[arg-type]
    assert check(code.encode(), key).status is VerdictStatus.VALID


# --- verdicts --------------------------------------------------------------------------------


def test_valid_ticket_is_valid_with_its_id_and_category(key: SigningKey) -> None:
    verdict = check(sign_ticket(claims(), key=key), key)

    assert verdict.status is VerdictStatus.VALID
    assert verdict.accepted
    assert verdict.ticket_id == bytes.fromhex("0123456789abcdef")
    assert verdict.category is CategoryCode.DELEGATION
    assert verdict.key_id == 7
    assert str(verdict.reason) == "Valid ticket."


HOSTILE_INPUTS = [
    "",
    " ",
    "GT1:",
    "hello",
    "<script>alert(1)</script>",
    "\u202eGT1:" + "A" * 138,
    "GT1:" + "A" * 137 + "\u0661",  # Arabic-Indic digit one: isdigit, not base32
    "GT1:" + "a" * 138,
    "GT2:" + "A" * 138,
    "GT1:" + "=" * 138,
    "GT1:" + "\x00" * 138,
    "GT1:" + "A" * 10_000,
    "x" * 1_000_000,
    "\ud800" * 142,  # lone surrogates
    "🎫" * 142,
    b"\xff\xfe\x00garbage",
    b"",
    bytearray(b"GT1:"),
    None,
    12345,
    ["GT1:"],
]


@pytest.mark.parametrize("code", HOSTILE_INPUTS, ids=range(len(HOSTILE_INPUTS)))
def test_garbage_of_any_kind_is_malformed_never_an_exception(key: SigningKey, code: object) -> None:
    verdict = check(code, key)

    assert verdict.status is VerdictStatus.MALFORMED
    assert not verdict.accepted
    assert verdict.ticket_id is None
    assert verdict.category is None
    assert "Not a readable ticket code" in str(verdict.reason)


def _with_payload_bytes(code: str, changes: dict[int, int], key: SigningKey) -> str:
    """A correctly signed code with payload bytes changed (``{offset: value}``)."""
    raw = bytearray(base64.b32decode(code.removeprefix(PREFIX) + "======"))
    for offset, value in changes.items():
        raw[offset] = value
    payload = bytes(raw[:22])
    return PREFIX + base64.b32encode(payload + key.sign(payload)).decode().rstrip("=")


@pytest.mark.parametrize(
    "changes",
    [
        {0: 2},  # format version 2
        {13: 0},  # category 0
        {13: 7},  # category 7
        {1: 0, 2: 0},  # key id 0
        {14: 0xFF, 15: 0xFF, 16: 0xFF, 17: 0xFF},  # valid from after valid until
    ],
)
def test_signed_but_impossible_fields_are_malformed(
    key: SigningKey, changes: dict[int, int]
) -> None:
    code = _with_payload_bytes(sign_ticket(claims(), key=key), changes, key)

    assert check(code, key).status is VerdictStatus.MALFORMED
    with pytest.raises(MalformedTicketError):
        decode_ticket(code)


def test_code_signed_with_a_key_the_gate_does_not_know_is_unknown_key(key: SigningKey) -> None:
    code = sign_ticket(claims(), key=SigningKey.generate(8))

    verdict = check(code, key)

    assert verdict.status is VerdictStatus.UNKNOWN_KEY
    assert verdict.ticket_id is None  # unverified content is not reported as a ticket
    assert verdict.key_id == 8
    assert "does not know" in str(verdict.reason)


def test_code_signed_by_a_random_key_under_a_known_key_id_is_forged(key: SigningKey) -> None:
    impostor = SigningKey.generate(key.key_id)
    code = sign_ticket(claims(), key=impostor)

    verdict = check(code, key)

    assert verdict.status is VerdictStatus.FORGED
    assert verdict.ticket_id is None
    assert verdict.category is None
    assert "forged or altered" in str(verdict.reason)


def test_altered_category_under_the_original_signature_is_forged(key: SigningKey) -> None:
    code = sign_ticket(claims(category=CategoryCode.ATTENDEE), key=key)
    raw = bytearray(base64.b32decode(code.removeprefix(PREFIX) + "======"))
    raw[13] = int(CategoryCode.STAFF)
    altered = PREFIX + base64.b32encode(bytes(raw)).decode().rstrip("=")

    assert check(altered, key).status is VerdictStatus.FORGED


def test_unusable_public_key_in_the_bundle_gives_unknown_key(key: SigningKey) -> None:
    code = sign_ticket(claims(), key=key)

    verdict = verify_ticket(
        code, public_keys={7: b"short"}, edition_year=2026, now=DURING, revoked=()
    )

    assert verdict.status is VerdictStatus.UNKNOWN_KEY


def test_ticket_of_another_edition_is_wrong_edition(key: SigningKey) -> None:
    verdict = check(sign_ticket(claims(edition_year=2025), key=key), key)

    assert verdict.status is VerdictStatus.WRONG_EDITION
    assert verdict.ticket_id == bytes.fromhex("0123456789abcdef")
    assert "another year" in str(verdict.reason)


def test_revoked_ticket_is_revoked(key: SigningKey) -> None:
    ticket_id = new_ticket_id()
    code = sign_ticket(claims(ticket_id=ticket_id), key=key)

    verdict = check(code, key, revoked={ticket_id, new_ticket_id()})

    assert verdict.status is VerdictStatus.REVOKED
    assert verdict.ticket_id == ticket_id
    assert "cancelled or replaced" in str(verdict.reason)


def test_window_opens_at_valid_from_and_closes_at_valid_until(key: SigningKey) -> None:
    code = sign_ticket(claims(), key=key)
    second = dt.timedelta(seconds=1)

    assert check(code, key, now=OPENS - second).status is VerdictStatus.NOT_YET_VALID
    assert check(code, key, now=OPENS).status is VerdictStatus.VALID
    assert check(code, key, now=CLOSES - second).status is VerdictStatus.VALID
    assert check(code, key, now=CLOSES).status is VerdictStatus.EXPIRED
    assert "not valid yet" in str(check(code, key, now=OPENS - second).reason)
    assert "expired" in str(check(code, key, now=CLOSES).reason)


def test_now_in_another_zone_is_compared_as_an_instant(key: SigningKey) -> None:
    code = sign_ticket(claims(), key=key)
    tehran = dt.timezone(dt.timedelta(hours=3, minutes=30))

    assert check(code, key, now=OPENS.astimezone(tehran)).status is VerdictStatus.VALID


def test_naive_now_is_a_programming_error(key: SigningKey) -> None:
    with pytest.raises(ValueError, match="aware"):
        check(sign_ticket(claims(), key=key), key, now=dt.datetime(2026, 6, 27, 10))  # noqa: DTZ001


def test_checks_run_in_the_documented_order(key: SigningKey) -> None:
    ticket_id = new_ticket_id()
    late = CLOSES + dt.timedelta(days=1)
    everything_wrong = claims(ticket_id=ticket_id, edition_year=2025)
    code = sign_ticket(everything_wrong, key=key)
    impostor = sign_ticket(everything_wrong, key=SigningKey.generate(key.key_id))
    stranger = sign_ticket(everything_wrong, key=SigningKey.generate(9))

    assert check(code[:-1], key, now=late, revoked={ticket_id}).status == "malformed"
    assert check(stranger, key, now=late, revoked={ticket_id}).status == "unknown_key"
    assert check(impostor, key, now=late, revoked={ticket_id}).status == "forged"
    assert check(code, key, now=late, revoked={ticket_id}).status == "wrong_edition"
    revoked_and_late = sign_ticket(claims(ticket_id=ticket_id), key=key)
    assert check(revoked_and_late, key, now=late, revoked={ticket_id}).status == "revoked"
    early = OPENS - dt.timedelta(days=1)
    assert check(revoked_and_late, key, now=early).status == "not_yet_valid"
    assert check(revoked_and_late, key, now=late).status == "expired"


def test_every_status_has_its_own_translatable_reason() -> None:
    assert set(REASONS) == set(VerdictStatus)
    texts = {str(reason) for reason in REASONS.values()}
    assert len(texts) == len(VerdictStatus)
    for language in ("fa", "fr"):
        with translation.override(language):
            assert all(str(reason).strip() for reason in REASONS.values())


# --- keys ------------------------------------------------------------------------------------


def test_first_use_creates_key_one_with_private_permissions(tmp_path: Path) -> None:
    folder = tmp_path / "keys" / "tickets"

    keyring = load_keyring(directory=folder)

    assert keyring.current.key_id == 1
    assert sorted(os.listdir(folder)) == ["00001.key"]
    assert stat.S_IMODE((folder / "00001.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(folder.parent.stat().st_mode) == 0o700
    assert load_keyring(directory=folder).current.public_bytes == keyring.current.public_bytes


def test_default_folder_is_keys_tickets_in_the_data_folder(settings, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path

    key = current_signing_key()

    assert (tmp_path / "keys" / "tickets" / f"{key.key_id:05d}.key").is_file()
    assert public_keys() == {key.key_id: key.public_bytes}


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    load_keyring(directory=tmp_path)
    (tmp_path / "00001.key").chmod(0o644)

    with pytest.raises(KeyringError, match="chmod 600"):
        rotate_ticket_key(directory=tmp_path)


def test_rotation_signs_with_the_new_key_and_old_tickets_still_verify(tmp_path: Path) -> None:
    first = current_signing_key(directory=tmp_path)
    old_code = sign_ticket(claims(), key=first)

    second = rotate_ticket_key(directory=tmp_path)

    assert second.key_id == first.key_id + 1
    assert current_signing_key(directory=tmp_path).key_id == second.key_id
    new_code = sign_ticket(
        claims(ticket_id=new_ticket_id()), key=current_signing_key(directory=tmp_path)
    )
    keys = public_keys(directory=tmp_path)
    assert set(keys) == {first.key_id, second.key_id}
    assert all(len(raw) == 32 for raw in keys.values())
    for code in (old_code, new_code):
        verdict = verify_ticket(code, public_keys=keys, edition_year=2026, now=DURING, revoked=())
        assert verdict.status is VerdictStatus.VALID
    assert decode_ticket(new_code)[1] == second.key_id


def test_retired_key_no_longer_verifies_and_its_private_key_is_gone(tmp_path: Path) -> None:
    first = current_signing_key(directory=tmp_path)
    old_code = sign_ticket(claims(), key=first)
    second = rotate_ticket_key(directory=tmp_path)
    new_code = sign_ticket(claims(), key=second)

    retire_ticket_key(first.key_id, directory=tmp_path)

    keys = public_keys(directory=tmp_path)
    assert set(keys) == {second.key_id}
    old = verify_ticket(old_code, public_keys=keys, edition_year=2026, now=DURING, revoked=())
    new = verify_ticket(new_code, public_keys=keys, edition_year=2026, now=DURING, revoked=())
    assert old.status is VerdictStatus.UNKNOWN_KEY
    assert new.status is VerdictStatus.VALID
    assert not (tmp_path / "00001.key").exists()
    tombstone = (tmp_path / "00001.retired").read_text()
    assert first.public_bytes.hex() in tombstone
    assert "PRIVATE" not in tombstone
    assert rotate_ticket_key(directory=tmp_path).key_id == 3  # id 1 is never handed out again
    retire_ticket_key(first.key_id, directory=tmp_path)  # again: nothing to do


def test_current_key_cannot_be_retired_and_unknown_ids_are_refused(tmp_path: Path) -> None:
    current = current_signing_key(directory=tmp_path)

    with pytest.raises(KeyringError, match="rotate to a new key"):
        retire_ticket_key(current.key_id, directory=tmp_path)
    with pytest.raises(KeyringError, match="no ticket key 42"):
        retire_ticket_key(42, directory=tmp_path)
    assert current_signing_key(directory=tmp_path).key_id == current.key_id


def test_rotation_seen_by_a_process_that_cached_the_keyring(tmp_path: Path) -> None:
    load_keyring(directory=tmp_path)
    long_ago = 1_000_000_000
    os.utime(tmp_path, (long_ago, long_ago))  # an old folder: this read is cached
    assert load_keyring(directory=tmp_path).current.key_id == 1

    rotate_ticket_key(directory=tmp_path)

    assert load_keyring(directory=tmp_path).current.key_id == 2


def test_concurrent_first_use_makes_one_key(tmp_path: Path) -> None:
    results: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def first_use() -> None:
        try:
            barrier.wait()
            results.append(load_keyring(directory=tmp_path).current.key_id)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert results == [1] * 8
    assert sorted(os.listdir(tmp_path)) == ["00001.key"]


def test_concurrent_rotations_get_distinct_ids(tmp_path: Path) -> None:
    load_keyring(directory=tmp_path)
    ids: list[int] = []
    barrier = threading.Barrier(6)

    def rotate() -> None:
        barrier.wait()
        ids.append(rotate_ticket_key(directory=tmp_path).key_id)

    threads = [threading.Thread(target=rotate) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(ids) == [2, 3, 4, 5, 6, 7]


def test_signing_key_repr_does_not_show_the_private_key() -> None:
    key = SigningKey.generate(3)

    assert "private" not in repr(key)
    with pytest.raises(ValueError, match=r"1\.\.65535"):
        SigningKey.generate(0)
    with pytest.raises(ValueError, match=r"1\.\.65535"):
        SigningKey.generate(65536)


def test_rotate_command_prints_the_new_key_id(tmp_path: Path) -> None:
    load_keyring(directory=tmp_path)
    out, err = io.StringIO(), io.StringIO()

    call_command(rotate_command.Command(), "--directory", str(tmp_path), stdout=out, stderr=err)

    assert out.getvalue().strip() == "2"
    assert "keys that verify: 1, 2" in err.getvalue()


def test_retire_command_retires_and_explains_a_refusal(tmp_path: Path) -> None:
    load_keyring(directory=tmp_path)
    rotate_ticket_key(directory=tmp_path)
    out = io.StringIO()

    call_command(retire_command.Command(), "1", "--directory", str(tmp_path), stdout=out)

    assert "Ticket key 1 is retired." in out.getvalue()
    assert set(public_keys(directory=tmp_path)) == {2}
    with pytest.raises(CommandError, match="rotate to a new key"):
        call_command(retire_command.Command(), "2", "--directory", str(tmp_path))


# Nothing here depends on the database engine: the PostgreSQL run of `make test` leaves it out.
pytestmark = pytest.mark.engine_agnostic
