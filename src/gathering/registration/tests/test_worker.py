from __future__ import annotations

import datetime as dt

import pytest
from django.utils.timezone import now

from gathering.cli import PERIODIC_JOBS, worker
from gathering.outbox.models import OutboxEmail
from gathering.registration.models import Registration
from gathering.registration.tests.factories import CategoryFactory, register_person, reload

pytestmark = pytest.mark.django_db


def test_the_worker_runs_the_expiry_job(committed, smtp_sink) -> None:
    assert ("expire_registrations", 60) in PERIODIC_JOBS
    category = CategoryFactory(capacity=1)
    with committed():
        lazy = register_person(category, email="lazy@example.org").registration
        waiting = register_person(category, email="waiting@example.org").registration
    # Let the confirmation time lapse (moving the clock instead would make the worker's
    # close_old_connections() drop the test's own connection).
    Registration.objects.filter(pk=lazy.pk).update(confirm_by=now() - dt.timedelta(seconds=1))
    with committed():
        worker(once=True)
    assert reload(lazy).status == Registration.Status.CANCELLED
    assert reload(waiting).status == Registration.Status.OFFERED


def test_the_two_roles_of_serve_do_one_thing_each(committed, smtp_sink) -> None:
    # `gathering serve` starts `worker --jobs-only` and `worker --emails-only`.
    category = CategoryFactory(capacity=1)
    with committed():  # the confirmation email is delivered here
        lazy = register_person(category, email="lazy@example.org").registration
    assert len(smtp_sink.messages) == 1
    Registration.objects.filter(pk=lazy.pk).update(confirm_by=now() - dt.timedelta(seconds=1))

    worker(once=True, jobs=False)  # emails only: nothing expires
    assert reload(lazy).status != Registration.Status.CANCELLED

    worker(once=True, emails=False)  # jobs only: the registration expires, its email waits
    assert reload(lazy).status == Registration.Status.CANCELLED
    waiting = OutboxEmail.objects.filter(status=OutboxEmail.Status.PENDING)
    assert waiting.exists()
    assert len(smtp_sink.messages) == 1

    worker(once=True, jobs=False)  # emails only: it leaves
    assert not waiting.exists()
    assert len(smtp_sink.messages) > 1
