"""Reads of gate check-in: gates, devices, the gate bundle, and counts per gate and quarter hour."""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMinute
from django.utils.timezone import now

from gathering.checkin.models import Direction, Gate, GateDevice, Scan, ScanStatus, TicketPresence
from gathering.checkin.tokens import hash_token
from gathering.program.models import Edition
from gathering.registration import keys
from gathering.registration.revocation import encode_gate_bundle
from gathering.registration.selectors import list_revoked_ticket_ids

QUARTER = dt.timedelta(minutes=15)


def get_edition(*, year: int) -> Edition:
    """Raises Edition.DoesNotExist."""
    return Edition.objects.get(year=year)


def list_gates(*, edition: Edition) -> QuerySet[Gate]:
    return Gate.objects.filter(edition=edition).select_related("edition")


def get_gate(*, year: int, slug: str) -> Gate:
    """The gate ``slug`` of the edition of ``year``; raises Gate.DoesNotExist."""
    return Gate.objects.select_related("edition").get(edition__year=year, slug=slug)


# Devices send a request per scan: their look-up is kept in this process for a few seconds.
# A revoked device is refused by every server process at most this long after revocation.
DEVICE_CACHE_SECONDS = 5.0
_device_cache: dict[str, tuple[float, GateDevice]] = {}
_DEVICE_CACHE_SIZE = 1000


def get_gate_device(*, token: str) -> GateDevice | None:
    """The active device whose bearer token is ``token``, with its gate and edition; None for
    an unknown or revoked token (revocation takes up to ``DEVICE_CACHE_SECONDS`` to reach
    every server process)."""
    if not token or len(token) > 200:
        return None
    token_hash = hash_token(token)
    cached = _device_cache.get(token_hash)
    clock = time.monotonic()
    if cached is not None and cached[0] > clock:
        return cached[1]
    device = (
        GateDevice.objects.select_related("gate", "gate__edition")
        .filter(token_hash=token_hash, revoked=False)
        .order_by()
        .first()
    )
    if device is not None:
        if len(_device_cache) >= _DEVICE_CACHE_SIZE:
            _device_cache.clear()
        _device_cache[token_hash] = (clock + DEVICE_CACHE_SECONDS, device)
    return device


def forget_gate_device(*, device: GateDevice) -> None:
    """Drop ``device`` from this process's look-up cache (on revocation)."""
    _device_cache.pop(device.token_hash, None)


def build_gate_bundle(*, edition: Edition) -> bytes:
    """What a gate downloads to decide offline (``revocation.encode_gate_bundle``): the public
    keys and the edition's revoked ticket ids. No names, no emails, no private key."""
    return encode_gate_bundle(
        edition_year=edition.year,
        public_keys=keys.public_keys(),
        revoked=list_revoked_ticket_ids(edition=edition),
        generated_at=now(),
    )


@dataclass(frozen=True)
class QuarterCount:
    """Scans at one gate in one quarter hour (``start`` in the edition's time zone)."""

    gate: str
    start: dt.datetime
    entries: int
    exits: int
    rejected: int


@dataclass(frozen=True)
class GateCount:
    gate: str
    entries: int
    exits: int
    rejected: int


def _counted(queryset: Any) -> Any:
    # Any: django-stubs cannot follow annotate() → values() → annotate() chains.
    valid = Q(status=ScanStatus.VALID)
    return queryset.annotate(
        entries=Count("pk", filter=valid & Q(direction=Direction.ENTRY)),
        exits=Count("pk", filter=valid & Q(direction=Direction.EXIT)),
        rejected=Count("pk", filter=~valid),
    )


def count_scans_by_quarter(*, edition: Edition, gate: Gate | None = None) -> list[QuarterCount]:
    """Valid entries, valid exits and rejected scans per gate and quarter hour, oldest first.

    Quarter hours start at :00, :15, :30 and :45 in the edition's time zone (server time, not
    the scanners' clocks). Quarters without scans are left out."""
    tz = edition.tzinfo
    scans: Any = Scan.objects.filter(edition=edition)
    if gate is not None:
        scans = scans.filter(gate=gate)
    # Per minute in the database (portable), folded into quarters here: at most 60 rows an hour
    # per gate.
    rows = _counted(
        scans.annotate(minute=TruncMinute("server_time", tzinfo=tz)).values("gate__slug", "minute")
    ).order_by("minute", "gate__slug")
    totals: dict[tuple[dt.datetime, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in rows:
        minute = row["minute"].astimezone(tz)
        start = minute.replace(minute=minute.minute - minute.minute % 15, second=0, microsecond=0)
        counts = totals[(start, row["gate__slug"])]
        counts[0] += row["entries"]
        counts[1] += row["exits"]
        counts[2] += row["rejected"]
    return [
        QuarterCount(gate=slug, start=start, entries=e, exits=x, rejected=r)
        for (start, slug), (e, x, r) in sorted(totals.items())
    ]


def count_scans_by_gate(*, edition: Edition) -> list[GateCount]:
    """Totals per gate of the edition (every gate, also those without scans), in gate order."""
    counted = {
        row["gate_id"]: row
        for row in _counted(Scan.objects.filter(edition=edition).values("gate_id")).order_by()
    }
    result = []
    for gate in list_gates(edition=edition):
        row = counted.get(gate.pk, {"entries": 0, "exits": 0, "rejected": 0})
        result.append(
            GateCount(
                gate=gate.slug, entries=row["entries"], exits=row["exits"], rejected=row["rejected"]
            )
        )
    return result


def count_inside(*, edition: Edition) -> int:
    """Tickets inside now (entered and not left since)."""
    return TicketPresence.objects.filter(edition=edition, inside=True).count()
