"""The signature table's indexes (migration 0002): every insert on the signing path maintains
them, so there are few and most are partial. These tests check, on the database in use, that
the hot look-ups still find an index (EXPLAIN on PostgreSQL, EXPLAIN QUERY PLAN on SQLite, which
uses a partial index only when the query repeats the index's condition) and that the
uniqueness rules the dropped ``unique=True`` and ``OneToOneField`` enforced still hold."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils.timezone import now

from gathering.transparency.models import Entry, Log
from gathering.voices import selectors, services
from gathering.voices.models import Campaign, Signature
from gathering.voices.tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db

TABLE = Signature._meta.db_table
# The index a plan reads the signature table with: SQLite names it after USING … INDEX,
# PostgreSQL after "Index [Only ]Scan [Backward ]using" or "Bitmap Index Scan on".
SQLITE_INDEX = re.compile(rf"SEARCH {TABLE} USING (?:COVERING )?INDEX (\S+)")
POSTGRESQL_INDEX = re.compile(
    r"(?:Index (?:Only )?Scan (?:Backward )?using|Bitmap Index Scan on) (\S+)"
)


@pytest.fixture
def campaign() -> Campaign:
    return CampaignFactory()


def values(campaign: Campaign, **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "campaign": campaign,
        "public_id": secrets.token_hex(16),
        "salt": secrets.token_hex(16),
        "language": "en",
        "country": "FR",
        "email_hash": secrets.token_hex(32),
        "consent_version": "test",
        "confirm_token_hash": secrets.token_hex(32),
        "withdraw_token_hash": secrets.token_hex(32),
    }
    fields.update(overrides)
    return fields


def signature(campaign: Campaign, **overrides: Any) -> Signature:
    return Signature.objects.create(**values(campaign, **overrides))


def signatures_of_a_busy_campaign(campaign: Campaign, count: int = 400) -> None:
    """Mostly counted signatures, a few with messages or held, some pending or withdrawn, and
    the table's statistics: PostgreSQL picks among indexes by what they would read."""
    statuses = [Signature.Status.CONFIRMED] * 7 + [Signature.Status.PENDING] * 2
    statuses.append(Signature.Status.WITHDRAWN)
    messages = [Signature.MessageStatus.NONE] * 8
    messages += [Signature.MessageStatus.APPROVED, Signature.MessageStatus.PENDING]
    rows = []
    for n in range(count):
        status = statuses[n % len(statuses)]
        counted = status == Signature.Status.CONFIRMED
        overrides = {
            "status": status,
            "country": ["FR", "DE", "IR", "US"][n % 4],
            "review": Signature.Review.HELD if n % 50 == 0 else Signature.Review.NONE,
            "message_status": messages[n % len(messages)] if counted else "",
            "confirmed_at": now() if counted else None,
        }
        rows.append(Signature(**values(campaign, **overrides)))
    Signature.objects.bulk_create(rows)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(TABLE)}")


def leaf() -> Entry:
    log, _ = Log.objects.get_or_create(slug="test-indexes")
    return Entry.objects.create(log=log, data=b"leaf", leaf_hash=b"hash")


def refused(make: Callable[[], object]) -> bool:
    """Whether the database refuses the row (in a savepoint: the test goes on)."""
    try:
        with transaction.atomic():
            make()
    except IntegrityError:
        return True
    return False


@contextmanager
def planner_avoiding_table_scans() -> Iterator[None]:
    """PostgreSQL reads a table of a few rows whole whatever its indexes: told to avoid that,
    it still scans the table when no index fits, which is what the tests look for."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET enable_seqscan")


def plan(sql: str, params: list[object] | None = None) -> str:
    prefix = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
    with planner_avoiding_table_scans(), connection.cursor() as cursor:
        cursor.execute(prefix + sql, params)
        # SQLite: (id, parent, notused, detail); PostgreSQL: one line of text per row.
        return "\n".join(str(row[-1]) for row in cursor.fetchall())


def index_read(sql: str, params: list[object] | None = None) -> str | None:
    """The index the query reads the signature table with (None: the whole table)."""
    pattern = SQLITE_INDEX if connection.vendor == "sqlite" else POSTGRESQL_INDEX
    found = pattern.search(plan(sql, params))
    return None if found is None else found.group(1).strip('"')


def columns_of(index: str | None) -> list[str]:
    if index is None:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            # (A unique constraint's index is named sqlite_autoindex_…, unknown to Django.)
            cursor.execute(f"PRAGMA index_info({connection.ops.quote_name(index)})")
            return [name for _seqno, _cid, name in cursor.fetchall()]
        return list(connection.introspection.get_constraints(cursor, TABLE)[index]["columns"])


def signature_query_of(call: Callable[[], object]) -> str:
    """The SQL (values in line) that ``call`` reads the signature table with."""
    with CaptureQueriesContext(connection) as captured:
        call()
    reads = [q["sql"] for q in captured.captured_queries if f'FROM "{TABLE}"' in q["sql"]]
    assert len(reads) == 1, captured.captured_queries
    return reads[0]


@pytest.mark.parametrize("kind", ["confirm", "withdraw"])
def test_a_private_link_finds_its_signature_by_an_index(campaign: Campaign, kind: str) -> None:
    column = f"{kind}_token_hash"
    row = signature(campaign)
    signature(campaign)

    # The raw SQL of the confirmation and withdrawal links (services._for_token).
    sql = services._token_sql(kind, ("id",))

    assert columns_of(index_read(sql, [getattr(row, column)])) == [column]


def test_an_address_that_signed_is_found_by_the_unique_index(campaign: Campaign) -> None:
    # A campaign with signatures and the table's statistics: with two rows and whatever
    # statistics an earlier test or autovacuum left, PostgreSQL once read them through
    # signature_counts (campaign first too), one CI run in many.
    signatures_of_a_busy_campaign(campaign)
    row = signature(campaign)
    signature(campaign, status=Signature.Status.WITHDRAWN)

    sql = signature_query_of(
        lambda: services._existing_signature(campaign, [row.email_hash, "0" * 64])
    )

    assert index_read(sql) == "one_signature_per_email"


@pytest.mark.parametrize(
    ("read", "index"),
    [
        (lambda c: selectors.count_by_country(campaign=c, fresh=True), "signature_counts"),
        (lambda c: list(selectors.list_held(campaign=c)), "signature_review"),
        (lambda c: selectors.list_wall_messages(campaign=c), "signature_wall"),
        (lambda c: list(selectors.list_pending_messages(campaign=c)), "signature_messages_pending"),
    ],
    ids=["counts", "held", "wall", "pending_messages"],
)
def test_the_public_and_moderation_reads_use_their_index(
    campaign: Campaign, read: Callable[[Campaign], object], index: str
) -> None:
    signatures_of_a_busy_campaign(campaign)
    signatures_of_a_busy_campaign(CampaignFactory(edition=campaign.edition))

    sql = signature_query_of(lambda: read(campaign))

    # The partial indexes hold only what their condition selects (held signatures, approved
    # or pending messages): SQLite would read the whole table if a query lost that term.
    assert index_read(sql) == index


def test_a_public_id_is_unique(campaign: Campaign) -> None:
    first = signature(campaign)

    assert refused(lambda: signature(campaign, public_id=first.public_id))


def test_used_links_leave_as_many_null_token_hashes_as_there_are(campaign: Campaign) -> None:
    signature(campaign, confirm_token_hash=None, withdraw_token_hash=None)
    signature(campaign, confirm_token_hash=None, withdraw_token_hash=None)
    first = signature(campaign)

    assert Signature.objects.filter(confirm_token_hash=None, withdraw_token_hash=None).count() == 2
    assert refused(lambda: signature(campaign, confirm_token_hash=first.confirm_token_hash))
    assert refused(lambda: signature(campaign, withdraw_token_hash=first.withdraw_token_hash))


def test_a_leaf_belongs_to_one_signature_and_pending_ones_have_none(campaign: Campaign) -> None:
    signature(campaign)
    signature(campaign)
    entry = leaf()
    signature(campaign, leaf=entry)

    assert Signature.objects.filter(leaf=None).count() == 2
    assert refused(lambda: signature(campaign, leaf=entry))


def test_a_withdrawn_signature_frees_the_address_for_one_new_signature(
    campaign: Campaign,
) -> None:
    withdrawn = signature(campaign, status=Signature.Status.WITHDRAWN)

    signature(campaign, email_hash=withdrawn.email_hash)

    assert Signature.objects.filter(email_hash=withdrawn.email_hash).count() == 2
    assert refused(lambda: signature(campaign, email_hash=withdrawn.email_hash))
    # Another campaign is another signature.
    signature(CampaignFactory(edition=campaign.edition), email_hash=withdrawn.email_hash)
