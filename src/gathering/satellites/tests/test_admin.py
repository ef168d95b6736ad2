"""Back office of satellite sites (satellites/admin.py) and the site column of check-in gates."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from gathering.checkin.tests.factories import GateFactory
from gathering.core.testing.outbox import deliver_outbox
from gathering.core.testing.staff import sign_in_staff
from gathering.program.tests.factories import EditionFactory
from gathering.satellites.models import AttendanceReport, Site
from gathering.satellites.tests.factories import (
    SECRET_CONTACT,
    AttendanceReportFactory,
    SiteFactory,
    coordinated_site,
    make_staff,
)

pytestmark = pytest.mark.django_db


def admin_url(name: str, *args: Any) -> str:
    return reverse(f"admin:{name}", args=args)


@pytest.fixture
def organiser(client: Client, django_user_model):
    user = make_staff(django_user_model, "organiser")
    sign_in_staff(client, user)
    return user


def test_the_site_list_never_shows_contacts_and_search_by_email_works(
    client: Client, organiser
) -> None:
    site = SiteFactory(name="Searchable hall", contact_email="findme@example.org")
    SiteFactory(name="Other hall")

    listing = client.get(admin_url("satellites_site_changelist"))
    assert listing.status_code == 200
    html = listing.content.decode()
    assert "Searchable hall" in html
    assert SECRET_CONTACT not in html and "@example.org" not in html

    found = client.get(admin_url("satellites_site_changelist"), {"q": " FindMe@Example.org "})
    assert "Searchable hall" in found.content.decode()
    assert "Other hall" not in found.content.decode()
    # The site's own page shows the contact to organisers.
    detail = client.get(admin_url("satellites_site_change", site.pk)).content.decode()
    assert "findme@example.org" in detail


def test_approve_and_reject_actions_call_the_services(client: Client, organiser, smtp_sink) -> None:
    first = SiteFactory(status=Site.Status.PENDING, slug="first")
    second = SiteFactory(status=Site.Status.PENDING, slug="second")
    done = SiteFactory(status=Site.Status.APPROVED)

    response = client.post(
        admin_url("satellites_site_changelist"),
        {"action": "approve", "_selected_action": [first.pk, done.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "decided already" in response.content.decode()
    client.post(
        admin_url("satellites_site_changelist"),
        {"action": "reject", "_selected_action": [second.pk]},
    )

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Site.Status.APPROVED and first.coordinator is not None
    assert second.status == Site.Status.REJECTED
    assert deliver_outbox().sent == 2


def test_held_reports_are_reviewed_by_action_and_never_edited(client: Client, organiser) -> None:
    held = AttendanceReportFactory(count=100_000, status=AttendanceReport.Status.HELD)

    client.post(
        admin_url("satellites_attendancereport_changelist"),
        {"action": "accept", "_selected_action": [held.pk]},
    )

    held.refresh_from_db()
    assert held.status == AttendanceReport.Status.ACCEPTED
    assert client.get(admin_url("satellites_attendancereport_add")).status_code == 403


def test_a_coordinator_has_no_back_office_view_of_sites(client: Client, django_user_model) -> None:
    site = coordinated_site(django_user_model)
    sign_in_staff(client, site.coordinator)

    assert client.get(admin_url("satellites_site_changelist")).status_code == 403
    assert client.get(admin_url("satellites_site_change", site.pk)).status_code == 403


def test_gates_show_their_site(client: Client, organiser) -> None:
    edition = EditionFactory(year=2090)
    site = SiteFactory(edition=edition, name="Gated hall")
    GateFactory(edition=edition, site=site, slug="site-door")
    GateFactory(edition=edition, slug="main-door")

    html = client.get(admin_url("checkin_gate_changelist")).content.decode()
    assert "Gated hall" in html
    only_main = client.get(admin_url("checkin_gate_changelist"), {"site__isnull": "True"})
    assert "main-door" in only_main.content.decode()
    assert "site-door" not in only_main.content.decode()


def test_a_gate_cannot_belong_to_a_site_of_another_edition() -> None:
    from django.core.exceptions import ValidationError

    site = SiteFactory(edition=EditionFactory(year=2091))
    gate = GateFactory.build(edition=EditionFactory(year=2092), site=site, slug="wrong")
    with pytest.raises(ValidationError):
        gate.full_clean()
