"""INSERT a new model instance without the ORM's SQL compiler, for the write hot paths.

``Model.objects.create()`` builds its INSERT statement afresh on every call: the compiler's
``as_sql`` and the save machinery around it were a quarter of the CPU a signature cost (the
profile in ``bench/voices.py --profile``). :func:`insert` writes the same row with a statement
built once per model and database: each concrete field's value goes through the field's own
``pre_save`` and ``get_db_prep_save`` (defaults, ``auto_now_add``, encryption of personal data,
JSON), as ``save()`` does, and the primary key comes back with ``RETURNING``.

What it leaves out, on purpose: ``pre_save``/``post_save`` signals (when a receiver listens to
the model, :func:`insert` calls ``save()`` instead, so nothing that listens is skipped),
``save()`` overrides (refused: the model must not override it), and multi-table inheritance
(refused). Inside the caller's transaction, like ``create()``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.sqlite3.base import FORMAT_QMARK_REGEX
from django.db.models import Field, Model
from django.db.models.signals import post_save, pre_save


class _QmarkCursor:
    """SQLite's own cursor taking Django's ``%s`` placeholders, each statement converted once
    (Django's cursor converts it again on every call: 3 % of a signature's CPU, spent while
    the write lock is held), database errors raised as Django's (``IntegrityError``…)."""

    __slots__ = ("_cursor", "_errors")

    def __init__(self, cursor: Any, errors: Any) -> None:
        self._cursor = cursor
        self._errors = errors

    def execute(self, sql: str, params: Any = ()) -> _QmarkCursor:
        converted = _qmark.get(sql)
        if converted is None:
            converted = FORMAT_QMARK_REGEX.sub("?", sql).replace("%%", "%")
            _qmark[sql] = converted
        with self._errors:
            self._cursor.execute(converted, params)
        return self

    def fetchone(self) -> Any:
        with self._errors:
            return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        with self._errors:
            return self._cursor.fetchall()  # type: ignore[no-any-return]

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount  # type: ignore[no-any-return]


_qmark: dict[str, str] = {}


def _current() -> BaseDatabaseWrapper:
    """This thread's default connection itself: each attribute read through the
    ``django.db.connection`` proxy looks the connection up again (a field's conversion reads
    ``connection.ops`` and more, for every field of every row)."""
    return connections[DEFAULT_DB_ALIAS]


@contextlib.contextmanager
def cursor() -> Iterator[Any]:
    """``connection.cursor()`` for the statements of the write hot paths. On SQLite, when
    nothing watches the queries (``DEBUG``, ``assertNumQueries``, execute wrappers), the
    driver's own cursor (:class:`_QmarkCursor`); otherwise Django's."""
    database = _current()
    if (
        database.vendor != "sqlite"
        or database.queries_logged
        or database.execute_wrappers
        or database.connection is None
    ):
        with database.cursor() as wrapped:
            yield wrapped
        return
    raw = database.connection.cursor()
    try:
        yield _QmarkCursor(raw, database.wrap_database_errors)
    finally:
        raw.close()


@dataclass(frozen=True)
class _Plan:
    sql: str
    sql_ignoring_conflicts: str
    fields: tuple[Field[Any, Any], ...]
    pk_attname: str
    positions: dict[str, int]  # field name -> index in ``fields``
    # Per field, the one type whose values its conversion leaves unchanged (None: convert).
    unchanged: tuple[type | None, ...]
    # Per field: a DateTimeField of a connection in UTC (a UTC datetime then needs no time
    # zone conversion: SQLite stores its text without the offset, PostgreSQL takes it as is).
    utc_dates: tuple[bool, ...]
    dates_as_text: bool


_plans: dict[tuple[type[Model], str], _Plan] = {}
_plans_lock = threading.Lock()


def _plan(model: type[Model]) -> _Plan:
    key = (model, connection.vendor)
    plan = _plans.get(key)
    if plan is not None:
        return plan
    meta = model._meta
    if meta.parents or meta.proxy:
        raise TypeError(f"{meta.label}: fast insert does not handle inheritance or proxies.")
    if model.save is not Model.save:
        raise TypeError(f"{meta.label} overrides save(): use it, not a fast insert.")
    pk = meta.pk
    assert pk is not None  # noqa: S101  # nosec B101 # every concrete model has one
    fields = tuple(
        field
        for field in meta.local_concrete_fields
        if not (field.primary_key and field.get_internal_type() in _AUTO)
        and not getattr(field, "generated", False)
    )
    quote = connection.ops.quote_name
    columns = ", ".join(quote(column_of(field)) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    insert = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608  # nosec B608 # names from the model, every value bound
    returning = f"RETURNING {quote(column_of(pk))}"
    plan = _Plan(
        sql=f"{insert} {returning}",
        sql_ignoring_conflicts=f"{insert} ON CONFLICT DO NOTHING {returning}",
        fields=fields,
        pk_attname=pk.attname,
        positions={field.name: index for index, field in enumerate(fields)},
        unchanged=tuple(_UNCHANGED.get(type(field)) for field in fields),
        utc_dates=tuple(type(field) is models.DateTimeField for field in fields)
        if settings.USE_TZ and connection.timezone in {dt.UTC, ZoneInfo("UTC")}
        else (False,) * len(fields),
        dates_as_text=connection.vendor == "sqlite",
    )
    with _plans_lock:
        _plans[key] = plan
    return plan


_AUTO = {"AutoField", "BigAutoField", "SmallAutoField"}
# Django's own field classes (not subclasses: those may convert) whose ``pre_save`` reads the
# attribute and whose ``get_db_prep_save`` returns a value of this exact type, or None,
# unchanged on every backend: converting them was a third of ``prepare``'s time.
_UNCHANGED: dict[type, type] = {
    models.CharField: str,
    models.TextField: str,
    models.BooleanField: bool,
    models.IntegerField: int,
    models.BigIntegerField: int,
    models.SmallIntegerField: int,
    models.PositiveIntegerField: int,
    models.PositiveSmallIntegerField: int,
    models.PositiveBigIntegerField: int,
}


def column_of(field: Any) -> str:
    """A concrete field's column (Django types it as optional: only for non-concrete ones)."""
    column = field.column
    if not isinstance(column, str):
        raise TypeError(f"{field} has no column.")
    return column


def insert[M: Model](instance: M) -> M:
    """Write ``instance`` (a new, unsaved row) as ``save()`` would, and return it with its
    primary key set. Raises what the database raises (IntegrityError for a duplicate)."""
    return prepare(instance).execute()


@dataclass(frozen=True)
class PreparedInsert[M: Model]:
    """A row ready to be written: its values converted for the database (encrypted, JSON),
    so that :meth:`execute`, inside a write transaction, only runs the statement."""

    instance: M
    plan: _Plan | None  # None: the row is saved through save() (see prepare)
    values: tuple[Any, ...]

    def replace(self, **changes: Any) -> PreparedInsert[M]:
        """This row with the fields named in ``changes`` set to new values (only those are
        converted again)."""
        values = list(self.values)
        for name, value in changes.items():
            setattr(self.instance, name, value)
            if self.plan is not None:
                index = self.plan.positions[name]
                field = self.plan.fields[index]
                values[index] = field.get_db_prep_save(
                    field.pre_save(self.instance, True), connection
                )
        return PreparedInsert(instance=self.instance, plan=self.plan, values=tuple(values))

    def execute(self) -> M:
        """INSERT the row (in the caller's transaction) and set its primary key. May run again
        after a rolled-back attempt: the instance is then written anew."""
        instance = self.instance
        if self.plan is None:
            instance.save(force_insert=True)
            return instance
        with cursor() as raw:
            raw.execute(self.plan.sql, self.values)
            row = raw.fetchone()
        return self._written(row[0])

    def execute_unless_conflict(self) -> M | None:
        """As :meth:`execute`, but a row that a unique constraint refuses is not written and
        None is returned (``ON CONFLICT DO NOTHING``: no savepoint needed, and on PostgreSQL
        it waits for a concurrent transaction holding the same key, as an INSERT does)."""
        if self.plan is None:
            try:
                with transaction.atomic():
                    self.instance.save(force_insert=True)
            except IntegrityError:
                return None
            return self.instance
        with cursor() as raw:
            raw.execute(self.plan.sql_ignoring_conflicts, self.values)
            row = raw.fetchone()
        return None if row is None else self._written(row[0])

    def send(self, cursor: Any, *, unless_conflict: bool = False) -> None:
        """Execute the INSERT on ``cursor`` without reading its answer (statements sent
        together, see :func:`pipelined`); :meth:`written_on` reads it."""
        if self.plan is None:
            cursor.inserted = self.execute_unless_conflict() if unless_conflict else self.execute()
            return
        sql = self.plan.sql_ignoring_conflicts if unless_conflict else self.plan.sql
        cursor.execute(sql, self.values)

    def written_on(self, cursor: Any) -> M | None:
        """The row :meth:`send` wrote (None: refused by a unique constraint)."""
        if self.plan is None:
            return cursor.inserted  # type: ignore[no-any-return]
        row = cursor.fetchone()
        return None if row is None else self._written(row[0])

    def _written(self, pk: Any) -> M:
        instance = self.instance
        setattr(instance, self.plan.pk_attname, pk)  # type: ignore[union-attr]
        instance._state.adding = False
        instance._state.db = connection.alias
        return instance


def prepare[M: Model](instance: M) -> PreparedInsert[M]:
    """Convert ``instance``'s values for the database now (CPU work a caller can do before it
    takes a write lock); :meth:`PreparedInsert.execute` writes them. A model with save signals'
    receivers, or an automatic key given a value, is saved through ``save()`` instead."""
    model = type(instance)
    if pre_save.has_listeners(model) or post_save.has_listeners(model):
        return PreparedInsert(instance=instance, plan=None, values=())
    plan = _plan(model)
    if getattr(instance, plan.pk_attname) is not None and plan.pk_attname not in {
        field.attname for field in plan.fields
    }:
        return PreparedInsert(instance=instance, plan=None, values=())
    database = _current()
    values = tuple(
        _converted(field, unchanged, utc_date, plan.dates_as_text, instance, database)
        for field, unchanged, utc_date in zip(
            plan.fields, plan.unchanged, plan.utc_dates, strict=True
        )
    )
    return PreparedInsert(instance=instance, plan=plan, values=values)


_MISSING = object()


def _converted(
    field: Field[Any, Any],
    unchanged: type | None,
    utc_date: bool,
    dates_as_text: bool,
    instance: Model,
    database: BaseDatabaseWrapper,
) -> Any:
    """What ``field.get_db_prep_save(field.pre_save(instance, True), connection)`` gives,
    without its calls for the values it returns unchanged or only formats."""
    if unchanged is not None:
        value = instance.__dict__.get(field.attname, _MISSING)
        if value is None or type(value) is unchanged:
            return value
    elif utc_date and not (field.auto_now or field.auto_now_add):  # type: ignore[attr-defined]
        value = instance.__dict__.get(field.attname, _MISSING)
        if value is None:
            return None
        if type(value) is dt.datetime and value.tzinfo is dt.UTC:
            return str(value.replace(tzinfo=None)) if dates_as_text else value
    return field.get_db_prep_save(field.pre_save(instance, True), database)


@dataclass(frozen=True)
class _UpdatePlan:
    sql: str
    fields: tuple[Field[Any, Any], ...]


_update_plans: dict[tuple[type[Model], str, tuple[str, ...]], _UpdatePlan] = {}


def update(instance: Model, fields: tuple[str, ...]) -> None:
    """``instance.save(update_fields=fields)`` of a saved row, without the ORM's compiler: one
    ``UPDATE … WHERE pk = %s`` built once per model, database and field list, each value
    converted by its field. A model with save signals' receivers goes through ``save()``."""
    model = type(instance)
    if pre_save.has_listeners(model) or post_save.has_listeners(model):
        instance.save(update_fields=list(fields))
        return
    key = (model, connection.vendor, fields)
    plan = _update_plans.get(key)
    if plan is None:
        meta = model._meta
        if model.save is not Model.save:
            raise TypeError(f"{meta.label} overrides save(): use it, not a fast update.")
        chosen = tuple(meta.get_field(name) for name in fields)
        quote = connection.ops.quote_name
        assignments = ", ".join(f"{quote(column_of(field))} = %s" for field in chosen)
        assert meta.pk is not None  # noqa: S101  # nosec B101 # every concrete model has one
        plan = _UpdatePlan(
            sql=f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(column_of(meta.pk))} = %s",  # noqa: S608  # nosec B608 # names from the model, every value bound
            fields=chosen,  # type: ignore[arg-type]
        )
        with _plans_lock:
            _update_plans[key] = plan
    values = [
        field.get_db_prep_save(field.pre_save(instance, False), connection) for field in plan.fields
    ]
    with cursor() as raw:
        raw.execute(plan.sql, [*values, instance.pk])


@contextlib.contextmanager
def pipelined() -> Iterator[None]:
    """Statements executed inside (each on its own cursor) reach PostgreSQL together, in one
    round trip, and their answers come back together when the block ends (psycopg 3's
    pipeline mode); read them after it. Elsewhere (SQLite: no network) they run one by one."""
    if connection.vendor != "postgresql":
        yield
        return
    connection.ensure_connection()
    with connection.connection.pipeline():
        yield
