"""Organisers enter what the legal and privacy notices say in the organisation's form of the
back office; bad values are refused with a message and nothing is saved."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import translation

from gathering.core.models import CNIL_NAME, CNIL_URL, Organisation
from gathering.core.testing.staff import sign_in_staff

pytestmark = [pytest.mark.django_db, pytest.mark.engine_agnostic]

ADD = "/admin/core/organisation/add/"
CHANGE = "/admin/core/organisation/1/change/"


@pytest.fixture
def client() -> Client:
    user = User.objects.create_user("olga", is_staff=True)
    user.groups.add(Group.objects.get(name="organiser"))
    client = Client()
    sign_in_staff(client, user)
    return client


def form_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "name_en": "Free Gathering",
        "name_fa": "",
        "name_fr": "",
        "short_name": "FG",
        "website": "https://free-gathering.example/",
        "contact_email": "hello@free-gathering.example",
        "default_language": "en",
        "legal_name": "Association Free Gathering",
        "postal_address": "12 rue de l'Exemple\r\n75011 Paris",
        "phone": "+33 1 23 45 67 89",
        "registration_id": "W751234567",
        "publication_director": "Maryam Director",
        "host_name": "Hosting Example SAS",
        "host_address": "2 rue du Serveur, 59100 Roubaix",
        "host_phone": "+33 9 72 10 10 07",
        "dpo_name": "",
        "privacy_email": "privacy@free-gathering.example",
        "processors": "",
        "transfers": "",
        "log_retention_days": "30",
        "supervisory_authority": CNIL_NAME,
        "supervisory_authority_address": "3 place de Fontenoy, 75007 Paris",
        "supervisory_authority_url": CNIL_URL,
    }
    data.update(overrides)
    return data


def test_the_form_offers_the_notices_fields_with_the_cnil_by_default(client: Client) -> None:
    body = client.get(ADD).content.decode()
    for name in ("legal_name", "publication_director", "host_phone", "privacy_email"):
        assert f'name="{name}"' in body
    assert CNIL_URL in body
    assert "Publisher (legal notice)" in body and "Data protection (privacy notice)" in body


def test_an_organiser_enters_the_notices_details(client: Client) -> None:
    response = client.post(ADD, form_data())
    assert response.status_code == 302, response.content.decode()[:2000]
    organisation = Organisation.objects.get(pk=1)
    assert organisation.legal_name == "Association Free Gathering"
    assert organisation.publication_director == "Maryam Director"
    assert organisation.log_retention_days == 30
    assert "Maryam Director" in Client().get("/en/legal/").content.decode()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("supervisory_authority_url", "javascript:alert(1)", "Enter a valid URL."),
        ("privacy_email", "not an address", "Enter a valid email address."),
        ("log_retention_days", "-3", "Ensure this value is greater than or equal to 0."),
        ("log_retention_days", "99999", "Ensure this value is less than or equal to 3650."),
        ("log_retention_days", "two weeks", "Enter a whole number."),
        ("host_phone", "9" * 41, "Ensure this value has at most 40 characters"),
        ("legal_name", "a\x00b", "Null characters are not allowed."),
    ],
)
def test_bad_values_are_refused_and_nothing_is_saved(
    client: Client, field: str, value: str, message: str
) -> None:
    with translation.override("en"):
        response = client.post(ADD, form_data(**{field: value}))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Organisation.objects.exists()


def test_other_staff_cannot_change_the_notices() -> None:
    user = User.objects.create_user("pat", is_staff=True)
    user.groups.add(Group.objects.get(name="program_editor"))
    client = Client()
    sign_in_staff(client, user)
    assert client.post(ADD, form_data()).status_code == 403
    assert not Organisation.objects.exists()
