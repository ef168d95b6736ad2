from __future__ import annotations

import datetime as dt

import pytest
from freezegun import freeze_time

from gathering.cli import PERIODIC_JOBS, worker
from gathering.registration.models import Registration
from gathering.registration.tests.factories import CategoryFactory, register_person, reload

pytestmark = pytest.mark.django_db


def test_the_worker_runs_the_expiry_job(committed, smtp_sink) -> None:
    assert ("expire_registrations", 60) in PERIODIC_JOBS
    category = CategoryFactory(capacity=1)
    with committed():
        lazy = register_person(category, email="lazy@example.org").registration
        waiting = register_person(category, email="waiting@example.org").registration
    with committed(), freeze_time(reload(lazy).confirm_by + dt.timedelta(seconds=1)):
        worker(once=True)
    assert reload(lazy).status == Registration.Status.CANCELLED
    assert reload(waiting).status == Registration.Status.OFFERED
