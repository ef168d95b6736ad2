"""Writes of the transparency log: make logs, queue entries, integrate them (the sequencer).

Two steps keep the hot path cheap. ``queue_entry`` runs inside the caller's transaction (a
signature's confirmation) and is one INSERT that touches no shared row: no lock on the log, so
thousands of confirmations a second do not queue behind each other. ``integrate`` (run every
second by the worker, ``gathering integrate_logs``) takes the queued entries in id order, gives
them the next indexes, appends them to the tree and signs a new tree head, all in one
transaction under the log's row lock; two integrators at once take turns.

Decision on tree heads: one signed head per size. ``integrate`` signs only when the log grew
(and ``get_or_create_log`` signs the empty head), never a fresh head for the same size: a head
states "the log had N entries with root R at time T", and an idle log's last head stays true.
Head timestamps never go backwards, even when the clock does.
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, connection, transaction
from django.utils.timezone import now

from gathering.core.fast_write import insert
from gathering.core.group_commit import serialised_write
from gathering.transparency import keys, merkle
from gathering.transparency.errors import EntryTooLargeError, InvalidLogIdError
from gathering.transparency.models import NODE_STRIDE, Entry, Log, Node, TreeHead

logger = logging.getLogger(__name__)

# A signature's leaf data is about 110 bytes; anything near this is a mistake.
MAX_ENTRY_BYTES = 4096
# Batches a single integrate_all() call takes from one log before going on to the next.
MAX_BATCHES_PER_LOG = 100


def get_or_create_log(*, slug: str) -> Log:
    """The log ``slug``, made with its signed empty tree head (size 0) if it does not exist.

    Safe to call concurrently and inside the caller's transaction. Raises InvalidLogIdError
    unless ``slug`` is 1 to 100 letters, digits, '-' or '_'."""
    if not isinstance(slug, str) or not merkle.LOG_ID.match(slug):
        raise InvalidLogIdError()
    log = Log.objects.filter(slug=slug).first()
    if log is not None:
        return log
    key = keys.current_signing_key()
    try:
        with transaction.atomic():
            log = Log.objects.create(slug=slug)
            _sign_head(log=log, size=0, root=merkle.EMPTY_ROOT, key=key, previous_ms=None)
    except IntegrityError:
        return Log.objects.get(slug=slug)  # made concurrently
    return log


def queue_entry(*, log: Log, data: bytes) -> Entry:
    """Queue ``data`` as the next leaf of ``log``; it gets its index at the next integration.

    Call it inside the transaction that makes the entry true (a rollback then unqueues it). One
    INSERT, no lock on the log. Raises EntryTooLargeError for more than ``MAX_ENTRY_BYTES``."""
    if not isinstance(data, bytes):
        raise TypeError("leaf data must be bytes")
    if len(data) > MAX_ENTRY_BYTES:
        raise EntryTooLargeError()
    return insert(Entry(log_id=log.pk, data=data, leaf_hash=merkle.leaf_hash(data)))


def integrate(*, log: Log, limit: int = 10_000) -> TreeHead | None:
    """Give up to ``limit`` queued entries of ``log`` the next indexes (in queue order) and sign
    the tree head of the new size; returns it, or None when nothing was queued.

    Holds the log's row lock (PostgreSQL: FOR NO KEY UPDATE, which queueing entries does not
    wait for; SQLite: the single writer) until it commits, so concurrent integrators take turns
    and indexes stay gapless. Updates ``log.size`` and ``log.frontier`` in place."""
    head, _count = _integrate(log=log, limit=limit)
    return head


def integrate_all(*, limit: int = 10_000) -> int:
    """Integrate every log that has queued entries (the worker's job); returns how many entries
    were integrated. Each log gets at most ``MAX_BATCHES_PER_LOG`` batches per call."""
    log_ids = set(
        Entry.objects.filter(index__isnull=True).values_list("log_id", flat=True).distinct()
    )
    total = 0
    for log in Log.objects.filter(pk__in=log_ids).order_by("pk"):
        for _batch in range(MAX_BATCHES_PER_LOG):
            _head, count = _integrate(log=log, limit=limit)
            total += count
            if count < limit:
                break
    return total


def _integrate(*, log: Log, limit: int) -> tuple[TreeHead | None, int]:
    if limit < 1:
        raise ValueError("limit must be at least 1")
    # Read the key (file system) before taking the lock.
    key = keys.current_signing_key()
    lock = Log.objects.select_for_update(no_key=connection.features.has_select_for_no_key_update)
    with serialised_write(), transaction.atomic():
        locked = lock.get(pk=log.pk)
        rows = _sequence(log=locked, limit=limit)
        if not rows:
            log.size, log.frontier = locked.size, locked.frontier
            return None, 0
        rows.sort()
        first = locked.size
        if rows[0][0] != first or rows[-1][0] != first + len(rows) - 1:
            # The unique (log, index) constraint makes this unreachable; never sign a gap.
            raise RuntimeError(f"log {locked.pk}: indexes not consecutive from {first}")
        frontier = merkle.Frontier.from_bytes(first, bytes(locked.frontier))
        nodes: list[Node] = []
        for _index, leaf in rows:
            for level, index, digest in frontier.append(bytes(leaf)):
                if level % NODE_STRIDE == 0:
                    nodes.append(Node(log_id=locked.pk, level=level, index=index, hash=digest))
        Node.objects.bulk_create(nodes, batch_size=2000)
        blob = frontier.to_bytes()
        Log.objects.filter(pk=locked.pk).update(size=frontier.size, frontier=blob)
        previous_ms = (
            TreeHead.objects.filter(log_id=locked.pk)
            .order_by("-size")
            .values_list("timestamp_ms", flat=True)
            .first()
        )
        head = _sign_head(
            log=locked, size=frontier.size, root=frontier.root(), key=key, previous_ms=previous_ms
        )
    log.size, log.frontier = frontier.size, blob
    logger.debug(
        "transparency log %s: integrated %d entries, size %d", log.pk, len(rows), head.size
    )
    return head, len(rows)


def _sequence(*, log: Log, limit: int) -> list[tuple[int, bytes]]:
    """Number the first ``limit`` queued entries of the (locked) log from ``log.size`` on, in
    id order; returns their (index, leaf hash). One statement: the rows it numbers are the rows
    it reads, even when entries commit meanwhile."""
    entry = connection.ops.quote_name(Entry._meta.db_table)
    index = connection.ops.quote_name("index")
    # Table and column names are ours; every value is a parameter.
    sql = (
        f"UPDATE {entry} SET {index} = %s + q.rn - 1 "  # noqa: S608  # nosec B608 # quoted names from our models; every value is a bound parameter
        f"FROM (SELECT id AS qid, row_number() OVER (ORDER BY id) AS rn FROM {entry} "
        f"WHERE log_id = %s AND {index} IS NULL ORDER BY id LIMIT %s) AS q "
        f"WHERE {entry}.id = q.qid "
        f"RETURNING {index}, leaf_hash"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [log.size, log.pk, limit])
        return [(int(row[0]), bytes(row[1])) for row in cursor.fetchall()]


def _sign_head(
    *, log: Log, size: int, root: bytes, key: keys.SigningKey, previous_ms: int | None
) -> TreeHead:
    timestamp = max(int(now().timestamp() * 1000), previous_ms or 0)
    signed = merkle.TreeHead(
        log=log.slug, size=size, root=root, timestamp=timestamp, key_id=key.key_id
    ).signed(key.private_key)
    return TreeHead.objects.create(
        log=log,
        size=size,
        root=root,
        timestamp_ms=timestamp,
        key_id=key.key_id,
        signature=signed.signature,
    )
