"""Reads of "add your voice": campaigns, public counts, the messages wall, the audit figures.

Public counts are exactly the confirmed signatures that are neither held for review nor
invalidated nor withdrawn. Countries with fewer signatures than the campaign's threshold are
added together as "other countries", so that a small number never points at a person. Counts
are read with one grouped query on an index and kept for a second (a surge of visitors costs
one query per second per process, not one per visit).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Count, Q, QuerySet
from django.utils.timezone import now

from gathering.core.local_cache import LocalCache
from gathering.program.models import Edition
from gathering.voices.models import Campaign, Endorsement, Invalidation, Signature

COUNTS_CACHE_SECONDS = 1
OTHER = "other"

Status = Signature.Status


def list_campaigns(*, edition: Edition) -> QuerySet[Campaign]:
    return Campaign.objects.filter(edition=edition, is_published=True).order_by("position", "pk")


def get_campaign(*, edition: Edition, slug: str) -> Campaign:
    """Raises Campaign.DoesNotExist (also for an unpublished one)."""
    return Campaign.objects.select_related("edition").get(
        edition=edition, slug=slug, is_published=True
    )


# Every sign request reads its campaign and edition: kept per process for a few seconds (an
# organiser's edit shows within CAMPAIGN_CACHE_SECONDS everywhere).
CAMPAIGN_CACHE_SECONDS = 5
_campaigns: LocalCache[Campaign] = LocalCache(seconds=CAMPAIGN_CACHE_SECONDS)


def get_published_campaign(*, year: int, slug: str) -> Campaign:
    """The published campaign ``slug`` of the edition of ``year``, with its edition, at most a
    few seconds old. Raises Campaign.DoesNotExist (for an unknown edition too)."""

    def load() -> Campaign:
        return Campaign.objects.select_related("edition").get(
            edition__year=year, slug=slug, is_published=True
        )

    return _campaigns.get_or_set((year, slug), load)


def counted_signatures(*, campaign: Campaign) -> QuerySet[Signature]:
    return Signature.objects.filter(campaign=campaign, status=Status.CONFIRMED).exclude(
        review=Signature.Review.HELD
    )


@dataclass(frozen=True)
class CountryCount:
    country: str  # ISO code, or OTHER
    count: int


@dataclass(frozen=True)
class Counts:
    total: int
    countries: list[CountryCount]  # largest first; OTHER last
    countries_shown: int  # countries at or above the threshold
    goal: int

    @property
    def progress(self) -> int:
        """Per cent of the goal, 0-100."""
        if self.goal <= 0:
            return 100
        return min(100, self.total * 100 // self.goal)


def _raw_counts(campaign_id: int) -> dict[str, int]:
    rows = (
        Signature.objects.filter(campaign_id=campaign_id, status=Status.CONFIRMED)
        .exclude(review=Signature.Review.HELD)
        .order_by()
        .values_list("country")
        .annotate(n=Count("pk"))
    )
    return {country: n for country, n in rows}  # noqa: C416 (rows are tuples of two)


def count_by_country(*, campaign: Campaign, fresh: bool = False) -> Counts:
    """The public counts of ``campaign`` (at most a second old unless ``fresh``)."""
    key = f"voices:counts:{campaign.pk}"
    raw: dict[str, int] | None = None if fresh else cache.get(key)
    if raw is None:
        raw = _raw_counts(campaign.pk)
        cache.set(key, raw, COUNTS_CACHE_SECONDS)
    threshold = max(1, campaign.country_threshold)
    shown = sorted(
        (CountryCount(country, n) for country, n in raw.items() if n >= threshold),
        key=lambda item: (-item.count, item.country),
    )
    other = sum(n for n in raw.values() if n < threshold)
    countries = shown + ([CountryCount(OTHER, other)] if other else [])
    return Counts(
        total=sum(raw.values()),
        countries=countries,
        countries_shown=len(shown),
        goal=campaign.goal,
    )


def forget_counts(*, campaign: Campaign) -> None:
    cache.delete(f"voices:counts:{campaign.pk}")


def list_wall_messages(*, campaign: Campaign, limit: int = 60) -> list[Signature]:
    """Approved messages of counted signatures, newest first (names only where allowed)."""
    return list(
        counted_signatures(campaign=campaign)
        .filter(message_status=Signature.MessageStatus.APPROVED)
        .order_by("-confirmed_at", "-pk")[:limit]
    )


def list_endorsements(*, campaign: Campaign) -> QuerySet[Endorsement]:
    return campaign.endorsements.filter(verified_at__isnull=False).order_by("position", "pk")


@dataclass(frozen=True)
class AuditFigures:
    """How the count shown and the transparency log reconcile:
    ``leaves == counted + withdrawn_after_counting + invalidated_after_counting``."""

    counted: int
    leaves: int
    withdrawn_after_counting: int
    invalidated_after_counting: int
    held: int
    invalidations: list[Invalidation]


def audit_figures(*, campaign: Campaign) -> AuditFigures:
    signatures = Signature.objects.filter(campaign=campaign)
    figures = signatures.aggregate(
        counted=Count("pk", filter=Q(status=Status.CONFIRMED) & ~Q(review=Signature.Review.HELD)),
        leaves=Count("pk", filter=Q(leaf__isnull=False)),
        withdrawn=Count("pk", filter=Q(status=Status.WITHDRAWN, leaf__isnull=False)),
        invalidated=Count("pk", filter=Q(status=Status.INVALIDATED, leaf__isnull=False)),
        held=Count("pk", filter=Q(status=Status.CONFIRMED, review=Signature.Review.HELD)),
    )
    return AuditFigures(
        counted=figures["counted"],
        leaves=figures["leaves"],
        withdrawn_after_counting=figures["withdrawn"],
        invalidated_after_counting=figures["invalidated"],
        held=figures["held"],
        invalidations=list(campaign.invalidations.order_by("-created_at", "-pk")),
    )


def list_held(*, campaign: Campaign) -> QuerySet[Signature]:
    return Signature.objects.filter(
        campaign=campaign, status=Status.CONFIRMED, review=Signature.Review.HELD
    ).order_by("confirmed_at", "pk")


def list_pending_messages(*, campaign: Campaign) -> QuerySet[Signature]:
    return (
        counted_signatures(campaign=campaign)
        .filter(message_status=Signature.MessageStatus.PENDING)
        .order_by("confirmed_at", "pk")
    )


@dataclass(frozen=True)
class Trend:
    value: str  # a domain, or a network hash
    last_hour: int
    previous_day_hourly: float  # average per hour over the 24 hours before


def trending(*, campaign: Campaign, field: str, limit: int = 20) -> list[Trend]:
    """Domains (``field="email_domain"``) or networks (``"prefix_hash"``) by signatures in the
    last hour, with their hourly average over the day before: a surge stands out."""
    moment = now()
    hour_ago = moment - dt.timedelta(hours=1)
    day_before = hour_ago - dt.timedelta(hours=24)
    rows = (
        Signature.objects.filter(campaign=campaign, created_at__gte=day_before)
        .exclude(**{field: ""})
        .order_by()
        .values(field)
        .annotate(
            last_hour=Count("pk", filter=Q(created_at__gte=hour_ago)),
            before=Count("pk", filter=Q(created_at__lt=hour_ago)),
        )
        .filter(last_hour__gt=0)
        .order_by("-last_hour")[:limit]
    )
    return [
        Trend(value=row[field], last_hour=row["last_hour"], previous_day_hourly=row["before"] / 24)
        for row in rows
    ]
