"""The live figures of satellite sites (selectors.live_figures), including sites that check
tickets at their gates, and what coordinators may see (list_sites_of)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils.timezone import now

from gathering.checkin import services as checkin
from gathering.checkin.tests.factories import GateFactory, issue_ticket, nonce
from gathering.program.tests.factories import EditionFactory
from gathering.satellites import selectors
from gathering.satellites.models import AttendanceReport, Site
from gathering.satellites.tests.factories import (
    AttendanceReportFactory,
    SiteFactory,
    coordinated_site,
    make_staff,
)

pytestmark = pytest.mark.django_db

Status = AttendanceReport.Status


@pytest.fixture
def edition():
    return EditionFactory(year=2050)


def scan(gate, code: str, direction: str = "entry"):
    return checkin.record_scan(code=code, gate=gate, direction=direction, nonce=nonce(direction))


def test_no_site_no_figures(edition) -> None:
    assert selectors.live_figures(edition=edition) == selectors.SiteFigures(
        connected=0, attendance=0, countries=(), by_country={}
    )


def test_figures_count_the_latest_accepted_report_of_approved_sites(edition) -> None:
    moment = now()
    berlin = SiteFactory(edition=edition, country="DE")
    AttendanceReportFactory(site=berlin, count=300, reported_at=moment - dt.timedelta(hours=1))
    # Received later but counted earlier: the count by time wins, not the arrival.
    AttendanceReportFactory(site=berlin, count=100, reported_at=moment - dt.timedelta(hours=2))
    AttendanceReportFactory(site=berlin, count=9000, reported_at=moment, status=Status.HELD)
    hamburg = SiteFactory(edition=edition, country="DE")
    AttendanceReportFactory(site=hamburg, count=50, reported_at=moment)
    london = SiteFactory(edition=edition, country="GB")
    AttendanceReportFactory(site=london, count=70, reported_at=moment, status=Status.REJECTED)
    SiteFactory(edition=edition, country="CA")  # approved, nothing reported yet
    pending = SiteFactory(edition=edition, country="US", status=Site.Status.PENDING)
    AttendanceReportFactory(site=pending, count=999)
    rejected = SiteFactory(edition=edition, country="SE", status=Site.Status.REJECTED)
    AttendanceReportFactory(site=rejected, count=999)
    other_edition = SiteFactory(edition=EditionFactory(year=2051), country="FR")
    AttendanceReportFactory(site=other_edition, count=999)

    figures = selectors.live_figures(edition=edition)

    assert figures.connected == 2
    assert figures.attendance == 350
    assert figures.countries == ("CA", "DE", "GB")
    assert figures.by_country == {"CA": 0, "DE": 350, "GB": 0}


def test_a_site_checking_tickets_counts_the_people_who_entered_through_its_gates(edition) -> None:
    berlin = SiteFactory(edition=edition, country="DE", uses_tickets=True)
    berlin_gate = GateFactory(edition=edition, site=berlin, slug="berlin-door")
    second_gate = GateFactory(edition=edition, site=berlin, slug="berlin-back-door")
    # A report of a ticket-checking site keeps it connected but does not count people.
    AttendanceReportFactory(site=berlin, count=5000)
    main_gate = GateFactory(edition=edition, slug="main-gate")
    reporting = SiteFactory(edition=edition, country="DE")
    AttendanceReportFactory(site=reporting, count=40)
    quiet = SiteFactory(edition=edition, country="GB", uses_tickets=True)
    GateFactory(edition=edition, site=quiet, slug="quiet-door")

    tickets = [issue_ticket(edition) for _ in range(4)]
    assert scan(berlin_gate, tickets[0].code).accepted
    assert scan(second_gate, tickets[1].code).accepted
    assert not scan(berlin_gate, tickets[1].code).accepted  # already inside: refused
    assert not scan(berlin_gate, "garbage").accepted
    assert scan(berlin_gate, tickets[0].code, "exit").accepted
    assert scan(second_gate, tickets[0].code).accepted  # back in: one person still
    assert scan(main_gate, tickets[2].code).accepted  # the main venue is not a site

    figures = selectors.live_figures(edition=edition)

    assert figures.attendance == 2 + 40
    assert figures.connected == 2
    assert figures.by_country == {"DE": 42, "GB": 0}
    assert [
        (row.gate.slug, row.people, row.entries, row.exits, row.rejected)
        for row in selectors.count_site_gates(site=berlin)
    ] == [
        ("berlin-back-door", 2, 2, 0, 0),
        ("berlin-door", 1, 1, 1, 2),
    ]
    assert selectors.count_site_attendance(site=berlin) == 2


def test_a_site_connected_by_scans_alone(edition) -> None:
    site = SiteFactory(edition=edition, country="CA", uses_tickets=False)
    gate = GateFactory(edition=edition, site=site)
    assert scan(gate, issue_ticket(edition).code).accepted

    figures = selectors.live_figures(edition=edition)

    # Connected (it scanned), but it counts by reports and has none.
    assert (figures.connected, figures.attendance) == (1, 0)


def test_live_figures_take_two_queries_whatever_the_number_of_sites(
    edition, django_assert_max_num_queries
) -> None:
    for index in range(20):
        site = SiteFactory(
            edition=edition, country="DE" if index % 2 else "FR", uses_tickets=index % 3 == 0
        )
        AttendanceReportFactory(site=site, count=index)
        GateFactory(edition=edition, site=site)

    with django_assert_max_num_queries(2):
        figures = selectors.live_figures(edition=edition)
    assert figures.connected == 20


def test_public_sites_are_the_approved_ones_of_the_edition(edition) -> None:
    shown = SiteFactory(edition=edition)
    SiteFactory(edition=edition, status=Site.Status.PENDING)
    SiteFactory(edition=edition, status=Site.Status.REJECTED)
    SiteFactory(edition=EditionFactory(year=2052))

    assert list(selectors.list_public_sites(edition=edition)) == [shown]
    assert selectors.get_public_site(edition=edition, slug=shown.slug) == shown


def test_a_coordinator_sees_only_their_sites_and_an_organiser_sees_all(
    edition, django_user_model
) -> None:
    mine = coordinated_site(django_user_model, edition=edition)
    theirs = coordinated_site(django_user_model, edition=edition)
    organiser = make_staff(django_user_model, "organiser")
    gate_staff = make_staff(django_user_model, "gate")

    assert list(selectors.list_sites_of(user=mine.coordinator)) == [mine]
    assert set(selectors.list_sites_of(user=organiser)) == {mine, theirs}
    assert list(selectors.list_sites_of(user=gate_staff)) == []
    with pytest.raises(Site.DoesNotExist):
        selectors.get_site_of(user=mine.coordinator, pk=theirs.pk)
    # A coordinator whose role was withdrawn no longer sees their site.
    mine.coordinator.groups.clear()
    coordinator = django_user_model.objects.get(pk=mine.coordinator_id)
    assert list(selectors.list_sites_of(user=coordinator)) == []
