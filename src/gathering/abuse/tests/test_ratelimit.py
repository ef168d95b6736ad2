"""Rate limits on the database and on Redis: counts, windows, hashing, concurrency, purge."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.core.management import call_command
from django.db import connection

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
