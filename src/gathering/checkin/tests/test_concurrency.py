"""Concurrent scans, one connection per thread: on PostgreSQL real row locks (and the
one-statement path racing the general one), on SQLite the group commit (core/group_commit.py),
where the jobs of concurrent scans run one after the other in a shared transaction."""

from __future__ import annotations

import threading
from collections import Counter

from django.db import connection

from gathering.checkin import services
from gathering.checkin.models import Scan, ScanStatus, TicketPresence
from gathering.checkin.tests.factories import GateFactory, issue_ticket
from gathering.program.tests.factories import EditionFactory


def run_at_once(count: int, work) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = work(index)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


def test_fifty_concurrent_scans_of_one_ticket_give_exactly_one_valid(transactional_db) -> None:
    gate = GateFactory(edition=EditionFactory(year=2037))
    issued = issue_ticket(gate.edition)

    statuses = run_at_once(
        50,
        lambda i: (
            services.record_scan(
                code=issued.code, gate=gate, direction="entry", nonce=f"concurrent-{i:04d}"
            ).status
        ),
    )

    assert Counter(statuses) == {ScanStatus.VALID: 1, ScanStatus.ALREADY_INSIDE: 49}
    winner = Scan.objects.get(status=ScanStatus.VALID)
    duplicates = Scan.objects.exclude(pk=winner.pk)
    assert duplicates.count() == 49
    assert set(duplicates.values_list("duplicate_of_id", flat=True)) == {winner.pk}
    presence = TicketPresence.objects.get()
    assert presence.inside and presence.last_scan_id == winner.pk


def test_concurrent_retries_of_one_scan_store_it_once(transactional_db) -> None:
    gate = GateFactory(edition=EditionFactory(year=2038))
    issued = issue_ticket(gate.edition)

    results = run_at_once(
        12,
        lambda i: services.record_scan(
            code=issued.code, gate=gate, direction="entry", nonce="the-same-nonce-0001"
        ),
    )

    assert Scan.objects.count() == 1
    assert {result.status for result in results} == {ScanStatus.VALID}
    assert sum(not result.replayed for result in results) == 1
