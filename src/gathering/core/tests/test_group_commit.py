"""Group commit: jobs of concurrent threads share a transaction; each thread gets its own result
(or error) once that transaction committed."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from gathering.core.group_commit import GroupCommit, exclusive_lock
from gathering.core.models import CacheVersion

sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite",
    reason="other databases run each job in a transaction of its own (they group commits)",
)


def create(name: str) -> Callable[[], str]:
    def job() -> str:
        CacheVersion.objects.create(name=name)
        return name

    return job


class Runner(threading.Thread):
    """``committer.run(job)`` in a thread of its own (with its own connection)."""

    def __init__(self, committer: GroupCommit, job: Callable[[], Any]) -> None:
        super().__init__()
        self.committer, self.job = committer, job
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.committer.run(self.job)
        except BaseException as error:
            self.error = error
        finally:
            connection.close()


def wait_until(condition: Callable[[], bool]) -> None:
    done = threading.Event()
    for _ in range(3000):
        if condition():
            return
        done.wait(0.01)
    raise AssertionError("the condition never held")


def start_blocked_batch(committer: GroupCommit) -> tuple[Runner, threading.Event]:
    """A first job that holds its batch open until the returned event is set."""
    started, release = threading.Event(), threading.Event()

    def blocking() -> str:
        started.set()
        release.wait(30)
        return create("first")()

    first = Runner(committer, blocking)
    first.start()
    assert started.wait(30)
    return first, release


@pytest.mark.django_db
def test_inside_a_transaction_the_job_runs_at_once_in_it() -> None:
    committer = GroupCommit()

    assert committer.run(create("inside")) == "inside"

    assert CacheVersion.objects.filter(name="inside").exists()
    assert committer.batches == 0  # nothing of its own was committed


@pytest.mark.django_db
def test_a_failing_job_is_rolled_back_and_its_error_raised() -> None:
    committer = GroupCommit()

    def failing() -> None:
        CacheVersion.objects.create(name="half-done")
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        committer.run(failing)

    assert not CacheVersion.objects.filter(name="half-done").exists()


@sqlite_only
def test_a_lone_job_is_committed_before_run_returns(transactional_db: None) -> None:
    committer = GroupCommit()

    runner = Runner(committer, create("alone"))
    runner.start()
    runner.join(30)

    assert runner.error is None and runner.result == "alone"
    assert CacheVersion.objects.filter(name="alone").exists()
    assert committer.batches == 1


@sqlite_only
def test_jobs_that_arrive_during_a_batch_share_the_next_commit(transactional_db: None) -> None:
    committer = GroupCommit()
    first, release = start_blocked_batch(committer)
    others = [Runner(committer, create(f"job-{i}")) for i in range(6)]
    for runner in others:
        runner.start()
    wait_until(lambda: committer.queued == len(others))

    release.set()
    for runner in [first, *others]:
        runner.join(30)

    assert [runner.error for runner in [first, *others]] == [None] * 7
    assert [runner.result for runner in others] == [f"job-{i}" for i in range(6)]
    assert set(CacheVersion.objects.values_list("name", flat=True)) == {
        "first",
        *(f"job-{i}" for i in range(6)),
    }
    assert committer.batches == 2  # the first job alone, then the six together


@sqlite_only
def test_a_failing_job_does_not_fail_the_others_of_its_batch(transactional_db: None) -> None:
    committer = GroupCommit()
    first, release = start_blocked_batch(committer)

    def failing() -> None:
        CacheVersion.objects.create(name="failing")
        raise ValueError("this one only")

    before, bad, after = (
        Runner(committer, create("before")),
        Runner(committer, failing),
        Runner(committer, create("after")),
    )
    for runner in (before, bad, after):
        runner.start()
    wait_until(lambda: committer.queued == 3)

    release.set()
    for runner in (first, before, bad, after):
        runner.join(30)

    assert isinstance(bad.error, ValueError)
    assert (before.error, after.error) == (None, None)
    assert (before.result, after.result) == ("before", "after")
    assert set(CacheVersion.objects.values_list("name", flat=True)) == {"first", "before", "after"}


def test_the_file_lock_lets_one_holder_in_at_a_time(tmp_path: Path) -> None:
    path = str(tmp_path / "db.write-lock")
    inside: list[str] = []
    entered = threading.Event()

    def other() -> None:
        with exclusive_lock(path):
            inside.append("other")
            entered.set()

    with exclusive_lock(path):
        thread = threading.Thread(target=other)
        thread.start()
        # The other holder cannot get in while we hold the lock.
        assert not entered.wait(0.2)
        inside.append("first")
    thread.join(30)

    assert inside == ["first", "other"]
    assert (tmp_path / "db.write-lock").stat().st_mode & 0o777 == 0o600
