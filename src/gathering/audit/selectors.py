"""Reading the trail."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from gathering.audit.models import AuditEvent


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def list_events(
    *,
    actor: str = "",
    action: str = "",
    object_type: str = "",
    start: dt.date | None = None,
    end: dt.date | None = None,
    **_ignored: Any,
) -> QuerySet[AuditEvent]:
    """Events newest first, filtered by exact username, action prefix (``"admin."`` finds
    every back-office change), exact object type and dates (in the current time zone, ``end``
    included)."""
    events = AuditEvent.objects.order_by("-at", "-pk")
    if actor:
        events = events.filter(actor_username=actor)
    if action:
        events = events.filter(action__startswith=action)
    if object_type:
        events = events.filter(object_type=object_type)
    if start:
        events = events.filter(at__gte=_day_start(start))
    if end:
        events = events.filter(at__lt=_day_start(end + dt.timedelta(days=1)))
    return events
