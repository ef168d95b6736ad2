"""Property test: no forged or mutated ticket code is ever accepted (>= 10,000 payloads).

One genuine code is VALID at ``NOW``. Every candidate below is derived from it (or made from
scratch) by someone without the private key; a candidate that is the genuine code itself is
skipped. Each other candidate must be refused, with a status that fits how it was made: that
includes other spellings of the genuine bytes, since a code has exactly one accepted spelling.
"""

from __future__ import annotations

import base64
import datetime as dt
import struct
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gathering.registration.keys import SigningKey
from gathering.registration.ticket_codes import (
    PREFIX,
    CategoryCode,
    TicketClaims,
    VerdictStatus,
    decode_ticket,
    sign_ticket,
    verify_ticket,
)

EXAMPLES = 10_000
KEY = SigningKey.generate(1)
OLD_KEY = SigningKey.generate(2)
STRANGER = SigningKey.generate(3)  # a key id the gates do not know
PUBLIC_KEYS = {1: KEY.public_bytes, 2: OLD_KEY.public_bytes}
EDITION = 2026
NOW = dt.datetime(2026, 6, 27, 10, 42, tzinfo=dt.UTC)
GENUINE_CLAIMS = TicketClaims(
    ticket_id=bytes.fromhex("a1b2c3d4e5f60718"),
    edition_year=EDITION,
    category=CategoryCode.ATTENDEE,
    valid_from=dt.datetime(2026, 6, 27, 6, 0, tzinfo=dt.UTC),
    valid_until=dt.datetime(2026, 6, 28, 22, 0, tzinfo=dt.UTC),
)
GENUINE = sign_ticket(GENUINE_CLAIMS, key=KEY)
_, _, GENUINE_SIGNED, GENUINE_SIGNATURE = decode_ticket(GENUINE)
GENUINE_RAW = GENUINE_SIGNED + GENUINE_SIGNATURE
LAYOUT = struct.Struct(">BH8sHBII")
FIELDS = LAYOUT.unpack(GENUINE_SIGNED)
ED25519_ORDER = 2**252 + 27742317777372353535851937790883648493
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
REFUSED_UNSIGNED = {VerdictStatus.MALFORMED, VerdictStatus.UNKNOWN_KEY, VerdictStatus.FORGED}


def encode(raw: bytes) -> str:
    return PREFIX + base64.b32encode(raw).decode("ascii").rstrip("=")


def flip_bits(data: bytes, positions: set[int]) -> bytes:
    mutable = bytearray(data)
    for position in positions:
        mutable[position // 8] ^= 1 << (position % 8)
    return bytes(mutable)


Candidate = tuple[str, object, set[VerdictStatus]]


# Each strategy yields (how it was made, the candidate code, the statuses that fit).
def byte_flips() -> st.SearchStrategy[Candidate]:
    positions = st.sets(st.integers(0, len(GENUINE_RAW) * 8 - 1), min_size=1, max_size=12)
    return positions.map(
        lambda p: ("flipped bits", encode(flip_bits(GENUINE_RAW, p)), REFUSED_UNSIGNED)
    )


def text_flips() -> st.SearchStrategy[Candidate]:
    def flip(changes: list[tuple[int, int]]) -> str:
        chars = list(GENUINE)
        for index, bit in changes:
            chars[index] = chr(ord(chars[index]) ^ (1 << bit))
        return "".join(chars)

    change = st.tuples(st.integers(0, len(GENUINE) - 1), st.integers(0, 15))
    return st.lists(change, min_size=1, max_size=6).map(
        lambda c: ("flipped characters", flip(c), REFUSED_UNSIGNED)
    )


def respellings() -> st.SearchStrategy[Candidate]:
    """Characters replaced by other base32 characters; the last one carries 2 padding bits, so
    three of its spellings decode to the genuine bytes under a lenient decoder."""

    def replace(changes: list[tuple[int, str]]) -> str:
        chars = list(GENUINE)
        for index, char in changes:
            chars[index] = char
        return "".join(chars)

    anywhere = st.tuples(st.integers(len(PREFIX), len(GENUINE) - 1), st.sampled_from(ALPHABET))
    last = st.tuples(st.just(len(GENUINE) - 1), st.sampled_from(ALPHABET))
    return st.lists(anywhere | last, min_size=1, max_size=4).map(
        lambda c: ("re-spelled characters", replace(c), REFUSED_UNSIGNED)
    )


def truncations() -> st.SearchStrategy[Candidate]:
    text = st.integers(0, len(GENUINE) - 1).map(
        lambda n: ("truncated text", GENUINE[:n], {VerdictStatus.MALFORMED})
    )
    raw = st.integers(0, len(GENUINE_RAW) - 1).map(
        lambda n: ("truncated bytes", encode(GENUINE_RAW[:n]), {VerdictStatus.MALFORMED})
    )
    return text | raw


def extensions() -> st.SearchStrategy[Candidate]:
    text = st.text(min_size=1, max_size=40).map(
        lambda extra: ("extended text", GENUINE + extra, {VerdictStatus.MALFORMED})
    )
    raw = st.binary(min_size=1, max_size=40).map(
        lambda extra: ("extended bytes", encode(GENUINE_RAW + extra), {VerdictStatus.MALFORMED})
    )
    prefixed = st.text(min_size=1, max_size=10).map(
        lambda extra: ("text in front", extra + GENUINE, {VerdictStatus.MALFORMED})
    )
    return text | raw | prefixed


def altered_fields() -> st.SearchStrategy[Candidate]:
    """Claims changed, the genuine signature kept."""
    version, key_id, ticket_id, year, category, valid_from, valid_until = FIELDS
    changes: list[st.SearchStrategy[tuple[object, ...]]] = [
        st.integers(0, 255).map(lambda v: (v, key_id, ticket_id, year, category, valid_from, valid_until)),
        st.sampled_from([2]).map(lambda k: (version, k, ticket_id, year, category, valid_from, valid_until)),
        st.integers(0, 0xFFFF).map(lambda k: (version, k, ticket_id, year, category, valid_from, valid_until)),
        st.binary(min_size=8, max_size=8).map(lambda t: (version, key_id, t, year, category, valid_from, valid_until)),
        st.integers(0, 0xFFFF).map(lambda y: (version, key_id, ticket_id, y, category, valid_from, valid_until)),
        st.sampled_from(list(CategoryCode)).map(lambda c: (version, key_id, ticket_id, year, int(c), valid_from, valid_until)),
        st.just((version, key_id, ticket_id, year, category, valid_until, valid_from)),  # swapped
        st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)).map(
            lambda w: (version, key_id, ticket_id, year, category, *w)
        ),
        # a ticket id and a year swapped into each other's place (as far as they fit)
        st.just((version, key_id, ticket_id[:6] + year.to_bytes(2, "big"), int.from_bytes(ticket_id[6:], "big"), category, valid_from, valid_until)),
    ]  # fmt: skip

    def build(fields: tuple[object, ...]) -> Candidate:
        return (
            "altered claims",
            encode(LAYOUT.pack(*fields) + GENUINE_SIGNATURE),
            REFUSED_UNSIGNED,
        )

    return st.one_of(changes).map(build)


def altered_signatures() -> st.SearchStrategy[Candidate]:
    s = int.from_bytes(GENUINE_SIGNATURE[32:], "little")
    # s + order encodes the same scalar: a lenient verifier would accept a second spelling.
    malleated = GENUINE_SIGNATURE[:32] + (s + ED25519_ORDER).to_bytes(32, "little")
    other = sign_ticket(
        TicketClaims(
            ticket_id=bytes(8),
            edition_year=EDITION,
            category=CategoryCode.STAFF,
            valid_from=GENUINE_CLAIMS.valid_from,
            valid_until=GENUINE_CLAIMS.valid_until,
        ),
        key=KEY,
    )
    borrowed = decode_ticket(other)[3]  # a genuine signature of another ticket
    fixed = [malleated, borrowed, bytes(64), b"\xff" * 64]
    forged = {VerdictStatus.FORGED}
    return st.sampled_from(fixed).map(
        lambda sig: ("replaced signature", encode(GENUINE_SIGNED + sig), forged)
    ) | st.binary(min_size=64, max_size=64).map(
        lambda sig: ("random signature", encode(GENUINE_SIGNED + sig), forged)
    )


def random_inputs() -> st.SearchStrategy[Candidate]:
    any_status = REFUSED_UNSIGNED
    return st.one_of(
        st.binary(min_size=86, max_size=86).map(lambda b: ("random bytes", encode(b), any_status)),
        st.binary(max_size=200).map(lambda b: ("random raw input", b, {VerdictStatus.MALFORMED})),
        st.text(max_size=200).map(lambda t: ("random text", t, {VerdictStatus.MALFORMED})),
        st.text(alphabet=ALPHABET, min_size=138, max_size=138).map(
            lambda t: ("random base32", PREFIX + t, any_status)
        ),
    )


def claims_strategy() -> st.SearchStrategy[TicketClaims]:
    start = st.integers(0, 2**32 - 2)
    return st.builds(
        lambda ticket_id, year, category, first, length: TicketClaims(
            ticket_id=ticket_id,
            edition_year=year,
            category=category,
            valid_from=dt.datetime.fromtimestamp(first, dt.UTC),
            valid_until=dt.datetime.fromtimestamp(min(first + length, 2**32 - 1), dt.UTC),
        ),
        st.binary(min_size=8, max_size=8),
        st.integers(0, 0xFFFF),
        st.sampled_from(list(CategoryCode)),
        start,
        st.integers(1, 10**7),
    )


def genuinely_signed_elsewhere() -> st.SearchStrategy[Candidate]:
    """Well-made codes that this gate must still refuse."""
    other_edition = claims_strategy().filter(lambda c: c.edition_year != EDITION)
    return st.one_of(
        other_edition.map(
            lambda c: ("another edition", sign_ticket(c, key=KEY), {VerdictStatus.WRONG_EDITION})
        ),
        claims_strategy().map(
            lambda c: ("unknown key id", sign_ticket(c, key=STRANGER), {VerdictStatus.UNKNOWN_KEY})
        ),
        st.tuples(claims_strategy(), st.sampled_from([1, 2])).map(
            lambda ck: (
                "random key, known key id",
                sign_ticket(ck[0], key=SigningKey.generate(ck[1])),
                {VerdictStatus.FORGED},
            )
        ),
    )


CANDIDATES = st.one_of(
    byte_flips(),
    text_flips(),
    respellings(),
    truncations(),
    extensions(),
    altered_fields(),
    altered_signatures(),
    random_inputs(),
    genuinely_signed_elsewhere(),
)


def is_genuine(candidate: object) -> bool:
    # By text, not by decoded bytes: the genuine code has exactly one accepted spelling, and a
    # lenient decoder would map other spellings onto the genuine bytes.
    return candidate in (GENUINE, GENUINE.encode("ascii"))


def test_the_genuine_code_is_valid() -> None:
    verdict = verify_ticket(
        GENUINE, public_keys=PUBLIC_KEYS, edition_year=EDITION, now=NOW, revoked=()
    )

    assert verdict.status is VerdictStatus.VALID


def test_no_forged_or_mutated_code_is_accepted() -> None:
    checked: dict[str, int] = {}
    check: Callable[[], None]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(CANDIDATES)
    def check(candidate: Candidate) -> None:
        how, code, fitting = candidate
        assume(not is_genuine(code))
        verdict = verify_ticket(
            code,  # type: ignore[arg-type]
            public_keys=PUBLIC_KEYS,
            edition_year=EDITION,
            now=NOW,
            revoked=(),
        )
        assert not verdict.accepted, f"{how}: {code!r} was accepted"
        assert verdict.status in fitting, f"{how}: {code!r} gave {verdict.status}"
        if verdict.status in REFUSED_UNSIGNED:
            assert verdict.ticket_id is None
        checked[how] = checked.get(how, 0) + 1

    check()

    assert sum(checked.values()) >= EXAMPLES, checked
    # Every way of making a candidate was exercised, not only the cheapest ones.
    assert len(checked) >= 16, checked


# Nothing here depends on the database engine: the PostgreSQL run of `make test` leaves it out.
pytestmark = pytest.mark.engine_agnostic
