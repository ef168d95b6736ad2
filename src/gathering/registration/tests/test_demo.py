from __future__ import annotations

import pytest
from django.core.management import call_command

from gathering.registration.models import Category

pytestmark = pytest.mark.django_db


def test_demo_opens_registration_for_the_planned_edition_once(client) -> None:
    call_command("demo", verbosity=0)
    call_command("demo", verbosity=0)  # a second run creates nothing more
    categories = Category.objects.filter(edition__year=2027)
    assert sorted(categories.values_list("kind", flat=True)) == sorted(
        ["attendee", "delegation", "press", "guest", "volunteer"]
    )
    assert all(set(category.name) == {"en", "fa", "fr"} for category in categories)
    home = client.get("/fa/2027/").content.decode()
    assert "/fa/2027/register/" in home
    page = client.get("/fa/2027/register/")
    assert page.status_code == 200
    assert "شرکت‌کننده" in page.content.decode()
