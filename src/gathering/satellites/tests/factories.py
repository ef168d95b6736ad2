from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from typing import Any

import factory
from django.contrib.auth.models import Group
from django.utils import timezone
from django.utils.timezone import now

from gathering.core.crypto import blind_index
from gathering.program.models import Edition
from gathering.program.tests.factories import EditionFactory, texts
from gathering.satellites.models import AttendanceReport, Site, StreamChannel

PASSWORD = "site-password-2031"
# A contact that must never appear on a public page.
SECRET_CONTACT = "Parvaneh Secretcontact"

_counter = itertools.count(1)


def live_edition(year: int = 2040, **overrides: Any) -> Edition:
    """An edition running today (yesterday to tomorrow in Paris): reports are in its dates."""
    today = timezone.localdate(timezone=zoneinfo.ZoneInfo("Europe/Paris"))
    values: dict[str, Any] = {
        "year": year,
        "start_date": today - dt.timedelta(days=1),
        "end_date": today + dt.timedelta(days=1),
        "status": Edition.Status.LIVE,
    }
    values.update(overrides)
    return EditionFactory(**values)


class StreamChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StreamChannel

    edition = factory.SubFactory(EditionFactory)
    language = factory.Iterator(["en", "fr", "de", "ar", "fa"])
    label = factory.LazyAttribute(
        lambda o: texts(f"Interpretation {o.language}", f"ترجمه {o.language}")
    )
    url = factory.LazyAttribute(lambda o: f"https://example.org/stream/{o.language or 'main'}")
    is_main = False


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    edition = factory.SubFactory(EditionFactory)
    slug = factory.Sequence(lambda n: f"site-{n}")
    name = factory.Sequence(lambda n: f"Site {n}")
    city = factory.Sequence(lambda n: f"City {n}")
    country = "DE"
    is_online = False
    venue = "Community hall"
    expected_attendance = 100
    timezone = "Europe/Berlin"
    contact_name = SECRET_CONTACT
    contact_email = factory.Sequence(lambda n: f"coordinator{n}@example.org")
    contact_email_index = factory.LazyAttribute(
        lambda o: blind_index(o.contact_email, purpose="email")
    )
    language = "en"
    consent_version = "test"
    status = Site.Status.APPROVED


class AttendanceReportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AttendanceReport

    site = factory.SubFactory(SiteFactory)
    count = 50
    reported_at = factory.LazyFunction(now)
    status = AttendanceReport.Status.ACCEPTED


def make_staff(django_user_model: Any, role: str | None, *, username: str | None = None) -> Any:
    user = django_user_model.objects.create_user(
        username or f"{role or 'nobody'}-{next(_counter)}", password=PASSWORD, is_staff=True
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def coordinated_site(django_user_model: Any, **overrides: Any) -> Site:
    """An approved site with a coordinator account of its own."""
    coordinator = make_staff(django_user_model, "site_coordinator")
    return SiteFactory(coordinator=coordinator, **overrides)
