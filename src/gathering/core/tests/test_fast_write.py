"""``core/fast_write.py``: a row written without the ORM's compiler is the row ``create()``
writes (defaults, encryption, JSON), a unique conflict is skipped without harming the caller's
transaction, ``replace()`` converts only what it changes, and models the shortcut must not
take (save signals' receivers, ``save()`` overrides) are handled as documented."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, connection, models, transaction
from django.db.models.signals import post_save, pre_save
from django.utils.timezone import now

from gathering.audit.models import AuditEvent
from gathering.core import fast_write
from gathering.core.crypto import PREFIX, EncryptedTextField
from gathering.core.fast_write import insert, prepare
from gathering.outbox.models import OutboxEmail
from gathering.voices.models import Campaign, Signature
from gathering.voices.tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db

MOMENT = dt.datetime(2031, 3, 8, 9, 30, 15, 123456, tzinfo=dt.UTC)


@pytest.fixture
def campaign() -> Campaign:
    return CampaignFactory()


def signature_values(campaign: Campaign, **overrides: Any) -> dict[str, Any]:
    """Every kind of field a signature has: encrypted text, JSON, choices, dates, keys."""
    values: dict[str, Any] = {
        "campaign": campaign,
        "public_id": secrets.token_hex(16),
        "salt": secrets.token_hex(16),
        "language": "fa",
        "country": "IR",
        "name": "مریم \u200c Maryam",
        "show_name": True,
        "city": "Tabriz",
        "message": "<b>آزادی</b> = freedom",
        "email": "maryam@example.org",
        "email_hash": secrets.token_hex(32),
        "wants_news": True,
        "consent_version": "2031-01",
        "email_domain": "example.org",
        "prefix_hash": secrets.token_hex(16),
        "abuse_until": MOMENT + dt.timedelta(days=7),
        "flags": ["no_proof_of_work", {"nested": [1, "٢", None]}],
        "confirm_token_hash": secrets.token_hex(32),
        "withdraw_token_hash": secrets.token_hex(32),
        "created_at": MOMENT,
        "confirm_by": MOMENT + dt.timedelta(days=7),
    }
    values.update(overrides)
    return values


def email_values(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "kind": "voices.confirm",
        "message_id": uuid.uuid4(),
        "language": "fr",
        "recipient": "élise@example.org",
        "context": {"campaign_id": 7, "confirm_token": "t" * 43, "list": [1, 2.5, "ç"]},
        "created_at": MOMENT,
        "send_after": MOMENT,
    }
    values.update(overrides)
    return values


def row(instance: models.Model) -> dict[str, Any]:
    """Every stored field of ``instance`` but its key, read back with the ORM."""
    model = type(instance)
    fresh = model._default_manager.get(pk=instance.pk)
    return {
        field.attname: getattr(fresh, field.attname)
        for field in model._meta.concrete_fields
        if not field.primary_key
    }


def stored_column(instance: models.Model, column: str) -> Any:
    """The value as the database holds it (no decryption)."""
    quote = connection.ops.quote_name
    meta = instance._meta
    sql = f"SELECT {quote(column)} FROM {quote(meta.db_table)} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [instance.pk])
        return cursor.fetchone()[0]


MAKERS: dict[str, Callable[[Campaign], tuple[type[models.Model], dict[str, Any]]]] = {
    "signature": lambda campaign: (Signature, signature_values(campaign)),
    "outbox email": lambda _campaign: (OutboxEmail, email_values()),
}


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_insert_stores_the_row_create_stores(kind: str, campaign: Campaign) -> None:
    model, values = MAKERS[kind](campaign)

    inserted = insert(model(**values))
    by_insert = row(inserted)
    model._default_manager.filter(pk=inserted.pk).delete()  # frees the unique values
    created = model._default_manager.create(**values)

    assert inserted.pk is not None and inserted.pk != created.pk
    assert inserted._state.adding is False
    assert inserted._state.db == connection.alias
    assert by_insert == row(created)
    # The values were converted by the fields: the encrypted ones are not stored in clear.
    for field in model._meta.concrete_fields:
        if isinstance(field, EncryptedTextField) and values.get(field.name) is not None:
            raw = stored_column(created, field.column)
            assert isinstance(raw, str) and raw.startswith(PREFIX + ":"), field.name


def test_insert_applies_defaults_and_returns_the_instance(campaign: Campaign) -> None:
    minimal = {
        key: value
        for key, value in signature_values(campaign).items()
        if key not in {"name", "city", "message", "flags", "show_name", "created_at"}
    }
    instance = Signature(**minimal)

    written = insert(instance)

    assert written is instance
    stored = Signature.objects.get(pk=instance.pk)
    assert stored.status == Signature.Status.PENDING
    assert stored.flags == [] and stored.show_name is False
    assert stored.name is None and stored.city is None
    assert stored.created_at == instance.created_at
    assert stored.email == "maryam@example.org"


def test_a_duplicate_raises_from_execute(campaign: Campaign) -> None:
    values = signature_values(campaign)
    insert(Signature(**values))

    with pytest.raises(IntegrityError), transaction.atomic():
        insert(Signature(**signature_values(campaign, email_hash=values["email_hash"])))

    assert Signature.objects.count() == 1


# --- execute_unless_conflict ----------------------------------------------------------------


def test_a_unique_conflict_is_skipped_and_writes_nothing(campaign: Campaign) -> None:
    values = signature_values(campaign)
    first = insert(Signature(**values))
    # Same campaign and address: the partial unique index (signatures not withdrawn) refuses.
    duplicate = Signature(**signature_values(campaign, email_hash=values["email_hash"]))

    assert prepare(duplicate).execute_unless_conflict() is None

    assert duplicate.pk is None and duplicate._state.adding is True
    assert list(Signature.objects.values_list("pk", flat=True)) == [first.pk]
    assert row(first)["public_id"] == values["public_id"]


@pytest.mark.parametrize("column", ["public_id", "confirm_token_hash", "withdraw_token_hash"])
def test_a_conflict_on_any_unique_column_is_skipped(campaign: Campaign, column: str) -> None:
    values = signature_values(campaign)
    insert(Signature(**values))
    other = Signature(**signature_values(campaign, **{column: values[column]}))

    assert prepare(other).execute_unless_conflict() is None
    assert Signature.objects.count() == 1


def test_without_conflict_the_row_is_written_with_its_key(campaign: Campaign) -> None:
    withdrawn = insert(Signature(**signature_values(campaign, status="withdrawn")))
    # The unique index leaves withdrawn signatures out: the same address may sign again.
    again = Signature(**signature_values(campaign, email_hash=withdrawn.email_hash))

    written = prepare(again).execute_unless_conflict()

    assert written is again and again.pk is not None and again._state.adding is False
    assert row(again)["email_hash"] == withdrawn.email_hash
    assert Signature.objects.count() == 2


def test_a_conflict_inside_a_transaction_leaves_it_usable(campaign: Campaign) -> None:
    values = signature_values(campaign)
    insert(Signature(**values))

    with transaction.atomic():
        duplicate = Signature(**signature_values(campaign, email_hash=values["email_hash"]))
        assert prepare(duplicate).execute_unless_conflict() is None
        # A refused INSERT would have aborted the transaction on PostgreSQL: these would fail.
        assert Signature.objects.count() == 1
        other = prepare(Signature(**signature_values(campaign))).execute_unless_conflict()
        email = insert(OutboxEmail(**email_values()))

    assert other is not None
    assert Signature.objects.count() == 2
    assert OutboxEmail.objects.filter(pk=email.pk).exists()


# --- replace --------------------------------------------------------------------------------


def test_replace_changes_only_the_named_fields(campaign: Campaign) -> None:
    values = signature_values(campaign)
    prepared = prepare(Signature(**values))
    assert prepared.plan is not None
    positions = prepared.plan.positions

    changed = prepared.replace(flags=["honeypot"], name="Someone else")

    # Only the named fields were converted again (the others' encrypted forms are the same
    # objects: a second encryption would give another ciphertext).
    differing = {
        name
        for name, index in positions.items()
        if changed.values[index] is not prepared.values[index]
    }
    assert differing == {"flags", "name"}
    written = changed.execute()
    by_replace = row(written)
    Signature.objects.filter(pk=written.pk).delete()  # frees the unique values
    expected = Signature.objects.create(**{**values, "flags": ["honeypot"], "name": "Someone else"})
    assert by_replace == row(expected)
    assert by_replace["flags"] == ["honeypot"] and by_replace["name"] == "Someone else"
    assert by_replace["city"] == values["city"]


def test_replace_leaves_the_prepared_values_as_they_were(campaign: Campaign) -> None:
    values = signature_values(campaign)
    prepared = prepare(Signature(**values))
    before = prepared.values

    prepared.replace(flags=["rate_address"])

    assert prepared.values is before  # the original row is not changed in place


# --- what the shortcut must not skip --------------------------------------------------------


@contextmanager
def receiver_of(signal: Any, sender: type[models.Model]) -> Iterator[list[dict[str, Any]]]:
    calls: list[dict[str, Any]] = []

    def receive(**kwargs: Any) -> None:
        calls.append(kwargs)

    signal.connect(receive, sender=sender, weak=False, dispatch_uid="test-fast-insert")
    try:
        yield calls
    finally:
        signal.disconnect(sender=sender, dispatch_uid="test-fast-insert")


@pytest.mark.parametrize("signal", [post_save, pre_save], ids=["post_save", "pre_save"])
def test_a_model_with_a_save_receiver_goes_through_save(campaign: Campaign, signal: Any) -> None:
    with receiver_of(signal, Signature) as calls:
        prepared = prepare(Signature(**signature_values(campaign)))
        written = prepared.execute()

    assert prepared.plan is None
    assert len(calls) == 1 and calls[0]["instance"] is written
    if signal is post_save:
        assert calls[0]["created"] is True
    assert written.pk is not None and written._state.adding is False
    assert Signature.objects.filter(pk=written.pk).exists()
    # Disconnected again: the next rows take the shortcut.
    assert not signal.has_listeners(Signature)
    assert prepare(Signature(**signature_values(campaign))).plan is not None


def test_a_conflict_through_save_is_skipped_and_the_transaction_stays_usable(
    campaign: Campaign,
) -> None:
    values = signature_values(campaign)
    insert(Signature(**values))

    with receiver_of(post_save, Signature) as calls, transaction.atomic():
        duplicate = Signature(**signature_values(campaign, email_hash=values["email_hash"]))
        assert prepare(duplicate).execute_unless_conflict() is None
        assert Signature.objects.count() == 1
        other = prepare(Signature(**signature_values(campaign))).execute_unless_conflict()

    assert other is not None and other.pk is not None
    assert len(calls) == 1 and calls[0]["instance"] is other
    assert Signature.objects.count() == 2


def test_an_automatic_key_given_a_value_goes_through_save(campaign: Campaign) -> None:
    instance = Signature(pk=424242, **signature_values(campaign))

    prepared = prepare(instance)
    prepared.execute()

    assert prepared.plan is None
    assert Signature.objects.get(pk=424242).public_id == instance.public_id


def test_a_model_that_overrides_save_is_refused() -> None:
    # AuditEvent.save() refuses changes to a row: a fast insert would bypass such rules.
    assert AuditEvent.save is not models.Model.save
    assert not post_save.has_listeners(AuditEvent) and not pre_save.has_listeners(AuditEvent)

    with pytest.raises(TypeError, match="overrides save"):
        prepare(AuditEvent(action="test", at=now()))

    assert not AuditEvent.objects.exists()


# --- update ------------------------------------------------------------------------------------

UPDATED = ("status", "confirmed_at", "email", "message", "flags", "review")


def test_update_stores_what_save_with_update_fields_stores(campaign: Campaign) -> None:
    by_update = insert(Signature(**signature_values(campaign)))
    by_save = insert(Signature(**signature_values(campaign)))
    for signature in (by_update, by_save):
        signature.status = Signature.Status.CONFIRMED
        signature.confirmed_at = MOMENT + dt.timedelta(hours=1)
        signature.email = None
        signature.message = "پیام دیگر"
        signature.flags = ["rate_domain"]
        signature.review = Signature.Review.HELD
        signature.country = "FR"  # changed but not listed: must stay as stored

    fast_write.update(by_update, UPDATED)
    by_save.save(update_fields=list(UPDATED))

    fresh_update = Signature.objects.get(pk=by_update.pk)
    fresh_save = Signature.objects.get(pk=by_save.pk)
    for name in (*UPDATED, "country", "name", "city"):
        assert getattr(fresh_update, name) == getattr(fresh_save, name), name
    assert fresh_update.country == "IR"
    assert fresh_update.message == "پیام دیگر"
    # Encrypted on the way in, as save() does.
    assert str(stored_column(fresh_update, "message")).startswith(PREFIX)


def test_update_touches_only_its_row(campaign: Campaign) -> None:
    mine = insert(Signature(**signature_values(campaign)))
    other = insert(Signature(**signature_values(campaign)))
    mine.status = Signature.Status.CONFIRMED
    fast_write.update(mine, ("status",))
    assert Signature.objects.get(pk=other.pk).status == Signature.Status.PENDING
    assert Signature.objects.get(pk=mine.pk).status == Signature.Status.CONFIRMED


def test_update_of_a_model_with_a_save_receiver_goes_through_save(campaign: Campaign) -> None:
    seen: list[tuple[str, Any]] = []

    def receiver(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
        seen.append((instance.pk, sorted(update_fields or [])))

    signature = insert(Signature(**signature_values(campaign)))
    post_save.connect(receiver, sender=Signature, weak=False)
    try:
        signature.status = Signature.Status.CONFIRMED
        fast_write.update(signature, ("status",))
    finally:
        post_save.disconnect(receiver, sender=Signature)
    assert seen == [(signature.pk, ["status"])]
    assert Signature.objects.get(pk=signature.pk).status == Signature.Status.CONFIRMED


# --- values that need no conversion, and the driver's own cursor ----------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"status": Signature.Status.CONFIRMED, "review": Signature.Review.HELD},  # str subclasses
        {"country": 75, "show_name": 1, "city": None, "name": None},  # converted by their fields
        {"created_at": MOMENT.astimezone(ZoneInfo("Asia/Tehran")), "abuse_until": None},
    ],
    ids=["plain", "choices", "other types", "other time zones"],
)
def test_prepared_values_are_the_fields_own_conversion(
    campaign: Campaign, overrides: dict[str, Any]
) -> None:
    instance = Signature(**signature_values(campaign, **overrides))
    prepared = prepare(instance)
    assert prepared.plan is not None
    for field, value in zip(prepared.plan.fields, prepared.values, strict=True):
        expected = field.get_db_prep_save(field.pre_save(instance, True), connection)
        if field.attname in {"name", "email", "city", "message"} and expected is not None:
            continue  # encrypted: a new nonce each time (the round trip is tested above)
        assert type(value) is type(expected), field.name
        # (psycopg's Jsonb wrapper compares by identity: its object is what it sends)
        assert getattr(value, "obj", value) == getattr(expected, "obj", expected), field.name


def test_hot_writes_use_the_drivers_cursor_unless_queries_are_watched() -> None:
    from django.test.utils import CaptureQueriesContext

    with fast_write.cursor() as plain:
        plain.execute("SELECT %s, '%%'", [7])
        assert plain.fetchone() == (7, "%")
    with CaptureQueriesContext(connection) as watched, fast_write.cursor() as logged:
        logged.execute("SELECT %s", [8])
        assert logged.fetchone() == (8,)
    assert len(watched.captured_queries) == 1
    if connection.vendor == "sqlite":
        assert isinstance(plain, fast_write._QmarkCursor)
        assert not isinstance(logged, fast_write._QmarkCursor)


def test_the_drivers_cursor_raises_djangos_errors(campaign: Campaign) -> None:
    table = connection.ops.quote_name(Signature._meta.db_table)
    existing = insert(Signature(**signature_values(campaign)))
    with pytest.raises(IntegrityError), transaction.atomic(), fast_write.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} SELECT * FROM {table} WHERE id = %s",  # noqa: S608
            [existing.pk],
        )
    assert Signature.objects.count() == 1
