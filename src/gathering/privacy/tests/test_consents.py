"""Consent at every collection point: each form shows the purpose, the real retention period,
the version of its texts and a link to the privacy notice; the version is recorded beside the
consent; the texts and their versions cannot drift apart; a page that showed an older version
is not taken as consent to the new one."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from typing import Any

import pytest
from django.test import Client
from django.utils import translation
from django.utils.timezone import now

from gathering.privacy.consent_versions import text_hash
from gathering.privacy.consents import PURPOSES, get_purpose
from gathering.program.tests.factories import EditionFactory
from gathering.registration import consent as registration_consent
from gathering.registration import services as registration_services
from gathering.registration import tokens
from gathering.registration.models import Category, Registration
from gathering.registration.tests.factories import CategoryFactory, register_person
from gathering.satellites import consent as satellites_consent
from gathering.satellites import services as satellites_services
from gathering.satellites.models import Site
from gathering.voices import consent as voices_consent
from gathering.voices import services as voices_services
from gathering.voices.models import Signature
from gathering.voices.tests.factories import CampaignFactory, sign_request

pytestmark = pytest.mark.django_db

PRIVACY_LINK = 'href="/en/privacy/" target="_blank" rel="noopener"'
_years = itertools.count(2040)


# --- the texts and their versions ------------------------------------------------------------


@pytest.mark.engine_agnostic
@pytest.mark.parametrize("purpose", PURPOSES, ids=lambda p: p.key)
def test_each_text_matches_the_fingerprint_of_its_current_version(purpose: Any) -> None:
    actual = text_hash(purpose.sample("en"))
    assert actual == purpose.history[-1].sha256, (
        f"The {purpose.key} consent texts changed: add a new version to HISTORY in its "
        f"consent.py (the texts' SHA-256 is now {actual}), or undo the change."
    )


@pytest.mark.engine_agnostic
def test_versions_are_unique_dated_and_the_last_one_is_in_use() -> None:
    seen: set[str] = set()
    for purpose in PURPOSES:
        versions = [entry.version for entry in purpose.history]
        assert not seen & set(versions)
        seen |= set(versions)
        assert len(set(versions)) == len(versions)
        assert len({entry.sha256 for entry in purpose.history}) == len(versions)
        days = [dt.date.fromisoformat(entry.since) for entry in purpose.history]
        assert days == sorted(days)
        assert all(len(entry.sha256) == 64 for entry in purpose.history)
    assert get_purpose("registration").version == registration_consent.VERSION
    assert get_purpose("voices").version == voices_consent.VERSION
    assert get_purpose("satellites").version == satellites_consent.VERSION


@pytest.mark.engine_agnostic
def test_a_changed_word_changes_the_fingerprint() -> None:
    text = get_purpose("voices").sample("en")
    assert text_hash(dataclasses.replace(text, news=text.news + " ")) != text_hash(text)
    assert text_hash(dataclasses.replace(text, version="other")) == text_hash(text)


@pytest.mark.engine_agnostic
def test_the_fingerprint_is_of_the_english_texts_whatever_language_is_active() -> None:
    for purpose in PURPOSES:
        with translation.override("fa"):
            assert text_hash(purpose.sample("en")) == purpose.history[-1].sha256
            assert purpose.sample("en").version == purpose.version


# --- versions recorded beside each consent ---------------------------------------------------


def test_services_record_the_version_in_use_beside_each_consent() -> None:
    category = CategoryFactory(edition=EditionFactory(year=next(_years)))
    registration = register_person(category).registration
    assert registration.consent_version == registration_consent.VERSION
    assert registration.consented_at is not None
    assert registration.consent_retention  # the text shown, in the person's language

    campaign = CampaignFactory(edition=category.edition)
    signature = voices_services.sign(
        campaign=campaign, request=sign_request(wants_news=True)
    ).signature
    assert signature.consent_version == voices_consent.VERSION
    assert signature.wants_news is True

    site = satellites_services.apply_for_site(
        edition=category.edition,
        name="Hall",
        city="Oslo",
        country="NO",
        is_online=False,
        venue="Folkets hus",
        expected_attendance=40,
        timezone_name="Europe/Oslo",
        contact_name="Ola Contact",
        contact_email="ola@example.org",
        language="en",
        consent_given=True,
        at=dt.datetime.combine(category.edition.start_date, dt.time(9), tzinfo=dt.UTC),
    )
    assert site.consent_version == satellites_consent.VERSION


# --- every collection point shows purpose, retention, version and the notice -----------------


def assert_consent_shown(body: str, *, purpose: str, retention: str) -> None:
    text = get_purpose(purpose).render("en")
    assert text.purpose in body
    assert retention in body, retention
    assert f"Version {get_purpose(purpose).version} of these texts." in body
    assert PRIVACY_LINK in body
    assert f'<input type="hidden" name="consent_version" value="{text.version}">' in body


def edition_with_delegations(retention_days: int = 45) -> tuple[Category, Category]:
    edition = EditionFactory(year=next(_years), retention_days=retention_days)
    attendee = CategoryFactory(edition=edition, slug="attendee")
    delegates = CategoryFactory(
        edition=edition, slug="delegates", kind=Category.Kind.DELEGATION_MEMBER, is_public=False
    )
    return attendee, delegates


def leader_in(delegates: Category) -> Registration:
    return registration_services.register_delegation(
        category=delegates,
        name="Leila Leader",
        email=f"leader-{delegates.pk}@example.org",
        language="en",
        country="SE",
        consent=True,
        city="Stockholm",
        departure_country="SE",
        transport="coach",
        expected_size=10,
    ).registration


def link(registration: Registration) -> str:
    """A fresh private link for ``registration`` (as an email would carry)."""
    token = tokens.new_token()
    Registration.objects.filter(pk=registration.pk).update(
        manage_token_hash=tokens.hash_token(token)
    )
    return token


def test_individual_and_delegation_forms_show_the_consent(client: Client) -> None:
    attendee, delegates = edition_with_delegations(retention_days=45)
    year = attendee.edition.year
    retention = "We keep your registration until 45 days after the gathering ends"
    for url in (f"/en/{year}/register/attendee/", f"/en/{year}/delegations/new/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_consent_shown(response.content.decode(), purpose="registration", retention=retention)

    leader = leader_in(delegates)
    invitation = registration_services.renew_invitation(delegation=leader.led_delegation)
    body = client.get(f"/en/{year}/delegations/join/{invitation}/").content.decode()
    assert_consent_shown(body, purpose="registration", retention=retention)

    # The leader adding a member is told what happens to that person's details.
    manage = client.get(f"/en/registration/{link(leader)}/delegation/").content.decode()
    assert "erased with every registration 45 days after the gathering ends" in manage
    assert PRIVACY_LINK in manage


def test_a_member_added_by_the_leader_consents_on_the_confirmation_page(client: Client) -> None:
    _attendee, delegates = edition_with_delegations(retention_days=60)
    leader = leader_in(delegates)
    member = registration_services.add_member(
        delegation=leader.led_delegation,
        name="Mina Member",
        email="mina@example.org",
        language="en",
        country="SE",
    ).registration
    assert not member.has_consented
    token = link(member)
    body = client.get(f"/en/registration/{token}/confirm/").content.decode()
    assert_consent_shown(
        body,
        purpose="registration",
        retention="We keep your registration until 60 days after the gathering ends",
    )
    response = client.post(
        f"/en/registration/{token}/confirm/",
        {"consent": "on", "consent_version": registration_consent.VERSION},
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.consent_version == registration_consent.VERSION
    assert member.status == Registration.Status.CONFIRMED


def test_confirming_and_accepting_an_offer_recall_the_consent_given(client: Client) -> None:
    attendee, _delegates = edition_with_delegations(retention_days=33)
    Category.objects.filter(pk=attendee.pk).update(capacity=1)
    holder = register_person(attendee).registration
    waiting = register_person(attendee).registration
    assert waiting.status == Registration.Status.WAITLISTED

    token = link(holder)
    body = client.get(f"/en/registration/{token}/confirm/").content.decode()
    assert f"You gave your consent to version {registration_consent.VERSION}" in body
    assert "until 33 days after the gathering ends" in body
    assert PRIVACY_LINK in body
    assert 'name="consent"' not in body  # given already: no second box
    # The private page says which version was agreed to, beside the notice.
    manage = client.get(f"/en/registration/{token}/").content.decode()
    assert f"version {registration_consent.VERSION} of the texts" in manage
    assert 'href="/en/privacy/"' in manage

    registration_services.cancel(registration=holder)
    waiting.refresh_from_db()
    assert waiting.status == Registration.Status.OFFERED
    body = client.get(f"/en/registration/{link(waiting)}/accept/").content.decode()
    assert f"You gave your consent to version {registration_consent.VERSION}" in body
    assert PRIVACY_LINK in body


def test_the_sign_form_shows_the_real_periods_and_the_news_opt_in(client: Client) -> None:
    campaign = CampaignFactory(edition=EditionFactory(year=next(_years), retention_days=45))
    body = client.get(f"/en/{campaign.edition.year}/voices/{campaign.slug}/").content.decode()
    assert_consent_shown(
        body,
        purpose="voices",
        retention=(
            f"If you do not confirm your signature within "
            f"{voices_services.CONFIRMATION_WINDOW.days} days, it is deleted. A fingerprint of "
            f"your network and the domain of your email address are kept for "
            f"{voices_services.ABUSE_WINDOW.days} days against abuse"
        ),
    )
    assert "erased 45 days after the campaign closes or the gathering ends" in body
    assert "Send me news of this campaign (my email address is then kept, encrypted" in body


def test_the_site_application_shows_the_contacts_real_period(client: Client) -> None:
    for days, shown in ((45, 45), (400, satellites_consent.RETENTION_DAYS_AFTER_EDITION)):
        today = now().date()
        edition = EditionFactory(
            year=next(_years),
            retention_days=days,
            start_date=today,
            end_date=today + dt.timedelta(days=1),
        )
        body = client.get(f"/en/{edition.year}/sites/apply/").content.decode()
        assert_consent_shown(
            body,
            purpose="satellites",
            retention=f"We keep your contact details until {shown} days after the gathering ends",
        )


# --- a page that showed another version ------------------------------------------------------

STALE = "registration-1999-1"


def test_a_registration_from_a_page_with_other_texts_is_refused(client: Client) -> None:
    attendee, _delegates = edition_with_delegations()
    url = f"/en/{attendee.edition.year}/register/attendee/"
    data = {
        "name": "Zahra Rahimi",
        "email": "zahra@example.org",
        "language": "en",
        "country": "FR",
        "consent": "on",
    }
    for version in (STALE, "x" * 5000, "\x00", ""):
        response = client.post(url, {**data, "consent_version": version})
        assert response.status_code == 400, version
        assert "The texts below changed while this page was open" in response.content.decode()
    assert not Registration.objects.exists()
    response = client.post(url, {**data, "consent_version": registration_consent.VERSION})
    assert response.status_code == 302
    assert Registration.objects.get().consent_version == registration_consent.VERSION


def test_a_signature_or_application_from_a_stale_page_is_refused(client: Client) -> None:
    today = now().date()
    edition = EditionFactory(
        year=next(_years), start_date=today, end_date=today + dt.timedelta(days=1)
    )
    campaign = CampaignFactory(edition=edition)
    sign = client.post(
        f"/en/{edition.year}/voices/{campaign.slug}/",
        {
            "email": "sara@example.org",
            "country": "FR",
            "language": "en",
            "consent": "on",
            "consent_version": "voices-2026-1",
        },
    )
    assert sign.status_code == 400
    assert "The texts below changed while this page was open" in sign.content.decode()
    assert not Signature.objects.exists()

    apply = client.post(
        f"/en/{edition.year}/sites/apply/",
        {
            "city": "Oslo",
            "country": "NO",
            "venue": "Hall",
            "expected_attendance": "20",
            "timezone": "Europe/Oslo",
            "contact_name": "Ola",
            "contact_email": "ola@example.org",
            "language": "en",
            "consent": "on",
            "consent_version": ["satellites-2026-1", "satellites-0"],
        },
    )
    assert apply.status_code == 400
    assert "The texts below changed while this page was open" in apply.content.decode()
    assert not Site.objects.exists()


def test_confirming_with_consent_from_a_stale_page_is_refused(client: Client) -> None:
    _attendee, delegates = edition_with_delegations()
    leader = leader_in(delegates)
    member = registration_services.add_member(
        delegation=leader.led_delegation,
        name="Mina Member",
        email="mina@example.org",
        language="en",
        country="SE",
    ).registration
    token = link(member)
    response = client.post(
        f"/en/registration/{token}/confirm/", {"consent": "on", "consent_version": STALE}
    )
    assert response.status_code == 400
    member.refresh_from_db()
    assert not member.has_consented
    assert member.status == Registration.Status.PENDING
