"""Emails reach a real SMTP server (a local sink), in the registrant's language."""

from __future__ import annotations

import logging

import pytest
from django.db import transaction
from django.utils import translation

from gathering.core.testing.outbox import deliver_outbox
from gathering.outbox import kinds
from gathering.outbox.models import OutboxEmail
from gathering.registration import emails, services
from gathering.registration.tests.factories import CategoryFactory, register_person

pytestmark = pytest.mark.django_db

PERSIAN_DIGITS = frozenset("\u06f0\u06f1\u06f2\u06f3\u06f4\u06f5\u06f6\u06f7\u06f8\u06f9")


@pytest.mark.parametrize(
    ("language", "direction", "category_name"),
    [("en", "ltr", "Attendee"), ("fa", "rtl", "شرکت‌کننده"), ("fr", "ltr", "Participant")],
)
def test_confirmation_email_is_in_the_registrants_language(
    committed, smtp_sink, language: str, direction: str, category_name: str
) -> None:
    category = CategoryFactory()
    # The page language at registration time must not matter: the registrant's choice does.
    with translation.override("en"), committed():
        register_person(category, email="lang@example.org", language=language, name="Name X")

    [message] = smtp_sink.to("lang@example.org")
    assert message.language == language
    assert message.message.is_multipart()
    html = message.html
    assert f'<html lang="{language}" dir="{direction}">' in html
    assert f'dir="{direction}"' in html
    assert category_name in html and category_name in message.text
    assert f"https://gathering.test/{language}/registration/" in message.text
    assert str(category.edition.title[language]) in message.subject
    assert "Name X" in message.text


def test_persian_email_uses_persian_digits_in_dates(committed, smtp_sink) -> None:
    category = CategoryFactory(capacity=1)
    with committed():
        holder = register_person(category).registration
        register_person(category, email="fa@example.org", language="fa")
        services.cancel(registration=holder)

    offer = smtp_sink.last_to("fa@example.org")
    assert offer.language == "fa"
    assert "/fa/registration/" in offer.text
    assert any(character in PERSIAN_DIGITS for character in offer.html)


def test_hostile_name_is_escaped_in_the_html_part(committed, smtp_sink) -> None:
    category = CategoryFactory()
    with committed():
        register_person(category, email="x@example.org", name='Tom & "Jerry" O\'Neil')
    message = smtp_sink.last_to("x@example.org")
    assert "Tom &amp; &quot;Jerry&quot; O&#x27;Neil" in message.html
    assert 'Tom & "Jerry" O\'Neil' in message.text


def test_nothing_is_queued_or_sent_when_the_transaction_rolls_back(smtp_sink) -> None:
    category = CategoryFactory()

    class AbortError(Exception):
        pass

    with pytest.raises(AbortError), transaction.atomic():
        register_person(category, email="never@example.org")
        assert OutboxEmail.objects.count() == 1  # queued in the registration's transaction
        raise AbortError

    assert not OutboxEmail.objects.exists()
    assert deliver_outbox().claimed == 0
    assert smtp_sink.to("never@example.org") == []


def test_registering_queues_the_email_and_sends_nothing_itself(smtp_sink) -> None:
    category = CategoryFactory()
    with transaction.atomic():
        register_person(category, email="queued@example.org", language="fa")
    assert smtp_sink.messages == [], "no email leaves before the worker runs"
    [row] = OutboxEmail.objects.all()
    assert (row.kind, row.language, row.status) == ("registration.confirm", "fa", "pending")

    assert deliver_outbox().sent == 1
    message = smtp_sink.last_to("queued@example.org")
    assert message.message["Message-ID"] == f"<{row.message_id}@localhost>"
    row.refresh_from_db()
    assert (row.status, row.recipient, row.context) == ("sent", None, None)


def test_unreachable_smtp_server_is_logged_without_the_address(
    committed, smtp_sink, settings, caplog
) -> None:
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            # Port 9 (discard) on loopback: nothing listens there; connecting fails at once.
            "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 5},
        }
    }
    category = CategoryFactory()
    with caplog.at_level(logging.WARNING, logger="gathering.outbox"), committed():
        outcome = register_person(category, email="secret.person@example.org")

    assert outcome.created, "the registration stands; the email waits for another attempt"
    [row] = OutboxEmail.objects.all()
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "ConnectionRefusedError")
    failures = [r for r in caplog.records if r.name == "gathering.outbox.services"]
    assert any(f"outbox email id={row.pk}" in r.getMessage() for r in failures)
    assert all("secret.person" not in record.getMessage() for record in caplog.records)


def test_an_erased_registration_gets_no_queued_email(smtp_sink) -> None:
    category = CategoryFactory()
    registration = register_person(category, email="gone@example.org").registration
    services.erase(registration=registration)
    report = deliver_outbox()
    assert report.sent == 0 and report.cancelled >= 1
    assert smtp_sink.to("gone@example.org") == []
    rows = list(OutboxEmail.objects.all())
    assert rows and all(
        (row.status, row.recipient, row.context) == ("cancelled", None, None) for row in rows
    )


def test_every_kind_of_email_renders_in_every_language(committed) -> None:
    category = CategoryFactory()
    with committed():
        register_person(category)
    for kind in emails.SUBJECTS:
        assert f"registration.{kind}" in kinds.registered()
        for language in ("en", "fa", "fr"):
            context = {
                "name": "N",
                "edition_title": dict(category.edition.title),
                "edition_year": category.edition.year,
                "edition_tz": category.edition.timezone,
                "category_name": dict(category.name),
                "offer_expires_at": category.closes_at.isoformat(),
                "delegation_deadline": category.closes_at.isoformat(),
                "delegation_city": "Berlin",
                "invitation_url": "https://gathering.test/invite",
                "status": "offered",
                "reason": "unconfirmed",
                "register_url": "https://gathering.test/register",
                "manage_url": "https://gathering.test/m",
                "confirm_url": "https://gathering.test/c",
                "ticket_url": "https://gathering.test/t",
                "accept_url": "https://gathering.test/a",
            }
            message = emails.render(kind, context=context, language=language)
            assert message.subject, (kind, language)
            html = message.alternatives[0].content
            assert f'lang="{language}"' in html, (kind, language)
            assert "https://gathering.test/" in message.body, (kind, language)


def test_ticket_pdf_is_made_at_send_time_and_a_revoked_ticket_is_not_sent(
    committed, smtp_sink
) -> None:
    category = CategoryFactory()
    with committed():
        registration = register_person(category, email="late@example.org").registration
    token = smtp_sink.last_to("late@example.org").token()
    # Confirmed (a ticket email queued), then cancelled before the worker ran.
    services.confirm_email(token=token)
    ticket_row = OutboxEmail.objects.get(kind="registration.ticket")
    assert set(ticket_row.context or {}) >= {"ticket_id", "ticket_url"}
    assert "ticket.pdf" not in str(ticket_row.context), "no PDF is made in the request"
    services.cancel(registration=registration)

    report = deliver_outbox()

    assert (report.sent, report.cancelled) == (1, 1)
    assert [m.subject for m in smtp_sink.to("late@example.org")][-1].endswith("is cancelled")
    ticket_row.refresh_from_db()
    assert (ticket_row.status, ticket_row.context) == ("cancelled", None)
