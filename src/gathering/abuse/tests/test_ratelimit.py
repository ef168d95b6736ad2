"""Rate limits on the database and on Redis: counts, windows, hashing, concurrency, purge."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gathering.abuse import ratelimit
from gathering.abuse.models import RateCounter
from gathering.abuse.ratelimit import email_domain, hit
from gathering.abuse.services import purge_expired
from gathering.abuse.tests.conftest import needs_postgresql, redis_url_or_skip, run_together

NOW = 1_699_999_200.0  # in the past, and a window boundary for windows of 60 and 3600 s


@pytest.fixture(params=["database", "redis"])
def backend(request, settings):
    if request.param == "redis":
        settings.REDIS_URL = redis_url_or_skip()
    else:
        settings.REDIS_URL = ""
    return request.param


def _scope() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.mark.django_db
def test_counts_up_and_goes_over_after_the_limit(backend) -> None:
    scope = _scope()
    hits = [hit(scope=scope, key="203.0.113.9", limit=3, window=60, now=NOW + i) for i in range(5)]
    assert [h.count for h in hits] == [1, 2, 3, 4, 5]
    assert [h.over for h in hits] == [False, False, False, True, True]


@pytest.mark.django_db
def test_keys_and_scopes_are_counted_apart(backend) -> None:
    scope, other = _scope(), _scope()
    hit(scope=scope, key="a", limit=1, window=60, now=NOW)
    assert hit(scope=scope, key="b", limit=1, window=60, now=NOW).count == 1
    assert hit(scope=other, key="a", limit=1, window=60, now=NOW).count == 1
    assert hit(scope=scope, key="a", limit=1, window=60, now=NOW).count == 2


@pytest.mark.django_db
def test_a_new_window_starts_from_zero(backend) -> None:
    scope = _scope()
    for _ in range(3):
        hit(scope=scope, key="k", limit=2, window=60, now=NOW + 59)
    assert hit(scope=scope, key="k", limit=2, window=60, now=NOW + 59).over
    assert hit(scope=scope, key="k", limit=2, window=60, now=NOW + 60).count == 1


@pytest.mark.django_db
def test_hostile_keys_are_just_keys(backend) -> None:
    scope = _scope()
    for key in [
        "",
        "<script>alert(1)</script>",
        "\u202eevil",
        "a\u200bb",
        "x" * 100_000,
        "'; DROP",
    ]:
        assert hit(scope=scope, key=key, limit=5, window=60, now=NOW).count == 1


@pytest.mark.django_db
def test_database_stores_only_hashed_keys(settings) -> None:
    settings.REDIS_URL = ""
    scope = _scope()
    hit(scope=scope, key="203.0.113.9", limit=5, window=3600, now=NOW)
    row = RateCounter.objects.get(scope=scope)
    assert "203.0.113.9" not in row.hashed_key
    assert row.hashed_key == ratelimit.hash_key("203.0.113.9")
    assert (row.window_start, row.hits, row.expires) == (int(NOW), 1, int(NOW) + 3600)


@pytest.mark.django_db
def test_redis_stores_only_hashed_keys_with_an_expiry(settings) -> None:
    settings.REDIS_URL = redis_url_or_skip()
    scope = _scope()
    hit(scope=scope, key="203.0.113.9", limit=5, window=60)
    client = ratelimit._redis()
    keys = [key.decode() for key in client.scan_iter(match=f"*:abuse:rl:{scope}:*")]
    assert len(keys) == 1
    assert "203.0.113.9" not in keys[0]
    assert 0 < client.ttl(keys[0]) <= 61


@pytest.mark.django_db
def test_unreachable_redis_falls_back_to_the_database(settings) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    scope = _scope()
    assert hit(scope=scope, key="k", limit=5, window=60, now=NOW).count == 1
    assert RateCounter.objects.filter(scope=scope).count() == 1


@pytest.mark.django_db
def test_database_hit_is_one_query(settings, django_assert_num_queries) -> None:
    settings.REDIS_URL = ""
    with django_assert_num_queries(1):
        hit(scope=_scope(), key="k", limit=5, window=60)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"window": 0}, "window"), ({"limit": -1}, "limit"), ({"scope": ""}, "scope")],
)
def test_nonsense_arguments_are_refused(kwargs, message) -> None:
    arguments = {"scope": "s", "key": "k", "limit": 1, "window": 60} | kwargs
    with pytest.raises(ValueError, match=message):
        hit(**arguments)


@pytest.mark.django_db
def test_purge_deletes_only_finished_windows(settings) -> None:
    settings.REDIS_URL = ""
    scope = _scope()
    hit(scope=scope, key="old", limit=5, window=60, now=NOW)
    hit(scope=scope, key="new", limit=5, window=60, now=NOW + 120)
    purged = purge_expired(at=dt.datetime.fromtimestamp(NOW + 61, tz=dt.UTC))
    assert purged.rate_counters == 1
    assert list(RateCounter.objects.filter(scope=scope).values_list("window_start", flat=True)) == [
        int(NOW) + 120
    ]


@pytest.mark.django_db
def test_purge_command_runs(settings) -> None:
    settings.REDIS_URL = ""
    hit(scope=_scope(), key="old", limit=5, window=60, now=NOW)
    call_command("purge_abuse_records", verbosity=0)
    assert not RateCounter.objects.filter(window_start=int(NOW)).exists()


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_database_hits_are_all_counted(settings) -> None:
    settings.REDIS_URL = ""
    scope, threads, per_thread = _scope(), 16, 25

    def work(_i: int) -> list[int]:
        return [
            hit(scope=scope, key="hot", limit=10**6, window=3600, now=NOW).count
            for _ in range(per_thread)
        ]

    results, errors = run_together(work, threads)
    assert errors == []
    counts = sorted(count for result in results for count in result)
    assert counts == list(range(1, threads * per_thread + 1))  # each count seen exactly once
    assert RateCounter.objects.get(scope=scope).hits == threads * per_thread


@pytest.mark.django_db(transaction=True)
def test_concurrent_redis_hits_are_all_counted(settings) -> None:
    settings.REDIS_URL = redis_url_or_skip()
    scope, threads, per_thread = _scope(), 16, 25

    def work(_i: int) -> list[int]:
        return [
            hit(scope=scope, key="hot", limit=10**6, window=3600).count for _ in range(per_thread)
        ]

    results, errors = run_together(work, threads)
    assert errors == []
    counts = sorted(count for result in results for count in result)
    assert counts == list(range(1, threads * per_thread + 1))


def test_database_backend_is_the_default_when_redis_is_not_configured(settings) -> None:
    settings.REDIS_URL = ""
    assert connection.vendor in {"sqlite", "postgresql"}


@pytest.mark.parametrize(
    ("email", "domain"),
    [
        ("Ali@Example.ORG", "example.org"),
        ("ali@example.org.", "example.org"),
        (" ali@ example.org ", "example.org"),
        ("a@Bücher.DE", "xn--bcher-kva.de"),
        ("a@xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("a@\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.org", "example.org"),  # full-width letters
        ('"odd@local"@example.org', "example.org"),
        ("no-at-sign", ""),
        ("trailing@", ""),
        ("a@" + "x" * 300 + ".ir", "x" * 300 + ".ir"),
        ("a@ایران.ir", "xn--mgba3a4f16a.ir"),
    ],
)
def test_email_domain(email, domain) -> None:
    assert email_domain(email) == domain


# --- prepared hits, several in one statement --------------------------------------------------


# Three counters of one scope with different limits, listed out of key order.
BATCH = [("c", 1), ("a", 2), ("b", 3)]


def _batch(scope: str, *, now: float = NOW) -> list[ratelimit.PreparedHit]:
    return [
        ratelimit.prepare(scope=scope, key=key, limit=limit, window=60, now=now)
        for key, limit in BATCH
    ]


@pytest.mark.django_db
def test_record_all_counts_as_hits_one_by_one(backend) -> None:
    together_scope, alone_scope = _scope(), _scope()
    for scope in (together_scope, alone_scope):
        # Counters that start apart, so that a count given to the wrong hit would show.
        hit(scope=scope, key="a", limit=2, window=60, now=NOW)
        for _ in range(3):
            hit(scope=scope, key="b", limit=3, window=60, now=NOW)

    together = [ratelimit.record_all(_batch(together_scope)) for _ in range(2)]
    alone = [
        [hit(scope=alone_scope, key=key, limit=limit, window=60, now=NOW) for key, limit in BATCH]
        for _ in range(2)
    ]

    assert together == alone
    # c, a, b: the second call crosses every limit, each hit with its own.
    assert [[(h.count, h.over) for h in hits] for hits in together] == [
        [(1, False), (2, False), (4, True)],
        [(2, True), (3, True), (5, True)],
    ]


@pytest.mark.django_db
def test_record_all_is_one_statement_for_several_hits(settings) -> None:
    settings.REDIS_URL = ""
    scope = _scope()

    with CaptureQueriesContext(connection) as queries:
        counted = ratelimit.record_all(_batch(scope))

    assert len(queries.captured_queries) == 1
    assert [h.count for h in counted] == [1, 1, 1]
    stored = dict(RateCounter.objects.filter(scope=scope).values_list("hashed_key", "hits"))
    assert stored == {ratelimit.hash_key(key): 1 for key in ("a", "b", "c")}


@pytest.mark.django_db
def test_record_all_of_nothing_or_one_hit(settings) -> None:
    settings.REDIS_URL = ""
    scope = _scope()

    with CaptureQueriesContext(connection) as queries:
        assert ratelimit.record_all([]) == []
        assert [h.count for h in ratelimit.record_all(_batch(scope)[:1])] == [1]

    assert len(queries.captured_queries) == 1


@pytest.mark.django_db
def test_record_all_with_a_key_twice_counts_one_by_one(settings) -> None:
    settings.REDIS_URL = ""
    scope = _scope()
    a = ratelimit.prepare(scope=scope, key="a", limit=1, window=60, now=NOW)
    b = ratelimit.prepare(scope=scope, key="b", limit=1, window=60, now=NOW)
    a_again = ratelimit.prepare(scope=scope, key="a", limit=1, window=60, now=NOW + 1)

    with CaptureQueriesContext(connection) as queries:
        counted = ratelimit.record_all([a, b, a_again])

    # One statement could not count a counter twice: one statement per hit instead.
    assert len(queries.captured_queries) == 3
    assert [(h.count, h.over) for h in counted] == [(1, False), (1, False), (2, True)]
    assert RateCounter.objects.get(scope=scope, hashed_key=ratelimit.hash_key("a")).hits == 2


@pytest.mark.django_db
def test_the_same_key_in_two_windows_is_two_counters_in_one_statement(settings) -> None:
    settings.REDIS_URL = ""
    scope = _scope()
    hits = [
        ratelimit.prepare(scope=scope, key="k", limit=1, window=60, now=moment)
        for moment in (NOW, NOW + 60)
    ]

    with CaptureQueriesContext(connection) as queries:
        counted = ratelimit.record_all(hits)

    assert len(queries.captured_queries) == 1
    assert [h.count for h in counted] == [1, 1]
    assert sorted(RateCounter.objects.filter(scope=scope).values_list("window_start", "hits")) == [
        (int(NOW), 1),
        (int(NOW) + 60, 1),
    ]


@pytest.mark.django_db
def test_a_prepared_hit_counts_in_the_window_it_was_prepared_in(backend) -> None:
    scope = _scope()
    hit(scope=scope, key="k", limit=1, window=60, now=NOW)
    prepared = ratelimit.prepare(scope=scope, key="k", limit=1, window=60, now=NOW + 59)
    batch = [
        ratelimit.prepare(scope=scope, key=key, limit=1, window=60, now=NOW + 59)
        for key in ("k", "other")
    ]
    # Meanwhile the next window began, and counted a hit of its own.
    assert hit(scope=scope, key="k", limit=1, window=60, now=NOW + 60).count == 1

    late = prepared.record()
    late_batch = ratelimit.record_all(batch)

    assert (late.count, late.over) == (2, True)
    assert [h.count for h in late_batch] == [3, 1]
    assert hit(scope=scope, key="k", limit=1, window=60, now=NOW + 60).count == 2
    if backend == "database":
        stored = RateCounter.objects.filter(scope=scope, hashed_key=ratelimit.hash_key("k"))
        assert sorted(stored.values_list("window_start", "hits")) == [
            (int(NOW), 3),
            (int(NOW) + 60, 2),
        ]


@pytest.mark.django_db
def test_record_all_with_redis_unreachable_counts_in_the_database(settings) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    scope = _scope()
    counted = ratelimit.record_all(_batch(scope))
    assert [h.count for h in counted] == [1, 1, 1]
    assert RateCounter.objects.filter(scope=scope).count() == 3
