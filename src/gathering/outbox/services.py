"""Writes of the outbox: queue an email (in the caller's transaction), send what is due.

Queueing is one INSERT in the caller's transaction, so an email exists exactly when the write
it reports on was committed, and no request ever waits for a mail server. The worker
(``gathering worker``) calls :func:`send_pending` several times a second.

Delivery guarantee. Each row is claimed (status ``sending``, with a lease) by one worker in
small chunks, sent over one SMTP connection reused for the whole run, and marked sent after
each chunk. If the worker dies after the SMTP server accepted a message but before the row
was marked, nothing can tell whether it went out; such rows (lease expired while ``sending``)
are marked ``failed`` with ``last_error`` "in doubt" and are **never resent automatically**:
delivery is *at most once* across worker crashes, and a crash puts at most one chunk
(:data:`CHUNK` emails) in doubt. An operator may requeue them (``send_emails
--requeue-failed``), accepting duplicates; every attempt of a row carries the same
Message-ID, so a duplicate is recognisable. When the SMTP server answers with an error (or
the connection breaks mid-message) the message is treated as not sent and retried with
back-off: in the rare case where the server accepted it but its answer was lost, that retry
is a duplicate (at least once, for that case only).

A graceful stop (SIGTERM to ``gathering worker``) finishes the current run first.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import smtplib
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from email.utils import parseaddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.db import transaction
from django.db.models import F
from django.utils.timezone import now

from gathering.core.fast_write import PreparedInsert, prepare
from gathering.core.group_commit import serialised_write
from gathering.outbox import kinds
from gathering.outbox.errors import CancelEmail, InvalidEmailError
from gathering.outbox.models import OutboxEmail

logger = logging.getLogger(__name__)

Status = OutboxEmail.Status

# A row fails for good after this many attempts (a permanent SMTP refusal fails it at once).
MAX_ATTEMPTS = 5
# Wait before attempt n+1: BACKOFF_BASE * 4**(n-1), ±10 %: 1, 4, 16, 64 minutes.
BACKOFF_BASE = dt.timedelta(minutes=1)
# Rows claimed per transaction; also the most a crash can leave "in doubt".
CHUNK = 20
# A claim's lease. A worker stops sending from a chunk LEASE_MARGIN before its lease ends, so
# a message is never handed to SMTP after another worker could have declared it in doubt.
LEASE = dt.timedelta(minutes=5)
LEASE_MARGIN = dt.timedelta(minutes=1)
IN_DOUBT = "in doubt: the worker stopped while sending (not resent automatically)"


@dataclass
class SendReport:
    """What one :func:`send_pending` run did (counts of rows)."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0  # back to pending, with a later send_after
    failed: int = 0  # failed for good (attempts used up, or refused permanently)
    cancelled: int = 0  # their builder said they are no longer wanted
    released: int = 0  # claimed but not tried (SMTP unreachable, lease running out)
    in_doubt: int = 0  # leases found expired: marked failed, not resent
    smtp_unavailable: bool = False  # the run stopped because the SMTP server could not be used

    def __add__(self, other: SendReport) -> SendReport:
        total = SendReport()
        for item in fields(self):
            setattr(total, item.name, getattr(self, item.name) + getattr(other, item.name))
        total.smtp_unavailable = self.smtp_unavailable or other.smtp_unavailable
        return total


def queue_email(
    *,
    kind: str,
    to: str,
    language: str,
    context: dict[str, Any],
    send_after: dt.datetime | None = None,
) -> OutboxEmail:
    """Queue one email: a single INSERT, in the caller's transaction (or autocommit).

    The email is sent by the worker after that transaction commits, and never if it rolls
    back. ``context`` must be JSON-serialisable (TypeError otherwise) and hold only what the
    builder of ``kind`` needs; it is stored encrypted, like ``to``, and both are erased once
    the email is sent. Raises UnknownEmailKindError for a kind nobody registered and
    InvalidEmailError for a recipient that is no address (or smuggles a line break) or a language the site does not offer.
    """
    return prepare_email(
        kind=kind, to=to, language=language, context=context, send_after=send_after
    ).execute()


def prepare_email(
    *,
    kind: str,
    to: str,
    language: str,
    context: dict[str, Any],
    send_after: dt.datetime | None = None,
) -> PreparedInsert[OutboxEmail]:
    """:func:`queue_email` in two steps: checks, encryption and the row's values now, the
    INSERT at ``.execute()`` (inside the write transaction; on the hot paths of sign-ups and
    signatures, the encryption then stays out of the time the write lock is held)."""
    kinds.get_builder(kind)
    if not isinstance(to, str) or "@" not in to or "\r" in to or "\n" in to:
        # Callers validate addresses; this only stops header injection reaching the worker.
        raise InvalidEmailError("An email needs one recipient address.")
    if language not in _languages():
        raise InvalidEmailError(f"Language {language!r} is not one of the site's languages.")
    at = now()
    stored: Any = context  # an EncryptedJSONField takes any JSON value
    return prepare(
        OutboxEmail(
            kind=kind,
            language=language,
            recipient=to,
            context=stored,
            created_at=at,
            send_after=send_after or at,
        )
    )


def send_pending(*, limit: int = 200) -> SendReport:
    """Send up to ``limit`` due emails over one SMTP connection; returns what happened.

    First marks rows whose lease expired while ``sending`` as failed "in doubt" (see the
    module docstring). Then claims due rows in chunks of :data:`CHUNK` (``SELECT … FOR UPDATE
    SKIP LOCKED`` on PostgreSQL, so concurrent workers never claim the same row; on SQLite
    writers are serialised), renders each with its kind's builder in its language, sends it
    and records the outcome: sent (recipient and context erased), retried with back-off,
    failed, or cancelled. Stops early when the SMTP server cannot be reached, leaving the rest
    pending. Safe to call from several processes at once.
    """
    report = SendReport(in_doubt=_fail_expired_leases())
    mailer: Any = None
    try:
        chunk_size = min(CHUNK, limit)
        while report.claimed < limit:
            rows = _claim(min(chunk_size, limit - report.claimed), check_first=not report.claimed)
            if not rows:
                break
            report.claimed += len(rows)
            if mailer is None:
                mailer = mailers.default
            _send_chunk(rows, mailer=mailer, report=report)
            if report.smtp_unavailable or len(rows) < chunk_size:
                break
    finally:
        if mailer is not None:
            _close_quietly(mailer)
    if report.claimed or report.in_doubt:
        logger.info(
            "outbox: claimed=%s sent=%s retried=%s failed=%s cancelled=%s released=%s in_doubt=%s",
            report.claimed,
            report.sent,
            report.retried,
            report.failed,
            report.cancelled,
            report.released,
            report.in_doubt,
        )
    return report


def requeue_failed(*, ids: Sequence[int] | None = None) -> int:
    """Put failed emails (all of them, or those in ``ids``) back in the queue with their
    attempts reset, to be sent as soon as the worker runs. Emails "in doubt" may then arrive
    twice (with the same Message-ID). Returns how many were requeued."""
    rows = OutboxEmail.objects.filter(status=Status.FAILED, recipient__isnull=False)
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    return rows.update(status=Status.PENDING, attempts=0, send_after=now(), claimed_until=None)


def cancel(*, ids: Sequence[int]) -> int:
    """Cancel emails not sent yet (pending or failed) and erase their data; returns how many."""
    return OutboxEmail.objects.filter(
        pk__in=list(ids), status__in=[Status.PENDING, Status.FAILED]
    ).update(status=Status.CANCELLED, recipient=None, context=None, claimed_until=None)


# --- helpers ---------------------------------------------------------------------------------


def _languages() -> frozenset[str]:
    return frozenset(code for code, _name in settings.LANGUAGES)


def _fail_expired_leases() -> int:
    at = now()
    expired = OutboxEmail.objects.filter(status=Status.SENDING, claimed_until__lt=at)
    # Read first: an UPDATE would take SQLite's write lock even when it changes nothing.
    if not expired.exists():
        return 0
    with serialised_write():
        count = expired.update(
            status=Status.FAILED,
            claimed_until=None,
            attempts=F("attempts") + 1,
            last_error=IN_DOUBT,
        )
    if count:
        logger.warning("outbox: %s email(s) in doubt after a worker stopped while sending", count)
    return count


def _claim(size: int, *, check_first: bool) -> list[OutboxEmail]:
    at = now()
    due = OutboxEmail.objects.filter(status=Status.PENDING, send_after__lte=at)
    # An idle worker polls several times a second: a plain read keeps it off SQLite's write
    # lock (every transaction there is IMMEDIATE) until there is something to send.
    if check_first and not due.exists():
        return []
    with serialised_write(), transaction.atomic():
        rows = list(due.select_for_update(skip_locked=True).order_by("send_after", "id")[:size])
        if rows:
            OutboxEmail.objects.filter(pk__in=[row.pk for row in rows]).update(
                status=Status.SENDING, claimed_until=at + LEASE
            )
    return rows


def _send_chunk(rows: list[OutboxEmail], *, mailer: Any, report: SendReport) -> None:
    """Send ``rows`` (claimed by this worker) and record each outcome."""
    stop_at = time.monotonic() + (LEASE - LEASE_MARGIN).total_seconds()
    sent: list[int] = []
    cancelled: list[int] = []
    released: list[int] = []
    for row in rows:
        if report.smtp_unavailable or time.monotonic() > stop_at:
            released.append(row.pk)
            continue
        try:
            message = _build(row)
        except CancelEmail:
            cancelled.append(row.pk)
            continue
        except Exception as error:
            logger.warning(
                "outbox email id=%s kind=%s could not be rendered", row.pk, row.kind, exc_info=True
            )
            _record_failure(row, error=_describe(error), permanent=False, report=report)
            continue
        try:
            mailer.open()  # no-op while the connection is open
            mailer.send_messages([message])
        except Exception as error:
            _close_quietly(mailer)  # the next message starts on a fresh connection
            permanent = _refused_for_good(error)
            _record_failure(row, error=_describe(error), permanent=permanent, report=report)
            if _connection_lost(error):
                report.smtp_unavailable = True
            continue
        sent.append(row.pk)
    at = now()
    with serialised_write():
        _record_outcomes(sent=sent, cancelled=cancelled, released=released, at=at, report=report)


def _record_outcomes(
    *, sent: list[int], cancelled: list[int], released: list[int], at: Any, report: SendReport
) -> None:
    if sent:
        # Unconditional: a row marked "in doubt" by another worker meanwhile was in fact sent.
        OutboxEmail.objects.filter(pk__in=sent).update(
            status=Status.SENT,
            sent_at=at,
            attempts=F("attempts") + 1,
            recipient=None,
            context=None,
            claimed_until=None,
            last_error="",
        )
        report.sent += len(sent)
    if cancelled:
        OutboxEmail.objects.filter(pk__in=cancelled, status=Status.SENDING).update(
            status=Status.CANCELLED, recipient=None, context=None, claimed_until=None
        )
        report.cancelled += len(cancelled)
    if released:
        OutboxEmail.objects.filter(pk__in=released, status=Status.SENDING).update(
            status=Status.PENDING, claimed_until=None
        )
        report.released += len(released)


def _build(row: OutboxEmail) -> EmailMultiAlternatives:
    builder = kinds.get_builder(row.kind)
    message = builder(dict(row.context or {}), row.language)
    message.to = [str(row.recipient)]
    message.cc = []
    message.bcc = []
    message.extra_headers["Message-ID"] = f"<{row.message_id}@{_message_id_domain()}>"
    return message


def _message_id_domain() -> str:
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return address.rpartition("@")[2] or "gathering.invalid"


def _record_failure(row: OutboxEmail, *, error: str, permanent: bool, report: SendReport) -> None:
    attempts = row.attempts + 1
    changes: dict[str, Any] = {"attempts": attempts, "last_error": error, "claimed_until": None}
    if permanent or attempts >= MAX_ATTEMPTS:
        changes["status"] = Status.FAILED
        report.failed += 1
        logger.error(
            "outbox email id=%s kind=%s failed for good after %s attempt(s): %s",
            row.pk,
            row.kind,
            attempts,
            error,
        )
    else:
        changes["status"] = Status.PENDING
        changes["send_after"] = now() + backoff(attempts)
        report.retried += 1
        logger.warning(
            "outbox email id=%s kind=%s attempt %s failed, will retry: %s",
            row.pk,
            row.kind,
            attempts,
            error,
        )
    OutboxEmail.objects.filter(pk=row.pk, status=Status.SENDING).update(**changes)


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failed attempt (1 → about a minute, then 4 times longer each time)."""
    jitter = random.uniform(0.9, 1.1)  # noqa: S311 (spreads retries; not security)  # nosec B311 # jitter between retries, not security
    return BACKOFF_BASE * (4.0 ** max(attempts - 1, 0) * jitter)


def _refused_for_good(error: Exception) -> bool:
    # 5xx for the recipient ("no such user"): retrying cannot help. Everything else (4xx,
    # a broken connection, a refused sender, a timeout) may pass on a later attempt.
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _reply in error.recipients.values()]
        return bool(codes) and all(code >= 500 for code in codes)
    return False


def _connection_lost(error: Exception) -> bool:
    # smtplib's errors are OSErrors too: only a refused, broken or timed-out connection
    # means the server cannot be used right now.
    if isinstance(error, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
        return True
    return isinstance(error, OSError) and not isinstance(error, smtplib.SMTPException)


def _describe(error: Exception) -> str:
    """The error's class and SMTP code: never the server's text, which may quote the address."""
    name = type(error).__name__
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _reply in error.recipients.values()})
        return f"{name} {','.join(str(code) for code in codes)}"[:200]
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{name} {error.smtp_code}"[:200]
    return name[:200]


def _close_quietly(mailer: Any) -> None:
    try:
        mailer.close()
    except Exception:
        logger.warning("outbox: closing the SMTP connection failed", exc_info=True)
