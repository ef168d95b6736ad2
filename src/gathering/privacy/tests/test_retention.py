"""The retention purge: what it erases and when, what it keeps, and that it can run again."""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from gathering import cli
from gathering.core.crypto import stored_form
from gathering.outbox.models import OutboxEmail
from gathering.outbox.services import queue_email, send_pending
from gathering.privacy.services import purge_expired, retention
from gathering.privacy.tests.factories import (
    figures,
    moment_after,
    names,
    not_yet,
    outbox_context,
    personal_data,
    populate,
)
from gathering.program.tests.factories import EditionFactory
from gathering.registration import selectors as registration_selectors
from gathering.registration.models import Registration
from gathering.voices import services as voices
from gathering.voices.errors import LinkNotValidError
from gathering.voices.models import Signature

pytestmark = pytest.mark.django_db

ERASED_REGISTRATION = (None, None, None, None, None, None)


@pytest.fixture
def edition():
    return EditionFactory(year=2031)


@pytest.fixture
def populated(edition):
    return populate(edition, tag="old")


def stored(edition) -> dict:
    """The personal data as stored (ciphertexts, not decrypted): equal means unchanged."""
    with stored_form():
        return personal_data(edition)


def test_the_deadline_is_retention_days_after_the_last_day_in_the_editions_time_zone():
    edition = EditionFactory(
        year=2032, end_date=dt.date(2032, 6, 30), retention_days=30, timezone="Asia/Tehran"
    )
    assert edition.retention_deadline == dt.datetime(
        2032, 7, 31, tzinfo=zoneinfo.ZoneInfo("Asia/Tehran")
    )
    edition.retention_days = 0
    assert edition.retention_deadline.date() == dt.date(2032, 7, 1)


def test_new_editions_keep_personal_data_30_days_and_at_most_ten_years():
    edition = EditionFactory(year=2033)
    assert edition.retention_days == 30
    edition.retention_days = 3651
    with pytest.raises(ValidationError) as error:
        edition.full_clean()
    assert "retention_days" in error.value.message_dict


def test_nothing_is_erased_before_the_deadline(edition, populated):
    before = stored(edition)
    report = purge_expired(now=not_yet(edition))
    assert report.editions == []
    assert report.total == 0
    assert stored(edition) == before


def test_after_the_deadline_every_kind_of_personal_data_is_erased(edition, populated):
    report = purge_expired(now=moment_after(edition, seconds=1))
    assert report.editions == [2031]
    assert report.erased == {
        "registrations": 6,
        "signatures": 5,
        "site_contacts": 1,
        "invalidations": 1,
        "queued_emails": report.erased["queued_emails"],
    }
    # Nothing was sent: every email queued for these people was cancelled and erased.
    assert report.erased["queued_emails"] > 0
    assert not OutboxEmail.objects.filter(recipient__isnull=False).exists()

    left = personal_data(edition)
    assert left["registrations"] == [ERASED_REGISTRATION] * 6
    assert all(r.erased_at is not None for r in Registration.objects.filter(edition=edition))
    for signature in Signature.objects.filter(campaign__edition=edition):
        assert (signature.name, signature.city, signature.message, signature.email) == (None,) * 4
        assert signature.email_hash == f"erased:{signature.pk}"
        assert (signature.email_domain, signature.prefix_hash) == ("", "")
        assert (signature.confirm_token_hash, signature.withdraw_token_hash) == (None, None)
        assert not signature.show_name and not signature.wants_news
        assert signature.message_status == Signature.MessageStatus.NONE
    assert left["sites"] == [(None, None, None)]
    assert left["invalidations"] == [({},)]


def test_what_remains_counts_the_same(edition, populated):
    before = figures(edition)
    purge_expired(now=moment_after(edition, days=1))
    assert figures(edition) == before


def test_the_private_links_stop_working(edition, populated):
    token = outbox_context("registration.ticket", registration_id=populated.registrations[0].pk)
    manage = token["manage_url"].rstrip("/").split("/")[-1]
    assert registration_selectors.get_registration_by_token(token=manage)
    withdraw = outbox_context("voices.confirm", campaign_id=populated.campaign.pk)
    purge_expired(now=moment_after(edition, days=1))
    with pytest.raises(Registration.DoesNotExist):
        registration_selectors.get_registration_by_token(token=manage)
    with pytest.raises(LinkNotValidError):
        voices.withdraw(token=withdraw["withdraw_token"])


def test_a_second_run_erases_nothing(edition, populated):
    first = purge_expired(now=moment_after(edition, days=1))
    after_first = stored(edition)
    second = purge_expired(now=moment_after(edition, days=2))
    assert first.total > 0
    assert second.editions == [2031]
    assert second.total == 0
    assert stored(edition) == after_first


def test_a_dry_run_counts_and_changes_nothing(edition, populated):
    before = stored(edition)
    outbox_before = list(OutboxEmail.objects.values_list("pk", "status"))
    dry = purge_expired(now=moment_after(edition, days=1), dry_run=True)
    assert dry.dry_run
    assert stored(edition) == before
    assert list(OutboxEmail.objects.values_list("pk", "status")) == outbox_before
    real = purge_expired(now=moment_after(edition, days=1))
    assert dry.erased == real.erased


def test_another_editions_people_are_left_alone(edition, populated):
    later = EditionFactory(year=2035)
    populate(later, tag="new")
    queued = queue_email(
        kind="voices.confirm",
        to="someone@example.org",
        language="en",
        context={"campaign_id": -1, "confirm_token": "x", "withdraw_token": "y"},
    )
    before = stored(later)
    report = purge_expired(now=moment_after(edition, days=1))
    assert report.editions == [2031]
    assert stored(later) == before
    assert OutboxEmail.objects.get(pk=queued.pk).recipient == "someone@example.org"
    assert OutboxEmail.objects.filter(recipient__isnull=False).count() > 1


def test_sent_emails_and_emails_being_sent_are_not_touched(edition, populated, smtp_sink):
    assert send_pending(limit=1000).sent > 0
    sent = list(OutboxEmail.objects.filter(status=OutboxEmail.Status.SENT).values_list("pk"))
    report = purge_expired(now=moment_after(edition, days=1))
    assert report.erased["queued_emails"] == 0
    assert list(OutboxEmail.objects.filter(status=OutboxEmail.Status.SENT).values_list("pk")) == (
        sent
    )


def test_a_campaign_open_after_the_edition_waits_for_its_own_deadline(edition, populated):
    campaign = populated.campaign
    late_close = moment_after(edition, days=10)
    campaign.closes_at = late_close
    campaign.save(update_fields=["closes_at"])
    early = purge_expired(now=moment_after(edition, days=1))
    assert early.erased["signatures"] == 0
    assert early.campaigns_waiting == 1
    assert early.erased["registrations"] == 6
    assert Signature.objects.filter(campaign=campaign, name__isnull=False).exists()
    later = purge_expired(now=late_close + dt.timedelta(days=edition.retention_days))
    assert later.erased["signatures"] == 5
    assert later.campaigns_waiting == 0


def test_a_longer_retention_moves_the_deadline(edition, populated):
    edition.retention_days = 365
    edition.save(update_fields=["retention_days"])
    assert purge_expired(now=dt.datetime(2031, 8, 15, tzinfo=dt.UTC)).total == 0
    assert purge_expired(now=moment_after(edition, seconds=0)).erased["registrations"] == 6


def test_batches_leave_no_record_behind(edition, populated, monkeypatch):
    monkeypatch.setattr(retention, "BATCH", 2)
    report = purge_expired(now=moment_after(edition, days=1))
    assert report.erased["registrations"] == 6
    assert report.erased["signatures"] == 5
    assert personal_data(edition)["registrations"] == [ERASED_REGISTRATION] * 6


def test_an_email_that_cannot_be_decrypted_does_not_stop_the_purge(edition, populated):
    broken = OutboxEmail.objects.filter(status=OutboxEmail.Status.PENDING).first()
    assert broken is not None
    with stored_form():
        OutboxEmail.objects.filter(pk=broken.pk).update(context="pii1:gone:AAAA")
    report = purge_expired(now=moment_after(edition, days=1))
    assert report.erased["registrations"] == 6
    with stored_form():
        assert OutboxEmail.objects.get(pk=broken.pk).context == "pii1:gone:AAAA"


def test_the_command_prints_what_it_erased_and_the_dry_run_what_it_would(edition):
    # Registrations of an edition long past, with the real clock.
    old = EditionFactory(year=2001, start_date=dt.date(2001, 6, 29), end_date=dt.date(2001, 6, 30))
    populate(old, tag="cmd")
    out = io.StringIO()
    call_command("purge", "--dry-run", stdout=out)
    text = out.getvalue()
    assert "Editions past their retention period: 2001." in text
    assert "would be erased" in text
    assert Registration.objects.filter(edition=old, name__isnull=False).count() == 6
    out = io.StringIO()
    call_command("purge", stdout=out)
    assert "Personal data erased:" in out.getvalue()
    assert "       6  registrations" in out.getvalue()
    assert not Registration.objects.filter(edition=old, name__isnull=False).exists()
    out = io.StringIO()
    call_command("purge", stdout=out)
    assert "       0  registrations" in out.getvalue()


def test_the_command_says_when_no_edition_is_past_its_period(edition):
    out = io.StringIO()
    call_command("purge", stdout=out)
    assert out.getvalue().strip() == "No edition is past its retention period: nothing to erase."


def test_the_worker_runs_the_purge_every_hour(edition):
    assert ("purge_expired_personal_data", 3600) in cli.PERIODIC_JOBS
    old = EditionFactory(year=2002, start_date=dt.date(2002, 6, 1), end_date=dt.date(2002, 6, 2))
    populate(old, tag="job")
    call_command("purge_expired_personal_data", verbosity=0, stdout=io.StringIO())
    assert not Registration.objects.filter(edition=old, email__isnull=False).exists()


def test_the_purge_logs_counts_and_no_personal_data(edition, populated, caplog):
    caplog.set_level("DEBUG")
    purge_expired(now=moment_after(edition, days=1))
    logged = caplog.text
    assert "privacy purge edition=2031 registrations=6 signatures=5" in logged
    assert [name for name in names("old") if name.lower() in logged.lower()] == []
