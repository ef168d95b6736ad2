"""Applying, deciding, channels, tickets and retention (satellites/services.py), with the
approval email sent over SMTP to the sink and its password link followed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.utils.timezone import now

from gathering.accounts.models import TotpDevice
from gathering.checkin.models import Gate
from gathering.core.testing.outbox import deliver_outbox
from gathering.core.testing.staff import second_factor_step, totp_code
from gathering.program.models import Edition
from gathering.program.tests.factories import EditionFactory
from gathering.satellites import consent, services
from gathering.satellites.errors import (
    ChannelError,
    ConsentRequiredError,
    InvalidSiteDataError,
    SiteDecisionError,
    SiteError,
    SiteNotApprovedError,
)
from gathering.satellites.models import Site, StreamChannel
from gathering.satellites.tests.factories import (
    SECRET_CONTACT,
    SiteFactory,
    StreamChannelFactory,
    make_staff,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def edition() -> Edition:
    return EditionFactory(year=2041)


def application(edition: Edition, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "edition": edition,
        "name": "",
        "city": "Berlin",
        "country": "DE",
        "is_online": False,
        "venue": "Community hall, Example Street 1",
        "expected_attendance": 300,
        "timezone_name": "Europe/Berlin",
        "contact_name": SECRET_CONTACT,
        "contact_email": "coordinator@example.org",
        "language": "en",
        "consent_given": True,
    }
    data.update(overrides)
    return data


# --- applying --------------------------------------------------------------------------------


def test_an_application_is_stored_pending_with_the_contact_encrypted(edition) -> None:
    site = services.apply_for_site(**application(edition))

    site.refresh_from_db()
    assert site.status == Site.Status.PENDING
    assert (site.slug, site.name, site.city, site.country) == ("berlin", "Berlin", "Berlin", "DE")
    assert site.contact_email == "coordinator@example.org"
    assert site.consent_version == consent.VERSION
    assert site.coordinator is None
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT contact_name, contact_email FROM {Site._meta.db_table} WHERE id = %s",  # noqa: S608
            [site.pk],
        )
        raw = " ".join(cursor.fetchone())
    assert "coordinator@example.org" not in raw
    assert "Parvaneh" not in raw


def test_a_second_application_with_the_same_email_and_city_returns_the_first(edition) -> None:
    first = services.apply_for_site(**application(edition))

    again = services.apply_for_site(
        **application(
            edition,
            city="  BERLIN ",
            contact_email=" Coordinator@Example.ORG ",
            expected_attendance=5000,
            venue="Another hall",
        )
    )

    assert again.pk == first.pk
    assert Site.objects.count() == 1
    again.refresh_from_db()
    assert again.expected_attendance == 300  # the first application, unchanged


def test_another_city_or_another_contact_is_another_site(edition) -> None:
    first = services.apply_for_site(**application(edition))
    other_city = services.apply_for_site(**application(edition, city="Hamburg"))
    other_contact = services.apply_for_site(**application(edition, contact_email="b@example.org"))
    next_year = services.apply_for_site(**application(EditionFactory(year=2042)))

    assert len({first.pk, other_city.pk, other_contact.pk, next_year.pk}) == 4
    assert (other_city.slug, other_contact.slug, next_year.slug) == (
        "hamburg",
        "berlin-2",
        "berlin",
    )


def test_the_database_refuses_a_duplicate_application_that_slips_past_the_check(edition) -> None:
    first = services.apply_for_site(**application(edition))
    with pytest.raises(IntegrityError), transaction.atomic():
        SiteFactory(
            edition=edition,
            city="berlin",
            contact_email="x@example.org",
            contact_email_index=first.contact_email_index,
        )


def test_a_city_without_latin_letters_gets_a_usable_slug_and_apply_is_not_a_slug(edition) -> None:
    tehran = services.apply_for_site(**application(edition, city="تهران", country="IR"))
    apply = services.apply_for_site(**application(edition, city="Apply"))

    assert tehran.slug == "site"
    assert tehran.name == "تهران"
    assert apply.slug == "apply-site"


def test_an_online_site_needs_no_venue(edition) -> None:
    site = services.apply_for_site(**application(edition, is_online=True, venue="ignored"))

    assert site.is_online
    assert site.venue == ""


def test_applying_without_consent_is_refused(edition) -> None:
    with pytest.raises(ConsentRequiredError):
        services.apply_for_site(**application(edition, consent_given=False))
    assert not Site.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"city": ""}, "city"),
        ({"city": "Ber\u202elin"}, "city"),
        ({"city": "<script>alert(1)</script>"}, "city"),
        ({"city": "x" * 101}, "city"),
        ({"name": "Hall\u200b"}, "name"),
        ({"country": "XX"}, "country"),
        ({"country": "<b>"}, "country"),
        ({"venue": ""}, "venue"),
        ({"expected_attendance": 0}, "expected_attendance"),
        ({"expected_attendance": -5}, "expected_attendance"),
        ({"expected_attendance": 1_000_001}, "expected_attendance"),
        ({"expected_attendance": "300"}, "expected_attendance"),
        ({"expected_attendance": True}, "expected_attendance"),
        ({"timezone_name": "Mars/Olympus"}, "timezone"),
        ({"timezone_name": "../../etc/passwd"}, "timezone"),
        ({"contact_email": "not-an-address"}, "contact_email"),
        ({"contact_email": "a@example.org\r\nBcc: b@example.org"}, "contact_email"),
        ({"contact_name": "\x00"}, "contact_name"),
        ({"language": "de"}, "language"),
    ],
)
def test_bad_application_data_is_refused_field_by_field(edition, overrides, field) -> None:
    with pytest.raises(InvalidSiteDataError) as raised:
        services.apply_for_site(**application(edition, **overrides))

    assert field in raised.value.errors
    assert all(raised.value.errors[field])
    assert not Site.objects.exists()


def test_a_finished_edition_takes_no_more_applications() -> None:
    past = EditionFactory(
        year=2001,
        start_date=dt.date(2001, 6, 1),
        end_date=dt.date(2001, 6, 2),
        status=Edition.Status.PAST,
    )
    with pytest.raises(SiteError) as raised:
        services.apply_for_site(**application(past))
    assert "over" in str(raised.value.message)


# --- deciding --------------------------------------------------------------------------------


def test_approval_creates_a_coordinator_and_emails_a_link_to_choose_a_password(
    edition, smtp_sink, django_user_model, settings
) -> None:
    organiser = make_staff(django_user_model, "organiser")
    site = services.apply_for_site(**application(edition, language="fr"))

    services.approve_site(site=site, by=organiser)

    site.refresh_from_db()
    coordinator = site.coordinator
    assert site.status == Site.Status.APPROVED
    assert site.decided_by == organiser and site.decided_at is not None
    assert coordinator is not None
    assert coordinator.username == "site-berlin"
    assert coordinator.is_staff and not coordinator.is_superuser
    assert not coordinator.has_usable_password()
    assert not coordinator.email  # the address stays encrypted with the site
    assert list(coordinator.groups.values_list("name", flat=True)) == ["site_coordinator"]
    assert coordinator.has_perm("satellites.coordinate_site")
    assert not coordinator.has_perm("satellites.view_site")

    assert deliver_outbox().sent == 1
    email = smtp_sink.last_to("coordinator@example.org")
    assert email.language == "fr"
    assert "site-berlin" in email.text
    assert SECRET_CONTACT not in email.text
    link = email.link("/staff/sites/welcome/")
    assert link.startswith("https://gathering.test/fr/")
    sign_in = email.link("/staff/login/")
    assert "next=%2Ffr%2Fstaff%2Fsites%2F" in sign_in

    # The link lets the coordinator choose a password, once.
    client = Client()
    path = link.removeprefix("https://gathering.test")
    form_page = client.get(path, follow=True)
    assert form_page.status_code == 200
    assert "site-berlin" in form_page.content.decode()
    set_password_path = form_page.redirect_chain[-1][0]
    password = "a-new-coordinator-password-2041"
    done = client.post(set_password_path, {"new_password1": password, "new_password2": password})
    assert done.status_code == 302
    coordinator.refresh_from_db()
    assert coordinator.check_password(password)
    # The page is in French: "Ce lien n\u2019est pas valide".
    assert "n\u2019est pas valide" in Client().get(path, follow=True).content.decode()

    # ... and then sign in on the staff page: the password, the set-up of an authenticator app
    # (staff sign-in takes two factors), landing on their site.
    browser = Client()
    signed_in = browser.post(
        "/staff/login/?next=/en/staff/sites/",
        {"username": "site-berlin", "password": password, "next": "/en/staff/sites/"},
    )
    assert signed_in.status_code == 302
    assert signed_in["Location"] == second_factor_step("/en/staff/sites/")
    set_up = browser.get(signed_in["Location"])
    assert set_up["Location"].startswith("/staff/login/set-up/")
    assert browser.get(set_up["Location"]).status_code == 200
    secret = TotpDevice.objects.get(user=coordinator).secret
    codes = browser.post(
        set_up["Location"], {"code": totp_code(secret), "next": "/en/staff/sites/"}
    )
    assert codes.status_code == 200
    assert 'href="/en/staff/sites/"' in codes.content.decode()
    assert browser.get("/en/staff/sites/").status_code == 200


def test_a_contact_approved_again_keeps_their_account_and_is_told_to_sign_in(
    edition, smtp_sink, django_user_model
) -> None:
    first = services.apply_for_site(**application(edition))
    services.approve_site(site=first, by=None)
    first.refresh_from_db()
    first.coordinator.set_password("chosen-password-2041")
    first.coordinator.save()
    deliver_outbox()
    smtp_sink.clear()

    second = services.apply_for_site(**application(edition, city="Potsdam"))
    services.approve_site(site=second, by=None)

    second.refresh_from_db()
    assert second.coordinator_id == first.coordinator_id
    assert User.objects.filter(username__startswith="site-").count() == 1
    deliver_outbox()
    email = smtp_sink.last_to("coordinator@example.org")
    assert "/staff/sites/welcome/" not in email.text
    assert "/staff/login/" in email.text


def test_a_taken_username_gets_the_year(edition, django_user_model) -> None:
    django_user_model.objects.create_user("site-berlin")
    site = services.apply_for_site(**application(edition))

    services.approve_site(site=site, by=None)

    site.refresh_from_db()
    assert site.coordinator.username == "site-berlin-2041"


def test_a_site_is_decided_once(edition, smtp_sink) -> None:
    approved = services.apply_for_site(**application(edition))
    rejected = services.apply_for_site(**application(edition, city="Bonn"))
    services.approve_site(site=approved, by=None)
    services.reject_site(site=rejected, by=None)

    for site in (approved, rejected):
        for decide in (services.approve_site, services.reject_site):
            with pytest.raises(SiteDecisionError):
                decide(site=site, by=None)
    rejected.refresh_from_db()
    assert rejected.status == Site.Status.REJECTED
    assert rejected.coordinator is None
    deliver_outbox()
    received = smtp_sink.to("coordinator@example.org")
    assert len(received) == 2
    assert sum("could not accept" in message.text for message in received) == 1


def test_changes_to_live_figures_wake_the_live_publisher_after_commit(
    edition, django_capture_on_commit_callbacks
) -> None:
    from gathering.live import notify

    nudged: list[int] = []
    stop = notify.listen(nudged.append)
    try:
        site = services.apply_for_site(**application(edition))
        other = services.apply_for_site(**application(edition, city="Köln"))
        assert nudged == []

        with django_capture_on_commit_callbacks(execute=True):
            services.approve_site(site=site, by=None)
            assert nudged == []  # nothing before the commit
        assert set(nudged) == {2041}

        nudged.clear()
        with django_capture_on_commit_callbacks(execute=True):
            services.reject_site(site=other, by=None)
        assert nudged == []  # a pending site was never counted
    finally:
        stop()


# --- channels and tickets --------------------------------------------------------------------


def test_a_site_chooses_a_channel_of_its_own_edition_only(edition) -> None:
    site = SiteFactory(edition=edition)
    french = StreamChannelFactory(edition=edition, language="fr")
    foreign = StreamChannelFactory(edition=EditionFactory(year=2043), language="fr")

    services.choose_channel(site=site, channel=french, by=None)
    site.refresh_from_db()
    assert site.channel == french

    with pytest.raises(ChannelError):
        services.choose_channel(site=site, channel=foreign, by=None)
    site.refresh_from_db()
    assert site.channel == french

    services.choose_channel(site=site, channel=None, by=None)
    site.refresh_from_db()
    assert site.channel is None


def test_checking_tickets_gives_the_site_one_gate(edition) -> None:
    site = SiteFactory(edition=edition, slug="berlin")
    Gate.objects.create(edition=edition, slug="site-berlin", name={"en": "Taken"})

    services.set_uses_tickets(site=site, uses_tickets=True, by=None)
    services.set_uses_tickets(site=site, uses_tickets=False, by=None)
    services.set_uses_tickets(site=site, uses_tickets=True, by=None)

    site.refresh_from_db()
    assert site.uses_tickets
    gates = list(Gate.objects.filter(site=site))
    assert len(gates) == 1
    assert gates[0].edition == edition
    assert gates[0].slug == "site-berlin-2"


def test_a_pending_site_cannot_check_tickets(edition) -> None:
    site = SiteFactory(edition=edition, status=Site.Status.PENDING)
    with pytest.raises(SiteNotApprovedError):
        services.set_uses_tickets(site=site, uses_tickets=True, by=None)
    assert not Gate.objects.exists()


def test_one_main_channel_and_one_channel_per_language_per_edition(edition) -> None:
    StreamChannelFactory(edition=edition, language="", is_main=True)
    StreamChannelFactory(edition=edition, language="fa")
    with pytest.raises(IntegrityError), transaction.atomic():
        StreamChannelFactory(edition=edition, language="en", is_main=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        StreamChannelFactory(edition=edition, language="fa")
    with pytest.raises(IntegrityError), transaction.atomic():
        StreamChannelFactory(edition=edition, language="", is_main=False)


@pytest.mark.parametrize(
    ("language", "url"),
    [("xx", "https://example.org/"), ("fa", "javascript:alert(1)"), ("fa", "ftp://example.org/")],
)
def test_a_channel_needs_a_known_language_and_a_web_link(edition, language, url) -> None:
    from django.core.exceptions import ValidationError

    channel = StreamChannel(edition=edition, language=language, label={"en": "X"}, url=url)
    with pytest.raises(ValidationError):
        channel.full_clean()


# --- retention -------------------------------------------------------------------------------


def test_contacts_are_erased_after_the_retention_period() -> None:
    old = EditionFactory(year=2002, start_date=dt.date(2002, 6, 1), end_date=dt.date(2002, 6, 2))
    recent = EditionFactory(year=2044)
    old_site = SiteFactory(edition=old)
    kept = SiteFactory(edition=recent)

    assert services.erase_expired_contacts(at=now()) == 1
    assert services.erase_expired_contacts(at=now()) == 0

    old_site.refresh_from_db()
    kept.refresh_from_db()
    assert (old_site.contact_name, old_site.contact_email, old_site.contact_email_index) == (
        None,
        None,
        None,
    )
    assert old_site.city and old_site.name  # the record of the gathering stays
    assert kept.contact_email is not None


def test_the_worker_s_command_erases_expired_contacts() -> None:
    import io

    from django.core.management import call_command

    from gathering.cli import PERIODIC_JOBS

    old = EditionFactory(year=2003, start_date=dt.date(2003, 6, 1), end_date=dt.date(2003, 6, 2))
    site = SiteFactory(edition=old)
    out = io.StringIO()

    call_command("erase_site_contacts", stdout=out)

    site.refresh_from_db()
    assert site.contact_email is None
    assert "1 site contact(s) erased" in out.getvalue()
    assert "erase_site_contacts" in dict(PERIODIC_JOBS)
