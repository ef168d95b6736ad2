"""Two requests with one solution at once: exactly one is accepted (PostgreSQL, threads)."""

from __future__ import annotations

import pytest
from django.db import transaction

from gathering.abuse import altcha
from gathering.abuse.altcha import Status
from gathering.abuse.models import SpentChallenge
from gathering.abuse.tests.conftest import needs_postgresql, run_together

pytestmark = [needs_postgresql, pytest.mark.django_db(transaction=True)]


def test_one_solution_used_by_many_at_once_is_accepted_once(solved) -> None:
    payload = solved()

    def use(_i: int) -> Status:
        with transaction.atomic():
            return altcha.verify_solution(payload=payload).status

    results, errors = run_together(use, 12)
    assert errors == []
    assert sorted(results) == sorted([Status.OK] + [Status.REPLAYED] * 11)
    assert SpentChallenge.objects.count() == 1


def test_a_rolled_back_winner_leaves_the_challenge_to_the_next(solved) -> None:
    payload = solved()

    class BoomError(Exception):
        pass

    def use(i: int) -> Status:
        try:
            with transaction.atomic():
                status = altcha.verify_solution(payload=payload).status
                if i == 0 and status is Status.OK:
                    raise BoomError
                return status
        except BoomError:
            return Status.MISSING  # marks "rolled back" in the results

    results, errors = run_together(use, 2)
    assert errors == []
    # Either thread 0 won and rolled back (then thread 1 got it), or thread 1 won first.
    assert Status.OK in results
    assert SpentChallenge.objects.count() == 1
