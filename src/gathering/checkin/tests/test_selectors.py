from __future__ import annotations

import datetime as dt

import pytest
from django.utils.timezone import now

from gathering.checkin import selectors, services
from gathering.checkin.tests.factories import GateFactory, issue_ticket, nonce
from gathering.program.tests.factories import EditionFactory, texts
from gathering.registration.revocation import decode_gate_bundle

pytestmark = pytest.mark.django_db


@pytest.fixture
def edition():
    return EditionFactory(year=2033)


def at(edition, hour: int, minute: int) -> dt.datetime:
    tz = edition.tzinfo
    return dt.datetime.combine(now().astimezone(tz).date(), dt.time(hour, minute), tzinfo=tz)


def scan(gate, code: str, moment: dt.datetime, direction: str = "entry"):
    return services.record_scan(
        code=code, gate=gate, direction=direction, nonce=nonce(direction), at=moment
    )


def test_counts_per_gate_and_quarter_hour_keep_entries_and_exits_apart(edition) -> None:
    north = GateFactory(edition=edition, slug="north", position=1)
    south = GateFactory(edition=edition, slug="south", position=2)
    tickets = [issue_ticket(edition) for _ in range(4)]
    scan(north, tickets[0].code, at(edition, 10, 0))
    scan(north, tickets[1].code, at(edition, 10, 14))
    scan(north, tickets[1].code, at(edition, 10, 14))  # duplicate: rejected
    scan(north, tickets[2].code, at(edition, 10, 15))
    scan(south, tickets[3].code, at(edition, 10, 29))
    scan(south, tickets[0].code, at(edition, 10, 44), direction="exit")
    scan(south, "garbage", at(edition, 10, 59))
    GateFactory(edition=EditionFactory(year=2034), slug="north")  # another edition's gate

    quarters = selectors.count_scans_by_quarter(edition=edition)

    rows = [(q.gate, q.start.strftime("%H:%M"), q.entries, q.exits, q.rejected) for q in quarters]
    assert rows == [
        ("north", "10:00", 2, 0, 1),
        ("north", "10:15", 1, 0, 0),
        ("south", "10:15", 1, 0, 0),
        ("south", "10:30", 0, 1, 0),
        ("south", "10:45", 0, 0, 1),
    ]
    assert all(q.start.tzinfo is not None for q in quarters)
    assert [
        (g.gate, g.entries, g.exits, g.rejected)
        for g in selectors.count_scans_by_gate(edition=edition)
    ] == [("north", 3, 0, 1), ("south", 1, 1, 1)]
    assert selectors.count_inside(edition=edition) == 3
    only_south = selectors.count_scans_by_quarter(edition=edition, gate=south)
    assert {q.gate for q in only_south} == {"south"}


def test_quarter_hours_follow_the_editions_time_zone() -> None:
    # Tehran is UTC+03:30: its quarter hours start at :00/:15/:30/:45 local time, which are
    # :30/:45/:00/:15 in UTC.
    edition = EditionFactory(year=2035, timezone="Asia/Tehran")
    gate = GateFactory(edition=edition, name=texts("Gate"))
    issued = issue_ticket(edition)
    scan(gate, issued.code, at(edition, 9, 20))

    (quarter,) = selectors.count_scans_by_quarter(edition=edition)

    assert quarter.start.strftime("%H:%M") == "09:15"
    assert quarter.start.utcoffset() == dt.timedelta(hours=3, minutes=30)


def test_gate_bundle_lists_revoked_tickets_and_keys_without_personal_data(edition) -> None:
    revoked = issue_ticket(edition, revoked=True)
    kept = issue_ticket(edition)
    issue_ticket(EditionFactory(year=2036), revoked=True)  # another edition's

    data = selectors.build_gate_bundle(edition=edition)

    bundle = decode_gate_bundle(data)
    assert bundle.edition_year == 2033
    assert bundle.revoked == {revoked.ticket.ticket_id_bytes}
    assert kept.ticket.ticket_id_bytes not in bundle.revoked
    assert bundle.public_keys
    assert b"Shirin" not in data and b"example.org" not in data


def test_gate_device_token_lookup(edition) -> None:
    gate = GateFactory(edition=edition)
    device, token = services.create_gate_device(gate=gate, label="Turnstile 1")

    assert selectors.get_gate_device(token=token) == device
    assert device.token_hash != token and token not in device.token_hash
    assert selectors.get_gate_device(token=token + "x") is None
    assert selectors.get_gate_device(token="") is None
    assert selectors.get_gate_device(token="x" * 10_000) is None
    services.revoke_gate_device(device=device)
    assert selectors.get_gate_device(token=token) is None
