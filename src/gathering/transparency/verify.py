"""Check a transparency log without trusting its server: ``gathering verify`` or, with no
Django installed, ``python -m gathering.transparency.verify`` (standard library and
``cryptography`` only).

    verify receipt --receipt r.json [--tree-head sth.json] [--proof p.json] [--key k.json]
                   [--url https://host]
    verify consistency --old sth1.json [--new sth2.json] [--proof p.json] [--key k.json]
                       [--url https://host]

``receipt`` checks that the entry of a receipt (its leaf index and data) is in the tree of a
signed tree head. ``consistency`` checks that a later tree head extends an earlier one: nothing
was removed or rewritten. What is not given as a file is fetched from ``--url`` (the latest tree
head, the proof, the public keys). Keys fetched from the server only prove that the server is
consistent with itself: pin them by passing ``--key`` with a copy obtained earlier or elsewhere.

Exit status: 0 when the check holds, 1 when it does not (the reason on stderr), 2 for a usage
error.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Protocol

from gathering.transparency.merkle import (
    ConsistencyProof,
    FormatError,
    InclusionProof,
    Receipt,
    TreeHead,
    VerificationError,
    parse_public_keys,
    verify_receipt,
    verify_tree_heads,
)

API = "/api/transparency"
MAX_DOCUMENT = 1 << 20
TIMEOUT = 15


class Writer(Protocol):
    def write(self, text: str, /) -> object: ...


class _InputError(Exception):
    pass


def _read(path: str) -> Any:
    try:
        with Path(path).open("rb") as handle:
            raw = handle.read(MAX_DOCUMENT + 1)
    except OSError as error:
        raise _InputError(f"cannot read {path}: {error.strerror or error}") from None
    if len(raw) > MAX_DOCUMENT:
        raise _InputError(f"{path} is larger than {MAX_DOCUMENT} bytes")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _InputError(f"{path} is not JSON") from None


def _fetch(base: str, path: str, query: dict[str, int] | None = None) -> Any:
    url = base.rstrip("/") + path
    if query:
        url += "?" + urllib.parse.urlencode(query)
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310  # nosec B310 # http(s) only: checked when the address is parsed (_url)
            raw = response.read(MAX_DOCUMENT + 1)
    except urllib.error.HTTPError as error:
        detail = ""
        with contextlib.suppress(ValueError, AttributeError, OSError):
            detail = str(json.loads(error.read(MAX_DOCUMENT)).get("detail", ""))
        raise _InputError(f"{url}: HTTP {error.code} {detail}".rstrip()) from None
    except (urllib.error.URLError, OSError) as error:
        raise _InputError(f"{url}: {getattr(error, 'reason', error)}") from None
    if len(raw) > MAX_DOCUMENT:
        raise _InputError(f"{url}: the answer is larger than {MAX_DOCUMENT} bytes")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _InputError(f"{url}: the answer is not JSON") from None


def _url(value: str) -> str:
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise argparse.ArgumentTypeError("an http:// or https:// address is needed")
    return value


def _source(options: argparse.Namespace, name: str, what: str) -> str | None:
    path: str | None = getattr(options, name)
    if path is None and options.url is None:
        raise _InputError(f"give {what} with --{name.replace('_', '-')}, or a server with --url")
    return path


def _keys(options: argparse.Namespace) -> dict[int, bytes]:
    path = _source(options, "key", "the public keys")
    document = _read(path) if path else _fetch(options.url, f"{API}/keys")
    if isinstance(document, dict) and "keys" not in document and "key_id" in document:
        document = {"keys": [document]}  # a single key
    return parse_public_keys(document)


def _time(head: TreeHead) -> str:
    moment = dt.datetime.fromtimestamp(head.timestamp / 1000, tz=dt.UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _check_receipt(options: argparse.Namespace) -> str:
    receipt = Receipt.from_json(_read(options.receipt))
    head_path = _source(options, "tree_head", "the tree head")
    head = TreeHead.from_json(
        _read(head_path)
        if head_path
        else _fetch(options.url, f"{API}/logs/{receipt.log}/tree-head")
    )
    if receipt.index >= head.size:
        raise VerificationError(
            f"entry {receipt.index} is not in the tree head of size {head.size} yet: it is "
            "integrated within seconds, try a later tree head"
        )
    proof_path = _source(options, "proof", "the inclusion proof")
    proof = InclusionProof.from_json(
        _read(proof_path)
        if proof_path
        else _fetch(
            options.url,
            f"{API}/logs/{receipt.log}/proof/inclusion",
            {"index": receipt.index, "tree_size": head.size},
        )
    )
    verify_receipt(receipt, head, proof, _keys(options))
    return (
        f"OK: entry {receipt.index} of log {receipt.log} is in its tree of {head.size} entries, "
        f"signed with key {head.key_id} at {_time(head)}."
    )


def _check_consistency(options: argparse.Namespace) -> str:
    old = TreeHead.from_json(_read(options.old))
    new_path = _source(options, "new", "the new tree head")
    new = TreeHead.from_json(
        _read(new_path) if new_path else _fetch(options.url, f"{API}/logs/{old.log}/tree-head")
    )
    proof_path = _source(options, "proof", "the consistency proof")
    proof = ConsistencyProof.from_json(
        _read(proof_path)
        if proof_path
        else _fetch(
            options.url,
            f"{API}/logs/{old.log}/proof/consistency",
            {"first": old.size, "second": new.size},
        )
    )
    verify_tree_heads(old, new, proof, _keys(options))
    return (
        f"OK: log {old.log} of {new.size} entries ({_time(new)}) extends its tree of "
        f"{old.size} entries ({_time(old)}): nothing was removed or changed."
    )


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="gathering verify",
        description="Check transparency-log receipts and tree heads.",
    )
    commands = root.add_subparsers(dest="command", required=True)
    receipt = commands.add_parser("receipt", help="an entry is in a signed tree head")
    receipt.add_argument("--receipt", required=True, help="the receipt (JSON)")
    receipt.add_argument("--tree-head", help="a signed tree head (JSON)")
    receipt.add_argument("--proof", help="the inclusion proof for that tree head (JSON)")
    consistency = commands.add_parser(
        "consistency", help="a later tree head extends an earlier one"
    )
    consistency.add_argument("--old", required=True, help="the earlier tree head (JSON)")
    consistency.add_argument("--new", help="the later tree head (JSON)")
    consistency.add_argument("--proof", help="the consistency proof between them (JSON)")
    for command in (receipt, consistency):
        command.add_argument("--key", help='the public keys (JSON: {"keys": [...]})')
        command.add_argument("--url", type=_url, help="fetch what is not given from this server")
    return root


def main(
    argv: list[str] | None = None, *, stdout: Writer | None = None, stderr: Writer | None = None
) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    options = parser().parse_args(argv)
    check = _check_receipt if options.command == "receipt" else _check_consistency
    try:
        message = check(options)
    except (_InputError, FormatError, VerificationError) as error:
        err.write(f"FAILED: {error}\n")
        return 1
    out.write(message + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
