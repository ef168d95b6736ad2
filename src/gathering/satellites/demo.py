"""Demo satellite sites and stream channels for the planned edition of the demo.

The sites are placeholders (their contacts are example.org addresses, no real people); their
reports are dated on the edition's first day. One application waits for a decision. The stream
links point at example.org: the platform does not host video.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.db import transaction

from gathering.core.crypto import blind_index
from gathering.core.translated import Translated
from gathering.program.models import Edition
from gathering.satellites.models import AttendanceReport, Site, StreamChannel

# (language, label en/fa/fr); the main stream has no language.
CHANNELS = [
    ("", ("Main stream (the floor)", "پخش اصلی (صدای سالن)", "Flux principal (la salle)")),
    ("fa", ("Persian interpretation", "ترجمهٔ فارسی", "Interprétation en persan")),
    ("en", ("English interpretation", "ترجمهٔ انگلیسی", "Interprétation en anglais")),
    ("fr", ("French interpretation", "ترجمهٔ فرانسوی", "Interprétation en français")),
    ("de", ("German interpretation", "ترجمهٔ آلمانی", "Interprétation en allemand")),
    ("ar", ("Arabic interpretation", "ترجمهٔ عربی", "Interprétation en arabe")),
]  # fmt: skip

# (slug, name, city, country, online, venue, expected, time zone, channel language,
#  counts reported on the first day as (local hour, count); status)
SITES = [
    ("berlin", "Berlin community hall", "Berlin", "DE", False, "Community hall (demo)", 800,
     "Europe/Berlin", "de", [(11, 320), (15, 640)], Site.Status.APPROVED),
    ("london", "London diaspora gathering", "London", "GB", False, "Assembly rooms (demo)", 1200,
     "Europe/London", "en", [(10, 450), (14, 980)], Site.Status.APPROVED),
    ("toronto", "Toronto", "Toronto", "CA", False, "Community centre (demo)", 600,
     "America/Toronto", "en", [(9, 210)], Site.Status.APPROVED),
    ("los-angeles", "Los Angeles", "Los Angeles", "US", False, "Convention hall (demo)", 1500,
     "America/Los_Angeles", "fa", [(7, 400)], Site.Status.APPROVED),
    ("stockholm", "Stockholm", "Stockholm", "SE", False, "Folkets hus (demo)", 400,
     "Europe/Stockholm", "", [(13, 260)], Site.Status.APPROVED),
    ("online-sydney", "Online from Sydney", "Sydney", "AU", True, "", 300,
     "Australia/Sydney", "fa", [(20, 140)], Site.Status.APPROVED),
    ("oslo", "Oslo", "Oslo", "NO", False, "Library hall (demo)", 150,
     "Europe/Oslo", "", [], Site.Status.PENDING),
]  # fmt: skip


@transaction.atomic
def load_satellites_demo() -> int:
    """Create the channels and sites of the planned demo edition once; returns how many sites
    were created (0 on a second run)."""
    edition = Edition.objects.filter(status=Edition.Status.PLANNED).order_by("year").first()
    if edition is None:
        return 0
    channels: dict[str, StreamChannel] = {}
    for position, (language, labels) in enumerate(CHANNELS):
        channels[language], _created = StreamChannel.objects.get_or_create(
            edition=edition,
            language=language,
            defaults={
                "label": Translated(zip(("en", "fa", "fr"), labels, strict=True)),
                "url": f"https://example.org/stream/{edition.year}/{language or 'main'}",
                "is_main": not language,
                "position": position,
            },
        )
    created = 0
    for (
        slug,
        name,
        city,
        country,
        online,
        venue,
        expected,
        zone,
        channel,
        counts,
        status,
    ) in SITES:
        email = f"site-{slug}@example.org"
        site, was_created = Site.objects.get_or_create(
            edition=edition,
            slug=slug,
            defaults={
                "name": name,
                "city": city,
                "country": country,
                "is_online": online,
                "venue": venue,
                "expected_attendance": expected,
                "timezone": zone,
                "contact_name": f"Demo contact of {city}",
                "contact_email": email,
                "contact_email_index": blind_index(email, purpose="email"),
                "language": "en",
                "consent_version": "demo",
                "status": status,
                "channel": channels.get(channel) if channel else None,
            },
        )
        if not was_created:
            continue
        created += 1
        tz = zoneinfo.ZoneInfo(zone)
        for hour, count in counts:
            AttendanceReport.objects.create(
                site=site,
                count=count,
                reported_at=dt.datetime.combine(edition.start_date, dt.time(hour), tzinfo=tz),
                status=AttendanceReport.Status.ACCEPTED,
            )
    return created
