"""Merkle tree hashing, proofs, signed tree heads and receipts of the transparency log.

Pure Python: the standard library and ``cryptography`` (Ed25519) only, never Django, so that
anyone can audit a log with this one file (``python -m gathering.transparency.verify``).

Hashing follows RFC 9162 (Certificate Transparency 2.0, same as RFC 6962), section 2.1, with
SHA-256::

    leaf hash  = SHA-256(0x00 || leaf data)
    node hash  = SHA-256(0x01 || left || right)
    MTH({})    = SHA-256("")                            (the empty tree)
    MTH(D[n])  = node hash(MTH(D[0:k]), MTH(D[k:n]))     k: largest power of two < n

Inclusion and consistency proofs are the RFC's ``PATH`` and ``PROOF`` lists, and
``verify_inclusion``/``verify_consistency`` follow its verification algorithms (sections
2.1.3.2 and 2.1.4.2) step by step.

Signed tree head: an Ed25519 signature (RFC 8032) over these bytes (ASCII, each line ending in
a line feed, numbers in decimal without leading zeros, the root in lowercase hex)::

    gathering-tree-head-v1
    log <log id: 1 to 100 letters, digits, '-' or '_'>
    size <number of leaves>
    root <64 hex digits: MTH of the first size leaves>
    timestamp <milliseconds since 1970-01-01T00:00:00Z>
    key <id of the signing key, 1..65535>

The leaf data is whatever the app that queues the entry defines (a signature's: a canonical
JSON document, ``voices/leaves.py``); the log publishes it, so it must name no person. A
receipt holds the log id, the leaf index and the leaf data; see ``Receipt``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
# Sizes and indexes stay below 2**62: they are stored in signed 64-bit columns, and a proof for
# a tree of that size has at most 62 hashes (an inclusion proof) or 2 * 62 (consistency).
MAX_TREE_SIZE = 1 << 62
MAX_PATH = 2 * 64
TREE_HEAD_FORMAT = "gathering-tree-head-v1"
RECEIPT_FORMAT = "gathering-receipt-v1"
LOG_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")

NodeId = tuple[int, int]
"""A perfect subtree: (level, index), covering leaves [index * 2**level, (index + 1) * 2**level)."""

SubtreeHash = Callable[[int, int], bytes]
"""Gives MTH(D[start:end]) for a range that is a subtree of the tree being proved."""


class VerificationError(Exception):
    """A receipt, tree head or proof does not hold; the message says which check failed."""


class FormatError(ValueError):
    """A JSON document (tree head, proof, receipt, keys) is malformed."""


# -- hashing ----------------------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root(hashes: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes (any length; the empty list gives ``EMPTY_ROOT``).

    Pairs neighbours level by level and lifts an odd last hash unchanged, which builds the
    RFC's tree (left subtrees perfect). Also gives the hash of a perfect subtree from the hashes
    of its nodes at any one level."""
    if not hashes:
        return EMPTY_ROOT
    level = list(hashes)
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def fold(hashes: Sequence[bytes]) -> bytes:
    """The hash of a range from the hashes of its perfect subtrees, left to right (as given by
    ``perfect_subtrees``): node hash(h1, node hash(h2, ... hn))."""
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def _split(width: int) -> int:
    """The RFC's k: the largest power of two smaller than ``width`` (> 1)."""
    return 1 << ((width - 1).bit_length() - 1)


def perfect_subtrees(start: int, end: int) -> list[NodeId]:
    """The perfect subtrees that make up the range [start, end) of a tree, left to right.

    The range must be a node of some tree (a perfect subtree, or the right edge of one): each
    part is aligned to its own size. Raises ValueError for any other range."""
    if not 0 <= start <= end:
        raise ValueError("bad range")
    nodes: list[NodeId] = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start & ((1 << level) - 1):
            raise ValueError(f"[{start}, {end}) is not a subtree")
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


# -- proofs -----------------------------------------------------------------------------------


def _check_size(size: int) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size < MAX_TREE_SIZE:
        raise ValueError("tree size out of range")


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The ranges whose MTH make up the inclusion proof of leaf ``index`` in the tree of
    ``size`` leaves (RFC 9162 2.1.3.1 ``PATH``), the leaf's sibling first."""
    _check_size(size)
    if not 0 <= index < size:
        raise ValueError("leaf index must be below the tree size")
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The ranges whose MTH make up the consistency proof between the trees of ``first`` and
    ``second`` leaves (RFC 9162 2.1.4.1 ``PROOF``/``SUBPROOF``). Empty when ``first`` is 0 or
    equals ``second``: there is nothing to prove."""
    _check_size(first)
    _check_size(second)
    if first > second:
        raise ValueError("the first size must not exceed the second")
    if first in {0, second}:
        return []
    ranges: list[tuple[int, int]] = []
    start, m, n, whole = 0, first, second, True
    while m != n:
        k = _split(n)
        if m <= k:
            ranges.append((start + k, start + n))
            n = k
        else:
            ranges.append((start, start + k))
            start, m, n, whole = start + k, m - k, n - k, False
    if not whole:
        # SUBPROOF(m, D[m], false) = [MTH(D[m])]: the old tree is not one subtree of the new.
        ranges.append((start, start + n))
    ranges.reverse()
    return ranges


def subtrees_needed(ranges: Iterable[tuple[int, int]]) -> set[NodeId]:
    """The perfect subtrees whose hashes give every range's hash (for fetching them at once)."""
    return {node for start, end in ranges for node in perfect_subtrees(start, end)}


def range_hasher(node: Callable[[NodeId], bytes]) -> SubtreeHash:
    """A ``SubtreeHash`` built on a function that gives the hash of a perfect subtree."""

    def subtree_hash(start: int, end: int) -> bytes:
        return fold([node(part) for part in perfect_subtrees(start, end)])

    return subtree_hash


def inclusion_proof(index: int, size: int, subtree_hash: SubtreeHash) -> list[bytes]:
    return [subtree_hash(start, end) for start, end in inclusion_ranges(index, size)]


def consistency_proof(first: int, second: int, subtree_hash: SubtreeHash) -> list[bytes]:
    return [subtree_hash(start, end) for start, end in consistency_ranges(first, second)]


def _valid_path(path: Sequence[bytes]) -> bool:
    return len(path) <= MAX_PATH and all(
        isinstance(item, bytes) and len(item) == HASH_SIZE for item in path
    )


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """The root that ``proof`` leads to from ``leaf_hash`` at ``index`` (RFC 9162 2.1.3.2).
    Raises VerificationError when the proof cannot be for that index and size."""
    _check_size(size)
    if not _valid_path(proof) or len(leaf_hash) != HASH_SIZE:
        raise VerificationError("the proof is malformed (hashes of 32 bytes expected)")
    # 1. leaf_index must be below tree_size.
    if not 0 <= index < size:
        raise VerificationError(f"leaf index {index} is not below the tree size {size}")
    # 2-3.
    fn, sn, r = index, size - 1, leaf_hash
    # 4.
    for p in proof:
        if sn == 0:
            raise VerificationError("the proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    # 5.
    if sn != 0:
        raise VerificationError("the proof is shorter than the tree is deep")
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """True when ``proof`` shows the leaf ``leaf_hash`` at ``index`` in the tree of ``size``
    leaves whose MTH is ``root``."""
    try:
        computed = root_from_inclusion_proof(leaf_hash, index, size, proof)
    except (VerificationError, ValueError, TypeError):
        return False
    return hmac.compare_digest(computed, root)


def check_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise VerificationError unless ``proof`` shows that the tree of ``first`` leaves with
    MTH ``first_root`` is a prefix of the tree of ``second`` leaves with MTH ``second_root``
    (RFC 9162 2.1.4.2; a tree of 0 leaves, whose root must be ``EMPTY_ROOT``, is a prefix of
    every tree, and a tree is consistent with itself, both with an empty proof)."""
    _check_size(first)
    _check_size(second)
    if not _valid_path(proof) or len(first_root) != HASH_SIZE or len(second_root) != HASH_SIZE:
        raise VerificationError("the proof is malformed (hashes of 32 bytes expected)")
    if first > second:
        raise VerificationError(f"the first tree ({first}) is larger than the second ({second})")
    if first == second:
        if proof:
            raise VerificationError("a proof between trees of the same size must be empty")
        if not hmac.compare_digest(first_root, second_root):
            raise VerificationError(f"two different roots for the same size {first}")
        return
    if first == 0:
        if proof:
            raise VerificationError("a proof from the empty tree must be empty")
        if not hmac.compare_digest(first_root, EMPTY_ROOT):
            raise VerificationError("the root of the empty tree is not SHA-256('')")
        return
    path = list(proof)
    # 1.
    if not path:
        raise VerificationError("the consistency proof is empty")
    # 2.
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    # 3-4.
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5.
    fr = sr = path[0]
    # 6.
    for c in path[1:]:
        if sn == 0:
            raise VerificationError("the proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    # 7.
    if sn != 0:
        raise VerificationError("the proof is shorter than the tree is deep")
    if not hmac.compare_digest(fr, first_root):
        raise VerificationError(f"the proof does not lead to the root of size {first}")
    if not hmac.compare_digest(sr, second_root):
        raise VerificationError(f"the proof does not lead to the root of size {second}")


def verify_consistency(
    first_size: int,
    second_size: int,
    first_root: bytes,
    second_root: bytes,
    proof: Sequence[bytes],
) -> bool:
    """True when ``proof`` shows the tree (first_size, first_root) to be a prefix of the tree
    (second_size, second_root); see ``check_consistency``."""
    try:
        check_consistency(first_size, second_size, first_root, second_root, proof)
    except (VerificationError, ValueError, TypeError):
        return False
    return True


# -- appending --------------------------------------------------------------------------------


@dataclass
class Frontier:
    """The right edge of a tree: the hashes of its perfect subtrees of decreasing size (one per
    bit set in ``size``), left to right. Appending and the root cost O(log size), without
    reading older leaves."""

    size: int = 0
    hashes: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        _check_size(self.size)
        if len(self.hashes) != self.size.bit_count():
            raise ValueError("a frontier holds one hash per bit set in its size")
        if not _valid_path(self.hashes):
            raise ValueError("frontier hashes must be 32 bytes")

    @classmethod
    def from_bytes(cls, size: int, blob: bytes) -> Frontier:
        hashes = [bytes(blob[i : i + HASH_SIZE]) for i in range(0, len(blob), HASH_SIZE)]
        return cls(size=size, hashes=hashes)

    def to_bytes(self) -> bytes:
        return b"".join(self.hashes)

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf; returns the perfect subtrees it completes above the leaf, as (level,
        index, hash), lowest first."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError("a leaf hash is 32 bytes")
        completed: list[tuple[int, int, bytes]] = []
        current, level, index = leaf_hash, 0, self.size
        while (self.size >> level) & 1:
            current = node_hash(self.hashes.pop(), current)
            level += 1
            index >>= 1
            completed.append((level, index, current))
        self.hashes.append(current)
        self.size += 1
        return completed

    def root(self) -> bytes:
        return fold(self.hashes)


# -- tree heads -------------------------------------------------------------------------------


def _int(value: Any, name: str, low: int = 0, high: int = MAX_TREE_SIZE - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FormatError(f"{name} must be a whole number from {low} to {high}")
    return value


def _hex(value: Any, name: str, length: int | None = None) -> bytes:
    if not isinstance(value, str) or not re.fullmatch(r"(?:[0-9a-fA-F]{2})*", value):
        raise FormatError(f"{name} must be hexadecimal")
    raw = bytes.fromhex(value)
    if length is not None and len(raw) != length:
        raise FormatError(f"{name} must be {length} bytes ({2 * length} hex digits)")
    return raw


def _object(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise FormatError(f"{name} must be a JSON object")
    return value


def _log_id(value: Any) -> str:
    if not isinstance(value, str) or not LOG_ID.match(value):
        raise FormatError("log must be 1 to 100 letters, digits, '-' or '_'")
    return value


def tree_head_message(*, log: str, size: int, root: bytes, timestamp: int, key_id: int) -> bytes:
    """The bytes an Ed25519 signature of a tree head covers (see the module's docstring)."""
    _log_id(log)
    _int(size, "size")
    _int(timestamp, "timestamp", high=(1 << 63) - 1)
    _int(key_id, "key_id", 1, 0xFFFF)
    if len(root) != HASH_SIZE:
        raise FormatError("root must be 32 bytes")
    return (
        f"{TREE_HEAD_FORMAT}\nlog {log}\nsize {size}\nroot {root.hex()}\n"
        f"timestamp {timestamp}\nkey {key_id}\n"
    ).encode("ascii")


@dataclass(frozen=True)
class TreeHead:
    """A signed statement: the log ``log`` had ``size`` leaves with MTH ``root`` at
    ``timestamp`` (milliseconds since the epoch), signed with key ``key_id``."""

    log: str
    size: int
    root: bytes
    timestamp: int
    key_id: int
    signature: bytes = b""

    def message(self) -> bytes:
        return tree_head_message(
            log=self.log,
            size=self.size,
            root=self.root,
            timestamp=self.timestamp,
            key_id=self.key_id,
        )

    def signed(self, private_key: Ed25519PrivateKey) -> TreeHead:
        return TreeHead(
            log=self.log,
            size=self.size,
            root=self.root,
            timestamp=self.timestamp,
            key_id=self.key_id,
            signature=private_key.sign(self.message()),
        )

    def signature_valid(self, public_key: bytes) -> bool:
        """True when ``signature`` is this head's Ed25519 signature by the raw 32-byte key."""
        if len(public_key) != 32 or len(self.signature) != 64:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(self.signature, self.message())
        except (InvalidSignature, ValueError):
            return False
        return True

    def to_json(self) -> dict[str, Any]:
        return {
            "log": self.log,
            "size": self.size,
            "root": self.root.hex(),
            "timestamp": self.timestamp,
            "key_id": self.key_id,
            "signature": self.signature.hex(),
        }

    @classmethod
    def from_json(cls, document: Any) -> TreeHead:
        value = _object(document, "a tree head")
        try:
            head = cls(
                log=_log_id(value.get("log")),
                size=_int(value.get("size"), "size"),
                root=_hex(value.get("root"), "root", HASH_SIZE),
                timestamp=_int(value.get("timestamp"), "timestamp", high=(1 << 63) - 1),
                key_id=_int(value.get("key_id"), "key_id", 1, 0xFFFF),
                signature=_hex(value.get("signature"), "signature", 64),
            )
        except FormatError as error:
            raise FormatError(f"tree head: {error}") from None
        return head


def check_tree_head(head: TreeHead, public_keys: Mapping[int, bytes]) -> None:
    """Raise VerificationError unless ``head`` is signed by its key among ``public_keys``."""
    key = public_keys.get(head.key_id)
    if key is None:
        raise VerificationError(f"the tree head is signed with key {head.key_id}, not given")
    if not head.signature_valid(key):
        raise VerificationError(
            f"the signature of the tree head of size {head.size} does not verify"
        )


def parse_public_keys(document: Any) -> dict[int, bytes]:
    """Public keys by id from the keys document ``{"keys": [{"key_id": 1, "algorithm":
    "Ed25519", "public_key": "<64 hex digits>"}, ...]}``."""
    value = _object(document, "the keys document")
    entries = value.get("keys")
    if not isinstance(entries, list) or len(entries) > 0xFFFF:
        raise FormatError("the keys document needs a list 'keys'")
    keys: dict[int, bytes] = {}
    for entry in entries:
        item = _object(entry, "a key")
        if item.get("algorithm", "Ed25519") != "Ed25519":
            raise FormatError("only Ed25519 keys are known")
        keys[_int(item.get("key_id"), "key_id", 1, 0xFFFF)] = _hex(
            item.get("public_key"), "public_key", 32
        )
    return keys


# -- proofs as documents ----------------------------------------------------------------------


def _path(value: Any) -> list[bytes]:
    if not isinstance(value, list) or len(value) > MAX_PATH:
        raise FormatError(f"path must be a list of at most {MAX_PATH} hashes")
    return [_hex(item, "a path hash", HASH_SIZE) for item in value]


@dataclass(frozen=True)
class InclusionProof:
    log: str
    index: int
    tree_size: int
    path: list[bytes]
    # The server adds the entry's leaf hash for convenience; a verifier computes its own.
    leaf_hash: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "log": self.log,
            "index": self.index,
            "tree_size": self.tree_size,
            "path": [item.hex() for item in self.path],
        }
        if self.leaf_hash is not None:
            document["leaf_hash"] = self.leaf_hash.hex()
        return document

    @classmethod
    def from_json(cls, document: Any) -> InclusionProof:
        value = _object(document, "an inclusion proof")
        return cls(
            log=_log_id(value.get("log")),
            index=_int(value.get("index"), "index"),
            tree_size=_int(value.get("tree_size"), "tree_size"),
            path=_path(value.get("path")),
        )


@dataclass(frozen=True)
class ConsistencyProof:
    log: str
    first: int
    second: int
    path: list[bytes]

    def to_json(self) -> dict[str, Any]:
        return {
            "log": self.log,
            "first": self.first,
            "second": self.second,
            "path": [item.hex() for item in self.path],
        }

    @classmethod
    def from_json(cls, document: Any) -> ConsistencyProof:
        value = _object(document, "a consistency proof")
        return cls(
            log=_log_id(value.get("log")),
            first=_int(value.get("first"), "first"),
            second=_int(value.get("second"), "second"),
            path=_path(value.get("path")),
        )


# -- receipts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    """What the author of an entry keeps: which leaf of which log is theirs, and its data.

    JSON: ``{"format": "gathering-receipt-v1", "log": ..., "index": ..., "data": "<hex>"}``.
    Also read: the receipt of a signature (``voices/receipts.py``), ``{"log": ...,
    "leaf_index": ..., "leaf_data_hex": ..., "leaf": {fields}}``, whose ``leaf`` fields must be
    what the leaf data (a JSON document) holds."""

    log: str
    index: int
    data: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "format": RECEIPT_FORMAT,
            "log": self.log,
            "index": self.index,
            "data": self.data.hex(),
        }

    @classmethod
    def from_json(cls, document: Any) -> Receipt:
        value = _object(document, "a receipt")
        if value.get("format", RECEIPT_FORMAT) != RECEIPT_FORMAT:
            raise FormatError(f"a receipt's format must be {RECEIPT_FORMAT!r}")
        log = _log_id(value.get("log"))
        index = value["index"] if "index" in value else value.get("leaf_index")
        if index is None:
            raise FormatError(
                "the receipt has no leaf index yet: the entry gets one within seconds, "
                "fetch the receipt again"
            )
        data = _hex(value["data"] if "data" in value else value.get("leaf_data_hex"), "data")
        fields = value.get("leaf")
        if fields is not None:
            try:
                held = json.loads(data)
            except (ValueError, UnicodeDecodeError):
                held = None
            if held != fields:
                raise FormatError("the receipt's leaf fields are not what its leaf data holds")
        return cls(log=log, index=_int(index, "index"), data=data)

    @property
    def leaf_hash(self) -> bytes:
        return leaf_hash(self.data)


def verify_receipt(
    receipt: Receipt,
    tree_head: TreeHead,
    proof: InclusionProof,
    public_keys: Mapping[int, bytes],
) -> None:
    """Raise VerificationError unless the receipt's leaf is in the log at its index, in the tree
    of the signed ``tree_head``, as ``proof`` shows."""
    if tree_head.log != receipt.log or proof.log != receipt.log:
        raise VerificationError(
            f"the receipt is for log {receipt.log!r}, the tree head for {tree_head.log!r} "
            f"and the proof for {proof.log!r}"
        )
    check_tree_head(tree_head, public_keys)
    if receipt.index >= tree_head.size:
        raise VerificationError(
            f"leaf {receipt.index} is not in the tree head of size {tree_head.size} "
            "(not integrated yet: fetch a later tree head)"
        )
    if proof.index != receipt.index or proof.tree_size != tree_head.size:
        raise VerificationError(
            f"the proof is for leaf {proof.index} in a tree of size {proof.tree_size}, not leaf "
            f"{receipt.index} in size {tree_head.size}"
        )
    computed = root_from_inclusion_proof(
        receipt.leaf_hash, receipt.index, tree_head.size, proof.path
    )
    if not hmac.compare_digest(computed, tree_head.root):
        raise VerificationError(
            f"leaf {receipt.index} with this data is not in the tree of size {tree_head.size}: "
            "the proof leads to another root"
        )


def verify_tree_heads(
    old: TreeHead, new: TreeHead, proof: ConsistencyProof, public_keys: Mapping[int, bytes]
) -> None:
    """Raise VerificationError unless both heads are signed and the ``old`` tree is a prefix of
    the ``new`` one, as ``proof`` shows (nothing was removed or rewritten in between)."""
    if not old.log == new.log == proof.log:
        raise VerificationError(
            f"the tree heads ({old.log!r}, {new.log!r}) and the proof ({proof.log!r}) are not "
            "of one log"
        )
    check_tree_head(old, public_keys)
    check_tree_head(new, public_keys)
    if old.size > new.size:
        raise VerificationError(
            f"the old tree head ({old.size}) is larger than the new one ({new.size})"
        )
    if proof.first != old.size or proof.second != new.size:
        raise VerificationError(
            f"the proof is between sizes {proof.first} and {proof.second}, not {old.size} and "
            f"{new.size}"
        )
    check_consistency(old.size, new.size, old.root, new.root, proof.path)
