"""Reads of the transparency log: tree heads, entries and proofs.

A proof needs the hashes of a few dozen subtrees. They come from the stored hashes (leaf hashes
on the entries, perfect subtrees every ``NODE_STRIDE`` levels in ``Node``), all fetched in two
queries, so a proof in a log of millions of entries costs a few milliseconds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Q
from django.utils.translation import gettext as _

from gathering.transparency import merkle
from gathering.transparency.errors import (
    EntryNotFoundError,
    LogNotFoundError,
    ProofRequestError,
)
from gathering.transparency.models import NODE_STRIDE, Entry, Log, Node, TreeHead

MAX_PAGE = 1000


def get_log(*, slug: str) -> Log:
    """Raises LogNotFoundError."""
    if not isinstance(slug, str) or not merkle.LOG_ID.match(slug):
        raise LogNotFoundError()
    try:
        return Log.objects.get(slug=slug)
    except Log.DoesNotExist:
        raise LogNotFoundError() from None


def get_latest_tree_head(*, log: Log) -> TreeHead:
    """The head of the largest size (every log has one from its creation on)."""
    head = TreeHead.objects.filter(log=log).order_by("-size").first()
    if head is None:
        raise LogNotFoundError()
    head.log = log
    return head


def list_tree_heads(*, log: Log, since: int = 0, limit: int = 100) -> list[TreeHead]:
    """The heads of size ``since`` or more, smallest first, at most ``limit`` (1..1000)."""
    limit = max(1, min(limit, MAX_PAGE))
    heads = list(TreeHead.objects.filter(log=log, size__gte=since).order_by("size")[:limit])
    for head in heads:
        head.log = log
    return heads


def signed_tree_head(head: TreeHead) -> merkle.TreeHead:
    return merkle.TreeHead(
        log=head.log.slug,
        size=head.size,
        root=bytes(head.root),
        timestamp=head.timestamp_ms,
        key_id=head.key_id,
        signature=bytes(head.signature),
    )


def get_entry(*, log: Log, index: int) -> Entry:
    """The integrated entry at ``index``; raises EntryNotFoundError (also while queued)."""
    if not 0 <= index < merkle.MAX_TREE_SIZE:
        raise EntryNotFoundError()
    try:
        return Entry.objects.get(log=log, index=index)
    except Entry.DoesNotExist:
        raise EntryNotFoundError() from None


def _current_size(log: Log, wanted: int) -> int:
    # The caller's log may have been read before the last integration: look again only when
    # the size asked for is beyond what it knows.
    if wanted <= log.size:
        return log.size
    return Log.objects.values_list("size", flat=True).get(pk=log.pk)


def get_inclusion_proof(
    *, log: Log, index: int, tree_size: int | None = None
) -> merkle.InclusionProof:
    """The proof that entry ``index`` is in the tree of ``tree_size`` entries (default: the
    log's size). Raises ProofRequestError unless 0 <= index < tree_size <= the log's size."""
    size = log.size if tree_size is None else tree_size
    if not 0 <= size <= _current_size(log, size):
        raise ProofRequestError(
            _("The tree size %(size)s is beyond the log's size.") % {"size": size}
        )
    if not 0 <= index < size:
        raise ProofRequestError(
            _("The index must be below the tree size (%(size)s).") % {"size": size}
        )
    ranges = merkle.inclusion_ranges(index, size)
    # The leaf's own hash comes in the same queries, for the answer's ``leaf_hash``.
    hasher = _subtree_hasher(log, merkle.subtrees_needed([*ranges, (index, index + 1)]))
    return merkle.InclusionProof(
        log=log.slug,
        index=index,
        tree_size=size,
        path=[hasher(start, end) for start, end in ranges],
        leaf_hash=hasher(index, index + 1),
    )


def get_consistency_proof(
    *, log: Log, first: int, second: int | None = None
) -> merkle.ConsistencyProof:
    """The proof that the tree of ``first`` entries is a prefix of the tree of ``second``
    (default: the log's size). Raises ProofRequestError unless 0 <= first <= second <= size."""
    size = log.size if second is None else second
    if not 0 <= size <= _current_size(log, size):
        raise ProofRequestError(
            _("The second size %(size)s is beyond the log's size.") % {"size": size}
        )
    if not 0 <= first <= size:
        raise ProofRequestError(_("The first size must not exceed the second."))
    ranges = merkle.consistency_ranges(first, size)
    hasher = _subtree_hasher(log, merkle.subtrees_needed(ranges))
    return merkle.ConsistencyProof(
        log=log.slug,
        first=first,
        second=size,
        path=[hasher(start, end) for start, end in ranges],
    )


def get_root(*, log: Log, size: int) -> bytes:
    """MTH of the first ``size`` entries, from the stored hashes (for audits and tests)."""
    if not 0 <= size <= _current_size(log, size):
        raise ProofRequestError()
    if size == 0:
        return merkle.EMPTY_ROOT
    return _subtree_hasher(log, set(merkle.perfect_subtrees(0, size)))(0, size)


def _subtree_hasher(log: Log, wanted: Iterable[merkle.NodeId]) -> merkle.SubtreeHash:
    """A SubtreeHash over the perfect subtrees ``wanted``, their stored parts read at once."""
    parts: dict[merkle.NodeId, list[merkle.NodeId]] = {}
    by_level: defaultdict[int, set[int]] = defaultdict(set)
    for level, index in wanted:
        base = level - level % NODE_STRIDE
        span = 1 << (level - base)
        stored = [(base, index * span + offset) for offset in range(span)]
        parts[(level, index)] = stored
        for stored_level, stored_index in stored:
            by_level[stored_level].add(stored_index)
    found: dict[merkle.NodeId, bytes] = {}
    leaves = by_level.pop(0, set())
    if leaves:
        for index, digest in Entry.objects.filter(log=log, index__in=leaves).values_list(
            "index", "leaf_hash"
        ):
            found[(0, index)] = bytes(digest)
    if by_level:
        condition = Q()
        for level, indexes in by_level.items():
            condition |= Q(level=level, index__in=indexes)
        for level, index, digest in (
            Node.objects.filter(log=log).filter(condition).values_list("level", "index", "hash")
        ):
            found[(level, index)] = bytes(digest)

    def node(node_id: merkle.NodeId) -> bytes:
        try:
            return merkle.root([found[part] for part in parts[node_id]])
        except KeyError:
            raise RuntimeError(f"log {log.pk}: stored hashes missing under {node_id}") from None

    return merkle.range_hasher(node)
