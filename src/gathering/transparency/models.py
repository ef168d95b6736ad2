"""Models of the transparency app: append-only Merkle logs (RFC 9162 hashing, see merkle.py).

A ``Log`` is one append-only list of entries (one per campaign). An ``Entry`` is queued by the
write that produces it (a confirmed signature) with no index; the sequencer (``integrate``)
later gives queued entries consecutive indexes in one transaction, updates the log's frontier
and stored subtree hashes and signs a ``TreeHead``. Indexes are gapless from 0 and never change:
the only write to ``Entry.index`` is the sequencer's, and only where it is still NULL.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

# Subtree hashes are stored for perfect subtrees whose level is a multiple of this (leaf hashes,
# level 0, live on the entries): about size / 15 rows, and the hash of any perfect subtree costs
# at most 2**(STRIDE - 1) stored hashes, so a proof reads ~100 short rows in two queries.
NODE_STRIDE = 4


class Log(models.Model):
    slug = models.SlugField(_("log id"), max_length=100, unique=True)
    created_at = models.DateTimeField(_("created at"), default=now)
    size = models.BigIntegerField(_("size"), default=0, help_text=_("Integrated entries."))
    # merkle.Frontier: the hashes of the perfect subtrees along the right edge (one per bit set
    # in size, largest first), so appending never reads older entries.
    frontier = models.BinaryField(_("frontier"), default=b"")

    class Meta:
        verbose_name = _("transparency log")
        verbose_name_plural = _("transparency logs")

    def __str__(self) -> str:
        return self.slug


class Entry(models.Model):
    id = models.BigAutoField(primary_key=True)
    # No database constraint: PostgreSQL's foreign-key check would take a share lock on the log
    # row for every queued entry, and queueing must not contend on that row (logs are never
    # deleted: PROTECT still guards the ORM).
    # db_index=False: the unique (log, index) index serves lookups by log.
    log = models.ForeignKey(
        Log, on_delete=models.PROTECT, related_name="entries", db_constraint=False, db_index=False
    )
    data = models.BinaryField(_("leaf data"))
    leaf_hash = models.BinaryField(_("leaf hash"))
    index = models.BigIntegerField(_("index"), null=True, blank=True)
    created_at = models.DateTimeField(_("queued at"), default=now)

    class Meta:
        verbose_name = _("log entry")
        verbose_name_plural = _("log entries")
        constraints = [
            models.UniqueConstraint(fields=["log", "index"], name="transparency_entry_log_index")
        ]
        indexes = [
            # The sequencer's queue: only entries still waiting for an index.
            models.Index(
                fields=["log", "id"],
                condition=Q(index__isnull=True),
                name="transparency_entry_queued",
            )
        ]

    def __str__(self) -> str:
        return f"{self.log_id}:{self.index if self.index is not None else 'queued'}"


class Node(models.Model):
    """The hash of a perfect subtree: leaves [index * 2**level, (index + 1) * 2**level)."""

    log = models.ForeignKey(
        Log, on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False
    )
    level = models.PositiveSmallIntegerField()
    index = models.BigIntegerField()
    hash = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["log", "level", "index"], name="transparency_node_log_level_index"
            )
        ]

    def __str__(self) -> str:
        return f"{self.log_id}:{self.level}/{self.index}"


class TreeHead(models.Model):
    """A signed tree head (merkle.TreeHead). One per size: a head is signed when the log grows
    (and at size 0 when the log is made), never again for the same size."""

    log = models.ForeignKey(
        Log, on_delete=models.PROTECT, related_name="tree_heads", db_index=False
    )
    size = models.BigIntegerField(_("size"))
    root = models.BinaryField(_("root hash"))
    timestamp_ms = models.BigIntegerField(_("time (ms since 1970)"))
    key_id = models.PositiveIntegerField(_("key id"))
    signature = models.BinaryField(_("signature"))

    class Meta:
        verbose_name = _("signed tree head")
        verbose_name_plural = _("signed tree heads")
        constraints = [
            models.UniqueConstraint(fields=["log", "size"], name="transparency_treehead_log_size")
        ]

    def __str__(self) -> str:
        return f"{self.log_id}@{self.size}"
