"""The edition's retention period in the back office: set in the edition's form, bad values
refused with a message and nothing saved."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from gathering.core.testing.staff import sign_in_staff
from gathering.program.models import Edition
from gathering.program.tests.factories import EditionFactory
from gathering.program.tests.test_admin import edition_data, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def organiser(client, django_user_model):
    sign_in_staff(client, make_user(django_user_model, "organiser", role="organiser"))


def change_url(edition: Edition) -> str:
    return reverse("admin:program_edition_change", args=[edition.pk])


def test_the_edition_form_sets_the_retention_period(client, organiser):
    edition = EditionFactory(year=2046)
    page = client.get(change_url(edition)).content.decode()
    assert 'name="retention_days"' in page and 'value="30"' in page
    response = client.post(change_url(edition), edition_data(edition, retention_days="90"))
    assert response.status_code == 302
    edition.refresh_from_db()
    assert edition.retention_days == 90


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "This field is required."),
        ("-1", "Ensure this value is greater than or equal to 0."),
        ("3651", "Ensure this value is less than or equal to 3650."),
        ("99999999999999999999", "Ensure this value is less than or equal to 3650."),
        ("thirty", "Enter a whole number."),
        ("<script>alert(1)</script>", "Enter a whole number."),
        ("3\u200b0", "Enter a whole number."),
        ("\u06f3\u06f0", None),  # Persian digits: read as 30
    ],
)
def test_bad_retention_periods_are_refused_with_a_message(client, organiser, value, message):
    edition = EditionFactory(year=2047, retention_days=45)
    with translation.override("en"):
        response = client.post(change_url(edition), edition_data(edition, retention_days=value))
    edition.refresh_from_db()
    if message is None:
        assert response.status_code == 302
        assert edition.retention_days == 30
        return
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "<script>alert(1)</script>" not in response.content.decode()
    assert edition.retention_days == 45
