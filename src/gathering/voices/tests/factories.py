from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import factory
from django.utils.timezone import now

from gathering.program.tests.factories import EditionFactory, texts
from gathering.voices import services
from gathering.voices.models import Campaign, Endorsement

_counter = itertools.count(1)


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    edition = factory.SubFactory(EditionFactory)
    slug = factory.Sequence(lambda n: f"statement-{n}")
    kind = Campaign.Kind.STATEMENT
    title = factory.LazyFunction(
        lambda: texts("Stand with us", "در کنار ما بایستید", "Soutenez-nous")
    )
    text = factory.LazyFunction(
        lambda: texts(
            "We support a free and democratic future.",
            "ما از آینده‌ای آزاد پشتیبانی می‌کنیم.",
            "Nous soutenons un avenir libre.",
        )
    )
    goal = 1000
    opens_at = factory.LazyFunction(lambda: now() - dt.timedelta(days=1))
    closes_at = factory.LazyFunction(lambda: now() + dt.timedelta(days=30))
    country_threshold = 1


class EndorsementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Endorsement

    campaign = factory.SubFactory(CampaignFactory)
    name = factory.Sequence(lambda n: f"Public Figure {n}")
    title = factory.LazyFunction(lambda: texts("Member of Parliament", "نماینده مجلس", "Député"))
    country = "FR"
    verified_at = factory.LazyFunction(now)


def sign_request(**overrides: Any) -> services.SignRequest:
    """A plausible signature (a fresh address each time); proof of work left out (flagged)."""
    n = next(_counter)
    data: dict[str, Any] = {
        "name": f"Signer {n}",
        "show_name": True,
        "email": f"signer{n}@example.org",
        "country": "FR",
        "city": "Lyon",
        "message": "",
        "language": "en",
        "client_ip": f"198.51.{n % 250}.{n % 200 + 1}",
        "consent": True,
    }
    data.update(overrides)
    return services.SignRequest(**data)


def form_data(**overrides: str) -> dict[str, str]:
    """The sign form as a browser posts it from the campaign page (without the CSRF token)."""
    data = {
        "name": "Maryam",
        "show_name": "on",
        "email": "maryam@example.org",
        "country": "FR",
        "city": "Paris",
        "message": "",
        "language": "en",
        "consent": "on",
        "website": "",
        "altcha": "",
    }
    data.update(overrides)
    return data
