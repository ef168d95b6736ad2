"""The authorization matrix: every role, every URL pattern, every method, compared with the
committed table ``authz_matrix.csv``.

Rows are URL patterns as the resolver lists them (the back office's included), each filled with
real objects of ``authz_world`` (one a role may act on and, where an object-level check
matters, one of another site, edition or person: the ``variant`` column); methods are GET and
POST, plus PUT, PATCH and DELETE under ``api/``. Columns are the staff roles of
``settings.GATHERING_STAFF_ROLES`` and three others: ``anonymous``, ``user`` (a signed-in
account without staff status) and ``device`` (a gate device's bearer token). A cell is the
outcome's class:

- ``ok`` (2xx) and ``redir`` (a redirect elsewhere than the sign-in): let in;
- ``400``, ``409``, ``410``, ``422``…: let in, and the (empty) input refused by the page;
- ``login`` (sent to the sign-in or second-factor step, or a 401), ``403``, ``404``, ``405``:
  refused.

POST bodies are empty: the point is whether a role is let in (``authz_world.BODIES`` lists the
few routes whose empty body would be refused by validation before any authorization check). Each request runs in a savepoint
rolled back afterwards, so that no request changes what the next one sees; and a refused
request must write nothing (sessions and the audit trail aside). On top of the table, the test
checks that no answer is a 5xx and that no role is shown personal data it must not see
(``authz_world.forbidden_texts``), outside the private pages a link's token opens.

A URL pattern missing from the table fails the test (so new URLs are added consciously), as
does a row whose pattern is gone. To regenerate the table for review after a change::

    GATHERING_AUTHZ_WRITE=1 .venv/bin/pytest -q -p no:randomly \\
        src/gathering/core/tests/test_authz_matrix.py
    git diff src/gathering/core/tests/authz_matrix.csv   # review every changed cell

Writing mode still fails on 5xx answers and leaks, and prints the matrix's size.
"""

from __future__ import annotations

import csv
import io
import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import LocalePrefixPattern, RegexPattern, RoutePattern

from gathering.core.local_cache import clear_all
from gathering.core.tests import authz_world

TABLE = Path(__file__).with_name("authz_matrix.csv")
WRITE = os.environ.get("GATHERING_AUTHZ_WRITE") == "1"
# GATHERING_AUTHZ_PROFILE=1 prints the slowest URLs and queries (run with -s).
PROFILE = os.environ.get("GATHERING_AUTHZ_PROFILE") == "1"
ROLES = [*authz_world.NOT_STAFF, *(name for name, _label in settings.GATHERING_STAFF_ROLES)]
METHODS = ("GET", "POST")
API_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
REFUSED = frozenset({"login", "403", "404", "405"})
SIGN_IN_PATHS = ("/staff/login/", "/admin/login/")
# Bookkeeping a refused request may write: its session, the audit trail of the refusal, and
# rate counters.
BOOKKEEPING_TABLES = frozenset(
    {
        "django_session",
        "audit_auditevent",
        "abuse_ratecounter",
        "accounts_usersession",
        "accounts_signinthrottle",
    }
)
_ROUTE_PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
_REGEX_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>[^)]*\)")


@dataclass(frozen=True)
class Pattern:
    """A URL pattern: its ``route`` as the table names it (``<lang>/`` for the language
    prefix), its name ("namespace:name", or "namespace:<route>" when it has none), its path
    parameters in order, and the pieces its path is built from."""

    route: str
    name: str
    params: tuple[str, ...]
    pieces: tuple[Any, ...]

    def methods(self) -> tuple[str, ...]:
        return API_METHODS if self.route.startswith("api/") else METHODS

    def path(self, kwargs: dict[str, Any]) -> str:
        parts = []
        for piece in self.pieces:
            if isinstance(piece, LocalePrefixPattern):
                parts.append(f"{settings.LANGUAGE_CODE}/")
            elif isinstance(piece, RoutePattern):
                parts.append(
                    _ROUTE_PARAM.sub(lambda m: str(kwargs[m.group("name")]), str(piece._route))
                )
            elif isinstance(piece, RegexPattern):
                text = _REGEX_GROUP.sub(lambda m: str(kwargs[m.group("name")]), piece._regex)
                parts.append(text.lstrip("^").rstrip("$").replace("\\", ""))
            else:
                raise TypeError(f"unknown URL pattern type {type(piece)!r}")
        return "/" + "".join(parts)


def _params(piece: Any) -> list[str]:
    if isinstance(piece, RoutePattern):
        return [m.group("name") for m in _ROUTE_PARAM.finditer(str(piece._route))]
    if isinstance(piece, RegexPattern):
        return list(piece.regex.groupindex)
    return []


def _route(piece: Any) -> str:
    return "<lang>/" if isinstance(piece, LocalePrefixPattern) else str(piece)


def url_patterns() -> list[Pattern]:
    """Every URL pattern of the project, in the resolver's order."""
    found: list[Pattern] = []

    def walk(patterns: Any, pieces: tuple[Any, ...], namespaces: tuple[str, ...]) -> None:
        for entry in patterns:
            chain = (*pieces, entry.pattern)
            if isinstance(entry, URLResolver):
                walk(
                    entry.url_patterns,
                    chain,
                    (*namespaces, entry.namespace) if entry.namespace else namespaces,
                )
            elif isinstance(entry, URLPattern):
                route = "".join(_route(piece) for piece in chain)
                prefix = ":".join(namespaces)
                local = entry.name or route
                name = f"{prefix}:{local}" if prefix else local
                params = tuple(param for piece in chain for param in _params(piece))
                found.append(Pattern(route=route, name=name, params=params, pieces=chain))

    walk(get_resolver().url_patterns, (), ())
    return found


# --- the table -------------------------------------------------------------------------------

Key = tuple[str, str, str]  # route, variant, method
HEADER = ["route", "name", "variant", "method"]


def read_table() -> tuple[list[str], dict[Key, dict[str, str]]]:
    lines = [line for line in TABLE.read_text().splitlines() if not line.startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    roles = [column for column in reader.fieldnames or [] if column not in HEADER]
    rows = {
        (row["route"], row["variant"], row["method"]): {role: row[role] for role in roles}
        for row in reader
    }
    return roles, rows


def write_table(observed: dict[Key, dict[str, str]], names: dict[str, str]) -> None:
    out = io.StringIO()
    out.write(
        "# The authorization matrix (test_authz_matrix.py): ok/redir = let in; 400, 409, ... =\n"
        "# let in, empty input refused; login/403/404/405 = refused. Regenerate with\n"
        "# GATHERING_AUTHZ_WRITE=1 and review the diff cell by cell.\n"
    )
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*HEADER, *ROLES])
    for (route, variant, method), cells in observed.items():
        writer.writerow([route, names[route], variant, method, *(cells[role] for role in ROLES)])
    TABLE.write_text(out.getvalue())


# --- requests --------------------------------------------------------------------------------


def outcome(response: Any) -> str:
    """The class of a final answer (a redirect is followed first, see :func:`ask`)."""
    code = response.status_code
    if 200 <= code < 300:
        return "ok"
    if 300 <= code < 400:
        location = urlsplit(response.get("Location", "")).path
        return "login" if location.startswith(SIGN_IN_PATHS) else "redir"
    if code == 401:
        return "login"
    return str(code)


def ask(client: Client, method: str, path: str, payload: tuple[str, str] | None) -> tuple[Any, str]:
    """The answer to ``method path`` and its class. A redirect to another page of the site is
    followed (three hops at most): it lets the role in only if where it leads does (the back
    office's "<object>/" address redirects everyone to the object's form, which may refuse)."""
    data, content_type = payload or ("", "application/x-www-form-urlencoded")
    response = client.generic(method, path, data.encode(), content_type=content_type)
    cell = outcome(response)
    hops = 0
    final = response
    while cell == "redir" and hops < 3:
        target = urlsplit(final.get("Location", ""))
        if target.netloc not in ("", "testserver") or not target.path.startswith("/"):
            break
        if final is not response:
            body(final)
        final = client.get(f"{target.path}?{target.query}" if target.query else target.path)
        hops += 1
        cell = outcome(final)
        if cell not in REFUSED:
            cell = "redir"
    if final is not response:
        body(final)
    return response, cell


def body(response: Any) -> str:
    # Read to its end, a streamed answer closes itself, as the test client arranges (closing it
    # again would close the database connection, inside the test's transaction).
    content = b"".join(response.streaming_content) if response.streaming else response.content
    if response.get("Content-Type", "").startswith("application/pdf"):
        return ""  # compressed text: the canaries cannot be read in it
    return str(content.decode("utf-8", "replace"))


class WriteCounter:
    """Rows written to the tables that are not bookkeeping, so far in this connection. SQLite:
    temp triggers that call a function of ours, made before the test's transaction begins (a
    schema changed inside a transaction makes SQLite re-read it after every rollback to a
    savepoint, ten times the cost of a request); PostgreSQL: the transaction's statistics."""

    def __init__(self) -> None:
        self.vendor = connection.vendor
        self.writes = 0
        self.triggers: list[str] = []
        if self.vendor != "sqlite":
            return
        connection.ensure_connection()

        def counted() -> None:
            self.writes += 1

        connection.connection.create_function("authz_write", 0, counted)
        with connection.cursor() as cursor:
            for table in connection.introspection.table_names():
                if table in BOOKKEEPING_TABLES:
                    continue
                for event in ("INSERT", "UPDATE", "DELETE"):
                    name = f"authz_{table}_{event}"
                    # Table names come from the schema itself.
                    cursor.execute(
                        f'CREATE TEMP TRIGGER IF NOT EXISTS "{name}" '
                        f'AFTER {event} ON main."{table}" BEGIN SELECT authz_write(); END'
                    )
                    self.triggers.append(name)

    def close(self) -> None:
        with connection.cursor() as cursor:
            for name in self.triggers:
                cursor.execute(f'DROP TRIGGER IF EXISTS "{name}"')

    def count(self) -> int:
        if self.vendor == "sqlite":
            return self.writes
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COALESCE(SUM(n_tup_ins + n_tup_upd + n_tup_del), 0) "
                "FROM pg_stat_xact_user_tables WHERE NOT (relname = ANY(%s))",
                [list(BOOKKEEPING_TABLES)],
            )
            return int(cursor.fetchone()[0])


@pytest.fixture(scope="module")
def write_counter(django_db_setup: Any, django_db_blocker: Any) -> Iterator[WriteCounter]:
    with django_db_blocker.unblock():
        counter = WriteCounter()
    yield counter
    with django_db_blocker.unblock():
        counter.close()


@dataclass
class Run:
    observed: dict[Key, dict[str, str]]
    names: dict[str, str]
    problems: list[str]


def run_matrix(
    world: authz_world.World, patterns: list[Pattern], counter: WriteCounter, roles: list[str]
) -> Run:
    timings: list[tuple[float, str]] = []
    observed: dict[Key, dict[str, str]] = {}
    names: dict[str, str] = {}
    problems: list[str] = []
    forbidden = {role: authz_world.forbidden_texts(role) for role in roles}
    shown: set[str] = set()  # the canaries organisers saw: proof that the leak check can fail
    for pattern in patterns:
        names[pattern.route] = pattern.name
        private_link = "token>" in pattern.route
        bodies = authz_world.BODIES.get(pattern.name, {})
        for variant, kwargs in authz_world.variants(
            pattern.name, pattern.route, list(pattern.params), world
        ):
            started = time.perf_counter()
            path = pattern.path(kwargs)
            # Rate counters and page caches start afresh for each URL.
            cache.clear()
            clear_all()
            for method in pattern.methods():
                cells: dict[str, str] = {}
                for role in roles:
                    client = world.clients[role]
                    cookies = client.cookies
                    client.cookies = type(cookies)(cookies)  # a copy: sign-outs are undone
                    with transaction.atomic():
                        before = counter.count()
                        response, cell = ask(client, method, path, bodies.get(method))
                        written = counter.count() - before
                        text = body(response)
                        transaction.set_rollback(True)
                    client.cookies = cookies
                    cells[role] = cell
                    where = f"{method} {path} ({pattern.route} {variant}) as {role}"
                    if response.status_code >= 500:
                        problems.append(f"{where}: {response.status_code}")
                    if cell in REFUSED and method != "GET" and written:
                        problems.append(f"{where}: refused ({cell}) but wrote {written} rows")
                    if cell == "ok" and not private_link:
                        leaked = [canary for canary in forbidden[role] if canary in text]
                        if leaked:
                            problems.append(f"{where}: shows {leaked}")
                        if role == "organiser":
                            shown.update(c for c in authz_world.CANARIES if c in text)
                observed[(pattern.route, variant, method)] = cells
            timings.append((time.perf_counter() - started, f"{pattern.route} {variant}"))
    if PROFILE:
        for seconds, what in sorted(timings, reverse=True)[:40]:
            print(f"{seconds:8.3f} s  {what}")
        print(f"{sum(t for t, _w in timings):8.3f} s  in all")
    unseen = sorted(set(authz_world.REACHABLE_CANARIES) - shown)
    if unseen and "organiser" in roles:
        problems.append(f"organisers were shown none of {unseen}: the world or the check is broken")
    return Run(observed=observed, names=names, problems=problems)


# --- the tests -------------------------------------------------------------------------------


@pytest.mark.engine_agnostic
def test_every_url_pattern_and_role_is_in_the_table() -> None:
    if WRITE:
        pytest.skip("the table is being written")
    roles, rows = read_table()
    listed = {route for route, _variant, _method in rows}
    routes = {pattern.route for pattern in url_patterns()}
    missing = sorted(routes - listed)
    gone = sorted(listed - routes)
    assert not missing, (
        f"URL patterns missing from {TABLE.name} (add them consciously: regenerate with "
        f"GATHERING_AUTHZ_WRITE=1 and review every cell): {missing}"
    )
    assert not gone, f"rows of {TABLE.name} whose URL pattern is gone: {gone}"
    assert roles == ROLES, f"the table's roles {roles} are not the roles {ROLES}"


# The matrix takes minutes on one core: its columns are split in two halves, which pytest-xdist
# runs side by side (each builds the world); writing the table needs every column at once.
SHARDS = {"all": ROLES} if WRITE else {"even": ROLES[0::2], "odd": ROLES[1::2]}


# Who may do what does not depend on the database engine, and the matrix takes minutes: the
# PostgreSQL run of `make test` leaves it out (it passes there too: run it with DATABASE_URL).
@pytest.mark.engine_agnostic
@pytest.mark.django_db
@pytest.mark.parametrize("shard", list(SHARDS))
def test_authorization_matrix(
    capsys: pytest.CaptureFixture[str], write_counter: WriteCounter, shard: str
) -> None:
    shard_roles = SHARDS[shard]
    patterns = url_patterns()
    world = authz_world.build(ROLES)
    if PROFILE:
        spent: Counter[str] = Counter()

        def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                spent[sql[:90]] += time.perf_counter() - started

        with connection.execute_wrapper(timed):
            run = run_matrix(world, patterns, write_counter, shard_roles)
        for sql, seconds in spent.most_common(25):
            print(f"{seconds:8.3f} s  {sql}")
    else:
        run = run_matrix(world, patterns, write_counter, shard_roles)
    cells = len(run.observed) * len(shard_roles)
    allowed = sum(
        1 for row in run.observed.values() for cell in row.values() if cell not in REFUSED
    )
    summary = (
        f"authorization matrix: {len(patterns)} URL patterns, {len(run.observed)} rows "
        f"(pattern, variant, method) x {len(shard_roles)} roles ({', '.join(shard_roles)}) "
        f"= {cells} cells, {allowed} let in"
    )
    assert not run.problems, "\n".join([summary, *run.problems])
    if WRITE:
        write_table(run.observed, run.names)
        with capsys.disabled():
            print(f"\n{summary}; written to {TABLE}")
        return
    roles, expected = read_table()
    assert roles == ROLES, f"the table's roles {roles} are not the roles {ROLES}"
    mismatches = []
    for key in sorted(set(expected) | set(run.observed)):
        want, got = expected.get(key), run.observed.get(key)
        if want is None or got is None:
            mismatches.append(f"{key}: {'not in the table' if want is None else 'not requested'}")
            continue
        mismatches.extend(
            f"{key} as {role}: table says {want[role]}, got {got[role]}"
            for role in shard_roles
            if want[role] != got[role]
        )
    with capsys.disabled():
        print(f"\n{summary}; {len(mismatches)} mismatches")
    assert not mismatches, "\n".join(
        [
            f"{len(mismatches)} cells differ from {TABLE.name} (regenerate with "
            "GATHERING_AUTHZ_WRITE=1 and review the diff if the change is intended):",
            *mismatches[:200],
        ]
    )
