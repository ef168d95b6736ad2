"""Concurrent registrations never fill a category beyond its capacity (PostgreSQL, threads).

Each thread has its own database connection, so the category lock (SELECT … FOR UPDATE) is
what keeps them apart. SQLite serialises writers by design (IMMEDIATE transactions), and its
in-memory test database is shared between threads in a way that does not model production, so
these tests run on PostgreSQL only: `make test-postgres` (DATABASE_URL=postgres://…).
"""

from __future__ import annotations

import threading

import pytest
from django.db import close_old_connections, connection

from gathering.registration import selectors, services
from gathering.registration.models import Registration
from gathering.registration.tests.factories import CategoryFactory, register_person

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL row locks between connections (make test-postgres)",
    ),
]

THREADS = 24


def run_together(work, count: int) -> list[BaseException]:
    """Run ``work(i)`` in ``count`` threads released at once; return their exceptions."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def target(i: int) -> None:
        try:
            barrier.wait()
            work(i)
        except BaseException as error:  # reported to the test
            errors.append(error)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_concurrent_registrations_never_exceed_capacity() -> None:
    category = CategoryFactory(capacity=5)

    errors = run_together(
        lambda i: register_person(category, email=f"racer{i}@example.org"), THREADS
    )

    assert errors == []
    assert selectors.count_places_taken(category=category) == 5
    assert selectors.count_waiting(category=category) == THREADS - 5
    order = list(
        Registration.objects.filter(status=Registration.Status.WAITLISTED)
        .order_by("waitlisted_at", "pk")
        .values_list("pk", flat=True)
    )
    assert len(order) == THREADS - 5


def test_concurrent_registrations_with_one_email_make_one_registration() -> None:
    category = CategoryFactory(capacity=100)
    other = CategoryFactory(edition=category.edition, capacity=100)

    # Half the threads use another category: the category lock does not cover them, the
    # unique constraint on the email's blind index does.
    errors = run_together(
        lambda i: register_person(
            category if i % 2 else other, email=f"  Same.Person@Example.org{' ' * (i % 3)}"
        ),
        THREADS,
    )

    assert errors == []
    assert Registration.objects.count() == 1


def test_concurrent_cancellations_offer_each_place_once() -> None:
    category = CategoryFactory(capacity=10)
    holders = [register_person(category).registration for _ in range(10)]
    waiting = [register_person(category).registration for _ in range(20)]

    errors = run_together(lambda i: services.cancel(registration=holders[i]), 10)

    assert errors == []
    assert selectors.count_places_taken(category=category) == 10
    offered = set(
        Registration.objects.filter(status=Registration.Status.OFFERED).values_list("pk", flat=True)
    )
    assert offered == {registration.pk for registration in waiting[:10]}
