"""The encrypted container of backups: round trips, and every way of altering an archive is
caught (no Django, no database)."""

from __future__ import annotations

import io
import json
import os
import struct

import pytest

from gathering.privacy import archive
from gathering.privacy.archive import ArchiveError, DamagedArchiveError, WrongPassphraseError

PASSPHRASE = "a long enough passphrase"
# Cheap derivations in tests; the header carries the cost, so reading honours it.
CHEAP = 2**10


def seal(plain: bytes, *, chunk: int = archive.CHUNK, passphrase: str = PASSPHRASE) -> bytes:
    """``plain`` sealed (small ``chunk`` sizes make several chunks of a few kilobytes)."""
    out = io.BytesIO()
    writer = archive.Writer(out, passphrase, n=CHEAP, chunk=chunk)
    writer.write(plain)
    writer.close()
    return out.getvalue()


def opened(data: bytes, passphrase: str = PASSPHRASE) -> bytes:
    return b"".join(archive.read(io.BytesIO(data), passphrase))


def header_length(data: bytes) -> int:
    (length,) = struct.unpack(">I", data[len(archive.MAGIC) : len(archive.MAGIC) + 4])
    return len(archive.MAGIC) + 4 + length


@pytest.mark.parametrize("size", [0, 1, 1000, 200_000])
def test_what_is_written_is_read_back(size):
    plain = os.urandom(size // 2) + b"x" * (size - size // 2)
    assert opened(seal(plain)) == plain
    assert opened(seal(plain, chunk=997)) == plain
    assert opened(seal(plain, chunk=1)) == plain


def test_lines_come_back_as_written():
    lines = [json.dumps({"n": n, "text": "سلام " * n}).encode() for n in range(500)]
    data = seal(b"\n".join(lines) + b"\n", chunk=512)
    assert list(archive.read_lines(io.BytesIO(data), PASSPHRASE)) == lines


def test_the_archive_shows_nothing_of_its_content():
    plain = b"Canary Zxqwv " * 1000
    data = seal(plain)
    assert b"Canary" not in data and b"Zxqwv" not in data
    assert data.startswith(archive.MAGIC)


def test_a_wrong_passphrase_is_told_apart():
    data = seal(b"secret")
    with pytest.raises(WrongPassphraseError, match="Wrong passphrase"):
        opened(data, "another long passphrase")


def test_the_same_passphrase_in_another_unicode_form_opens_it():
    composed = "caf\u00e9 passphrase long"
    decomposed = "cafe\u0301 passphrase long"
    assert opened(seal(b"ok", passphrase=composed), decomposed) == b"ok"


def test_a_short_passphrase_is_refused():
    with pytest.raises(ArchiveError, match="at least 12 characters"):
        archive.Writer(io.BytesIO(), "short", n=CHEAP)


def test_every_altered_byte_is_caught():
    data = seal(os.urandom(3000), chunk=700)
    start = header_length(data)
    for position in [start, start + 1, start + 700, len(data) // 2, len(data) - 1]:
        altered = bytearray(data)
        altered[position] ^= 0x01
        with pytest.raises(DamagedArchiveError, match="damaged or was altered"):
            opened(bytes(altered))


def test_an_altered_header_is_caught():
    data = seal(b"content " * 100)
    start = len(archive.MAGIC) + 4
    body = json.loads(data[start : header_length(data)])
    # Another chunk size: the same length, another header.
    body["chunk"] = archive.CHUNK + 1
    new_body = json.dumps(body, sort_keys=True).encode()
    forged = data[: len(archive.MAGIC)] + struct.pack(">I", len(new_body)) + new_body
    with pytest.raises(ArchiveError):
        opened(forged + data[header_length(data) :])


def test_an_archive_cut_short_is_caught_even_at_a_chunk_boundary():
    data = seal(os.urandom(5000), chunk=1000)
    start = header_length(data)
    boundary = start + 2 * (1000 + archive.TAG)
    for end in [boundary, boundary + 10, len(data) - 1, start + 5, start]:
        with pytest.raises(DamagedArchiveError):
            opened(data[:end])


def test_chunks_swapped_or_bytes_added_are_caught():
    data = seal(os.urandom(3000), chunk=1000)
    start = header_length(data)
    size = 1000 + archive.TAG
    first, second = data[start : start + size], data[start + size : start + 2 * size]
    swapped = data[:start] + second + first + data[start + 2 * size :]
    with pytest.raises(DamagedArchiveError):
        opened(swapped)
    with pytest.raises(DamagedArchiveError):
        opened(data + b"\x00" * archive.TAG)


def test_an_archive_of_another_passphrase_spliced_in_is_caught():
    one, other = seal(b"a" * 3000, chunk=1000), seal(b"b" * 3000, chunk=1000)
    start_one, start_other = header_length(one), header_length(other)
    spliced = one[:start_one] + other[start_other:]
    with pytest.raises(DamagedArchiveError):
        opened(spliced)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"PK\x03\x04 a zip file",
        archive.MAGIC + struct.pack(">I", 10**9),
        archive.MAGIC + struct.pack(">I", 5) + b"{not}",
    ],
)
def test_what_is_no_archive_is_refused_clearly(data):
    with pytest.raises(ArchiveError):
        opened(data)


def test_a_header_asking_for_a_huge_key_derivation_is_refused_before_deriving():
    data = seal(b"x")
    start = len(archive.MAGIC) + 4
    body = json.loads(data[start : header_length(data)])
    body["kdf"]["n"] = 2**24
    new_body = json.dumps(body).encode()
    forged = archive.MAGIC + struct.pack(">I", len(new_body)) + new_body
    with pytest.raises(DamagedArchiveError, match="impossible parameters"):
        opened(forged + data[header_length(data) :])


def test_a_newer_format_is_refused_with_its_version():
    data = seal(b"x")
    start = len(archive.MAGIC) + 4
    body = json.loads(data[start : header_length(data)])
    body["version"] = 2
    new_body = json.dumps(body).encode()
    forged = archive.MAGIC + struct.pack(">I", len(new_body)) + new_body
    with pytest.raises(ArchiveError, match="format version 2"):
        opened(forged + data[header_length(data) :])


# Nothing here depends on the database engine: the PostgreSQL run of `make test` leaves it out.
pytestmark = pytest.mark.engine_agnostic
