"""The encrypted container of backups: compressed with zlib, sealed with AES-256-GCM under a key
derived from a passphrase with scrypt. No Django here.

Layout::

    GATHERING-BACKUP\\n                 magic
    <4 bytes, big-endian>              length of the header
    <header: JSON>                     kdf (scrypt salt, n, r, p), nonce prefix, chunk size, and
                                       a check value of the key (tells a wrong passphrase from a
                                       damaged archive)
    <chunk 0> <chunk 1> … <chunk n>    each: AES-GCM(zlib stream bytes), tag included

The compressed stream is cut into chunks of :data:`CHUNK` bytes, each sealed on its own (the
STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár): chunk ``i`` has the nonce
``prefix (7 bytes) || i (4 bytes) || last (1 byte)`` and the whole header as associated data.
So an archive of any size is written and read in constant memory, and any change is caught:
an altered header or chunk fails its tag, chunks swapped fail their index, an archive cut
short fails the "last" flag, and bytes added after the last chunk are refused.

A reader must go through the whole archive once (:func:`verify`) before acting on any of it:
a chunk is only known genuine once its tag is checked, and the archive only complete at its end.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import secrets
import struct
import unicodedata
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MAGIC = b"GATHERING-BACKUP\n"
FORMAT_VERSION = 1
CHUNK = 1 << 20
TAG = 16
NONCE_PREFIX_BYTES = 7
# scrypt costs: 128 MiB and about half a second per derivation (RFC 7914 recommends n = 2**20
# for file encryption; 2**17 keeps a restore possible on a small server).
SCRYPT_N = 2**17
SCRYPT_R = 8
SCRYPT_P = 1
# A header asking for more than this is refused before deriving anything (memory: 128 * n * r).
MAX_SCRYPT_MEMORY = 1 << 30
MAX_HEADER = 4096
MIN_PASSPHRASE = 12
_CHECK = b"gathering-backup:v1:key-check"


class ArchiveError(Exception):
    """The archive cannot be read; the message says why (shown to the operator)."""


class WrongPassphraseError(ArchiveError):
    pass


class DamagedArchiveError(ArchiveError):
    pass


class _Writable(Protocol):
    def write(self, data: bytes, /) -> Any: ...


@dataclass(frozen=True)
class Header:
    salt: bytes
    n: int
    r: int
    p: int
    nonce_prefix: bytes
    chunk: int
    check: bytes

    def encode(self) -> bytes:
        body = json.dumps(
            {
                "format": "gathering-backup",
                "version": FORMAT_VERSION,
                "kdf": {"name": "scrypt", "salt": self.salt.hex(), "n": self.n, "r": self.r,
                        "p": self.p},
                "cipher": "AES-256-GCM",
                "compression": "zlib",
                "chunk": self.chunk,
                "nonce_prefix": self.nonce_prefix.hex(),
                "check": self.check.hex(),
            },
            sort_keys=True,
        ).encode()  # fmt: skip
        return MAGIC + struct.pack(">I", len(body)) + body

    @classmethod
    def read(cls, raw: BinaryIO) -> tuple[Header, bytes]:
        """The header at the start of ``raw`` and its bytes (the chunks' associated data)."""
        start = _read_exactly(raw, len(MAGIC) + 4)
        if not start.startswith(MAGIC) or len(start) < len(MAGIC) + 4:
            raise ArchiveError("This is not a Gathering backup (its first bytes are wrong).")
        (length,) = struct.unpack(">I", start[len(MAGIC) :])
        if length > MAX_HEADER:
            raise DamagedArchiveError("The backup's header is damaged (too long).")
        body = _read_exactly(raw, length)
        try:
            fields = json.loads(body)
            kdf = fields["kdf"]
            header = cls(
                salt=bytes.fromhex(kdf["salt"]),
                n=int(kdf["n"]),
                r=int(kdf["r"]),
                p=int(kdf["p"]),
                nonce_prefix=bytes.fromhex(fields["nonce_prefix"]),
                chunk=int(fields["chunk"]),
                check=bytes.fromhex(fields["check"]),
            )
            version = fields["version"]
        except (ValueError, KeyError, TypeError) as error:
            raise DamagedArchiveError("The backup's header is damaged.") from error
        if version != FORMAT_VERSION or kdf.get("name") != "scrypt":
            raise ArchiveError(
                f"This backup is in format version {version!r}, which this version of "
                "Gathering cannot read."
            )
        if (
            len(header.nonce_prefix) != NONCE_PREFIX_BYTES
            or not 0 < header.chunk <= 64 * CHUNK
            or header.n < 2
            or header.n & (header.n - 1)
            or not 0 < header.r * header.p < 1 << 30
            or 128 * header.n * header.r > MAX_SCRYPT_MEMORY
        ):
            raise DamagedArchiveError("The backup's header is damaged (impossible parameters).")
        return header, start + body


def normalise_passphrase(passphrase: str) -> bytes:
    # The same passphrase typed on another system may come in another Unicode form.
    return unicodedata.normalize("NFC", passphrase).encode()


def _derive(passphrase: str, header: Header) -> bytes:
    return Scrypt(salt=header.salt, length=32, n=header.n, r=header.r, p=header.p).derive(
        normalise_passphrase(passphrase)
    )


def _check_value(key: bytes) -> bytes:
    return hmac.new(key, _CHECK, hashlib.sha256).digest()


def _nonce(prefix: bytes, index: int, *, last: bool) -> bytes:
    if index >= 1 << 32:
        raise ArchiveError("The backup is too large for its format.")
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def _read_exactly(raw: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes: fewer only at the end of the file (pipes return short reads)."""
    parts: list[bytes] = []
    missing = size
    while missing:
        part = raw.read(missing)
        if not part:
            break
        parts.append(part)
        missing -= len(part)
    return b"".join(parts)


class Writer:
    """Write an archive to ``raw``: ``write()`` plaintext, then ``close()`` (which seals the
    last chunk; an archive not closed is incomplete and no reader accepts it)."""

    def __init__(
        self, raw: _Writable, passphrase: str, *, n: int = SCRYPT_N, chunk: int = CHUNK
    ) -> None:
        if len(passphrase) < MIN_PASSPHRASE:
            raise ArchiveError(f"The passphrase must be at least {MIN_PASSPHRASE} characters long.")
        salt = secrets.token_bytes(16)
        header = Header(
            salt=salt,
            n=n,
            r=SCRYPT_R,
            p=SCRYPT_P,
            nonce_prefix=secrets.token_bytes(NONCE_PREFIX_BYTES),
            chunk=chunk,
            check=b"",
        )
        key = _derive(passphrase, header)
        self._header = dataclasses.replace(header, check=_check_value(key))
        self._aad = self._header.encode()
        self._aead = AESGCM(key)
        self._raw = raw
        self._compressor = zlib.compressobj(6)
        self._buffer = bytearray()
        self._index = 0
        self._closed = False
        raw.write(self._aad)

    def write(self, data: bytes) -> None:
        if self._closed:
            raise ValueError("The archive is closed.")
        self._buffer += self._compressor.compress(data)
        # Keep at least one byte back: the last chunk, sealed by close(), is never empty
        # unless the whole archive is.
        while len(self._buffer) > self._header.chunk:
            self._seal(bytes(self._buffer[: self._header.chunk]), last=False)
            del self._buffer[: self._header.chunk]

    def close(self) -> None:
        if self._closed:
            return
        self._buffer += self._compressor.flush()
        while len(self._buffer) > self._header.chunk:
            self._seal(bytes(self._buffer[: self._header.chunk]), last=False)
            del self._buffer[: self._header.chunk]
        self._seal(bytes(self._buffer), last=True)
        self._buffer.clear()
        self._closed = True

    def _seal(self, plain: bytes, *, last: bool) -> None:
        nonce = _nonce(self._header.nonce_prefix, self._index, last=last)
        self._raw.write(self._aead.encrypt(nonce, plain, self._aad))
        self._index += 1


def _opened(raw: BinaryIO, passphrase: str) -> Iterator[bytes]:
    """The compressed stream, chunk by chunk, each checked before it is yielded. Raises
    WrongPassphraseError or DamagedArchiveError (possibly after yielding some chunks)."""
    header, aad = Header.read(raw)
    key = _derive(passphrase, header)
    if not hmac.compare_digest(_check_value(key), header.check):
        raise WrongPassphraseError(
            "Wrong passphrase: this backup was made with another one (or its header was altered)."
        )
    aead = AESGCM(key)
    size = header.chunk + TAG
    current = _read_exactly(raw, size)
    index = 0
    while True:
        following = _read_exactly(raw, size)
        last = not following
        if len(current) < TAG or (not last and len(current) != size):
            raise DamagedArchiveError("The backup is damaged: it was cut short.")
        try:
            plain = aead.decrypt(_nonce(header.nonce_prefix, index, last=last), current, aad)
        except InvalidTag:
            raise DamagedArchiveError(
                "The backup is damaged or was altered: its authentication failed "
                f"(at block {index + 1}). Nothing was restored."
            ) from None
        yield plain
        if last:
            return
        current = following
        index += 1


def read(raw: BinaryIO, passphrase: str) -> Iterator[bytes]:
    """The archive's plaintext, in pieces. Only a complete iteration proves the archive
    genuine and whole: act on it only after :func:`verify` passed on the same file."""
    decompressor = zlib.decompressobj()
    for chunk in _opened(raw, passphrase):
        try:
            piece = decompressor.decompress(chunk)
        except zlib.error as error:
            raise DamagedArchiveError(
                "The backup is damaged (its content is unreadable)."
            ) from error
        if piece:
            yield piece
    rest = decompressor.flush()
    if rest:
        yield rest
    if not decompressor.eof or decompressor.unused_data:
        raise DamagedArchiveError("The backup is damaged (its content is incomplete).")


def read_lines(raw: BinaryIO, passphrase: str) -> Iterator[bytes]:
    """The archive's plaintext line by line (the backups' content is JSON lines)."""
    pending = b""
    for piece in read(raw, passphrase):
        pending += piece
        *lines, pending = pending.split(b"\n")
        yield from lines
    if pending:
        yield pending


def verify(raw: BinaryIO, passphrase: str) -> None:
    """Read the whole archive, checking every tag; raises as :func:`read` does."""
    for _piece in read(raw, passphrase):
        pass
