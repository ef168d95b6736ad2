"""A second application for the same city is found across rotations of the keyed-hash key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gathering.core import crypto, key_management
from gathering.program.tests.factories import EditionFactory
from gathering.satellites import services
from gathering.satellites.models import Site
from gathering.satellites.tests.test_services import application

pytestmark = pytest.mark.django_db


def test_an_application_made_before_a_rotation_is_found_after_it(isolated_keys: Path) -> None:
    edition = EditionFactory(year=2041)
    first = services.apply_for_site(**application(edition))

    key_id = crypto.rotate_hmac_key()
    again = services.apply_for_site(
        **application(edition, city=" berlin ", contact_email="COORDINATOR@example.org")
    )

    assert again.pk == first.pk and Site.objects.count() == 1
    other = services.apply_for_site(**application(edition, city="Hamburg"))
    assert other.contact_email_index.startswith(f"{key_id}:")

    report = key_management.reindex_blind_indexes()
    assert report.updated["site applications (contact email)"] == 1
    first.refresh_from_db()
    assert first.contact_email_index == other.contact_email_index
    assert services.apply_for_site(**application(edition)).pk == first.pk
