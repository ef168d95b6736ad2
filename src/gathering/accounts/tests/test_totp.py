"""TOTP against the RFC test vectors, the drift window, replays and typed-code normalisation."""

from __future__ import annotations

import pytest

from gathering.accounts import recovery, totp

pytestmark = pytest.mark.engine_agnostic

SHA1_KEY = b"12345678901234567890"
SHA256_KEY = b"12345678901234567890123456789012"
SHA512_KEY = b"1234567890" * 6 + b"1234"

# RFC 6238, appendix B: (time, SHA-1, SHA-256, SHA-512), 8 digits.
RFC6238 = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]
# RFC 4226, appendix D: HOTP of counters 0-9 under the SHA-1 key.
RFC4226 = [
    "755224",
    "287082",
    "359152",
    "969429",
    "338314",
    "254676",
    "287922",
    "162583",
    "399871",
    "520489",
]


@pytest.mark.parametrize(("moment", "sha1", "sha256", "sha512"), RFC6238)
def test_rfc6238_vectors(moment: int, sha1: str, sha256: str, sha512: str) -> None:
    assert totp.totp(SHA1_KEY, moment, digits=8, digest="sha1") == sha1
    assert totp.totp(SHA256_KEY, moment, digits=8, digest="sha256") == sha256
    assert totp.totp(SHA512_KEY, moment, digits=8, digest="sha512") == sha512


def test_rfc4226_vectors() -> None:
    assert [totp.hotp(SHA1_KEY, counter) for counter in range(10)] == RFC4226


def test_six_digit_codes_are_the_last_six_of_the_rfc_ones() -> None:
    import base64

    secret = base64.b32encode(SHA1_KEY).decode()
    assert totp.current_code(secret, moment=59) == "287082"
    assert totp.current_code(secret, moment=1111111109) == "081804"


def test_a_code_matches_its_step_and_one_either_side_only() -> None:
    secret = totp.generate_secret()
    moment = 1_800_000_000.0
    step = totp.step_at(moment)
    for offset in (-1, 0, 1):
        code = totp.current_code(secret, moment=moment + offset * 30)
        assert totp.matching_step(secret, code, moment=moment) == step + offset
    for offset in (-3, -2, 2, 3):
        code = totp.current_code(secret, moment=moment + offset * 30)
        if code not in {totp.current_code(secret, moment=moment + d * 30) for d in (-1, 0, 1)}:
            assert totp.matching_step(secret, code, moment=moment) is None


def test_a_used_step_and_earlier_ones_are_refused() -> None:
    secret = totp.generate_secret()
    moment = 1_800_000_000.0
    code = totp.current_code(secret, moment=moment)
    step = totp.matching_step(secret, code, moment=moment)
    assert step is not None
    assert totp.matching_step(secret, code, moment=moment, after_step=step) is None
    previous = totp.current_code(secret, moment=moment - 30)
    assert totp.matching_step(secret, previous, moment=moment, after_step=step) is None
    following = totp.current_code(secret, moment=moment + 30)
    assert totp.matching_step(secret, following, moment=moment, after_step=step) == step + 1


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("۱۲۳۴۵۶", "123456"),  # Persian
        ("١٢٣٤٥٦", "123456"),  # Arabic-Indic
        ("\uff11\uff12\uff13\uff14\uff15\uff16", "123456"),  # full-width
        ("123 456", "123456"),
        ("123-456", "123456"),
        (
            "\u200e\u06f1\u06f2\u06f3\u00a0\u06f4\u06f5\u06f6\u200f",
            "123456",
        ),  # direction marks, no-break space
        ("12a456", "12a456"),
    ],
)
def test_typed_digits_of_any_script_are_normalised(typed: str, expected: str) -> None:
    assert totp.normalise_digits(typed) == expected


@pytest.mark.parametrize(
    "garbage",
    ["", "12345", "1234567", "12345a", "abcdef", "١٢٣٤٥٦", "12 3456", "²³⁴⁵⁶⁷", "-12345"],
)
def test_anything_but_six_ascii_digits_matches_nothing(garbage: str) -> None:
    # Normalising is the caller's job: the check itself takes only ASCII digits.
    assert totp.matching_step(totp.generate_secret(), garbage) is None


def test_a_secret_is_160_bits_of_base32_and_round_trips() -> None:
    secret = totp.generate_secret()
    assert len(secret) == 32 and secret.isalnum() and secret.isupper()
    assert len(totp.secret_bytes(secret)) == 20
    assert totp.secret_bytes(secret.lower()) == totp.secret_bytes(secret)


def test_provisioning_uri_names_issuer_and_account() -> None:
    uri = totp.provisioning_uri("JBSWY3DPEHPK3PXP", account="site-berlin", issuer="Free Iran 2027")
    assert uri.startswith("otpauth://totp/Free%20Iran%202027%3Asite-berlin?")
    assert "secret=JBSWY3DPEHPK3PXP" in uri
    assert "issuer=Free%20Iran%202027" in uri
    assert "digits=6" in uri and "period=30" in uri and "algorithm=SHA1" in uri


def test_recovery_codes_are_distinct_well_formed_and_normalised_when_typed() -> None:
    codes = recovery.generate_codes()
    assert len(codes) == len(set(codes)) == 10
    for code in codes:
        assert len(code) == 11 and code[5] == "-"
        assert recovery.is_well_formed(recovery.normalise(code))
    code = codes[0]
    assert recovery.normalise(f"  {code.lower()} ") == code.replace("-", "")
    assert not recovery.is_well_formed(recovery.normalise("ABCDE-FGHI0"))  # I and 0 excluded
    assert not recovery.is_well_formed(recovery.normalise("ABCDE-FGHJKL"))
