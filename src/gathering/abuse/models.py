"""Records of the abuse app: spent proof-of-work challenges and rate-limit counters.

Neither holds personal data in clear: a challenge is a random hash, and a counter's key is a
keyed hash (``client.hash_key``). Both are short-lived; ``purge_abuse_records`` (run by the
worker every five minutes) deletes expired rows.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SpentChallenge(models.Model):
    """A proof-of-work challenge whose solution was accepted once: a second use is a replay.

    The primary key is the challenge's first 128 bits (a random SHA-256: unique in practice, and
    only our signed challenges get here), as a UUID: 16 bytes on PostgreSQL, and no second
    index as a text key would get. Recording one is a single ``INSERT … ON CONFLICT DO
    NOTHING`` (``services.spend_challenge``). A row is needed only until the challenge expires:
    an expired solution is refused anyway.
    """

    challenge = models.UUIDField(_("challenge"), primary_key=True)
    expires_at = models.DateTimeField(_("expires"), db_index=True)

    class Meta:
        verbose_name = _("spent challenge")
        verbose_name_plural = _("spent challenges")

    def __str__(self) -> str:
        return self.challenge.hex[:12]


class RateCounter(models.Model):
    """Hits of one key in one fixed window of one scope (the database rate-limit backend).

    Composite primary key: one index, which the upsert in ``ratelimit.hit`` targets.
    ``window_start`` and ``expires`` are Unix seconds (integers compare and purge cheaply).
    """

    pk = models.CompositePrimaryKey("scope", "hashed_key", "window_start")
    scope = models.CharField(_("scope"), max_length=100)
    # 32 hex characters; ``<key id>:<32 hex>`` once the keyed-hash key has rotated.
    hashed_key = models.CharField(_("key (keyed hash)"), max_length=64)
    window_start = models.BigIntegerField(_("window start (Unix time)"))
    hits = models.IntegerField(_("hits"), default=0)
    expires = models.BigIntegerField(_("expires (Unix time)"), db_index=True)

    class Meta:
        verbose_name = _("rate counter")
        verbose_name_plural = _("rate counters")

    def __str__(self) -> str:
        return f"{self.scope} {self.hashed_key[:8]} @{self.window_start}: {self.hits}"
