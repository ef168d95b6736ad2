"""The demo's sites and channels (satellites/demo.py): loaded once, counted by the live figures."""

from __future__ import annotations

import pytest

from gathering.program.models import Edition
from gathering.program.tests.factories import EditionFactory
from gathering.satellites import selectors
from gathering.satellites.demo import load_satellites_demo
from gathering.satellites.models import AttendanceReport, Site, StreamChannel

pytestmark = pytest.mark.django_db


def test_the_demo_loads_sites_and_channels_once() -> None:
    edition = EditionFactory(year=2095, status=Edition.Status.PLANNED)

    created = load_satellites_demo()
    assert load_satellites_demo() == 0

    assert created == Site.objects.count() == 7
    assert Site.objects.filter(status=Site.Status.PENDING).count() == 1
    assert Site.objects.filter(is_online=True).count() == 1
    channels = StreamChannel.objects.filter(edition=edition)
    assert sorted(channels.values_list("language", flat=True)) == ["", "ar", "de", "en", "fa", "fr"]
    assert channels.get(is_main=True).language == ""
    assert all(channel.url.startswith("https://example.org/") for channel in channels)
    for channel in channels:
        channel.full_clean()
    for site in Site.objects.all():
        site.full_clean()
        assert site.contact_email.endswith("@example.org")
    figures = selectors.live_figures(edition=edition)
    assert figures.connected == 6
    assert figures.attendance == 640 + 980 + 210 + 400 + 260 + 140
    assert len(figures.countries) == 6
    assert AttendanceReport.objects.count() == 8


def test_no_planned_edition_no_demo_sites() -> None:
    EditionFactory(year=2096, status=Edition.Status.PAST)
    assert load_satellites_demo() == 0
    assert not Site.objects.exists()
