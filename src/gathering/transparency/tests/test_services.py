from __future__ import annotations

import threading

import pymerkle
import pytest
from django.db import connection, transaction
from freezegun import freeze_time

from gathering.transparency import keys, merkle, selectors, services
from gathering.transparency.errors import (
    EntryNotFoundError,
    EntryTooLargeError,
    InvalidLogIdError,
    ProofRequestError,
)
from gathering.transparency.models import NODE_STRIDE, Entry, Log, Node, TreeHead

pytestmark = pytest.mark.django_db


def leaf(i: int) -> bytes:
    return b'{"campaign":"c","country":"FR","id":"s%d","salt":"%032x","v":1}' % (i, i)


def fill(log: Log, count: int, start: int = 0) -> list[bytes]:
    data = [leaf(i) for i in range(start, start + count)]
    for item in data:
        services.queue_entry(log=log, data=item)
    return data


def public_keys() -> dict[int, bytes]:
    return keys.public_keys()


def test_new_log_has_a_signed_empty_tree_head() -> None:
    log = services.get_or_create_log(slug="campaign-1")
    head = selectors.get_latest_tree_head(log=log)
    assert (head.size, bytes(head.root)) == (0, merkle.EMPTY_ROOT)
    merkle.check_tree_head(selectors.signed_tree_head(head), public_keys())
    assert services.get_or_create_log(slug="campaign-1") == log
    assert Log.objects.count() == 1 and TreeHead.objects.count() == 1


@pytest.mark.parametrize("slug", ["", "a b", "x\nsize 9", "é", "a" * 101, "‮abc"])
def test_bad_log_ids_are_refused(slug: str) -> None:
    with pytest.raises(InvalidLogIdError):
        services.get_or_create_log(slug=slug)
    assert not Log.objects.exists()


def test_queue_entry_is_one_insert_and_leaves_the_log_alone(django_assert_num_queries) -> None:
    log = services.get_or_create_log(slug="c")
    with django_assert_num_queries(1):
        entry = services.queue_entry(log=log, data=b"hello")
    entry.refresh_from_db()
    assert entry.index is None
    assert bytes(entry.leaf_hash) == merkle.leaf_hash(b"hello")
    assert Log.objects.get().size == 0


def test_too_large_entries_are_refused() -> None:
    log = services.get_or_create_log(slug="c")
    with pytest.raises(EntryTooLargeError):
        services.queue_entry(log=log, data=b"x" * (services.MAX_ENTRY_BYTES + 1))
    assert not Entry.objects.exists()


def test_an_entry_queued_in_a_rolled_back_transaction_is_never_integrated() -> None:
    log = services.get_or_create_log(slug="c")
    with pytest.raises(RuntimeError), transaction.atomic():
        services.queue_entry(log=log, data=b"withdrawn")
        raise RuntimeError("the confirmation failed")
    assert services.integrate(log=log) is None
    assert log.size == 0


def test_integrate_numbers_entries_in_queue_order_and_signs_the_root() -> None:
    log = services.get_or_create_log(slug="c")
    data = fill(log, 21)
    head = services.integrate(log=log)
    assert head is not None and head.size == 21 and log.size == 21
    tree = pymerkle.InmemoryTree()
    for item in data:
        tree.append_entry(item)
    assert bytes(head.root) == tree.get_root()
    merkle.check_tree_head(selectors.signed_tree_head(head), public_keys())
    stored = list(Entry.objects.order_by("id").values_list("index", "data"))
    assert [(i, bytes(d)) for i, d in stored] == list(enumerate(data))
    assert services.integrate(log=log) is None  # nothing queued: no new head
    assert TreeHead.objects.filter(log=log).count() == 2


def test_batches_keep_indexes_gapless_and_heads_per_size() -> None:
    log = services.get_or_create_log(slug="c")
    other = services.get_or_create_log(slug="other")
    data = fill(log, 50)
    fill(other, 7)
    sizes = []
    while (head := services.integrate(log=log, limit=16)) is not None:
        sizes.append(head.size)
    assert sizes == [16, 32, 48, 50]
    assert sorted(Entry.objects.filter(log=log).values_list("index", flat=True)) == list(range(50))
    assert Entry.objects.filter(log=other, index__isnull=True).count() == 7
    roots = {h.size: bytes(h.root) for h in TreeHead.objects.filter(log=log)}
    hashes = [merkle.leaf_hash(item) for item in data]
    assert roots == {size: merkle.root(hashes[:size]) for size in [0, 16, 32, 48, 50]}
    # Levels 4 (16 leaves) are stored; other levels are computed from them when needed.
    assert set(Node.objects.filter(log=log).values_list("level", "index")) == {
        (4, 0),
        (4, 1),
        (4, 2),
    }
    assert NODE_STRIDE == 4


def test_integrate_all_integrates_every_log() -> None:
    logs = [services.get_or_create_log(slug=f"log-{i}") for i in range(3)]
    for i, log in enumerate(logs):
        fill(log, 5 * i + 1)
    assert services.integrate_all(limit=4) == 1 + 6 + 11
    assert [Log.objects.get(pk=log.pk).size for log in logs] == [1, 6, 11]
    assert services.integrate_all() == 0


def test_integrate_logs_command_and_worker_job(capsys) -> None:
    from django.core.management import call_command

    from gathering.cli import PERIODIC_JOBS

    assert ("integrate_logs", 1) in PERIODIC_JOBS
    log = services.get_or_create_log(slug="c")
    fill(log, 3)
    call_command("integrate_logs")
    assert "Integrated 3 entries." in capsys.readouterr().out
    assert Log.objects.get().size == 3


def test_tree_head_time_never_goes_backwards() -> None:
    with freeze_time("2026-06-01 12:00:00"):
        log = services.get_or_create_log(slug="c")
    fill(log, 1)
    with freeze_time("2026-05-01 12:00:00"):  # the clock went back
        head = services.integrate(log=log)
    assert head is not None
    assert head.timestamp_ms == TreeHead.objects.get(log=log, size=0).timestamp_ms


def test_proofs_from_stored_hashes_match_the_tree_for_every_size() -> None:
    log = services.get_or_create_log(slug="c")
    data = []
    for batch in [1, 2, 13, 17, 31, 64, 5]:  # irregular batches: heads at odd sizes
        data += fill(log, batch, start=len(data))
        services.integrate(log=log)
    hashes = [merkle.leaf_hash(item) for item in data]
    size = len(hashes)
    heads = {h.size: h for h in TreeHead.objects.filter(log=log)}
    for tree_size, head in heads.items():
        assert selectors.get_root(log=log, size=tree_size) == bytes(head.root)
        for index in range(0, tree_size, 7):
            proof = selectors.get_inclusion_proof(log=log, index=index, tree_size=tree_size)
            assert proof.leaf_hash == hashes[index]
            assert merkle.verify_inclusion(
                hashes[index], index, tree_size, proof.path, bytes(head.root)
            )
        for first, old in heads.items():
            if first <= tree_size:
                proof = selectors.get_consistency_proof(log=log, first=first, second=tree_size)
                merkle.check_consistency(
                    first, tree_size, bytes(old.root), bytes(head.root), proof.path
                )
    latest = selectors.get_inclusion_proof(log=log, index=size - 1)
    assert latest.tree_size == size


def test_proof_queries_are_few(django_assert_max_num_queries) -> None:
    log = services.get_or_create_log(slug="c")
    fill(log, 300)
    services.integrate(log=log)
    with django_assert_max_num_queries(2):
        selectors.get_inclusion_proof(log=log, index=123, tree_size=299)
    with django_assert_max_num_queries(2):
        selectors.get_consistency_proof(log=log, first=77, second=300)


@pytest.mark.parametrize(
    ("index", "tree_size"), [(0, 0), (5, 5), (-1, 5), (0, 6), (0, -1), (10**30, 5), (0, 10**30)]
)
def test_impossible_inclusion_requests_raise(index: int, tree_size: int) -> None:
    log = services.get_or_create_log(slug="c")
    fill(log, 5)
    services.integrate(log=log)
    with pytest.raises(ProofRequestError):
        selectors.get_inclusion_proof(log=log, index=index, tree_size=tree_size)


@pytest.mark.parametrize(("first", "second"), [(3, 2), (-1, 5), (0, 6), (6, 6), (0, 10**30)])
def test_impossible_consistency_requests_raise(first: int, second: int) -> None:
    log = services.get_or_create_log(slug="c")
    fill(log, 5)
    services.integrate(log=log)
    with pytest.raises(ProofRequestError):
        selectors.get_consistency_proof(log=log, first=first, second=second)


def test_queued_entries_are_not_served() -> None:
    log = services.get_or_create_log(slug="c")
    fill(log, 2)
    with pytest.raises(EntryNotFoundError):
        selectors.get_entry(log=log, index=0)
    services.integrate(log=log)
    assert bytes(selectors.get_entry(log=log, index=1).data) == leaf(1)


def test_a_stale_log_object_still_gets_proofs_for_new_sizes() -> None:
    stale = services.get_or_create_log(slug="c")
    fresh = Log.objects.get(pk=stale.pk)
    fill(fresh, 4)
    services.integrate(log=fresh)
    assert stale.size == 0
    proof = selectors.get_inclusion_proof(log=stale, index=3, tree_size=4)
    assert proof.tree_size == 4


def test_rotation_keeps_old_heads_verifiable(settings, tmp_path) -> None:
    settings.DATA_DIR = tmp_path
    log = services.get_or_create_log(slug="c")
    before = selectors.get_latest_tree_head(log=log)
    new_key = keys.rotate_transparency_key()
    fill(log, 1)
    after = services.integrate(log=log)
    assert after is not None and after.key_id == new_key.key_id != before.key_id
    listed = keys.public_keys()
    for head in (before, after):
        merkle.check_tree_head(selectors.signed_tree_head(head), listed)
    assert (tmp_path / "keys" / "transparency").stat().st_mode & 0o077 == 0


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite has one writer at a time: concurrent integrators cannot overlap there",
)
def test_concurrent_integrators_and_queuers_keep_indexes_gapless(transactional_db) -> None:
    log = services.get_or_create_log(slug="busy")
    errors: list[BaseException] = []
    stop = threading.Event()
    queued = [0] * 4

    def queuer(n: int) -> None:
        try:
            for i in range(150):
                with transaction.atomic():
                    services.queue_entry(log=log, data=leaf(n * 1000 + i))
                queued[n] += 1
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    def integrator() -> None:
        try:
            while not stop.is_set():
                services.integrate(log=Log.objects.get(pk=log.pk), limit=37)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    integrators = [threading.Thread(target=integrator) for _ in range(2)]
    queuers = [threading.Thread(target=queuer, args=(n,)) for n in range(4)]
    for thread in integrators + queuers:
        thread.start()
    for thread in queuers:
        thread.join(timeout=120)
    stop.set()
    for thread in integrators:
        thread.join(timeout=120)
    assert not errors, errors
    services.integrate(log=log)
    total = sum(queued)
    assert total == 600
    indexes = sorted(Entry.objects.filter(log=log).values_list("index", flat=True))
    assert indexes == list(range(total))
    heads = list(TreeHead.objects.filter(log=log).order_by("size"))
    by_index = dict(Entry.objects.filter(log=log).values_list("index", "leaf_hash"))
    hashes = [bytes(by_index[i]) for i in range(total)]
    for head in heads:
        assert bytes(head.root) == merkle.root(hashes[: head.size])
