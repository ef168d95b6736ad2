"""Each recording path writes exactly one event, with the right actor, action and address, and
no value of personal data (the canary) anywhere in it."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Group
from django.test import Client, override_settings

from gathering.audit.models import ExportRequest
from gathering.audit.receivers import summarise_change_message
from gathering.audit.tests.conftest import (
    CANARY_EMAIL,
    CANARY_NAME,
    PASSWORD,
    assert_no_canary,
    make_user,
    mark,
    since,
)
from gathering.core.testing.staff import sign_in_staff
from gathering.live.models import Announcement
from gathering.program.tests.factories import EditionFactory
from gathering.registration.models import Category, Registration
from gathering.registration.services.registrations import issue_ticket
from gathering.registration.tests.factories import CategoryFactory, register_person
from gathering.satellites.tests.factories import SiteFactory
from gathering.voices.tests.factories import CampaignFactory
from gathering.voices.tests.signers import stored_signature

pytestmark = pytest.mark.django_db

IP = "203.0.113.7"


def one(start: int, action: str) -> Any:
    events = since(start)
    assert [event.action for event in events] == [action]
    return events[0]


@pytest.fixture
def registration() -> Registration:
    outcome = register_person(CategoryFactory(), name=CANARY_NAME, email=CANARY_EMAIL)
    return outcome.registration


# --- sign-in, failed sign-in, sign-out -----------------------------------------------------


def test_sign_in_failure_and_sign_out(django_user_model: Any) -> None:
    user = make_user(django_user_model, "signer-in")
    client = Client(REMOTE_ADDR=IP, HTTP_USER_AGENT="Agent/" + "x" * 500)
    start = mark()
    response = client.post(
        "/staff/login/", {"username": "signer-in", "password": "wrong-" + PASSWORD}
    )
    assert response.status_code == 200
    failed = one(start, "sign_in_failed")
    assert failed.actor is None and failed.actor_username == "signer-in"
    assert str(failed.ip) == IP
    assert len(failed.user_agent) == 200
    assert PASSWORD not in failed.summary and "wrong" not in str(vars(failed))

    start = mark()
    response = client.post("/staff/login/", {"username": "signer-in", "password": PASSWORD})
    assert response.status_code == 302
    signed_in = one(start, "sign_in")
    assert signed_in.actor == user and signed_in.actor_username == "signer-in"
    assert str(signed_in.ip) == IP

    start = mark()
    client.post("/admin/logout/")
    signed_out = one(start, "sign_out")
    assert signed_out.actor == user


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_the_address_is_the_client_behind_a_trusted_proxy(django_user_model: Any) -> None:
    make_user(django_user_model, "proxied")
    client = Client(REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="198.51.100.9, 10.0.0.5")
    start = mark()
    client.post("/staff/login/", {"username": "proxied", "password": PASSWORD})
    assert str(one(start, "sign_in").ip) == "198.51.100.9"


def test_a_forwarded_header_from_anyone_else_is_ignored(django_user_model: Any) -> None:
    make_user(django_user_model, "direct")
    client = Client(REMOTE_ADDR=IP, HTTP_X_FORWARDED_FOR="198.51.100.9")
    start = mark()
    client.post("/staff/login/", {"username": "direct", "password": PASSWORD})
    assert str(one(start, "sign_in").ip) == IP


# --- the back office ---------------------------------------------------------------------


def test_a_change_in_the_back_office_is_one_event_with_field_names_only(
    organiser_client: Client, organiser: Any, registration: Registration
) -> None:
    url = f"/admin/registration/registration/{registration.pk}/change/"
    start = mark()
    page = organiser_client.get(url)
    assert page.status_code == 200
    viewed = one(start, "registration.view")
    assert viewed.object_type == "registration.registration"
    assert viewed.object_id == str(registration.pk)
    assert viewed.actor == organiser and str(viewed.ip) == "203.0.113.7"
    assert viewed.user_agent == "AuditTest/1.0"
    assert_no_canary()


def test_a_log_entry_becomes_one_event(organiser: Any, registration: Registration) -> None:
    start = mark()
    LogEntry.objects.log_actions(
        user_id=organiser.pk,
        queryset=[registration],
        action_flag=CHANGE,
        change_message=[{"changed": {"fields": ["Coach number"]}}],
        single_object=True,
    )
    event = one(start, "admin.change")
    assert event.actor == organiser and event.actor_username == "olga"
    assert event.object_type == "registration.registration"
    assert event.object_id == str(registration.pk)
    assert event.summary == "changed: Coach number"
    assert event.ip is None  # no request: a management command or a test
    assert_no_canary()


def test_a_change_through_the_admin_form_is_recorded(django_user_model: Any) -> None:
    root = django_user_model.objects.create_superuser("root", password=PASSWORD)
    client = Client(REMOTE_ADDR=IP)
    sign_in_staff(client, root)
    group = Group.objects.create(name="volunteers")
    start = mark()
    response = client.post(f"/admin/auth/group/{group.pk}/change/", {"name": "helpers"})
    assert response.status_code == 302
    events = since(start)
    assert [event.action for event in events] == ["admin.change"]
    event = events[0]
    assert event.actor == root and str(event.ip) == IP
    assert (event.object_type, event.object_id) == ("auth.group", str(group.pk))
    assert event.summary == "changed: Name"  # the field's label, never its value
    assert "helpers" not in event.summary and "volunteers" not in event.summary


def test_inline_rows_keep_the_model_name_but_never_the_row_text() -> None:
    message = (
        '[{"added": {"name": "speaker", "object": "Zebulon Canaryfield"}},'
        ' {"changed": {"name": "speaker", "object": "Zebulon", "fields": ["Role"]}},'
        ' {"changed": {"fields": ["Title", "Slug"]}}]'
    )
    summary = summarise_change_message(message)
    assert summary == "added speaker; changed speaker: Role; changed: Title, Slug"
    assert summarise_change_message("Free text with Zebulon") == ""
    assert summarise_change_message('{"x": 1}') == ""
    assert summarise_change_message("") == ""


def test_the_registration_list_records_filter_names_but_not_the_search(
    organiser_client: Client, registration: Registration
) -> None:
    start = mark()
    response = organiser_client.get(
        "/admin/registration/registration/", {"q": CANARY_EMAIL, "status__exact": "confirmed"}
    )
    assert response.status_code == 200
    event = one(start, "registration.list")
    assert event.summary == "filters=q,status__exact"
    assert_no_canary()


def test_site_and_signature_pages_in_the_back_office_are_reads(organiser_client: Client) -> None:
    site = SiteFactory(contact_name=CANARY_NAME, contact_email=CANARY_EMAIL)
    start = mark()
    assert organiser_client.get(f"/admin/satellites/site/{site.pk}/change/").status_code == 200
    assert one(start, "site.view").object_id == str(site.pk)
    campaign = CampaignFactory()
    signature = stored_signature(campaign, name=CANARY_NAME, email=CANARY_EMAIL, show_name=True)
    start = mark()
    assert organiser_client.get("/admin/voices/signature/").status_code == 200
    assert one(start, "signature.list").object_type == "voices.signature"
    start = mark()
    assert (
        organiser_client.get(f"/admin/voices/signature/{signature.pk}/change/").status_code == 200
    )
    assert one(start, "signature.view").object_id == str(signature.pk)
    assert_no_canary()


def test_a_badge_print_is_recorded(organiser_client: Client, registration: Registration) -> None:
    start = mark()
    organiser_client.post(
        "/admin/registration/registration/",
        {"action": "print_badges_a6", "_selected_action": [str(registration.pk)]},
    )
    # An attendee gets no badge: the action itself is recorded, no PDF is made.
    events = since(start)
    assert [event.action for event in events][:1] == ["registration.action"]
    assert events[0].summary == f"action=print_badges_a6 count=1 ids={registration.pk}"
    assert_no_canary()


def test_a_printed_badge_is_the_action_and_the_export(organiser_client: Client) -> None:
    category = CategoryFactory(kind=Category.Kind.VOLUNTEER)
    volunteer = register_person(category, name=CANARY_NAME, email=CANARY_EMAIL).registration
    Registration.objects.filter(pk=volunteer.pk).update(status=Registration.Status.CONFIRMED)
    issue_ticket(registration=Registration.objects.get(pk=volunteer.pk))
    start = mark()
    response = organiser_client.post(
        "/admin/registration/registration/",
        {"action": "print_badges_a6", "_selected_action": [str(volunteer.pk)]},
    )
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    # Two facts: which action was run on which rows, and that a PDF of personal data left.
    events = since(start)
    assert [event.action for event in events] == ["registration.action", "export.badges"]
    assert events[1].summary == f"layout=a6 count=1 ids={volunteer.pk}"
    assert all(str(event.ip) == IP for event in events)
    assert_no_canary()


# --- our own staff pages -----------------------------------------------------------------


def test_the_signatories_export_is_recorded(
    organiser_client: Client, django_user_model: Any
) -> None:
    campaign = CampaignFactory()
    stored_signature(campaign, name=CANARY_NAME, email=CANARY_EMAIL, show_name=True)
    start = mark()
    url = f"/en/staff/voices/{campaign.edition.year}/{campaign.slug}/signatories.csv"
    asked = organiser_client.get(url)
    assert asked.status_code == 302  # to the export request form: nothing read yet
    assert since(start) == []
    data = {
        "kind": "voices.signatories",
        "campaign": str(campaign.pk),
        "format": "csv",
        "reason": "Delivery of the statement.",
    }
    assert organiser_client.post("/en/staff/exports/new/", data).status_code == 302
    export = ExportRequest.objects.get()
    approver = Client()
    sign_in_staff(approver, make_user(django_user_model, "second", "organiser"))
    approver.post(f"/en/staff/exports/{export.pk}/", {"decision": "approve"})
    start = mark()
    assert organiser_client.post(f"/en/staff/exports/{export.pk}/download/").status_code == 200
    event = one(start, "export.download")
    assert event.object_type == "audit.exportrequest" and event.object_id == str(export.pk)
    assert event.summary == "kind=voices.signatories download=1"
    assert_no_canary()


def test_a_refused_export_records_nothing(django_user_model: Any) -> None:
    campaign = CampaignFactory()
    client = Client()
    sign_in_staff(client, make_user(django_user_model, "mod", "moderator"))
    start = mark()
    url = f"/en/staff/voices/{campaign.edition.year}/{campaign.slug}/signatories.csv"
    assert client.get(url).status_code == 403
    assert since(start) == []


def test_moderation_decisions_are_recorded(organiser_client: Client) -> None:
    campaign = CampaignFactory()
    signature = stored_signature(
        campaign,
        name=CANARY_NAME,
        email=CANARY_EMAIL,
        message="Canary words",
        message_status="pending",
    )
    start = mark()
    url = f"/en/staff/voices/{campaign.edition.year}/{campaign.slug}/"
    response = organiser_client.post(
        url, {"queue": "messages", "decide": f"approve:{signature.pk}"}
    )
    assert response.status_code == 302
    event = one(start, "moderation.decide")
    assert event.summary == "queue=messages approve=True done=1 skipped=0"
    assert_no_canary()


def test_announcements_posted_and_withdrawn_are_recorded(organiser_client: Client) -> None:
    edition = EditionFactory()
    url = f"/en/{edition.year}/live/announcements/"
    start = mark()
    response = organiser_client.post(
        url, {"text_en": "Doors open", "text_fa": "", "text_fr": "", "level": "info"}
    )
    assert response.status_code == 302
    announcement = Announcement.objects.get()
    event = one(start, "announcement.post")
    assert event.object_id == str(announcement.pk) and event.object_type == "live.announcement"
    start = mark()
    organiser_client.post(url, {"withdraw": str(announcement.pk)})
    one(start, "announcement.withdraw")


def test_a_site_decision_is_recorded(organiser_client: Client) -> None:
    site = SiteFactory(contact_name=CANARY_NAME, contact_email=CANARY_EMAIL, status="pending")
    start = mark()
    response = organiser_client.post("/en/staff/sites/", {"decide": f"reject:{site.pk}"})
    assert response.status_code == 302
    event = one(start, "site.reject")
    assert event.object_id == str(site.pk)
    assert_no_canary()


def test_control_characters_in_headers_and_usernames_do_not_break_the_request() -> None:
    client = Client(REMOTE_ADDR=IP, HTTP_USER_AGENT="Agent\x00\x1b[31m\u202eevil")
    start = mark()
    response = client.post("/staff/login/", {"username": "nobody\u200b", "password": "x"})
    assert response.status_code == 200
    event = one(start, "sign_in_failed")
    assert event.user_agent == "Agent[31m\u202eevil"
    assert event.actor_username == "nobody\u200b"


def test_staff_without_the_permission_read_nothing_and_nothing_is_recorded(
    django_user_model: Any, registration: Registration
) -> None:
    client = Client()
    sign_in_staff(client, make_user(django_user_model, "gatekeeper", "gate"))
    start = mark()
    assert client.get("/admin/registration/registration/").status_code == 403
    assert (
        client.get(f"/admin/registration/registration/{registration.pk}/change/").status_code == 403
    )
    assert since(start) == []
