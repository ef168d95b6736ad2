"""Reads of the transparency log: tree heads, entries and proofs.

A proof needs the hashes of a few dozen subtrees. They come from the stored hashes (leaf hashes
on the entries, perfect subtrees every ``NODE_STRIDE`` levels in ``Node``), all fetched in one
query, so a proof in a log of millions of entries costs a few milliseconds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db import connection
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
    if by_level:
        sql, params = _stored_hashes_query(log.pk, by_level)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            for level, index, digest in cursor.fetchall():
                found[(int(level), int(index))] = bytes(digest)

    def node(node_id: merkle.NodeId) -> bytes:
        try:
            return merkle.root([found[part] for part in parts[node_id]])
        except KeyError:
            raise RuntimeError(f"log {log.pk}: stored hashes missing under {node_id}") from None

    return merkle.range_hasher(node)


def _runs(indexes: set[int]) -> list[tuple[int, int]]:
    """Sorted indexes as runs of consecutive ones, (first, last)."""
    runs: list[tuple[int, int]] = []
    for index in sorted(indexes):
        if runs and runs[-1][1] == index - 1:
            runs[-1] = (runs[-1][0], index)
        else:
            runs.append((index, index))
    return runs


def _stored_hashes_query(log_id: int, by_level: dict[int, set[int]]) -> tuple[str, list[int]]:
    """One statement for every stored hash wanted: leaf hashes from the entries (level 0), the
    others from the nodes. Each part of a subtree is a run of consecutive indexes, asked as a
    range: PostgreSQL then always searches the (log, level, index) index for it, where a long
    IN list can be planned as a filter over the whole level while the statistics are stale (a
    fast-growing log). Raw SQL: building the equivalent ORM query costs more than running it."""
    # Table and column names are ours; every value is a parameter.
    quote = connection.ops.quote_name
    index = quote("index")
    entry, node = quote(Entry._meta.db_table), quote(Node._meta.db_table)
    parts: list[str] = []
    params: list[int] = []
    for level, indexes in sorted(by_level.items()):
        for first, last in _runs(indexes):
            if level == 0:
                parts.append(
                    f"SELECT 0 AS level, {index}, leaf_hash FROM {entry} "  # noqa: S608  # nosec B608 # quoted names from our models; every value is a bound parameter
                    f"WHERE log_id = %s AND {index} BETWEEN %s AND %s"
                )
                params += [log_id, first, last]
            else:
                parts.append(
                    f"SELECT level, {index}, hash FROM {node} "  # noqa: S608  # nosec B608 # quoted names from our models; every value is a bound parameter
                    f"WHERE log_id = %s AND level = %s AND {index} BETWEEN %s AND %s"
                )
                params += [log_id, level, first, last]
    return " UNION ALL ".join(parts), params
