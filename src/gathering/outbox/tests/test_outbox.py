"""The outbox: queueing in the caller's transaction, sending by the worker over real SMTP (a
local aiosmtpd sink), retries with back-off, at-most-once across crashes, encryption at rest."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.core.mail import EmailMultiAlternatives
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.utils.timezone import now

from gathering.cli import worker
from gathering.core.testing.outbox import OutboxWorker, deliver_outbox
from gathering.core.testing.smtp import SinkHandler, SmtpSink, _free_port
from gathering.outbox import kinds, services
from gathering.outbox.errors import CancelEmail, InvalidEmailError, UnknownEmailKindError
from gathering.outbox.models import OutboxEmail

Status = OutboxEmail.Status

# A recipient and a context whose text must never be readable in the table.
CANARY_ADDRESS = "canary.7f3a9@example.org"
CANARY_TEXT = "canary-secret-token-Q8wZ \u202e\u0631\u0627\u0632\u200c\u0645\u0646"


def build_test_email(context: dict[str, Any], language: str) -> EmailMultiAlternatives:
    if context.get("cancel"):
        raise CancelEmail("not wanted any more")
    if context.get("explode"):
        raise RuntimeError("the template is broken")
    message = EmailMultiAlternatives(
        subject=f"[{language}] {context.get('subject', 'Hello')}",
        body=str(context.get("body", "")),
        from_email="Gathering <noreply@localhost>",
    )
    message.attach_alternative(f"<p>{context.get('body', '')}</p>", "text/html")
    return message


kinds.register("outbox.test", build_test_email)


def queue(to: str, **context: Any) -> OutboxEmail:
    return services.queue_email(kind="outbox.test", to=to, language="en", context=context)


def make_due(*rows: OutboxEmail) -> None:
    """Bring the rows' next attempt forward to now (instead of waiting out the back-off)."""
    OutboxEmail.objects.filter(pk__in=[row.pk for row in rows]).update(send_after=now())


def reload(row: OutboxEmail) -> OutboxEmail:
    return OutboxEmail.objects.get(pk=row.pk)


class PickyHandler(SinkHandler):
    """A sink that refuses some recipients, like a real server, and counts connections."""

    def __init__(self) -> None:
        super().__init__()
        self.connections = 0

    async def handle_EHLO(  # noqa: N802 (aiosmtpd API)
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        with self.lock:
            self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(  # noqa: N802 (aiosmtpd API)
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.startswith("nobody"):
            return "550 5.1.1 No such user here"
        if address.startswith("later"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture(scope="module")
def picky_server() -> Iterator[tuple[PickyHandler, int]]:
    handler = PickyHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


@pytest.fixture
def picky(picky_server, settings) -> Iterator[tuple[PickyHandler, SmtpSink]]:
    handler, port = picky_server
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 10},
        }
    }
    with handler.lock:
        handler.received.clear()
        handler.connections = 0
    yield handler, SmtpSink(handler, port)


@pytest.fixture
def unreachable_smtp(settings) -> None:
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            # Port 9 (discard) on loopback: nothing listens there; connecting fails at once.
            "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 5},
        }
    }


# --- queueing --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_queueing_is_one_insert_and_sends_nothing(smtp_sink, django_assert_num_queries) -> None:
    with django_assert_num_queries(1):
        row = queue("a@example.org", body="hi")
    assert (row.status, row.attempts, row.kind, row.language) == ("pending", 0, "outbox.test", "en")
    assert row.send_after == row.created_at
    assert smtp_sink.messages == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"kind": "outbox.nobody_registered_this"}, UnknownEmailKindError),
        ({"kind": "<script>"}, UnknownEmailKindError),
        ({"to": ""}, InvalidEmailError),
        ({"to": "no-at-sign"}, InvalidEmailError),
        ({"to": "a@example.org\r\nBcc: all@example.org"}, InvalidEmailError),
        ({"to": "a@example.org\nBcc: all@example.org"}, InvalidEmailError),
        ({"language": "de"}, InvalidEmailError),
        ({"language": "fa\u200f"}, InvalidEmailError),
    ],
)
def test_queueing_refuses_bad_calls_and_writes_nothing(overrides, error) -> None:
    arguments: dict[str, Any] = {
        "kind": "outbox.test",
        "to": "a@example.org",
        "language": "en",
        "context": {},
    }
    with pytest.raises(error):
        services.queue_email(**(arguments | overrides))
    assert not OutboxEmail.objects.exists()


@pytest.mark.django_db
def test_a_context_that_is_not_json_is_refused_at_once() -> None:
    with pytest.raises(TypeError), transaction.atomic():
        queue("a@example.org", when=now())
    assert not OutboxEmail.objects.exists()


@pytest.mark.django_db
def test_queueing_in_a_rolled_back_transaction_sends_nothing(smtp_sink) -> None:
    class AbortError(Exception):
        pass

    with pytest.raises(AbortError), transaction.atomic():
        queue("never@example.org", body="x")
        raise AbortError

    assert not OutboxEmail.objects.exists()
    assert deliver_outbox().claimed == 0
    assert smtp_sink.messages == []


def test_kinds_register_once_and_refuse_clashes() -> None:
    kinds.register("outbox.test", build_test_email)  # again, the same builder: a no-op
    assert "outbox.test" in kinds.registered()
    assert "registration.confirm" in kinds.registered()
    with pytest.raises(ValueError, match="already registered"):
        kinds.register("outbox.test", lambda context, language: build_test_email(context, language))
    for bad in ("test", "Outbox.Test", "outbox.", "outbox.te st", "outbox." + "x" * 60):
        with pytest.raises(ValueError, match="must look like"):
            kinds.register(bad, build_test_email)


# --- sending ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_sent_email_is_rendered_at_send_time_in_its_language(smtp_sink) -> None:
    row = services.queue_email(
        kind="outbox.test", to="fa@example.org", language="fa", context={"body": "سلام"}
    )
    report = services.send_pending()
    assert (report.claimed, report.sent) == (1, 1)
    [message] = smtp_sink.to("fa@example.org")
    assert message.subject == "[fa] Hello"
    assert "سلام" in message.text and "<p>سلام</p>" in message.html
    assert message.message["Message-ID"] == f"<{row.message_id}@localhost>"
    row = reload(row)
    assert (row.status, row.attempts, row.claimed_until) == ("sent", 1, None)
    assert row.sent_at is not None
    assert services.send_pending().claimed == 0, "a sent email is never sent again"
    assert len(smtp_sink.to("fa@example.org")) == 1


@pytest.mark.django_db
def test_recipient_and_context_are_unreadable_at_rest_and_erased_after_sending(
    smtp_sink,
) -> None:
    row = queue(CANARY_ADDRESS, body=CANARY_TEXT, link="https://gathering.test/r/" + "T" * 43)
    with connection.cursor() as cursor:
        cursor.execute("SELECT recipient, context FROM outbox_outboxemail WHERE id = %s", [row.pk])
        recipient, context = cursor.fetchone()
    stored = f"{recipient}|{context}"
    for canary in (
        "canary",
        "7f3a9",
        "example.org",
        "Q8wZ",
        "\u0631\u0627\u0632",
        "TTTTTTTT",
        "gathering.test",
    ):
        assert canary not in stored, canary
    assert recipient.startswith("pii1:") and context.startswith("pii1:")
    assert reload(row).recipient == CANARY_ADDRESS, "the worker can still read it"

    assert deliver_outbox().sent == 1
    assert CANARY_TEXT in smtp_sink.last_to(CANARY_ADDRESS).text
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT recipient, context, kind, status FROM outbox_outboxemail WHERE id = %s",
            [row.pk],
        )
        assert cursor.fetchone() == (None, None, "outbox.test", "sent")


@pytest.mark.django_db
def test_a_batch_goes_over_one_smtp_connection(picky) -> None:
    handler, sink = picky
    for n in range(45):
        queue(f"person{n}@example.org", body=str(n))
    report = services.send_pending(limit=200)
    assert (report.claimed, report.sent) == (45, 45)
    assert len(sink.messages) == 45
    assert handler.connections == 1
    assert set(OutboxEmail.objects.values_list("status", flat=True)) == {"sent"}


@pytest.mark.django_db
def test_limit_bounds_one_run_and_the_rest_waits(smtp_sink) -> None:
    for n in range(5):
        queue(f"p{n}@example.org")
    assert services.send_pending(limit=3).sent == 3
    assert OutboxEmail.objects.filter(status=Status.PENDING).count() == 2
    assert services.send_pending(limit=3).sent == 2


@pytest.mark.django_db
def test_refused_recipient_fails_at_once_and_the_others_still_go(picky, caplog) -> None:
    _handler, sink = picky
    first = queue("first@example.org")
    nobody = queue("nobody.secret@example.org")
    later = queue("later.secret@example.org")
    last = queue("last@example.org")

    report = services.send_pending()

    assert (report.sent, report.failed, report.retried) == (2, 1, 1)
    assert [m.to for m in sink.messages] == [["first@example.org"], ["last@example.org"]]
    assert (reload(first).status, reload(last).status) == ("sent", "sent")
    nobody, later = reload(nobody), reload(later)
    assert (nobody.status, nobody.attempts, nobody.last_error) == (
        "failed",
        1,
        "SMTPRecipientsRefused 550",
    )
    assert nobody.recipient == "nobody.secret@example.org", "kept, so it can be requeued"
    assert (later.status, later.attempts, later.last_error) == (
        "pending",
        1,
        "SMTPRecipientsRefused 451",
    )
    assert later.send_after > now()
    assert all("secret" not in record.getMessage() for record in caplog.records)


@pytest.mark.django_db
def test_unreachable_server_retries_with_back_off_then_fails_and_loses_nothing(
    unreachable_smtp, smtp_server, settings, caplog
) -> None:
    row = queue("patient.secret@example.org", body="keep me")
    delays: list[dt.timedelta] = []
    for attempt in range(1, services.MAX_ATTEMPTS + 1):
        before = now()
        report = services.send_pending()
        assert report.smtp_unavailable
        row = reload(row)
        assert row.attempts == attempt
        assert row.last_error == "ConnectionRefusedError"
        if attempt < services.MAX_ATTEMPTS:
            assert (row.status, report.retried) == ("pending", 1)
            delays.append(row.send_after - before)
            assert services.send_pending().claimed == 0, "not before its back-off"
            make_due(row)
        else:
            assert (row.status, report.failed) == ("failed", 1)
    # Each wait is about four times the one before (±10 % jitter): 1, 4, 16, 64 minutes.
    for attempt, delay in enumerate(delays, start=1):
        expected = services.BACKOFF_BASE * 4 ** (attempt - 1)
        assert expected * 0.89 <= delay <= expected * 1.11, (attempt, delay)
    assert services.send_pending().claimed == 0, "a failed email is not retried by itself"
    assert (row.recipient, row.context) == ("patient.secret@example.org", {"body": "keep me"})
    assert all("patient.secret" not in record.getMessage() for record in caplog.records)

    # The server is back; an operator requeues: it goes out once, with its Message-ID.
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": smtp_server.port, "timeout": 10},
        }
    }
    smtp_server.clear()
    assert services.requeue_failed() == 1
    assert deliver_outbox().sent == 1
    [message] = smtp_server.to("patient.secret@example.org")
    assert message.message["Message-ID"] == f"<{row.message_id}@localhost>"
    smtp_server.clear()


@pytest.mark.django_db
def test_an_unreachable_server_stops_the_run_and_leaves_the_rest_untouched(
    unreachable_smtp,
) -> None:
    rows = [queue(f"q{n}@example.org") for n in range(5)]
    report = services.send_pending()
    assert (report.claimed, report.retried, report.released) == (5, 1, 4)
    assert [reload(row).attempts for row in rows] == [1, 0, 0, 0, 0]
    assert {reload(row).status for row in rows} == {"pending"}


@pytest.mark.django_db
def test_a_builder_error_is_retried_and_a_cancelled_email_is_erased(smtp_sink, caplog) -> None:
    broken = queue("broken@example.org", explode=True)
    unwanted = queue("unwanted@example.org", cancel=True, body="private")
    fine = queue("fine@example.org")

    report = services.send_pending()

    assert (report.sent, report.retried, report.cancelled) == (1, 1, 1)
    assert [m.to for m in smtp_sink.messages] == [["fine@example.org"]]
    broken, unwanted = reload(broken), reload(unwanted)
    assert (broken.status, broken.attempts, broken.last_error) == ("pending", 1, "RuntimeError")
    assert (unwanted.status, unwanted.recipient, unwanted.context) == ("cancelled", None, None)
    assert reload(fine).status == "sent"


@pytest.mark.django_db
def test_cancel_erases_unsent_emails_only(smtp_sink) -> None:
    pending = queue("p@example.org")
    sent = queue("s@example.org")
    services.send_pending(limit=2)
    other = queue("o@example.org")
    assert services.cancel(ids=[pending.pk, sent.pk, other.pk]) == 1
    assert reload(other).status == "cancelled" and reload(other).recipient is None
    assert reload(sent).status == "sent"


# --- at most once ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_email_claimed_by_another_worker_is_left_alone(smtp_sink) -> None:
    row = queue("claimed@example.org")
    OutboxEmail.objects.filter(pk=row.pk).update(
        status=Status.SENDING, claimed_until=now() + services.LEASE
    )
    report = services.send_pending()
    assert (report.claimed, report.in_doubt) == (0, 0)
    assert smtp_sink.messages == []


@pytest.mark.django_db
def test_a_worker_that_died_while_sending_leaves_its_emails_in_doubt_never_resent(
    smtp_sink, caplog
) -> None:
    # A worker claimed the row and may have handed it to SMTP, then died before marking it.
    row = queue("maybe@example.org")
    OutboxEmail.objects.filter(pk=row.pk).update(
        status=Status.SENDING, claimed_until=now() - dt.timedelta(seconds=1)
    )
    report = services.send_pending()
    assert (report.in_doubt, report.claimed) == (1, 0)
    row = reload(row)
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, services.IN_DOUBT)
    assert services.send_pending().claimed == 0
    assert smtp_sink.messages == []
    assert any("in doubt" in record.getMessage() for record in caplog.records)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_workers_never_send_one_email_twice(smtp_sink) -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: two workers on the in-memory SQLite test database would lock "
            "each other's tables (production SQLite serialises writers, so claims cannot race)"
        )
    rows = [queue(f"c{n}@example.org") for n in range(300)]
    start = threading.Barrier(2)
    reports: list[services.SendReport] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            while True:
                report = services.send_pending(limit=30)
                reports.append(report)
                if not report.claimed:
                    return
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert sum(report.sent for report in reports) == 300
    received = sorted(address for message in smtp_sink.messages for address in message.to)
    assert received == sorted(f"c{n}@example.org" for n in range(300))
    assert not OutboxEmail.objects.exclude(status=Status.SENT).filter(pk__in=[r.pk for r in rows])


# --- the worker ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_one_turn_of_the_worker_sends_what_is_queued(smtp_sink) -> None:
    queue("turn@example.org")
    worker(once=True)
    assert [m.to for m in smtp_sink.messages] == [["turn@example.org"]]


@pytest.mark.django_db(transaction=True)
def test_the_worker_loop_sends_queued_email_by_itself(smtp_sink) -> None:
    # Committed (transaction=True): the worker's thread has its own database connection.
    # Queued before the loop starts: on the in-memory SQLite test database two connections
    # must not write and read one table at the same moment (shared-cache table locks).
    row = queue("loop@example.org", body="from the loop")
    running = OutboxWorker()
    running.start()
    try:
        message = smtp_sink.wait_for("loop@example.org")
    finally:
        running.stop()
    assert "from the loop" in message.text
    assert reload(row).status == "sent"


@pytest.mark.django_db
def test_send_emails_command_sends_and_requeues(smtp_sink, capsys) -> None:
    queue("cmd@example.org")
    failed = queue("failed@example.org")
    OutboxEmail.objects.filter(pk=failed.pk).update(status=Status.FAILED, attempts=5)
    call_command("send_emails")
    assert "1 sent" in capsys.readouterr().out
    call_command("send_emails", "--requeue-failed")
    out = capsys.readouterr().out
    assert "1 failed email(s) requeued" in out and "1 sent" in out
    assert sorted(m.to[0] for m in smtp_sink.messages) == ["cmd@example.org", "failed@example.org"]
