"""Bulk exports of personal data through export requests: one member of staff asks with a
reason, another organiser approves, the one who asked downloads (a few times, for a day); every
step is in the audit trail, and nobody gets around a step by forging an id or a parameter."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from gathering.audit import exports, services
from gathering.audit.errors import NotApproverError, OwnRequestError, RequestTooOldError
from gathering.audit.models import AuditEvent, ExportRequest
from gathering.core.testing.staff import sign_in_staff
from gathering.program.tests.factories import EditionFactory
from gathering.registration.models import Category, Registration
from gathering.registration.tests.factories import CategoryFactory, register_person
from gathering.voices.tests.factories import CampaignFactory
from gathering.voices.tests.signers import stored_signature

pytestmark = pytest.mark.django_db

NEW = "/en/staff/exports/"
REASON = "The signatures are delivered to the parliament on Monday."


def user(username: str, role: str | None) -> User:
    account = User.objects.create_user(username, password=None, is_staff=True)
    if role:
        account.groups.add(Group.objects.get(name=role))
    return account


def client_of(account: User) -> Client:
    client = Client()
    sign_in_staff(client, account)
    return client


@pytest.fixture
def people() -> dict[str, Any]:
    accounts = {
        "anna": user("anna", "organiser"),
        "bert": user("bert", "organiser"),
        "mona": user("mona", "moderator"),
        "pia": user("pia", "press_officer"),
        "desk": user("desk", "registration_desk"),
    }
    return {name: (account, client_of(account)) for name, account in accounts.items()}


@pytest.fixture
def campaign() -> Any:
    campaign = CampaignFactory(slug="free-voices")
    stored_signature(campaign, name="Maryam Named", show_name=True)
    stored_signature(campaign, name="Hidden Signer", show_name=False)
    return campaign


def ask(client: Client, **data: Any) -> Any:
    return client.post(reverse("audit:export-new"), {"reason": REASON, **data})


def ask_signatories(client: Client, campaign: Any, fmt: str = "csv") -> ExportRequest:
    response = ask(client, kind="voices.signatories", campaign=str(campaign.pk), format=fmt)
    assert response.status_code == 302, response.content.decode()[:2000]
    return ExportRequest.objects.order_by("-pk").first()  # type: ignore[return-value]


def decide(client: Client, export: ExportRequest, decision: str, **extra: Any) -> Any:
    return client.post(
        reverse("audit:export-detail", args=[export.pk]), {"decision": decision, **extra}
    )


def download(client: Client, export: ExportRequest) -> Any:
    return client.post(reverse("audit:export-download", args=[export.pk]))


def actions() -> list[str]:
    return list(
        AuditEvent.objects.filter(action__startswith="export.")
        .order_by("pk")
        .values_list("action", flat=True)
    )


def test_the_whole_flow_ask_approve_download(people, campaign) -> None:
    anna, anna_client = people["anna"]
    bert, bert_client = people["bert"]

    # The old address of the download sends to the request form, campaign and format filled in.
    old = anna_client.get(
        f"/en/staff/voices/{campaign.edition.year}/{campaign.slug}/signatories.csv"
    )
    assert old.status_code == 302
    form = anna_client.get(old["Location"])
    assert form.status_code == 200
    assert "signatories who agreed to be named, CSV" in form.content.decode()

    export = ask_signatories(anna_client, campaign)
    assert export.status == ExportRequest.Status.PENDING
    assert export.requested_by == anna
    assert export.params == {"campaign": campaign.pk, "format": "csv"}
    assert "Maryam" not in export.description

    # Before approval: nothing to download.
    early = download(anna_client, export)
    assert early.status_code == 403
    assert b"Maryam" not in early.content

    # Another organiser sees it waiting and approves it.
    waiting = bert_client.get(NEW)
    assert [row.pk for row in waiting.context["waiting"]] == [export.pk]
    assert decide(bert_client, export, "approve", note="Fine").status_code == 302
    export.refresh_from_db()
    assert export.status == ExportRequest.Status.APPROVED
    assert export.decided_by == bert
    assert export.expires_at - export.decided_at == exports.DOWNLOAD_WINDOW

    # Only the one who asked downloads, MAX_DOWNLOADS times.
    assert download(bert_client, export).status_code == 404
    for _n in range(exports.MAX_DOWNLOADS):
        response = download(anna_client, export)
        assert response.status_code == 200
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert rows == [["Name", "City", "Country"], ["Maryam Named", "", "France"]]
    spent = download(anna_client, export)
    assert spent.status_code == 410
    export.refresh_from_db()
    assert export.download_count == exports.MAX_DOWNLOADS

    assert actions() == [
        "export.request",
        "export.approve",
        *["export.download"] * exports.MAX_DOWNLOADS,
    ]
    for event in AuditEvent.objects.filter(action__startswith="export."):
        assert "Maryam" not in event.summary
        assert event.object_id == str(export.pk)


def test_nobody_approves_their_own_request(people, campaign) -> None:
    anna, anna_client = people["anna"]
    export = ask_signatories(anna_client, campaign)

    response = decide(anna_client, export, "approve")
    assert response.status_code == 403
    assert "Another organiser" in response.content.decode()
    export.refresh_from_db()
    assert export.status == ExportRequest.Status.PENDING
    with pytest.raises(OwnRequestError):
        services.decide_export(None, export=export, user=anna, approve=True)
    assert download(anna_client, export).status_code == 403


def test_only_organisers_approve(people, campaign) -> None:
    _anna, anna_client = people["anna"]
    export = ask_signatories(anna_client, campaign)

    for name in ("mona", "pia", "desk"):
        account, client = people[name]
        response = decide(client, export, "approve")
        # The moderator and the desk have no export page at all; the press officer has, but
        # another's request does not exist for them.
        assert response.status_code in (403, 404), name
        with pytest.raises(NotApproverError):
            services.decide_export(None, export=export, user=account, approve=True)
    export.refresh_from_db()
    assert export.status == ExportRequest.Status.PENDING
    assert actions() == ["export.request"]


def test_a_refused_or_withdrawn_request_gives_nothing(people, campaign) -> None:
    _anna, anna_client = people["anna"]
    _bert, bert_client = people["bert"]
    refused = ask_signatories(anna_client, campaign)
    assert decide(bert_client, refused, "refuse", note="Not needed").status_code == 302
    assert download(anna_client, refused).status_code == 403
    # Decided is decided: no second decision either way.
    assert decide(bert_client, refused, "approve").status_code == 409
    refused.refresh_from_db()
    assert refused.status == ExportRequest.Status.REFUSED

    withdrawn = ask_signatories(anna_client, campaign, "pdf")
    assert decide(bert_client, withdrawn, "withdraw").status_code == 404  # not bert's
    assert decide(anna_client, withdrawn, "withdraw").status_code == 302
    withdrawn.refresh_from_db()
    assert withdrawn.status == ExportRequest.Status.WITHDRAWN
    assert decide(bert_client, withdrawn, "approve").status_code == 409
    assert download(anna_client, withdrawn).status_code == 403


def test_an_approved_export_expires(people, campaign) -> None:
    _anna, anna_client = people["anna"]
    _bert, bert_client = people["bert"]
    export = ask_signatories(anna_client, campaign)
    decide(bert_client, export, "approve")
    export.refresh_from_db()

    later = export.expires_at + dt.timedelta(seconds=1)
    with freeze_time(later):
        sign_in_staff(anna_client, people["anna"][0])  # a fresh sign-in, after the day
        response = download(anna_client, export)
    assert response.status_code == 410
    export.refresh_from_db()
    assert export.download_count == 0


def test_a_request_left_waiting_too_long_cannot_be_approved(people, campaign) -> None:
    _anna, anna_client = people["anna"]
    bert = people["bert"][0]
    export = ask_signatories(anna_client, campaign)
    with pytest.raises(RequestTooOldError):
        services.decide_export(
            None,
            export=export,
            user=bert,
            approve=True,
            at=timezone.now() + exports.DECISION_WINDOW,
        )
    export.refresh_from_db()
    assert export.status == ExportRequest.Status.PENDING


def test_forged_and_foreign_ids_are_404(people, campaign) -> None:
    _anna, anna_client = people["anna"]
    _pia, pia_client = people["pia"]
    export = ask_signatories(anna_client, campaign)

    for pk in (export.pk + 1000, 10**17):
        assert anna_client.get(reverse("audit:export-detail", args=[pk])).status_code == 404
        assert anna_client.post(reverse("audit:export-download", args=[pk])).status_code == 404
    # Someone else's request: the press officer may use the export pages, not this request.
    assert pia_client.get(reverse("audit:export-detail", args=[export.pk])).status_code == 404
    assert download(pia_client, export).status_code == 404
    # A download is a POST: a link preview or prefetch spends nothing.
    assert anna_client.get(reverse("audit:export-download", args=[export.pk])).status_code == 405


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"kind": "voices.everything", "campaign": "1", "format": "csv"},
        {"kind": "voices.signatories", "campaign": "abc", "format": "csv"},
        {"kind": "voices.signatories", "campaign": "999999", "format": "csv"},
        {"kind": "voices.signatories", "campaign": "-1", "format": "csv"},
        {"kind": "voices.signatories", "campaign": "CAMPAIGN", "format": "xlsx"},
        {"kind": "voices.signatories", "campaign": "CAMPAIGN", "format": "csv", "reason": ""},
        {"kind": "voices.signatories", "campaign": "CAMPAIGN", "format": "csv", "reason": "why"},
        {
            "kind": "voices.signatories",
            "campaign": "CAMPAIGN",
            "format": "csv",
            "reason": "x" * 1001,
        },
        {
            "kind": "voices.signatories",
            "campaign": "CAMPAIGN",
            "format": "csv",
            "reason": "Because\x00 of a NUL",
        },
        {"kind": "registration.badges", "layout": "poster", "ids": ["1"]},
        {"kind": "registration.badges", "layout": "a6", "ids": ["abc", "<script>"]},
        {"kind": "registration.badges", "layout": "a6", "edition": "x", "kinds": ["press"]},
        {
            "kind": "registration.badges",
            "layout": "a6",
            "edition": "EDITION",
            "kinds": ["attendee"],
        },
        {"kind": "audit.events", "start": "2026-13-45"},
        {"kind": "audit.events", "start": "2027-01-02", "end": "2027-01-01"},
    ],
)
def test_malformed_requests_are_a_400_and_record_nothing(people, campaign, data) -> None:
    _anna, anna_client = people["anna"]
    edition = campaign.edition
    data = {
        key: (
            [str(campaign.pk) if v == "CAMPAIGN" else v for v in value]
            if isinstance(value, list)
            else str(campaign.pk)
            if value == "CAMPAIGN"
            else str(edition.pk)
            if value == "EDITION"
            else value
        )
        for key, value in data.items()
    }
    data.setdefault("reason", REASON)
    response = anna_client.post(reverse("audit:export-new"), data)

    assert response.status_code == 400
    assert "<script>" not in response.content.decode()
    assert ExportRequest.objects.count() == 0
    assert actions() == []


def test_malformed_decisions_are_a_400(people, campaign) -> None:
    _anna, anna_client = people["anna"]
    _bert, bert_client = people["bert"]
    export = ask_signatories(anna_client, campaign)
    for data in ({}, {"decision": "maybe"}, {"decision": "approve", "note": "x" * 600}):
        response = bert_client.post(reverse("audit:export-detail", args=[export.pk]), data)
        assert response.status_code == 400
    export.refresh_from_db()
    assert export.status == ExportRequest.Status.PENDING


def test_roles_without_any_export_get_a_403(people, campaign) -> None:
    for name in ("mona", "desk"):
        _account, client = people[name]
        assert client.get(NEW).status_code == 403
        assert (
            ask(
                client, kind="voices.signatories", campaign=str(campaign.pk), format="csv"
            ).status_code
            == 403
        )
    assert ExportRequest.objects.count() == 0
    anonymous = Client().get(NEW)
    assert anonymous.status_code == 302 and "/staff/login/" in anonymous["Location"]


def test_a_press_officer_asks_for_press_badges_only(people, campaign) -> None:
    pia, pia_client = people["pia"]
    _bert, bert_client = people["bert"]
    edition = EditionFactory(year=2033)
    press = CategoryFactory(edition=edition, kind=Category.Kind.PRESS, slug="press")
    guests = CategoryFactory(edition=edition, kind=Category.Kind.GUEST, slug="guests")
    reporter = register_person(press, name="Press Person").registration
    guest = register_person(guests, name="Guest Person").registration

    # Not the signatories, not the guests' badges.
    assert (
        ask(
            pia_client, kind="voices.signatories", campaign=str(campaign.pk), format="csv"
        ).status_code
        == 403
    )
    assert (
        ask(
            pia_client,
            kind="registration.badges",
            layout="a6",
            ids=[str(reporter.pk), str(guest.pk)],
        ).status_code
        == 403
    )
    assert (
        ask(
            pia_client,
            kind="registration.badges",
            layout="a6",
            edition=str(edition.pk),
            kinds=["press", "guest"],
        ).status_code
        == 403
    )
    assert ExportRequest.objects.count() == 0

    response = ask(
        pia_client,
        kind="registration.badges",
        layout="a6",
        edition=str(edition.pk),
        kinds=["press"],
    )
    assert response.status_code == 302
    export = ExportRequest.objects.get()
    assert export.requested_by == pia
    decide(bert_client, export, "approve")
    # Nobody is confirmed yet: nothing to print, and the download is not spent.
    nothing = download(pia_client, export)
    assert nothing.status_code == 409
    export.refresh_from_db()
    assert export.download_count == 0

    Registration.objects.filter(pk=reporter.pk).update(status=Registration.Status.CONFIRMED)
    from gathering.registration import services as registration_services

    registration_services.issue_ticket(registration=Registration.objects.get(pk=reporter.pk))
    pdf = download(pia_client, export)
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"


def test_the_audit_trail_export_goes_through_a_request(people) -> None:
    _anna, anna_client = people["anna"]
    _bert, bert_client = people["bert"]
    redirect = anna_client.get("/en/staff/audit/export.csv", {"action": "export."})
    assert redirect.status_code == 302
    assert "kind=audit.events" in redirect["Location"] and "action=export." in redirect["Location"]
    assert ask(anna_client, kind="audit.events", action="export.").status_code == 302
    export = ExportRequest.objects.get()
    decide(bert_client, export, "approve")
    response = download(anna_client, export)
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["at", "actor_username", "action"]
    # The download itself is in the trail before the file is made.
    assert {row[2] for row in rows[1:]} == {"export.request", "export.approve", "export.download"}
