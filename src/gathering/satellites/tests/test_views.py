"""Pages of satellite sites: the public list and site pages in three languages, the application
form with bad input, and the staff pages (sign-in, roles, a coordinator kept to their own site)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client
from django.utils.timezone import now

from gathering.checkin import services as checkin
from gathering.checkin.tests.factories import GateFactory, issue_ticket, nonce
from gathering.core.dates import localize_digits
from gathering.core.testing.staff import sign_in_staff
from gathering.program.tests.factories import PARIS, EditionFactory, SessionFactory
from gathering.satellites.models import AttendanceReport, Site, StreamChannel
from gathering.satellites.tests.factories import (
    SECRET_CONTACT,
    AttendanceReportFactory,
    SiteFactory,
    StreamChannelFactory,
    coordinated_site,
    live_edition,
    make_staff,
)

pytestmark = pytest.mark.django_db

LANGUAGES = ["en", "fa", "fr"]


def html_of(response: Any) -> str:
    return response.content.decode()


# --- the public list -------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_list_shows_approved_sites_by_country_without_contacts(client: Client, lang) -> None:
    edition = EditionFactory(year=2060)
    berlin = SiteFactory(edition=edition, name="Berlin hall", city="Berlin", country="DE")
    AttendanceReportFactory(site=berlin, count=321)
    SiteFactory(edition=edition, name="Online room", city="Sydney", country="AU", is_online=True)
    SiteFactory(edition=edition, name="Pending hall", status=Site.Status.PENDING)

    response = client.get(f"/{lang}/{edition.year}/sites/")

    assert response.status_code == 200
    html = html_of(response)
    assert f'lang="{lang}"' in html
    assert "Berlin hall" in html and "Online room" in html
    assert "Pending hall" not in html
    assert SECRET_CONTACT not in html and "@example.org" not in html
    assert 'class="country-table"' in html
    assert localize_digits("321", lang) in html
    assert {"en": "Germany", "fa": "آلمان", "fr": "Allemagne"}[lang] in html
    if lang == "fa":
        assert 'dir="rtl"' in html
    assert " style=" not in html.split("<main", 1)[1]
    assert "<script>" not in html.split("<main", 1)[1]


def test_the_list_of_an_unknown_year_is_a_404(client: Client) -> None:
    assert client.get("/en/1900/sites/").status_code == 404


def test_the_list_shows_the_world_map_when_the_map_module_is_there(client: Client) -> None:
    pytest.importorskip("gathering.core.worldmap")
    edition = EditionFactory(year=2061)
    SiteFactory(edition=edition, country="DE")

    html = html_of(client.get(f"/en/{edition.year}/sites/"))

    assert "<svg" in html


# --- a site's page ---------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_site_page_shows_its_stream_and_the_program_in_its_time_zone(
    client: Client, lang
) -> None:
    edition = EditionFactory(
        year=2062, start_date=dt.date(2062, 6, 24), end_date=dt.date(2062, 6, 25)
    )
    main = StreamChannelFactory(edition=edition, language="", is_main=True, label={"en": "Main"})
    german = StreamChannelFactory(
        edition=edition, language="de", label={"en": "German interpretation"}
    )
    site = SiteFactory(
        edition=edition,
        slug="toronto",
        name="Toronto hall",
        timezone="America/Toronto",
        channel=german,
        venue="Hall <b>42</b>",
    )
    SessionFactory(
        edition=edition,
        title={"en": "Opening", "fa": "افتتاحیه", "fr": "Ouverture"},
        start=dt.datetime(2062, 6, 24, 14, 0, tzinfo=PARIS),
    )
    # 00:30 in Paris on the second day is still the first day in Toronto.
    SessionFactory(
        edition=edition,
        title={"en": "Night concert"},
        start=dt.datetime(2062, 6, 25, 0, 30, tzinfo=PARIS),
    )

    response = client.get(f"/{lang}/{edition.year}/sites/toronto/")

    assert response.status_code == 200
    html = html_of(response)
    assert "Toronto hall" in html
    assert "Hall &lt;b&gt;42&lt;/b&gt;" in html
    assert "America/Toronto" in html
    assert german.url in html and main.url in html
    assert localize_digits("08:00", lang) in html  # 14:00 in Paris
    assert localize_digits("18:30", lang) in html  # 00:30 in Paris, the day before
    assert html.count('class="program-day"') == 1
    assert SECRET_CONTACT not in html and site.contact_email not in html
    if lang == "fa":
        assert "تیر" in html  # the Solar Hijri month beside the Gregorian date
        assert 'class="date-gregorian"' in html


def test_a_site_without_a_channel_shows_the_main_stream(client: Client) -> None:
    edition = EditionFactory(year=2063)
    main = StreamChannelFactory(edition=edition, language="", is_main=True, label={"en": "Main"})
    site = SiteFactory(edition=edition, channel=None)

    html = html_of(client.get(f"/en/{edition.year}/sites/{site.slug}/"))

    assert re.search(r"This site shows:\s*<strong>\s*<bdi>Main</bdi>", html)
    assert main.url in html


def test_a_stream_link_that_is_not_a_web_address_is_never_a_link(client: Client) -> None:
    edition = EditionFactory(year=2064)
    # Written past the model's validation, as a bad import could.
    StreamChannel.objects.create(
        edition=edition, language="fa", label={"en": "Bad"}, url="javascript:alert(1)"
    )
    site = SiteFactory(edition=edition)

    html = html_of(client.get(f"/en/{edition.year}/sites/{site.slug}/"))

    assert "javascript:" not in html


@pytest.mark.parametrize("status", [Site.Status.PENDING, Site.Status.REJECTED])
def test_unknown_pending_or_rejected_sites_are_404(client: Client, status) -> None:
    edition = EditionFactory(year=2065)
    hidden = SiteFactory(edition=edition, status=status)
    shown = SiteFactory(edition=edition)

    assert client.get(f"/en/{edition.year}/sites/{hidden.slug}/").status_code == 404
    assert client.get(f"/en/{edition.year}/sites/nope/").status_code == 404
    assert client.get(f"/en/1900/sites/{shown.slug}/").status_code == 404
    assert client.get(f"/en/{edition.year}/sites/{shown.slug}/").status_code == 200


def test_a_public_page_changes_once_a_site_is_approved(client: Client) -> None:
    from gathering.satellites import services

    edition = EditionFactory(year=2066)
    site = SiteFactory(edition=edition, name="Late hall", status=Site.Status.PENDING)
    assert "Late hall" not in html_of(client.get(f"/en/{edition.year}/sites/"))

    services.approve_site(site=site, by=None)

    assert "Late hall" in html_of(client.get(f"/en/{edition.year}/sites/"))


# --- applying --------------------------------------------------------------------------------


def application(**overrides: str) -> dict[str, str]:
    data = {
        "name": "",
        "city": "Stockholm",
        "country": "SE",
        "venue": "Folkets hus",
        "expected_attendance": "250",
        "timezone": "Europe/Stockholm",
        "contact_name": SECRET_CONTACT,
        "contact_email": "stockholm@example.org",
        "language": "en",
        "consent": "on",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_application_form_states_purpose_and_retention(client: Client, lang) -> None:
    edition = EditionFactory(year=2067)

    response = client.get(f"/{lang}/{edition.year}/sites/apply/")

    assert response.status_code == 200
    html = html_of(response)
    assert 'name="contact_email"' in html and 'name="consent"' in html
    assert 'id="consent-title"' in html
    assert "Europe/Paris" in html  # the time zones, the edition's chosen
    assert '<option value="Europe/Paris" selected>' in html


def test_applying_twice_records_one_site_and_shows_the_same_page(client: Client) -> None:
    edition = EditionFactory(year=2068)
    url = f"/en/{edition.year}/sites/apply/"

    first = client.post(url, application())
    second = client.post(
        url, application(city=" stockholm ", contact_email="STOCKHOLM@example.org")
    )

    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == f"/en/{edition.year}/sites/apply/sent/"
    assert Site.objects.count() == 1
    site = Site.objects.get()
    assert (site.status, site.city, site.timezone) == ("pending", "Stockholm", "Europe/Stockholm")
    assert client.get(first["Location"]).status_code == 200


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"city": "<script>alert(1)</script>"}, "city"),
        ({"city": "Stock\u202eholm"}, "city"),
        ({"name": "x" * 10_000}, "name"),
        ({"country": "ZZ"}, "country"),
        ({"venue": ""}, "venue"),
        ({"expected_attendance": "many"}, "expected_attendance"),
        ({"expected_attendance": "-3"}, "expected_attendance"),
        ({"expected_attendance": "9" * 5000}, "expected_attendance"),
        ({"expected_attendance": "1e9"}, "expected_attendance"),
        ({"timezone": "Nowhere/Else"}, "timezone"),
        ({"contact_email": "stockholm"}, "contact_email"),
        ({"contact_name": ""}, "contact_name"),
        ({"consent": ""}, "consent"),
    ],
)
def test_bad_applications_are_refused_with_a_message(client: Client, overrides, field) -> None:
    edition = EditionFactory(year=2069)

    response = client.post(f"/en/{edition.year}/sites/apply/", application(**overrides))

    assert response.status_code == 400
    html = html_of(response)
    assert 'class="form-errors"' in html
    assert f'href="#id_{field}"' in html
    assert "<script>alert(1)</script>" not in html
    assert not Site.objects.exists()


def test_an_online_site_applies_without_a_venue(client: Client) -> None:
    edition = EditionFactory(year=2071)

    response = client.post(
        f"/en/{edition.year}/sites/apply/", application(venue="", is_online="on")
    )

    assert response.status_code == 302
    assert Site.objects.get().is_online


# --- staff pages -----------------------------------------------------------------------------


def dashboard(site: Site) -> str:
    return f"/en/staff/sites/{site.pk}/"


def test_anonymous_visitors_are_sent_to_sign_in(client: Client) -> None:
    site = SiteFactory()
    for url in ("/en/staff/sites/", dashboard(site)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/staff/login/?next=")
    response = client.post(dashboard(site), {"form": "report", "count": "5"})
    assert response.status_code == 302
    assert not AttendanceReport.objects.exists()


def test_staff_without_the_role_are_refused(client: Client, django_user_model) -> None:
    site = SiteFactory()
    sign_in_staff(client, make_staff(django_user_model, "gate"))

    assert client.get("/en/staff/sites/").status_code == 403
    assert client.get(dashboard(site)).status_code == 403


def test_a_coordinator_sees_and_changes_only_their_own_site(
    client: Client, django_user_model
) -> None:
    edition = live_edition(year=2072)
    mine = coordinated_site(django_user_model, edition=edition, name="My hall")
    theirs = coordinated_site(django_user_model, edition=edition, name="Their hall")
    french = StreamChannelFactory(edition=edition, language="fr")
    sign_in_staff(client, mine.coordinator)

    listing = html_of(client.get("/en/staff/sites/"))
    assert "My hall" in listing and "Their hall" not in listing
    assert "Applications waiting" not in listing
    assert client.get(dashboard(mine)).status_code == 200

    assert client.get(dashboard(theirs)).status_code == 404
    for data in (
        {"form": "report", "count": "10"},
        {"form": "channel", "channel": str(french.pk)},
        {"form": "tickets", "uses_tickets": "on"},
    ):
        assert client.post(dashboard(theirs), data).status_code == 404
    theirs.refresh_from_db()
    assert not theirs.reports.exists()
    assert theirs.channel is None and not theirs.uses_tickets
    # Nor can they decide on anything.
    pending = SiteFactory(edition=edition, status=Site.Status.PENDING)
    assert client.post("/en/staff/sites/", {"decide": f"approve:{pending.pk}"}).status_code == 403
    pending.refresh_from_db()
    assert pending.status == Site.Status.PENDING


def test_a_coordinator_reports_attendance_from_the_dashboard(
    client: Client, django_user_model
) -> None:
    site = coordinated_site(
        django_user_model, edition=live_edition(year=2073), expected_attendance=100
    )
    sign_in_staff(client, site.coordinator)

    ok = client.post(dashboard(site), {"form": "report", "count": "80", "note": "<b>full</b>"})
    assert ok.status_code == 302
    page = html_of(client.get(ok["Location"]))
    assert "the count is recorded" in page
    assert "&lt;b&gt;full&lt;/b&gt;" in page and "<b>full</b>" not in page

    held = client.post(dashboard(site), {"form": "report", "count": "1001"})
    assert held.status_code == 302
    page = html_of(client.get(held["Location"]))
    assert "more than ten times" in page
    assert list(site.reports.order_by("pk").values_list("count", "status")) == [
        (80, "accepted"),
        (1001, "held"),
    ]
    assert site.reports.get(count=80).reported_by == site.coordinator


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"count": "-5"}, "cannot be negative"),
        ({"count": "abc"}, "whole number"),
        ({"count": ""}, "Enter the number of people"),
        ({"count": "99999999999999999999"}, "too large"),
        ({"count": "12", "reported_at": "2001-01-01T10:00"}, "during the days of the gathering"),
        ({"count": "12", "reported_at": "next tuesday"}, "Enter a date and time"),
        ({"count": "12", "note": "a\u202eb"}, "direction of text"),
        ({"count": "12", "note": "n" * 300}, "at most"),
    ],
)
def test_a_bad_report_is_refused_with_a_form_error(
    client: Client, django_user_model, data, message
) -> None:
    site = coordinated_site(django_user_model, edition=live_edition(year=2074))
    sign_in_staff(client, site.coordinator)

    response = client.post(dashboard(site), {"form": "report", **data})

    assert response.status_code == 400
    assert message in html_of(response)
    assert not AttendanceReport.objects.exists()


def test_a_report_time_is_read_in_the_site_s_local_time(client: Client, django_user_model) -> None:
    site = coordinated_site(
        django_user_model, edition=live_edition(year=2075), timezone="Asia/Tokyo"
    )
    sign_in_staff(client, site.coordinator)
    local = (now() - dt.timedelta(hours=1)).astimezone(site.tzinfo).replace(second=0, microsecond=0)

    response = client.post(
        dashboard(site),
        {"form": "report", "count": "7", "reported_at": local.strftime("%Y-%m-%dT%H:%M")},
    )

    assert response.status_code == 302
    assert site.reports.get().reported_at == local


def test_a_coordinator_chooses_the_stream_and_tickets(client: Client, django_user_model) -> None:
    edition = live_edition(year=2076)
    site = coordinated_site(django_user_model, edition=edition)
    french = StreamChannelFactory(edition=edition, language="fr")
    foreign = StreamChannelFactory(edition=EditionFactory(year=2077), language="fa")
    sign_in_staff(client, site.coordinator)

    assert (
        client.post(dashboard(site), {"form": "channel", "channel": str(foreign.pk)}).status_code
        == 400
    )
    assert client.post(dashboard(site), {"form": "channel", "channel": "x"}).status_code == 400
    assert (
        client.post(dashboard(site), {"form": "channel", "channel": str(french.pk)}).status_code
        == 302
    )
    assert (
        client.post(dashboard(site), {"form": "tickets", "uses_tickets": "on"}).status_code == 302
    )
    assert client.post(dashboard(site), {"form": "unknown"}).status_code == 400

    site.refresh_from_db()
    assert site.channel == french
    assert site.uses_tickets
    gate = site.gates.get()
    result = checkin.record_scan(
        code=issue_ticket(edition).code, gate=gate, direction="entry", nonce=nonce("entry")
    )
    assert result.accepted
    page = html_of(client.get(dashboard(site)))
    assert gate.slug in page
    assert "People who entered" in page


def test_an_organiser_sees_every_site_and_decides(client: Client, django_user_model) -> None:
    edition = live_edition(year=2078)
    organiser = make_staff(django_user_model, "organiser")
    mine = coordinated_site(django_user_model, edition=edition, name="Coordinated hall")
    pending = SiteFactory(edition=edition, name="Pending hall", status=Site.Status.PENDING)
    held = AttendanceReportFactory(site=mine, count=99_999, status=AttendanceReport.Status.HELD)
    sign_in_staff(client, organiser)

    page = html_of(client.get("/en/staff/sites/"))
    assert "Coordinated hall" in page and "Pending hall" in page
    assert f'value="approve:{pending.pk}"' in page
    assert f'value="accept-report:{held.pk}"' in page
    assert SECRET_CONTACT not in page and pending.contact_email not in page
    assert client.get(dashboard(mine)).status_code == 200

    assert client.post("/en/staff/sites/", {"decide": f"approve:{pending.pk}"}).status_code == 302
    assert (
        client.post("/en/staff/sites/", {"decide": f"accept-report:{held.pk}"}).status_code == 302
    )
    again = client.post("/en/staff/sites/", {"decide": f"approve:{pending.pk}"}, follow=True)
    assert "decided already" in html_of(again)
    pending.refresh_from_db()
    held.refresh_from_db()
    assert pending.status == Site.Status.APPROVED
    assert held.status == AttendanceReport.Status.ACCEPTED

    for bad in ("", "approve", "approve:0", "approve:abc", "drop:1", "approve:1;DROP"):
        assert client.post("/en/staff/sites/", {"decide": bad}).status_code == 400
    assert client.post("/en/staff/sites/", {"decide": "approve:999999"}).status_code == 404


def test_staff_pages_are_not_cached_and_not_indexed(client: Client, django_user_model) -> None:
    site = coordinated_site(django_user_model)
    sign_in_staff(client, site.coordinator)

    response = client.get(dashboard(site))

    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    assert response["X-Robots-Tag"] == "noindex, nofollow"


def test_scans_at_a_site_gate_show_on_its_dashboard_not_anothers(
    client: Client, django_user_model
) -> None:
    edition = EditionFactory(year=2079)
    site = coordinated_site(django_user_model, edition=edition, uses_tickets=True)
    GateFactory(edition=edition, site=site, slug="my-door")
    GateFactory(edition=edition, slug="main-door")
    sign_in_staff(client, site.coordinator)

    page = html_of(client.get(dashboard(site)))

    assert "my-door" in page and "main-door" not in page
