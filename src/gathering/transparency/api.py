"""The transparency part of the JSON API (mounted at /api/transparency/): public and read-only.

Anyone can fetch a log's signed tree heads, its entries and the proofs that tie them together,
and check them with ``gathering verify`` or ``python -m gathering.transparency.verify`` (no
Django needed). Byte formats: ``merkle.py``'s docstring. All hashes, keys and signatures are
lowercase hex; sizes and indexes count entries from 0.

Errors are JSON ``{"detail": ...}``: 404 for an unknown log or entry, 400 for a malformed
parameter or a size beyond the log's. Answers that can never change (a proof for an explicit
tree size, an entry) are cacheable for a year; tree heads carry an ETag.
"""

# No ``from __future__ import annotations``: ninja reads the parameter annotations at runtime.
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from gathering.transparency import keys, selectors
from gathering.transparency.errors import (
    EntryNotFoundError,
    LogNotFoundError,
    ProofRequestError,
)
from gathering.transparency.merkle import MAX_TREE_SIZE
from gathering.transparency.models import Log, TreeHead

router = Router(tags=["transparency"])

MAX_SIZE = MAX_TREE_SIZE - 1
IMMUTABLE = "public, max-age=31536000, immutable"
# The latest head changes about once a second while people sign.
LATEST = "public, max-age=1"


class ErrorOut(Schema):
    detail: Any


class TreeHeadOut(Schema):
    log: str = Field(description="The log's id.")
    size: int = Field(description="Number of entries in the tree.")
    root: str = Field(description="RFC 9162 Merkle tree hash of those entries (hex).")
    timestamp: int = Field(description="When the log reached this size, in ms since 1970.")
    key_id: int = Field(description="Id of the Ed25519 key that signed (see /keys).")
    signature: str = Field(description="Ed25519 signature of the tree head's bytes (hex).")


class TreeHeadPageOut(Schema):
    log: str
    tree_heads: list[TreeHeadOut]
    next_since: int | None = Field(description="`since` for the next page; null at the end.")


class InclusionProofOut(Schema):
    log: str
    index: int
    tree_size: int
    leaf_hash: str = Field(description="SHA-256(0x00 || leaf data) of the entry (hex).")
    path: list[str] = Field(description="RFC 9162 inclusion path, the leaf's sibling first.")


class ConsistencyProofOut(Schema):
    log: str
    first: int
    second: int
    path: list[str] = Field(
        description="RFC 9162 consistency proof (empty if first is 0 or equals second)."
    )


class EntryOut(Schema):
    log: str
    index: int
    data: str = Field(description="The leaf data (hex); see merkle.py for a signature's.")
    leaf_hash: str


class KeyOut(Schema):
    key_id: int
    algorithm: str = Field(description="Always Ed25519.")
    public_key: str = Field(description="Raw 32-byte public key (hex).")


class KeysOut(Schema):
    keys: list[KeyOut]


class TreeHeadsQuery(Schema):
    since: int = Field(0, ge=0, le=MAX_SIZE, description="Smallest size to list.")
    limit: int = Field(100, ge=1, le=selectors.MAX_PAGE)


class InclusionQuery(Schema):
    index: int = Field(ge=0, le=MAX_SIZE, description="The entry's index.")
    tree_size: int | None = Field(
        None,
        ge=0,
        le=MAX_SIZE,
        description="Size of the tree head to prove against (default: latest).",
    )


class ConsistencyQuery(Schema):
    first: int = Field(ge=0, le=MAX_SIZE, description="The older tree size.")
    second: int | None = Field(
        None, ge=0, le=MAX_SIZE, description="The newer tree size (default: latest)."
    )


NOT_FOUND = {404: ErrorOut}
BAD_OR_NOT_FOUND = {400: ErrorOut, 404: ErrorOut}


def _log(slug: str) -> Log:
    try:
        return selectors.get_log(slug=slug)
    except LogNotFoundError as error:
        raise HttpError(404, str(error.message)) from None


def _head_out(head: TreeHead) -> dict[str, Any]:
    return selectors.signed_tree_head(head).to_json()


def _not_modified(request: HttpRequest, response: HttpResponse, etag: str) -> HttpResponse | None:
    response["ETag"] = etag
    candidates = request.headers.get("If-None-Match", "")
    if etag in {tag.strip() for tag in candidates.split(",")} or candidates.strip() == "*":
        not_modified = HttpResponse(status=304)
        not_modified["ETag"] = etag
        not_modified["Cache-Control"] = response.get("Cache-Control", "")
        return not_modified
    return None


@router.get(
    "/keys",
    response=KeysOut,
    url_name="transparency-keys",
    summary="The public keys that verify tree heads",
)
def key_list(request: HttpRequest, response: HttpResponse) -> dict[str, Any]:
    """Every key that signed or signs tree heads, by id (a rotation adds one, none is
    removed)."""
    response["Cache-Control"] = "public, max-age=300"
    return {
        "keys": [
            {"key_id": key_id, "algorithm": "Ed25519", "public_key": public.hex()}
            for key_id, public in sorted(keys.public_keys().items())
        ]
    }


@router.get(
    "/logs/{slug}/tree-head",
    response={200: TreeHeadOut, 304: None, **NOT_FOUND},
    url_name="transparency-tree-head",
    summary="A log's latest signed tree head",
)
def tree_head(request: HttpRequest, response: HttpResponse, slug: str) -> Any:
    log = _log(slug)
    head = selectors.get_latest_tree_head(log=log)
    response["Cache-Control"] = LATEST
    etag = f'"{head.size}-{head.key_id}-{head.timestamp_ms}"'
    not_modified = _not_modified(request, response, etag)
    if not_modified is not None:
        return not_modified
    return _head_out(head)


@router.get(
    "/logs/{slug}/tree-heads",
    response={200: TreeHeadPageOut, **BAD_OR_NOT_FOUND},
    url_name="transparency-tree-heads",
    summary="A log's signed tree heads, smallest size first",
)
def tree_head_list(
    request: HttpRequest, response: HttpResponse, slug: str, query: Query[TreeHeadsQuery]
) -> dict[str, Any]:
    """The heads of size ``since`` or more (one per size the log reached), at most ``limit``.
    Keep the last head you checked and ask for the consistency proof to the next one."""
    log = _log(slug)
    heads = selectors.list_tree_heads(log=log, since=query.since, limit=query.limit)
    full = len(heads) == query.limit
    # A full page of an append-only history never changes; the last page grows.
    response["Cache-Control"] = "public, max-age=3600" if full else LATEST
    return {
        "log": log.slug,
        "tree_heads": [_head_out(head) for head in heads],
        "next_since": heads[-1].size + 1 if full else None,
    }


@router.get(
    "/logs/{slug}/proof/inclusion",
    response={200: InclusionProofOut, **BAD_OR_NOT_FOUND},
    url_name="transparency-inclusion-proof",
    summary="Proof that an entry is in the tree of a given size",
)
def inclusion_proof(
    request: HttpRequest, response: HttpResponse, slug: str, query: Query[InclusionQuery]
) -> dict[str, Any]:
    log = _log(slug)
    try:
        proof = selectors.get_inclusion_proof(log=log, index=query.index, tree_size=query.tree_size)
    except ProofRequestError as error:
        raise HttpError(400, str(error.message)) from None
    response["Cache-Control"] = IMMUTABLE if query.tree_size is not None else LATEST
    return proof.to_json()


@router.get(
    "/logs/{slug}/proof/consistency",
    response={200: ConsistencyProofOut, **BAD_OR_NOT_FOUND},
    url_name="transparency-consistency-proof",
    summary="Proof that the tree of one size is a prefix of the tree of a larger size",
)
def consistency_proof(
    request: HttpRequest, response: HttpResponse, slug: str, query: Query[ConsistencyQuery]
) -> dict[str, Any]:
    log = _log(slug)
    try:
        proof = selectors.get_consistency_proof(log=log, first=query.first, second=query.second)
    except ProofRequestError as error:
        raise HttpError(400, str(error.message)) from None
    response["Cache-Control"] = IMMUTABLE if query.second is not None else LATEST
    return proof.to_json()


@router.get(
    "/logs/{slug}/entries/{index}",
    response={200: EntryOut, **BAD_OR_NOT_FOUND},
    url_name="transparency-entry",
    summary="One entry's leaf data",
)
def entry_detail(
    request: HttpRequest, response: HttpResponse, slug: str, index: int
) -> dict[str, Any]:
    log = _log(slug)
    if not 0 <= index <= MAX_SIZE:
        raise HttpError(400, str(ProofRequestError().message))
    try:
        entry = selectors.get_entry(log=log, index=index)
    except EntryNotFoundError as error:
        raise HttpError(404, str(error.message)) from None
    response["Cache-Control"] = IMMUTABLE
    return {
        "log": log.slug,
        "index": index,
        "data": bytes(entry.data).hex(),
        "leaf_hash": bytes(entry.leaf_hash).hex(),
    }
