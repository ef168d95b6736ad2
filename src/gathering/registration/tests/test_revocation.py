"""The gate bundle: round trip, size for 100,000 tickets, no personal data, hostile input."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gathering.registration.keys import SigningKey
from gathering.registration.revocation import (
    GateBundle,
    GateBundleError,
    decode_gate_bundle,
    encode_gate_bundle,
)
from gathering.registration.ticket_codes import (
    CategoryCode,
    TicketClaims,
    VerdictStatus,
    sign_ticket,
    verify_ticket,
)

GENERATED = dt.datetime(2026, 6, 27, 5, 30, 15, tzinfo=dt.UTC)
ONE_MB = 1_000_000
KEYS = {1: bytes(range(32)), 2: bytes(range(32, 64))}


def random_ids(count: int, *, seed: int = 2018) -> list[bytes]:
    """``count`` random-looking ids, the same on every run (so are the sizes measured)."""
    stream = hashlib.shake_256(seed.to_bytes(4, "big")).digest(8 * count)
    return [stream[i : i + 8] for i in range(0, 8 * count, 8)]


def bundle(revoked: list[bytes], **overrides: object) -> bytes:
    values: dict[str, object] = {
        "edition_year": 2026,
        "public_keys": KEYS,
        "revoked": revoked,
        "generated_at": GENERATED,
    }
    values.update(overrides)
    return encode_gate_bundle(**values)  # type: ignore[arg-type]


def document(data: bytes) -> dict[str, object]:
    return json.loads(data)  # type: ignore[no-any-return]


def redo(data: bytes, change: object) -> bytes:
    """The bundle with its JSON document changed by ``change(doc)``."""
    parsed = document(data)
    change(parsed)  # type: ignore[operator]
    return json.dumps(parsed).encode()


@pytest.mark.parametrize("count", [0, 1, 2, 5_000])
def test_round_trip_keeps_edition_keys_time_and_revoked_ids(count: int) -> None:
    ids = random_ids(count)

    decoded = decode_gate_bundle(bundle(ids))

    assert decoded == GateBundle(
        edition_year=2026, public_keys=KEYS, revoked=frozenset(ids), generated_at=GENERATED
    )


def test_duplicates_are_stored_once_and_order_does_not_matter() -> None:
    ids = random_ids(50)

    assert bundle(ids + ids[:10]) == bundle(list(reversed(ids)))
    assert decode_gate_bundle(bundle(ids + ids)).revoked == frozenset(ids)


@pytest.mark.parametrize(
    "ids",
    [
        [bytes(8)],  # id 0
        [b"\xff" * 8],  # the largest id
        [bytes(8), b"\xff" * 8],  # both ends
        [i.to_bytes(8, "big") for i in range(1000)],  # sequential (not how we issue, but legal)
        [bytes(8), *(i.to_bytes(8, "big") for i in range(2**64 - 500, 2**64))],  # a far cluster
        [i.to_bytes(8, "big") for i in range(0, 2**64, 2**50)],  # evenly spread
    ],
    ids=["zero", "max", "ends", "sequential", "cluster", "spread"],
)
def test_unusual_id_distributions_round_trip(ids: list[bytes]) -> None:
    data = bundle(ids)

    assert decode_gate_bundle(data).revoked == frozenset(ids)
    assert len(data) < 300 + 12 * len(ids)  # never worse than about 9 bytes an id


def test_a_hundred_thousand_revoked_tickets_fit_in_under_one_megabyte() -> None:
    ids = random_ids(100_000)

    data = bundle(ids)

    print(f"\ngate bundle, 100,000 revoked of 100,000 tickets: {len(data):,} bytes")
    assert len(data) < ONE_MB
    assert decode_gate_bundle(data).revoked == frozenset(ids)


def test_five_thousand_revoked_tickets_make_a_small_bundle() -> None:
    data = bundle(random_ids(5_000))

    print(f"\ngate bundle, 5,000 revoked: {len(data):,} bytes")
    assert len(data) < 50_000


def test_bundle_holds_only_edition_time_keys_and_revoked_ids() -> None:
    parsed = document(bundle(random_ids(3)))

    assert set(parsed) == {"format", "version", "edition_year", "generated_at", "keys", "revoked"}
    assert set(parsed["revoked"]) == {"count", "rice_k", "data"}  # type: ignore[arg-type]
    assert parsed["generated_at"] == "2026-06-27T05:30:15Z"
    assert parsed["keys"] == {  # public keys only: 32 bytes each
        "1": base64.b64encode(KEYS[1]).decode(),
        "2": base64.b64encode(KEYS[2]).decode(),
    }


def test_decoded_bundle_is_what_verify_ticket_needs() -> None:
    key = SigningKey.generate(4)
    window = {
        "valid_from": dt.datetime(2026, 6, 27, 6, tzinfo=dt.UTC),
        "valid_until": dt.datetime(2026, 6, 28, 22, tzinfo=dt.UTC),
    }
    kept, cancelled = random_ids(2, seed=7)
    codes = {
        ticket_id: sign_ticket(
            TicketClaims(
                ticket_id=ticket_id, edition_year=2026, category=CategoryCode.PRESS, **window
            ),
            key=key,
        )
        for ticket_id in (kept, cancelled)
    }
    gate = decode_gate_bundle(
        encode_gate_bundle(
            edition_year=2026,
            public_keys={4: key.public_bytes},
            revoked=[cancelled, *random_ids(1000)],
            generated_at=GENERATED,
        )
    )

    def status(code: str) -> VerdictStatus:
        return verify_ticket(
            code,
            public_keys=gate.public_keys,
            edition_year=gate.edition_year,
            now=dt.datetime(2026, 6, 27, 12, tzinfo=dt.UTC),
            revoked=gate.revoked,
        ).status

    assert status(codes[kept]) is VerdictStatus.VALID
    assert status(codes[cancelled]) is VerdictStatus.REVOKED


@pytest.mark.parametrize(
    ("revoked", "keys", "generated_at", "message"),
    [
        ([b"1234567"], KEYS, GENERATED, "8 bytes"),
        ([], {1: b"short"}, GENERATED, "32 bytes"),
        ([], {0: bytes(32)}, GENERATED, "1..65535"),
        ([], KEYS, dt.datetime(2026, 6, 27), "aware"),  # noqa: DTZ001
    ],
)
def test_encode_refuses_what_a_gate_could_not_use(
    revoked: list[bytes], keys: dict[int, bytes], generated_at: dt.datetime, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        bundle(revoked, public_keys=keys, generated_at=generated_at)


GOOD = bundle(random_ids(20))


def _set(path: tuple[str, ...], value: object):  # type: ignore[no-untyped-def]
    def change(parsed: dict[str, object]) -> None:
        target = parsed
        for part in path[:-1]:
            target = target[part]  # type: ignore[assignment]
        target[path[-1]] = value

    return change


def _packed(data: bytes) -> bytes:
    return base64.b64decode(document(data)["revoked"]["data"])  # type: ignore[index]


HOSTILE_BUNDLES = {
    "empty": b"",
    "not json": b"<script>alert(1)</script>",
    "not utf-8": b"\xff\xfe{}",
    "a list": b"[]",
    "deep nesting": b"[" * 100_000,
    "huge": b'"' + b"A" * 2_000_000 + b'"',
    "rtl override": "\u202e{}".encode(),
    "another format": redo(GOOD, _set(("format",), "other")),
    "version 2": redo(GOOD, _set(("version",), 2)),
    "version true": redo(GOOD, _set(("version",), True)),
    "year as text": redo(GOOD, _set(("edition_year",), "2026")),
    "year true": redo(GOOD, _set(("edition_year",), True)),
    "year too big": redo(GOOD, _set(("edition_year",), 70_000)),
    "naive time": redo(GOOD, _set(("generated_at",), "2026-06-27T05:30:15")),
    "no time": redo(GOOD, _set(("generated_at",), None)),
    "bad time": redo(GOOD, _set(("generated_at",), "yesterday")),
    "keys a list": redo(GOOD, _set(("keys",), [])),
    "key id 0": redo(GOOD, _set(("keys", "0"), base64.b64encode(bytes(32)).decode())),
    "key id too big": redo(GOOD, _set(("keys", "65536"), base64.b64encode(bytes(32)).decode())),
    "key id huge": redo(GOOD, _set(("keys", "9" * 5000), base64.b64encode(bytes(32)).decode())),
    "key id not digits": redo(GOOD, _set(("keys", "1e3"), base64.b64encode(bytes(32)).decode())),
    "key id arabic digits": redo(
        GOOD, _set(("keys", "\u0661"), base64.b64encode(bytes(32)).decode())
    ),
    "short key": redo(GOOD, _set(("keys", "1"), base64.b64encode(bytes(31)).decode())),
    "key not base64": redo(GOOD, _set(("keys", "1"), "!" * 44)),
    "key a number": redo(GOOD, _set(("keys", "1"), 1)),
    "revoked a list": redo(GOOD, _set(("revoked",), [])),
    "count negative": redo(GOOD, _set(("revoked", "count"), -1)),
    "count too big": redo(GOOD, _set(("revoked", "count"), 21)),
    "count huge": redo(GOOD, _set(("revoked", "count"), 10**6)),
    "count beyond 32 bits": redo(GOOD, _set(("revoked", "count"), 2**40)),
    "count as float": redo(GOOD, _set(("revoked", "count"), 20.0)),
    "k too big": redo(GOOD, _set(("revoked", "rice_k"), 64)),
    "data not base64": redo(GOOD, _set(("revoked", "data"), "not base64!")),
    "data truncated": redo(
        GOOD, _set(("revoked", "data"), base64.b64encode(_packed(GOOD)[:-2]).decode())
    ),
    "data extended": redo(
        GOOD, _set(("revoked", "data"), base64.b64encode(_packed(GOOD) + b"\x00").decode())
    ),
    # id 0 alone is the bits "0" (k = 0, quotient 0) and seven zero padding bits: set one.
    "padding bits set": redo(bundle([bytes(8)]), _set(("revoked", "data"), "AQ==")),
    # k = 0 and 2**64 one-bits would be needed to overflow; with k = 63, quotient 2 does it.
    "id beyond 64 bits": redo(
        redo(redo(GOOD, _set(("revoked", "rice_k"), 63)), _set(("revoked", "count"), 1)),
        _set(("revoked", "data"), base64.b64encode(b"\xc0" + bytes(8)).decode()),
    ),
}


def test_hostile_fixtures_fail_for_the_reason_they_name() -> None:
    # The hostile cases above are only meaningful if the unaltered bundles decode.
    assert len(decode_gate_bundle(GOOD).revoked) == 20
    assert _packed(bundle([bytes(8)])) == b"\x00"
    reasons = {
        "id beyond 64 bits": "out of range",
        "data truncated": "truncated",
        "data extended": "trailing data",
        "padding bits set": "trailing data",
        "count too big": "truncated",
        "count huge": "exceeds the data",
        "key id huge": "key ids",
    }
    for name, reason in reasons.items():
        with pytest.raises(GateBundleError, match=reason):
            decode_gate_bundle(HOSTILE_BUNDLES[name])


@pytest.mark.parametrize("data", HOSTILE_BUNDLES.values(), ids=HOSTILE_BUNDLES.keys())
def test_hostile_bundles_raise_gate_bundle_error_only(data: bytes) -> None:
    with pytest.raises(GateBundleError):
        decode_gate_bundle(data)


@settings(max_examples=300, deadline=None, database=None)
@given(st.binary(max_size=400) | st.text(max_size=400))
def test_random_input_never_raises_anything_but_gate_bundle_error(data: bytes | str) -> None:
    with contextlib.suppress(GateBundleError):
        decode_gate_bundle(data)


@settings(max_examples=300, deadline=None, database=None)
@given(st.integers(0, len(GOOD) * 8 - 1))
def test_a_flipped_bit_either_decodes_or_raises_gate_bundle_error(position: int) -> None:
    data = bytearray(GOOD)
    data[position // 8] ^= 1 << (position % 8)
    try:
        decoded = decode_gate_bundle(bytes(data))
    except GateBundleError:
        return
    assert isinstance(decoded, GateBundle)


@settings(max_examples=200, deadline=None, database=None)
@given(st.sets(st.binary(min_size=8, max_size=8), max_size=300))
def test_any_set_of_ids_round_trips(ids: set[bytes]) -> None:
    assert decode_gate_bundle(bundle(list(ids))).revoked == ids
