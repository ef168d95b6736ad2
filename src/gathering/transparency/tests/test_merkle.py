"""The pure Merkle module, checked against RFC 6962 test vectors (the 8-leaf tree of the
Certificate Transparency and Trillian test suites) and against pymerkle, an independent
implementation (GPL-3.0: used here only, never by the application)."""

from __future__ import annotations

import json
import random

import pymerkle
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from gathering.transparency import merkle

LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION_0_OF_8 = [
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
]
CONSISTENCY = {
    (1, 8): INCLUSION_0_OF_8,
    (6, 8): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (2, 5): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
}


def hashes_of(leaves: list[bytes]) -> list[bytes]:
    return [merkle.leaf_hash(leaf) for leaf in leaves]


def naive_hasher(hashes: list[bytes]) -> merkle.SubtreeHash:
    return lambda start, end: merkle.root(hashes[start:end])


def pymerkle_tree(leaves: list[bytes]) -> pymerkle.InmemoryTree:
    tree = pymerkle.InmemoryTree(algorithm="sha256")
    for leaf in leaves:
        tree.append_entry(leaf)
    return tree


def random_leaves(count: int, seed: int) -> list[bytes]:
    generator = random.Random(seed)  # noqa: S311  (reproducible test data)
    return [generator.randbytes(generator.randint(0, 40)) for _ in range(count)]


def test_empty_tree_hash_is_sha256_of_nothing() -> None:
    assert merkle.root([]).hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert merkle.Frontier().root() == merkle.EMPTY_ROOT


def test_rfc6962_vectors_roots() -> None:
    hashes = hashes_of(LEAVES)
    for size in range(1, 9):
        assert merkle.root(hashes[:size]).hex() == ROOTS[size - 1]


def test_rfc6962_vectors_proofs() -> None:
    hashes = hashes_of(LEAVES)
    hasher = naive_hasher(hashes)
    assert [p.hex() for p in merkle.inclusion_proof(0, 8, hasher)] == INCLUSION_0_OF_8
    for (first, second), expected in CONSISTENCY.items():
        proof = merkle.consistency_proof(first, second, hasher)
        assert [p.hex() for p in proof] == expected
        assert merkle.verify_consistency(
            first, second, bytes.fromhex(ROOTS[first - 1]), bytes.fromhex(ROOTS[second - 1]), proof
        )


def test_roots_match_pymerkle_for_sizes_0_to_200_and_larger() -> None:
    leaves = random_leaves(200, seed=1)
    tree = pymerkle_tree(leaves)
    hashes = hashes_of(leaves)
    frontier = merkle.Frontier()
    assert merkle.root([]) == tree.get_root(0) == merkle.EMPTY_ROOT
    for size in range(1, 201):
        frontier.append(hashes[size - 1])
        expected = tree.get_root(size)
        assert merkle.root(hashes[:size]) == expected
        assert frontier.root() == expected
    for seed, size in enumerate([257, 1000, 1023, 1024, 1025, 4097], start=2):
        leaves = random_leaves(size, seed)
        frontier = merkle.Frontier()
        for digest in hashes_of(leaves):
            frontier.append(digest)
        assert frontier.root() == pymerkle_tree(leaves).get_root() == merkle.root(hashes_of(leaves))


def test_inclusion_paths_match_pymerkle_and_pass_its_verifier() -> None:
    leaves = random_leaves(70, seed=3)
    tree = pymerkle_tree(leaves)
    hashes = hashes_of(leaves)
    hasher = naive_hasher(hashes)
    for size in range(1, 71):
        for index in range(size):
            ours = merkle.inclusion_proof(index, size, hasher)
            theirs = tree.prove_inclusion(index + 1, size)  # pymerkle counts from 1
            assert theirs.path[0] == hashes[index]
            assert ours == theirs.path[1:]
            # pymerkle's verifier, fed our path: the same proof in its format.
            replayed = pymerkle.InclusionProof(
                "sha256", True, size, index + 1, theirs.rule, [hashes[index], *ours]
            )
            pymerkle.verify_inclusion(
                hashes[index], tree.get_root(size), replayed, index=index + 1, size=size
            )
            assert merkle.verify_inclusion(hashes[index], index, size, ours, tree.get_root(size))


def test_consistency_proofs_verify_against_pymerkle_roots() -> None:
    leaves = random_leaves(70, seed=4)
    tree = pymerkle_tree(leaves)
    hasher = naive_hasher(hashes_of(leaves))
    roots = [tree.get_root(size) for size in range(71)]
    for second in range(71):
        for first in range(second + 1):
            proof = merkle.consistency_proof(first, second, hasher)
            merkle.check_consistency(first, second, roots[first], roots[second], proof)
            if 0 < first < second:
                # A different old root (of another size) must not pass with this proof.
                assert not merkle.verify_consistency(
                    first, second, roots[first - 1], roots[second], proof
                )


@st.composite
def tree_and_index(draw: st.DrawFn) -> tuple[list[bytes], int]:
    size = draw(st.integers(min_value=1, max_value=300))
    seed = draw(st.integers(min_value=0, max_value=2**32))
    return hashes_of(random_leaves(size, seed)), draw(st.integers(0, size - 1))


def _tampered(proof: list[bytes], position: int, bit: int) -> list[bytes]:
    changed = bytearray(proof[position])
    changed[bit // 8] ^= 1 << (bit % 8)
    return [*proof[:position], bytes(changed), *proof[position + 1 :]]


@settings(max_examples=150, deadline=None)
@given(tree_and_index(), st.integers(0, 255), st.data())
def test_inclusion_proofs_hold_and_tampering_fails(case, bit, data) -> None:
    hashes, index = case
    size = len(hashes)
    root = merkle.root(hashes)
    proof = merkle.inclusion_proof(index, size, naive_hasher(hashes))
    assert merkle.verify_inclusion(hashes[index], index, size, proof, root)
    other = data.draw(st.integers(0, size - 1))
    if hashes[other] != hashes[index]:
        assert not merkle.verify_inclusion(hashes[other], index, size, proof, root)
    if other != index:
        assert not merkle.verify_inclusion(hashes[index], other, size, proof, root)
    if proof:
        position = data.draw(st.integers(0, len(proof) - 1))
        assert not merkle.verify_inclusion(
            hashes[index], index, size, _tampered(proof, position, bit), root
        )
        assert not merkle.verify_inclusion(hashes[index], index, size, proof[:-1], root)
    assert not merkle.verify_inclusion(hashes[index], index, size, [*proof, root], root)
    assert not merkle.verify_inclusion(
        hashes[index], index, size, proof, _tampered([root], 0, bit)[0]
    )


@settings(max_examples=150, deadline=None)
@given(tree_and_index(), st.integers(0, 255), st.data())
def test_consistency_proofs_hold_and_tampering_fails(case, bit, data) -> None:
    hashes, _index = case
    second = len(hashes)
    first = data.draw(st.integers(0, second))
    hasher = naive_hasher(hashes)
    first_root, second_root = merkle.root(hashes[:first]), merkle.root(hashes)
    proof = merkle.consistency_proof(first, second, hasher)
    assert merkle.verify_consistency(first, second, first_root, second_root, proof)
    if first > 0:
        # (The empty tree is a prefix of every tree: from size 0 any second root passes.)
        assert not merkle.verify_consistency(
            first, second, first_root, _tampered([second_root], 0, bit)[0], proof
        )
        assert not merkle.verify_consistency(
            first, second, _tampered([first_root], 0, bit)[0], second_root, proof
        )
    if proof:
        position = data.draw(st.integers(0, len(proof) - 1))
        assert not merkle.verify_consistency(
            first, second, first_root, second_root, _tampered(proof, position, bit)
        )
        assert not merkle.verify_consistency(first, second, first_root, second_root, proof[1:])
    if 0 < first < second:
        # A log that rewrites an old entry cannot prove its new tree consistent with the old
        # head: neither with the honest proof nor with one made from the rewritten tree.
        rewritten = list(hashes)
        rewritten[data.draw(st.integers(0, first - 1))] = merkle.leaf_hash(b"rewritten")
        new_root = merkle.root(rewritten)
        forged = merkle.consistency_proof(first, second, naive_hasher(rewritten))
        assert not merkle.verify_consistency(first, second, first_root, new_root, proof)
        assert not merkle.verify_consistency(first, second, first_root, new_root, forged)


def test_proof_generation_rejects_impossible_requests() -> None:
    hasher = naive_hasher(hashes_of(LEAVES))
    for index, size in [(0, 0), (8, 8), (-1, 8)]:
        with pytest.raises(ValueError):
            merkle.inclusion_proof(index, size, hasher)
    with pytest.raises(ValueError):
        merkle.consistency_proof(5, 4, hasher)
    with pytest.raises(ValueError):
        merkle.perfect_subtrees(1, 3)  # not a subtree: leaves 1 and 2 have different parents


def test_malformed_proofs_are_rejected_not_raised() -> None:
    root = bytes.fromhex(ROOTS[7])
    leaf = merkle.leaf_hash(LEAVES[0])
    for path in ([b"short"], ["not bytes"], [b"\x00" * 32] * 200):
        assert not merkle.verify_inclusion(leaf, 0, 8, path, root)
        assert not merkle.verify_consistency(1, 8, leaf, root, path)
    assert not merkle.verify_inclusion(leaf, 0, -1, [], root)
    assert not merkle.verify_consistency(0, 8, b"\x00" * 32, root, [])  # not the empty root
    assert merkle.verify_consistency(0, 8, merkle.EMPTY_ROOT, root, [])
    assert not merkle.verify_consistency(8, 8, root, root, [root])


def test_frontier_reports_completed_subtrees_and_round_trips() -> None:
    hashes = hashes_of(random_leaves(37, seed=5))
    frontier = merkle.Frontier()
    completed = {}
    for digest in hashes:
        for level, index, value in frontier.append(digest):
            completed[(level, index)] = value
    for (level, index), value in completed.items():
        assert value == merkle.root(hashes[index << level : (index + 1) << level])
    assert set(completed) == {
        (level, index) for level in range(1, 6) for index in range(37 >> level)
    }
    again = merkle.Frontier.from_bytes(37, frontier.to_bytes())
    assert again == frontier and len(frontier.hashes) == 3  # 37 = 32 + 4 + 1
    with pytest.raises(ValueError):
        merkle.Frontier.from_bytes(36, frontier.to_bytes())


def test_tree_head_signature_and_message() -> None:
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes_raw()
    head = merkle.TreeHead(
        log="demo-2026", size=8, root=bytes.fromhex(ROOTS[7]), timestamp=1767225600000, key_id=3
    ).signed(key)
    assert head.message() == (
        b"gathering-tree-head-v1\nlog demo-2026\nsize 8\nroot "
        + ROOTS[7].encode()
        + b"\ntimestamp 1767225600000\nkey 3\n"
    )
    assert head.signature_valid(public)
    assert merkle.TreeHead.from_json(head.to_json()) == head
    for change in ({"size": 9}, {"timestamp": 1}, {"key_id": 4}, {"log": "other"}):
        forged = merkle.TreeHead(**{**head.__dict__, **change})
        assert not forged.signature_valid(public)
    other = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    assert not head.signature_valid(other)
    assert not head.signature_valid(b"short")
    with pytest.raises(merkle.VerificationError, match="key 3"):
        merkle.check_tree_head(head, {1: public})


@pytest.mark.parametrize(
    "document",
    [
        None,
        [],
        {},
        {
            "log": "x\nsize 9",
            "size": 1,
            "root": "00" * 32,
            "timestamp": 0,
            "key_id": 1,
            "signature": "00" * 64,
        },
        {
            "log": "x",
            "size": True,
            "root": "00" * 32,
            "timestamp": 0,
            "key_id": 1,
            "signature": "00" * 64,
        },
        {
            "log": "x",
            "size": -1,
            "root": "00" * 32,
            "timestamp": 0,
            "key_id": 1,
            "signature": "00" * 64,
        },
        {
            "log": "x",
            "size": 2**70,
            "root": "00" * 32,
            "timestamp": 0,
            "key_id": 1,
            "signature": "00" * 64,
        },
        {
            "log": "x",
            "size": 1,
            "root": "zz" * 32,
            "timestamp": 0,
            "key_id": 1,
            "signature": "00" * 64,
        },
        {
            "log": "x",
            "size": 1,
            "root": "00" * 31,
            "timestamp": 0,
            "key_id": 1,
            "signature": "00" * 64,
        },
        {
            "log": "x",
            "size": 1,
            "root": "00" * 32,
            "timestamp": 0,
            "key_id": 0,
            "signature": "00" * 64,
        },
        {
            "log": "x",
            "size": 1,
            "root": "00" * 32,
            "timestamp": 0,
            "key_id": 1,
            "signature": "\u202e" * 64,
        },
    ],
)
def test_malformed_tree_heads_raise_format_errors(document) -> None:
    with pytest.raises(merkle.FormatError):
        merkle.TreeHead.from_json(document)


def signature_leaf(i: int) -> dict:
    # The shape of a signature's leaf (voices/leaves.py): canonical JSON, no personal data.
    return {"campaign": "demo", "country": "IR", "id": f"p{i}", "salt": f"{i:032x}", "v": 1}


def leaf_json(fields: dict) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def test_receipt_round_trip() -> None:
    receipt = merkle.Receipt(log="demo", index=4, data=b"\x00\xff")
    assert receipt.to_json() == {
        "format": "gathering-receipt-v1",
        "log": "demo",
        "index": 4,
        "data": "00ff",
    }
    assert merkle.Receipt.from_json(receipt.to_json()) == receipt


def test_a_signature_receipt_is_read_and_its_fields_checked() -> None:
    fields = signature_leaf(7)
    document = {
        "log": "demo",
        "leaf_index": 7,
        "leaf": fields,
        "leaf_data_hex": leaf_json(fields).hex(),
        "tree_head_url": "https://example.org/api/transparency/logs/demo/tree-head",
    }
    assert merkle.Receipt.from_json(document) == merkle.Receipt(
        log="demo", index=7, data=leaf_json(fields)
    )
    with pytest.raises(merkle.FormatError, match="not what its leaf data holds"):
        merkle.Receipt.from_json({**document, "leaf": {**fields, "country": "FR"}})
    with pytest.raises(merkle.FormatError, match="no leaf index yet"):
        merkle.Receipt.from_json({**document, "leaf_index": None})


@pytest.mark.parametrize(
    "change",
    [
        {"data": "0"},
        {"data": "zz"},
        {"data": 7},
        {"data": "\u202e00"},
        {"format": "v0"},
        {"index": -1},
        {"index": "1"},
        {"index": True},
        {"log": "../../etc"},
        {"log": "a\nsize 1"},
        {"log": "a\u200bb"},
    ],
)
def test_hostile_receipts_are_rejected(change) -> None:
    document = merkle.Receipt(log="demo", index=4, data=b"x").to_json()
    with pytest.raises(merkle.FormatError):
        merkle.Receipt.from_json({**document, **change})


def test_verify_receipt_end_to_end() -> None:
    key = Ed25519PrivateKey.generate()
    keys = {1: key.public_key().public_bytes_raw()}
    receipts = [
        merkle.Receipt(log="demo", index=i, data=leaf_json(signature_leaf(i))) for i in range(13)
    ]
    hashes = [receipt.leaf_hash for receipt in receipts]
    head = merkle.TreeHead(
        log="demo", size=13, root=merkle.root(hashes), timestamp=5, key_id=1
    ).signed(key)
    for receipt in receipts:
        path = merkle.inclusion_proof(receipt.index, 13, naive_hasher(hashes))
        proof = merkle.InclusionProof(log="demo", index=receipt.index, tree_size=13, path=path)
        merkle.verify_receipt(receipt, head, proof, keys)
    wrong = merkle.Receipt(log="demo", index=3, data=receipts[4].data)
    proof = merkle.InclusionProof(
        log="demo", index=3, tree_size=13, path=merkle.inclusion_proof(3, 13, naive_hasher(hashes))
    )
    with pytest.raises(merkle.VerificationError, match="another root"):
        merkle.verify_receipt(wrong, head, proof, keys)
    late = merkle.Receipt(log="demo", index=13, data=b"x")
    with pytest.raises(merkle.VerificationError, match="not in the tree head"):
        merkle.verify_receipt(late, head, proof, keys)


def test_pure_module_imports_no_django() -> None:
    import subprocess
    import sys
    from pathlib import Path

    source = Path(merkle.__file__).resolve().parents[2]

    code = (
        "import sys; sys.modules['django'] = None\n"
        "import gathering.transparency.merkle, gathering.transparency.verify\n"
        "print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(source), "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


# Nothing here depends on the database engine: the PostgreSQL run of `make test` leaves it out.
pytestmark = pytest.mark.engine_agnostic
