from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.db import connection
from django.utils import translation
from django.utils.timezone import now

from gathering.checkin import services
from gathering.checkin.errors import InvalidScanError, NonceReusedError
from gathering.checkin.models import Scan, ScanStatus, TicketPresence
from gathering.checkin.tests.factories import (
    SECRET_EMAIL,
    SECRET_NAME,
    GateFactory,
    issue_ticket,
    nonce,
)
from gathering.program.tests.factories import EditionFactory, texts
from gathering.registration.keys import SigningKey
from gathering.registration.ticket_codes import (
    CategoryCode,
    TicketClaims,
    new_ticket_id,
    sign_ticket,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def gate():
    return GateFactory(
        edition=EditionFactory(year=2031), slug="north", name=texts("Gate North", "ورودی شمال")
    )


def today_at(gate, hour: int, minute: int) -> dt.datetime:
    tz = gate.edition.tzinfo
    return dt.datetime.combine(now().astimezone(tz).date(), dt.time(hour, minute), tzinfo=tz)


def scan(gate, code: str, *, direction: str = "entry", at=None, **kwargs):
    return services.record_scan(
        code=code,
        gate=gate,
        direction=direction,
        nonce=kwargs.pop("nonce") if "nonce" in kwargs else nonce(direction),
        at=at,
        **kwargs,
    )


def test_first_entry_is_valid_and_puts_the_ticket_inside(gate) -> None:
    issued = issue_ticket(gate.edition)

    result = scan(gate, issued.code, device_id="web-abc", device_time=now())

    assert result.status == ScanStatus.VALID
    assert result.accepted and not result.replayed
    assert result.message() == "Valid ticket: welcome."
    stored = Scan.objects.get()
    assert stored.ticket_id == issued.ticket_id
    assert stored.category_code == CategoryCode.ATTENDEE
    assert stored.scanner_id == "web-abc"
    assert stored.reason == "Valid ticket: welcome."
    presence = TicketPresence.objects.get()
    assert presence.inside and presence.last_scan == stored


def test_second_entry_says_where_and_when_the_ticket_entered(gate) -> None:
    issued = issue_ticket(gate.edition)
    other_gate = GateFactory(edition=gate.edition, slug="south", name=texts("Gate South"))
    first = scan(gate, issued.code, at=today_at(gate, 10, 42))

    again = scan(other_gate, issued.code, at=today_at(gate, 11, 5))

    assert again.status == ScanStatus.ALREADY_INSIDE
    assert not again.accepted
    assert again.previous == first.scan
    assert again.message() == "Already entered at Gate North at 10:42."
    assert Scan.objects.get(pk=again.scan.pk).reason == "Already entered at Gate North at 10:42."
    assert Scan.objects.get(pk=again.scan.pk).duplicate_of_id == first.scan.pk
    with translation.override("fa"):
        persian = again.message()
    assert "ورودی شمال" in persian
    assert "۱۰:۴۲" in persian  # noqa: RUF001


def test_the_time_of_a_duplicate_is_in_the_editions_time_zone(gate) -> None:
    issued = issue_ticket(gate.edition)
    # 08:42 UTC is 10:42 in Paris in summer and 09:42 in winter: either way not "08:42".
    moment = today_at(gate, 10, 42)
    scan(gate, issued.code, at=moment.astimezone(dt.UTC))

    again = scan(gate, issued.code, at=moment + dt.timedelta(minutes=1))

    assert "10:42" in again.message()


def test_exit_then_entry_again_is_allowed(gate) -> None:
    issued = issue_ticket(gate.edition)

    statuses = [
        scan(gate, issued.code, direction=direction).status
        for direction in ("entry", "exit", "entry", "entry")
    ]

    assert statuses == [
        ScanStatus.VALID,
        ScanStatus.VALID,
        ScanStatus.VALID,
        ScanStatus.ALREADY_INSIDE,
    ]
    assert TicketPresence.objects.get().inside


def test_exit_without_entry_and_exit_twice_are_refused(gate) -> None:
    issued = issue_ticket(gate.edition)

    never = scan(gate, issued.code, direction="exit")
    scan(gate, issued.code, direction="entry")
    out = scan(gate, issued.code, direction="exit", at=today_at(gate, 16, 5))
    twice = scan(gate, issued.code, direction="exit")

    assert never.status == ScanStatus.NOT_INSIDE
    assert never.message() == "No entry was recorded for this ticket, so it cannot exit."
    assert out.status == ScanStatus.VALID
    assert out.message() == "Exit recorded."
    assert twice.status == ScanStatus.ALREADY_LEFT
    assert twice.message() == "Already left at Gate North at 16:05."
    assert not TicketPresence.objects.get().inside


def test_revoked_ticket_is_refused_and_logged_by_ticket_id_only(gate, caplog) -> None:
    issued = issue_ticket(gate.edition, revoked=True)

    with caplog.at_level(logging.WARNING, logger="gathering.checkin"):
        result = scan(gate, issued.code)

    assert result.status == ScanStatus.REVOKED
    assert result.message() == "This ticket was cancelled or replaced."
    assert Scan.objects.get().ticket_id == issued.ticket_id
    assert not TicketPresence.objects.exists()
    logged = caplog.text
    assert "status=revoked" in logged
    assert issued.ticket_id in logged
    assert SECRET_NAME not in logged
    assert SECRET_EMAIL not in logged


def test_ticket_of_another_edition_is_refused(gate) -> None:
    other = issue_ticket(EditionFactory(year=2032))

    result = scan(gate, other.code)

    assert result.status == ScanStatus.WRONG_EDITION
    assert result.message() == "This ticket is for another year's gathering."


def test_ticket_outside_its_window_is_refused(gate) -> None:
    early = issue_ticket(
        gate.edition,
        valid_from=now() + dt.timedelta(hours=2),
        valid_until=now() + dt.timedelta(hours=5),
    )
    late = issue_ticket(
        gate.edition,
        valid_from=now() - dt.timedelta(hours=5),
        valid_until=now() - dt.timedelta(hours=2),
    )

    assert scan(gate, early.code).status == ScanStatus.NOT_YET_VALID
    assert scan(gate, late.code).status == ScanStatus.EXPIRED
    assert not TicketPresence.objects.exists()


def _flip(code: str, position: int) -> str:
    replacement = "A" if code[position] != "A" else "B"
    return code[:position] + replacement + code[position + 1 :]


def test_forged_code_is_refused_without_trusting_its_ticket_id(gate) -> None:
    issued = issue_ticket(gate.edition)
    forged = _flip(issued.code, 80)  # inside the signature

    result = scan(gate, forged)

    assert result.status == ScanStatus.FORGED
    assert result.message() == "The signature does not match: this code was forged or altered."
    assert Scan.objects.get().ticket_id == ""


def test_code_signed_with_an_unknown_key_is_refused(gate) -> None:
    stranger = SigningKey.generate(4242)
    claims = TicketClaims(
        ticket_id=new_ticket_id(),
        edition_year=gate.edition.year,
        category=CategoryCode.ATTENDEE,
        valid_from=now() - dt.timedelta(hours=1),
        valid_until=now() + dt.timedelta(hours=1),
    )

    result = scan(gate, sign_ticket(claims, key=stranger))

    assert result.status == ScanStatus.UNKNOWN_KEY
    assert Scan.objects.get().ticket_id == ""


def test_correctly_signed_code_of_a_ticket_that_does_not_exist_is_refused(gate) -> None:
    issued = issue_ticket(gate.edition)
    code = issued.code
    issued.ticket.registration.delete()  # cascades to the ticket

    result = scan(gate, code)

    assert result.status == ScanStatus.UNKNOWN_TICKET
    assert Scan.objects.get().ticket_id == issued.ticket_id


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "hello",
        "GT1:",
        "<script>alert(1)</script>",
        "\u202eGT1:" + "A" * 138,
        "x" * 10_000,
        "GT1:" + "A" * 138,
        "\x00" * 142,
        "🎟️" * 71,
    ],
    ids=["empty", "word", "prefix", "script", "rtl-override", "10k", "zeros", "nul", "emoji"],
)
def test_garbage_is_refused_as_malformed(gate, garbage: str) -> None:
    result = scan(gate, garbage)

    assert result.status == ScanStatus.MALFORMED
    assert "Not a readable ticket code" in result.message()
    stored = Scan.objects.get()
    assert stored.ticket_id == ""
    assert stored.status == ScanStatus.MALFORMED


def test_truncated_and_lowercased_codes_are_refused(gate) -> None:
    issued = issue_ticket(gate.edition)

    assert scan(gate, issued.code[:-1]).status == ScanStatus.MALFORMED
    assert scan(gate, issued.code[:100]).status == ScanStatus.MALFORMED
    assert scan(gate, issued.code.lower()).status == ScanStatus.MALFORMED
    assert scan(gate, issued.code + "A").status == ScanStatus.MALFORMED


def test_retry_with_the_same_nonce_returns_the_stored_result_and_writes_nothing(gate) -> None:
    issued = issue_ticket(gate.edition)
    first = scan(gate, issued.code, nonce="retry-nonce-0001")

    retried = scan(gate, issued.code, nonce="retry-nonce-0001")

    assert retried.replayed
    assert retried.status == ScanStatus.VALID  # not "already entered": it is the same scan
    assert retried.scan.pk == first.scan.pk
    assert Scan.objects.count() == 1


def test_retry_of_a_rejected_scan_is_also_a_no_op(gate) -> None:
    scan(gate, "garbage", nonce="retry-nonce-0002")

    retried = scan(gate, "garbage", nonce="retry-nonce-0002")

    assert retried.replayed and retried.status == ScanStatus.MALFORMED
    assert Scan.objects.count() == 1


def test_replayed_ticket_code_with_a_new_nonce_is_a_duplicate(gate) -> None:
    issued = issue_ticket(gate.edition)
    scan(gate, issued.code)

    replay = scan(gate, issued.code)

    assert replay.status == ScanStatus.ALREADY_INSIDE
    assert Scan.objects.count() == 2


def test_nonce_reused_for_another_code_is_refused_and_writes_nothing(gate) -> None:
    one, two = issue_ticket(gate.edition), issue_ticket(gate.edition)
    scan(gate, one.code, nonce="shared-nonce-0001")

    with pytest.raises(NonceReusedError):
        scan(gate, two.code, nonce="shared-nonce-0001")
    with pytest.raises(NonceReusedError):
        scan(gate, one.code, nonce="shared-nonce-0001", direction="exit")

    assert Scan.objects.count() == 1
    assert TicketPresence.objects.count() == 1


@pytest.mark.parametrize("bad", ["short", "x" * 65, "has space1", "nonce\u202e1234", ""])
def test_malformed_nonce_is_refused(gate, bad: str) -> None:
    with pytest.raises(InvalidScanError):
        scan(gate, "anything", nonce=bad)
    assert not Scan.objects.exists()


def test_malformed_direction_and_device_id_are_refused(gate) -> None:
    with pytest.raises(InvalidScanError):
        scan(gate, "anything", direction="sideways")
    with pytest.raises(InvalidScanError):
        scan(gate, "anything", device_id="<script>")
    assert not Scan.objects.exists()


def test_scans_are_ordered_by_arrival_not_by_device_clocks(gate) -> None:
    issued = issue_ticket(gate.edition)
    late_clock = scan(gate, issued.code, device_time=now() + dt.timedelta(minutes=30))

    early_clock = scan(
        gate, issued.code, device_time=now() - dt.timedelta(minutes=30), offline=True
    )

    assert late_clock.status == ScanStatus.VALID
    assert early_clock.status == ScanStatus.ALREADY_INSIDE
    assert Scan.objects.get(pk=early_clock.scan.pk).offline


def test_first_entry_takes_a_bounded_number_of_queries(gate, django_assert_num_queries) -> None:
    issued = issue_ticket(gate.edition)

    # PostgreSQL: one statement claims the scan, moves the ticket in and stores the scan (in a
    # savepoint, as the test runs in a transaction). SQLite: the ticket, then in a transaction
    # (here a savepoint) lock the presence row, store the scan, move the ticket in.
    with django_assert_num_queries(3 if connection.vendor == "postgresql" else 6):
        scan(gate, issued.code)


def test_a_duplicate_takes_a_bounded_number_of_queries(gate, django_assert_num_queries) -> None:
    issued = issue_ticket(gate.edition)
    scan(gate, issued.code)

    # The ticket, then in a savepoint: lock the presence row, read the scan that let the
    # ticket in, store this one. PostgreSQL first tries its one-statement path (in a savepoint
    # of its own), which gives way.
    with django_assert_num_queries(9 if connection.vendor == "postgresql" else 6):
        assert scan(gate, issued.code).status == ScanStatus.ALREADY_INSIDE
