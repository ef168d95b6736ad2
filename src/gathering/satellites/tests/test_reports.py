"""Attendance reports (services.report_attendance / review_report): what is accepted, held for
review or refused, and that a refused report writes nothing."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.utils.timezone import now

from gathering.satellites import selectors, services
from gathering.satellites.errors import (
    InvalidReportError,
    ReportDecisionError,
    SiteNotApprovedError,
)
from gathering.satellites.models import AttendanceReport, Site
from gathering.satellites.tests.factories import SiteFactory, live_edition

pytestmark = pytest.mark.django_db

Status = AttendanceReport.Status


@pytest.fixture
def site() -> Site:
    return SiteFactory(edition=live_edition(), expected_attendance=100)


def report(site: Site, count: object, **overrides: object) -> AttendanceReport:
    values: dict[str, object] = {"reported_at": now(), "note": "", "by": None}
    values.update(overrides)
    return services.report_attendance(site=site, count=count, **values)  # type: ignore[arg-type]


def refused(site: Site, count: object, **overrides: object) -> InvalidReportError:
    with pytest.raises(InvalidReportError) as raised:
        report(site, count, **overrides)
    assert not AttendanceReport.objects.exists()
    return raised.value


@pytest.mark.parametrize("count", [0, 1, 100, 1000])
def test_a_plausible_count_is_accepted_and_counts(site, count) -> None:
    saved = report(site, count, note="  The hall   is full  ")

    assert saved.status == Status.ACCEPTED
    assert saved.note == "The hall is full"
    assert selectors.live_figures(edition=site.edition).attendance == count


def test_a_count_over_ten_times_the_expected_attendance_is_held(site) -> None:
    report(site, 80)
    held = report(site, 1001)

    assert held.status == Status.HELD
    assert selectors.live_figures(edition=site.edition).attendance == 80

    services.review_report(report=held, accept=True, by=None)
    assert selectors.live_figures(edition=site.edition).attendance == 1001
    with pytest.raises(ReportDecisionError):
        services.review_report(report=held, accept=False, by=None)


def test_a_rejected_held_report_never_counts(site) -> None:
    held = report(site, 5000)
    services.review_report(report=held, accept=False, by=None)

    held.refresh_from_db()
    assert held.status == Status.REJECTED
    assert selectors.live_figures(edition=site.edition).attendance == 0


def test_a_negative_count_is_refused(site) -> None:
    error = refused(site, -1)
    assert error.field == "count"
    assert "negative" in str(error.message)


@pytest.mark.parametrize("count", [10_000_001, 10**12, 2**63, 10**400])
def test_a_count_no_site_can_hold_is_refused(site, count) -> None:
    assert refused(site, count).field == "count"


@pytest.mark.parametrize("count", ["12", "12abc", 12.5, None, True, [], "١٢"])
def test_a_count_that_is_not_a_whole_number_is_refused(site, count) -> None:
    error = refused(site, count)
    assert error.field == "count"
    assert "whole number" in str(error.message)


def test_a_count_before_or_after_the_edition_is_refused(site) -> None:
    edition = site.edition
    before = dt.datetime.combine(
        edition.start_date - dt.timedelta(days=2), dt.time(12), tzinfo=edition.tzinfo
    )
    error = refused(site, 10, reported_at=before)
    assert error.field == "reported_at"
    assert "during the days of the gathering" in str(error.message)

    ended = live_edition(
        year=2045,
        start_date=dt.date(2020, 6, 1),
        end_date=dt.date(2020, 6, 2),
    )
    old_site = SiteFactory(edition=ended)
    assert refused(old_site, 10).field == "reported_at"


def test_a_count_from_the_future_is_refused(site) -> None:
    error = refused(site, 10, reported_at=now() + dt.timedelta(hours=1))
    assert error.field == "reported_at"
    assert "future" in str(error.message)


def test_a_clock_a_little_fast_is_taken_as_now(site) -> None:
    moment = now()
    saved = report(site, 10, reported_at=moment + dt.timedelta(minutes=2), at=moment)
    assert saved.reported_at == moment


def test_a_naive_time_is_read_in_the_site_s_time_zone(site) -> None:
    local = now().astimezone(site.tzinfo).replace(tzinfo=None, microsecond=0) - dt.timedelta(
        minutes=30
    )
    saved = report(site, 10, reported_at=local)
    assert saved.reported_at == local.replace(tzinfo=site.tzinfo)


def test_a_site_far_west_may_report_once_the_venue_s_first_day_has_begun() -> None:
    edition = live_edition(year=2046)
    los_angeles = zoneinfo.ZoneInfo("America/Los_Angeles")
    site = SiteFactory(edition=edition, timezone="America/Los_Angeles")
    # 22:00 in Los Angeles on the day before the first day is already the first day in Paris.
    evening = dt.datetime.combine(
        edition.start_date - dt.timedelta(days=1), dt.time(22), tzinfo=los_angeles
    )
    saved = services.report_attendance(
        site=site, count=5, reported_at=evening, note="", by=None, at=evening
    )
    assert saved.status == Status.ACCEPTED


@pytest.mark.parametrize(
    "note",
    [
        "hall \u202efull",  # right-to-left override
        "hall\u200bfull",  # zero-width space
        "line\x00",
        "x" * 281,
    ],
)
def test_a_hostile_note_is_refused(site, note) -> None:
    assert refused(site, 10, note=note).field == "note"


def test_markup_in_a_note_is_kept_as_text(site) -> None:
    saved = report(site, 10, note="<script>alert(1)</script> سالن پر است")
    assert saved.note == "<script>alert(1)</script> سالن پر است"


def test_a_site_that_is_not_approved_cannot_report() -> None:
    for status in (Site.Status.PENDING, Site.Status.REJECTED):
        site = SiteFactory(edition=live_edition(), status=status)
        with pytest.raises(SiteNotApprovedError):
            report(site, 10)
    assert not AttendanceReport.objects.exists()


def test_an_accepted_report_wakes_the_live_publisher_and_a_held_one_does_not(
    site, django_capture_on_commit_callbacks
) -> None:
    from gathering.live import notify

    nudged: list[int] = []
    stop = notify.listen(nudged.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            report(site, 5000)
        assert nudged == []
        with django_capture_on_commit_callbacks(execute=True):
            report(site, 50)
        assert set(nudged) == {site.edition.year}
    finally:
        stop()
