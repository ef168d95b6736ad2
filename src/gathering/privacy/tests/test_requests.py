"""Data-subject requests handled by staff: one person's records found by email address in any
spelling, exported whole, erased without changing any count, each request recorded (with a
keyed hash of the address, never the address) and in the audit trail."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.db.models import Count
from django.test import Client
from django.utils import timezone

from gathering.audit.models import AuditEvent
from gathering.core.testing.staff import sign_in_staff
from gathering.outbox.models import OutboxEmail
from gathering.privacy.errors import InvalidEmailError, InvalidReferenceError
from gathering.privacy.models import DataSubjectRequest
from gathering.privacy.selectors import find_person
from gathering.privacy.services import requests as request_services
from gathering.privacy.services.retention import ERASED_HASH_PREFIX
from gathering.privacy.tests.factories import outbox_context, proof_of_work
from gathering.program.models import Edition
from gathering.program.tests.factories import EditionFactory
from gathering.registration import services as registration_services
from gathering.registration.models import Category, Delegation, Registration
from gathering.registration.tests.factories import CategoryFactory
from gathering.satellites import services as satellites_services
from gathering.satellites.models import Site
from gathering.transparency.models import Entry
from gathering.voices import services as voices_services
from gathering.voices.models import Signature
from gathering.voices.tests.factories import CampaignFactory, sign_request

pytestmark = pytest.mark.django_db

URL = "/en/staff/privacy/requests/"
EXPORT = "/en/staff/privacy/requests/export/"
ERASE = "/en/staff/privacy/requests/erase/"
# The person whose data is asked for, and a bystander whose data must stay out of everything.
EMAIL = "Ali.Rezaei+conf@Example.ORG"
NAME = "Ali Rezaei"
OTHER_NAME = "Bystander Bahar"


@dataclass
class Person:
    edition: Edition
    later: Edition
    registration: Registration
    later_registration: Registration
    signature: Signature
    site: Site
    other: Registration


def make_edition(year: int) -> tuple[Edition, Category]:
    today = timezone.localdate()
    edition = EditionFactory(year=year, start_date=today, end_date=today + dt.timedelta(days=1))
    return edition, CategoryFactory(edition=edition, slug=f"attendee-{year}", capacity=5)


@pytest.fixture
def person() -> Person:
    edition, category = make_edition(2041)
    later, later_category = make_edition(2042)
    delegates = CategoryFactory(
        edition=edition, slug="delegates", kind=Category.Kind.DELEGATION_MEMBER, is_public=False
    )
    # A delegation leader in 2041 (registered with the exact spelling), an attendee in 2042.
    leader = registration_services.register_delegation(
        category=delegates,
        name=NAME,
        email=EMAIL,
        language="fa",
        country="DE",
        phone="+49 30 1234567",
        consent=True,
        city="Berlin",
        departure_country="DE",
        transport="coach",
        expected_size=12,
    ).registration
    later_registration = registration_services.register(
        category=later_category,
        name=NAME,
        email="ali.rezaei@example.org",
        language="fa",
        country="DE",
        consent=True,
    ).registration
    other = registration_services.register(
        category=category,
        name=OTHER_NAME,
        email="bahar@example.org",
        language="en",
        country="FR",
        consent=True,
    ).registration
    registration_services.add_member(
        delegation=Delegation.objects.get(leader=leader),
        name="Member Mehdi",
        email="mehdi@example.org",
        language="en",
        country="DE",
    )
    # A confirmed, counted signature, signed with yet another spelling, and a bystander's.
    campaign = CampaignFactory(edition=edition, slug="free")
    signature = voices_services.sign(
        campaign=campaign,
        request=sign_request(
            name=NAME,
            email="ALI.REZAEI+voices@example.org",
            message="Freedom",
            wants_news=True,
            proof_of_work=proof_of_work(),
        ),
    ).signature
    voices_services.confirm(
        token=outbox_context("voices.confirm", campaign_id=campaign.pk)["confirm_token"]
    )
    voices_services.sign(campaign=campaign, request=sign_request(name=OTHER_NAME))
    site = satellites_services.apply_for_site(
        edition=edition,
        name="Berlin hall",
        city="Berlin",
        country="DE",
        is_online=False,
        venue="Haus",
        expected_attendance=50,
        timezone_name="Europe/Berlin",
        contact_name=NAME,
        contact_email="ali.rezaei@example.org",
        language="fa",
        consent_given=True,
    )
    return Person(
        edition=edition,
        later=later,
        registration=leader,
        later_registration=later_registration,
        signature=Signature.objects.get(pk=signature.pk),
        site=site,
        other=other,
    )


def organiser(username: str = "olga") -> User:
    user = User.objects.create_user(username, is_staff=True)
    user.groups.add(Group.objects.get(name="organiser"))
    return user


def staff_client(user: User, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    sign_in_staff(client, user)
    return client


def figures() -> dict[str, Any]:
    """What an erasure must leave as it was: the number of records of each kind, the
    delegations, tickets and the public log."""
    return {
        "registrations": dict(
            Registration.objects.values_list("edition__year").annotate(n=Count("pk"))
        ),
        "signatures": Signature.objects.count(),
        "sites": list(Site.objects.values_list("name", "city", "country", "status")),
        "delegations": list(
            Delegation.objects.values_list("city", "country", "expected_size", "leader_id")
        ),
        "log": list(Entry.objects.order_by("pk").values_list("index", "leaf_hash")),
        "emails": OutboxEmail.objects.count(),
    }


def personal(person: Person) -> list[Any]:
    r = Registration.objects.get(pk=person.registration.pk)
    s = Signature.objects.get(pk=person.signature.pk)
    site = Site.objects.get(pk=person.site.pk)
    return [
        (r.name, r.email, r.email_index, r.phone, r.answers, r.manage_token_hash),
        (s.name, s.city, s.message, s.email, s.email_hash, s.email_domain, s.prefix_hash),
        (site.contact_name, site.contact_email, site.contact_email_index),
    ]


def assert_no_email_stored() -> None:
    for event in AuditEvent.objects.all():
        for field in AuditEvent._meta.concrete_fields:
            value = str(getattr(event, field.attname) or "").lower()
            assert "rezaei" not in value and "example.org" not in value, (field.name, value)
    for entry in DataSubjectRequest.objects.all():
        assert (
            "rezaei"
            not in json.dumps(
                [entry.reference, entry.email_hash, entry.found, entry.erased]
            ).lower()
        )


# --- services --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    [EMAIL, "ali.rezaei+conf@example.org", "ALI.REZAEI@EXAMPLE.ORG", " ali.rezaei+x@example.org "],
)
def test_the_person_is_found_in_another_spelling(person: Person, spelling: str) -> None:
    records = find_person(email=spelling)
    assert {r.pk for r in records.signatures} == {person.signature.pk}
    assert {s.pk for s in records.site_applications} == {person.site.pk}
    assert person.later_registration.pk in {r.pk for r in records.registrations}
    assert person.other.pk not in {r.pk for r in records.registrations}
    if spelling.strip().lower() == EMAIL.lower():
        # Registered with the "+conf" tag: found when typed with it, in any case.
        assert person.registration.pk in {r.pk for r in records.registrations}
        assert [d.leader_id for d in records.delegations_led] == [person.registration.pk]


def test_a_look_up_can_be_limited_to_one_edition(person: Person) -> None:
    records = find_person(email=EMAIL, edition=person.later)
    assert [r.pk for r in records.registrations] == [person.later_registration.pk]
    assert records.signatures == [] and records.site_applications == []


def test_an_unknown_address_finds_nothing(person: Person) -> None:
    records = find_person(email="nobody@example.net")
    assert records.total == 0


@pytest.mark.parametrize(
    "email", ["", "not an address", "a@b", "x" * 300 + "@example.org", "a\x00@example.org"]
)
def test_a_malformed_address_is_refused(email: str) -> None:
    with pytest.raises(InvalidEmailError):
        find_person(email=email)


@pytest.mark.parametrize(
    "reference", ["", "   ", "letter from ali@example.org", "x" * 121, "a\x01b"]
)
def test_a_request_needs_a_reference_without_an_address(person: Person, reference: str) -> None:
    with pytest.raises(InvalidReferenceError):
        request_services.look_up(email=EMAIL, edition=None, reference=reference, by=None)
    assert not DataSubjectRequest.objects.exists()


def test_the_export_holds_the_persons_data_and_nobody_elses(person: Person) -> None:
    staff = organiser()
    entry, data = request_services.export_person(
        email=EMAIL, edition=None, reference="Letter 12", by=staff
    )
    text = json.dumps(data, ensure_ascii=False)
    assert data["format"] == "gathering.person-export"
    assert {r["edition"] for r in data["registrations"]} == {2041, 2042}
    leader = next(r for r in data["registrations"] if r["edition"] == 2041)
    assert leader["name"] == NAME and leader["phone"] == "+49 30 1234567"
    assert leader["leads_delegation"]["city"] == "Berlin"
    assert leader["consent"]["version"]
    [signature] = data["signatures"]
    assert signature["message"] == "Freedom" and signature["wants_news"] is True
    assert signature["email"] == "ALI.REZAEI+voices@example.org"  # kept: they asked for news
    assert signature["consent_version"] == person.signature.consent_version
    [site] = data["site_applications"]
    assert site["contact_name"] == NAME
    assert OTHER_NAME not in text and "bahar@" not in text and "Member Mehdi" not in text
    assert data["request"] == {"id": entry.pk, "reference": "Letter 12"}
    assert entry.kind == DataSubjectRequest.Kind.ACCESS
    assert entry.found["registrations"] == 2 and entry.found["signatures"] == 1
    assert entry.handled_by == staff and entry.handled_by_username == "olga"
    assert entry.email_hash == request_services.request_email_hash("ali.rezaei@example.org")
    event = AuditEvent.objects.get(action="privacy.access")
    assert event.object_id == str(entry.pk) and event.actor == staff
    assert_no_email_stored()


def test_erasing_erases_the_data_and_keeps_every_count(person: Person) -> None:
    before = figures()
    counted_before = Signature.objects.filter(leaf__isnull=False).count()
    assert counted_before == 1
    queued = OutboxEmail.objects.filter(status=OutboxEmail.Status.PENDING).count()
    assert queued  # confirmation and ticket emails not sent yet
    entry, records = request_services.erase_person(
        email=EMAIL, edition=None, reference="Email of 3 May", by=organiser()
    )
    assert records.total and entry.kind == DataSubjectRequest.Kind.ERASURE
    after = figures()
    # Emails: erased in place, none deleted; offers may have been queued for the waiting list.
    assert {k: v for k, v in after.items() if k != "emails"} == {
        k: v for k, v in before.items() if k != "emails"
    }
    assert after["emails"] >= before["emails"]
    for registration in Registration.objects.filter(
        pk__in=[person.registration.pk, person.later_registration.pk]
    ):
        assert registration.name is None and registration.email is None
        assert registration.email_index is None and registration.phone is None
        assert registration.erased_at is not None
        assert registration.consent_version  # the record of consent stays, anonymous
    signature = Signature.objects.get(pk=person.signature.pk)
    assert signature.status == Signature.Status.WITHDRAWN
    assert signature.email_hash == f"{ERASED_HASH_PREFIX}{signature.pk}"
    assert (signature.name, signature.message, signature.email, signature.prefix_hash) == (
        None,
        None,
        None,
        "",
    )
    assert signature.leaf_id is not None  # the public log is append-only
    assert Signature.objects.filter(leaf__isnull=False).count() == counted_before
    site = Site.objects.get(pk=person.site.pk)
    assert (site.contact_name, site.contact_email, site.contact_email_index) == (None, None, None)
    # The bystander is untouched.
    other = Registration.objects.get(pk=person.other.pk)
    assert other.name == OTHER_NAME and other.erased_at is None
    # Nothing queued to the person is left to send.
    for row in OutboxEmail.objects.filter(status=OutboxEmail.Status.PENDING):
        assert "rezaei" not in (row.recipient or "").lower()
    assert entry.erased["registrations"] == 2
    assert entry.erased["signatures"] == 1 and entry.erased["site_applications"] == 1
    assert entry.erased["queued_emails"] >= 2
    assert AuditEvent.objects.filter(action="privacy.erasure", object_id=str(entry.pk)).exists()
    assert find_person(email=EMAIL).total == 0
    assert_no_email_stored()


def test_erasing_twice_changes_nothing_more(person: Person) -> None:
    staff = organiser()
    request_services.erase_person(email=EMAIL, edition=None, reference="R1", by=staff)
    before, data = figures(), personal(person)
    entry, records = request_services.erase_person(
        email="ali.rezaei+conf@example.org", edition=None, reference="R1 again", by=staff
    )
    assert records.total == 0
    assert not any(entry.erased.values())
    assert figures() == before and personal(person) == data
    assert DataSubjectRequest.objects.filter(kind="erasure").count() == 2


def test_the_signers_own_withdrawal_link_erases_what_pointed_at_them(person: Person) -> None:
    campaign = person.signature.campaign
    [context] = [
        row.context
        for row in OutboxEmail.objects.filter(kind="voices.confirm")
        if "rezaei" in (row.recipient or "").lower()
    ]
    # Before: the signer's private link downloads their signature as stored.
    response = Client().get(f"/en/voice/{context['withdraw_token']}/data.json")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    before = json.loads(response.content)
    assert (before["name"], before["message"], before["status"]) == (NAME, "Freedom", "confirmed")
    assert before["consent_version"] == person.signature.consent_version
    assert Client().get("/en/voice/not-a-valid-token/data.json").status_code == 404
    signature = voices_services.withdraw(token=context["withdraw_token"])
    assert signature.pk == person.signature.pk
    # The same link downloads what is left: the status, no name or address.
    data = json.loads(Client().get(f"/en/voice/{context['withdraw_token']}/data.json").content)
    assert data["status"] == "withdrawn" and data["name"] is None and data["email"] is None
    signature.refresh_from_db()
    assert signature.status == Signature.Status.WITHDRAWN
    assert (signature.name, signature.city, signature.message, signature.email) == (None,) * 4
    assert signature.email_hash == f"{ERASED_HASH_PREFIX}{signature.pk}"
    assert (signature.email_domain, signature.prefix_hash, signature.abuse_until) == ("", "", None)
    assert find_person(email=EMAIL).signatures == []
    # The link still shows the signature as withdrawn; signing again is possible.
    assert voices_services.withdraw(token=context["withdraw_token"]).status == "withdrawn"
    again = voices_services.sign(
        campaign=campaign, request=sign_request(email="ali.rezaei@example.org")
    )
    assert again.created


def test_erasing_one_edition_leaves_the_others(person: Person) -> None:
    request_services.erase_person(email=EMAIL, edition=person.later, reference="R2", by=None)
    assert Registration.objects.get(pk=person.later_registration.pk).name is None
    assert Registration.objects.get(pk=person.registration.pk).name == NAME
    assert Signature.objects.get(pk=person.signature.pk).name == NAME
    assert Site.objects.get(pk=person.site.pk).contact_name == NAME


# --- the staff page --------------------------------------------------------------------------


def post_data(**overrides: str) -> dict[str, str]:
    data = {"email": EMAIL, "edition": "", "reference": "Letter of 3 May"}
    data.update(overrides)
    return data


def test_anonymous_visitors_are_sent_to_sign_in() -> None:
    for url in (URL, EXPORT, ERASE):
        assert Client().get(url)["Location"].startswith("/staff/login/")
        response = Client().post(url, post_data(sure="on"))
        assert response.status_code == 302 and "/staff/login/" in response["Location"]
    assert not DataSubjectRequest.objects.exists()


@pytest.mark.parametrize(
    "role", ["gate", "moderator", "program_editor", "registration_desk", "site_coordinator", None]
)
def test_other_staff_are_refused(person: Person, role: str | None) -> None:
    user = User.objects.create_user(f"user-{role}", is_staff=True)
    if role:
        user.groups.add(Group.objects.get(name=role))
    client = staff_client(user)
    assert client.get(URL).status_code == 403
    for url in (URL, EXPORT, ERASE):
        response = client.post(url, post_data(sure="on"))
        assert response.status_code == 403
        assert NAME not in response.content.decode()
    assert not DataSubjectRequest.objects.exists()
    assert Registration.objects.get(pk=person.registration.pk).name == NAME


def test_the_organiser_finds_counts_not_people(person: Person) -> None:
    client = staff_client(organiser())
    page = client.get(URL)
    assert page.status_code == 200 and page["Cache-Control"].startswith(("no-store", "max-age=0"))
    response = client.post(URL, post_data(email="ali.rezaei+conf@EXAMPLE.org"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Registrations: <strong>2</strong>" in body
    assert "Signatures: <strong>1</strong>" in body
    assert "Site applications: <strong>1</strong>" in body
    assert "Delegations led: <strong>1</strong>" in body
    assert OTHER_NAME not in body and NAME not in body and "Member Mehdi" not in body
    assert 'action="/en/staff/privacy/requests/export/"' in body
    assert 'action="/en/staff/privacy/requests/erase/"' in body
    entry = DataSubjectRequest.objects.get()
    assert entry.kind == "lookup" and entry.reference == "Letter of 3 May"
    assert AuditEvent.objects.filter(action="privacy.lookup", object_id=str(entry.pk)).exists()
    # A second look-up says one request came before, and the list shows the first.
    body = client.post(URL, post_data()).content.decode()
    assert "1 earlier request was recorded for this address." in body
    assert "Letter of 3 May" in body
    assert_no_email_stored()


def test_the_organiser_downloads_the_export(person: Person) -> None:
    client = staff_client(organiser())
    response = client.post(EXPORT, post_data(edition="2042"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"].startswith('attachment; filename="personal-data-')
    data = json.loads(response.content)
    assert [r["edition"] for r in data["registrations"]] == [2042]
    assert data["registrations"][0]["name"] == NAME
    assert data["edition"] == 2042
    assert DataSubjectRequest.objects.get().kind == "access"
    assert client.get(EXPORT).status_code == 302  # the address never travels in a URL


def test_the_organiser_erases_after_confirming(person: Person) -> None:
    client = staff_client(organiser())
    refused = client.post(ERASE, post_data())
    assert refused.status_code == 400
    assert "Tick the box to confirm." in refused.content.decode()
    assert Registration.objects.get(pk=person.registration.pk).name == NAME
    assert not DataSubjectRequest.objects.exists()

    before = figures()
    response = client.post(ERASE, post_data(sure="on"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Registrations: <strong>2</strong>" in body
    assert Registration.objects.get(pk=person.registration.pk).name is None
    assert figures()["registrations"] == before["registrations"]
    again = client.post(ERASE, post_data(sure="on")).content.decode()
    assert "Nothing was left to erase for this address" in again
    assert DataSubjectRequest.objects.filter(kind="erasure").count() == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"email": ""}, "Enter the person&#x27;s email address."),
        ({"email": "not an address"}, "Enter a valid email address."),
        ({"email": "x" * 300 + "@example.org"}, "This email address is too long."),
        ({"email": "<script>alert(1)</script>@example.org"}, "Enter a valid email address."),
        ({"email": "ali\x00@example.org"}, "Null characters are not allowed."),
        ({"reference": ""}, "Enter the reference of the request."),
        ({"reference": "from ali@example.org"}, "not an email address"),
        ({"reference": "r" * 500}, "The reference is too long"),
        ({"edition": "9999"}, "Choose an edition from the list."),
        ({"edition": "<script>"}, "Choose an edition from the list."),
    ],
)
def test_hostile_input_gets_a_clear_error_and_records_nothing(
    person: Person, overrides: dict[str, str], message: str
) -> None:
    client = staff_client(organiser())
    for url in (URL, EXPORT, ERASE):
        response = client.post(url, post_data(sure="on", **overrides))
        assert response.status_code == 400, url
        body = response.content.decode()
        assert message in body, (url, message)
        assert "<script>alert(1)" not in body
    assert not DataSubjectRequest.objects.exists()
    assert Registration.objects.get(pk=person.registration.pk).name == NAME


def test_posts_without_the_csrf_token_are_refused(person: Person) -> None:
    client = staff_client(organiser(), enforce_csrf_checks=True)
    for url in (URL, EXPORT, ERASE):
        assert client.post(url, post_data(sure="on")).status_code == 403
    assert not DataSubjectRequest.objects.exists()
    assert Registration.objects.get(pk=person.registration.pk).name == NAME


def test_the_page_works_in_persian(person: Person) -> None:
    client = staff_client(organiser())
    response = client.post("/fa/staff/privacy/requests/", post_data())
    assert response.status_code == 200
    assert '<html lang="fa" dir="rtl">' in response.content.decode()
