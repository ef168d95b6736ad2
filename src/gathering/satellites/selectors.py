"""Reads of satellite sites: the public list and pages, a coordinator's sites, the review
queues, gate counts of a site, and the live figures (polled twice a second by ``live``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from gathering.checkin.models import Direction, Gate, Scan, ScanStatus
from gathering.program.models import Edition
from gathering.satellites.models import AttendanceReport, Site, StreamChannel

# Who sees every site on the staff pages (organisers); the others see the sites they coordinate.
VIEW_ALL = "satellites.view_site"
COORDINATE = "satellites.coordinate_site"

Status = Site.Status
ReportStatus = AttendanceReport.Status


@dataclass(frozen=True)
class SiteFigures:
    """The satellite sites of an edition as the live counters show them.

    ``connected``: approved sites that reported (an accepted report) or scanned a valid entry;
    ``attendance``: the people at approved sites (see :func:`live_figures`);
    ``countries``: the sorted ISO codes of approved sites' countries;
    ``by_country``: the attendance of approved sites per country (0 for a country whose sites
    have reported no one yet).
    """

    connected: int
    attendance: int
    countries: tuple[str, ...]
    by_country: dict[str, int]


def _latest_accepted_count() -> Any:
    return Subquery(
        AttendanceReport.objects.filter(site=OuterRef("pk"), status=ReportStatus.ACCEPTED)
        .order_by("-reported_at", "-pk")
        .values("count")[:1]
    )


def _valid_entries(edition: Edition) -> QuerySet[Scan]:
    return Scan.objects.filter(
        edition=edition,
        gate__site__isnull=False,
        status=ScanStatus.VALID,
        direction=Direction.ENTRY,
    )


def count_entries_by_site(*, edition: Edition) -> dict[int, int]:
    """People who entered through each site's gates: distinct tickets with a valid entry (a
    ticket that goes out and in again counts once). One query."""
    rows = (
        _valid_entries(edition)
        .order_by()
        .values("gate__site_id")
        .annotate(people=Count("ticket_id", distinct=True))
    )
    return {row["gate__site_id"]: row["people"] for row in rows}


def live_figures(*, edition: Edition) -> SiteFigures:
    """The live figures of ``edition``'s satellite sites, in two aggregate queries.

    A site's attendance is the number of people who entered through its gates when it checks
    tickets (``uses_tickets``), else the count of its latest accepted report (by the time it
    was counted). Held and rejected reports never count; pending and rejected sites neither.
    """
    sites = (
        Site.objects.filter(edition=edition, status=Status.APPROVED)
        .order_by()
        .annotate(latest=_latest_accepted_count())
        .values_list("pk", "country", "uses_tickets", "latest")
    )
    rows = list(sites)
    entries = count_entries_by_site(edition=edition) if rows else {}
    connected = 0
    attendance = 0
    by_country: dict[str, int] = defaultdict(int)
    for pk, country, uses_tickets, latest in rows:
        scanned = entries.get(pk, 0)
        if latest is not None or scanned:
            connected += 1
        people = scanned if uses_tickets else (latest or 0)
        attendance += people
        by_country[country] += people
    return SiteFigures(
        connected=connected,
        attendance=attendance,
        countries=tuple(sorted(by_country)),
        by_country=dict(sorted(by_country.items())),
    )


# --- public pages ----------------------------------------------------------------------------


def list_public_sites(*, edition: Edition) -> QuerySet[Site]:
    """Approved sites of ``edition`` with their channel, by country then city. No contact
    details are read (they are deferred)."""
    return (
        Site.objects.filter(edition=edition, status=Status.APPROVED)
        .select_related("channel")
        .defer("contact_name", "contact_email", "contact_email_index")
        .order_by("country", "city", "name", "pk")
    )


def get_public_site(*, edition: Edition, slug: str) -> Site:
    """An approved site of ``edition``; raises ``Site.DoesNotExist`` for unknown, pending and
    rejected sites alike."""
    return list_public_sites(edition=edition).select_related("edition").get(slug=slug)


def list_channels(*, edition: Edition) -> QuerySet[StreamChannel]:
    """The edition's channels: the main stream first, then by position."""
    return StreamChannel.objects.filter(edition=edition).order_by(
        "-is_main", "position", "language"
    )


def get_main_channel(*, edition: Edition) -> StreamChannel | None:
    return StreamChannel.objects.filter(edition=edition, is_main=True).first()


# --- staff pages -----------------------------------------------------------------------------


def sees_every_site(user: Any) -> bool:
    """Organisers (and superusers) see and decide on every site."""
    return bool(user.is_authenticated and user.is_active and user.has_perm(VIEW_ALL))


def list_sites_of(*, user: Any) -> QuerySet[Site]:
    """The sites ``user`` may see on the staff pages: every site for organisers, the sites
    they coordinate for a coordinator, none for anyone else. Newest edition first."""
    sites = Site.objects.select_related("edition", "channel").order_by(
        "-edition__year", "country", "city", "pk"
    )
    if not user.is_authenticated or not user.is_active:
        return sites.none()
    if sees_every_site(user):
        return sites
    if not user.has_perm(COORDINATE):
        return sites.none()
    return sites.filter(coordinator_id=user.pk)


def get_site_of(*, user: Any, pk: int) -> Site:
    """A site ``user`` may see; raises ``Site.DoesNotExist`` for another's site (so that the
    page is a 404, revealing nothing)."""
    return list_sites_of(user=user).get(pk=pk)


def list_pending_sites() -> QuerySet[Site]:
    return (
        Site.objects.filter(status=Status.PENDING)
        .select_related("edition")
        .order_by("created_at", "pk")
    )


def list_held_reports() -> QuerySet[AttendanceReport]:
    return (
        AttendanceReport.objects.filter(status=ReportStatus.HELD)
        .select_related("site", "site__edition")
        .order_by("created_at", "pk")
    )


def list_reports(*, site: Site, limit: int = 100) -> list[AttendanceReport]:
    """The latest reports of ``site``, newest count first."""
    return list(AttendanceReport.objects.filter(site=site).order_by("-reported_at", "-pk")[:limit])


def get_latest_accepted_report(*, site: Site) -> AttendanceReport | None:
    return (
        AttendanceReport.objects.filter(site=site, status=ReportStatus.ACCEPTED)
        .order_by("-reported_at", "-pk")
        .first()
    )


@dataclass(frozen=True)
class GateFigures:
    """Scans at one of a site's gates."""

    gate: Gate
    entries: int
    people: int
    exits: int
    rejected: int


def count_site_gates(*, site: Site) -> list[GateFigures]:
    """Every gate of ``site`` with its valid entries (scans and distinct tickets), valid
    exits and refused scans. Two queries."""
    gates = list(Gate.objects.filter(site=site).order_by("position", "slug"))
    if not gates:
        return []
    valid = Q(status=ScanStatus.VALID)
    rows = (
        Scan.objects.filter(edition_id=site.edition_id, gate__in=gates)
        .order_by()
        .values("gate_id")
        .annotate(
            entries=Count("pk", filter=valid & Q(direction=Direction.ENTRY)),
            people=Count("ticket_id", filter=valid & Q(direction=Direction.ENTRY), distinct=True),
            exits=Count("pk", filter=valid & Q(direction=Direction.EXIT)),
            rejected=Count("pk", filter=~valid),
        )
    )
    counted = {row["gate_id"]: row for row in rows}
    empty = {"entries": 0, "people": 0, "exits": 0, "rejected": 0}
    return [
        GateFigures(
            gate=gate,
            entries=counted.get(gate.pk, empty)["entries"],
            people=counted.get(gate.pk, empty)["people"],
            exits=counted.get(gate.pk, empty)["exits"],
            rejected=counted.get(gate.pk, empty)["rejected"],
        )
        for gate in gates
    ]


def count_site_attendance(*, site: Site) -> int:
    """The site's attendance as the live figures count it."""
    if site.uses_tickets:
        return int(
            _valid_entries(site.edition)
            .filter(gate__site=site)
            .aggregate(people=Count("ticket_id", distinct=True))["people"]
        )
    latest = get_latest_accepted_report(site=site)
    return latest.count if latest else 0


@dataclass(frozen=True)
class CountryRow:
    country: str
    sites: int
    attendance: int


def count_sites_by_country(*, edition: Edition) -> list[CountryRow]:
    """Approved sites and their attendance per country, most sites first."""
    figures = live_figures(edition=edition)
    site_counts = dict(
        Site.objects.filter(edition=edition, status=Status.APPROVED)
        .order_by()
        .values("country")
        .annotate(n=Count("pk"))
        .values_list("country", "n")
    )
    rows = [
        CountryRow(country=code, sites=site_counts.get(code, 0), attendance=people)
        for code, people in figures.by_country.items()
    ]
    rows.sort(key=lambda row: (-row.sites, -row.attendance, row.country))
    return rows
