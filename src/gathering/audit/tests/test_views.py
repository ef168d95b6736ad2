"""The trail's page and CSV export: organisers only, filters that never give a 500, and an
export that is itself recorded."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from gathering.audit import services
from gathering.audit.models import ExportRequest
from gathering.audit.tests.conftest import make_user, mark, since
from gathering.core.testing.staff import sign_in_staff

pytestmark = pytest.mark.django_db

URL = "/en/staff/audit/"
EXPORT = "/en/staff/audit/export.csv"


def test_anonymous_visitors_are_sent_to_sign_in() -> None:
    for url in (URL, EXPORT):
        response = Client().get(url)
        assert response.status_code == 302
        assert "/staff/login/" in response["Location"]


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("gate", 403),
        ("moderator", 403),
        ("program_editor", 403),
        ("registration_desk", 403),
        ("site_coordinator", 403),
        (None, 403),
        ("organiser", 200),
    ],
)
def test_only_organisers_see_the_trail(
    django_user_model: Any, role: str | None, status: int
) -> None:
    client = Client()
    sign_in_staff(client, make_user(django_user_model, f"user-{role}", role))
    start = mark()
    assert client.get(URL).status_code == status
    # The CSV is asked for on the export requests' page (audit/exports.py): organisers go there.
    assert client.get(EXPORT).status_code == (302 if status == 200 else status)
    assert since(start) == []


def test_the_page_lists_and_filters_events(organiser_client: Client) -> None:
    services.record(
        None,
        action="registration.view",
        object_type="registration.registration",
        object_id="7",
        actor_username="ann",
    )
    services.record(
        None,
        action="admin.change",
        object_type="program.edition",
        object_id="3",
        actor_username="bob",
    )
    body = organiser_client.get(URL).content.decode()
    assert "registration.view" in body and "admin.change" in body
    assert "<script>" not in body and " style=" not in body
    body = organiser_client.get(URL, {"actor": "ann"}).content.decode()
    assert "registration.view" in body and "admin.change" not in body
    body = organiser_client.get(URL, {"action": "admin."}).content.decode()
    assert "admin.change" in body and "registration.view" not in body
    body = organiser_client.get(URL, {"object_type": "program.edition"}).content.decode()
    assert "admin.change" in body and "registration.view" not in body
    today = timezone.localdate()
    body = organiser_client.get(
        URL,
        {
            "start": (today - dt.timedelta(days=2)).isoformat(),
            "end": (today - dt.timedelta(days=1)).isoformat(),
        },
    ).content.decode()
    assert "No event matches." in body


def test_pages_go_back_in_time(organiser_client: Client) -> None:
    for n in range(55):
        services.record(None, action="test.page", object_id=str(n))
    first = organiser_client.get(URL, {"action": "test."})
    assert len(first.context["events"]) == 50 and first.context["next_page"] == 2
    second = organiser_client.get(URL, {"action": "test.", "page": "2"})
    assert len(second.context["events"]) == 5 and second.context["next_page"] is None
    assert second.context["events"][-1].object_id == "0"


@pytest.mark.parametrize(
    "query",
    [
        {"start": "yesterday"},
        {"end": "2026-02-30"},
        {"start": "0001-01-01"},
        {"end": "9999-12-31"},
        {"start": "2026-05-02", "end": "2026-05-01"},
        {"page": "0"},
        {"page": "-1"},
        {"page": "abc"},
        {"page": "9" * 40},
        {"actor": "a" * 1000},
        {"action": "x\x00y"},
        {"object_type": "<script>alert(1)</script>" * 10},
    ],
)
def test_malformed_filters_are_a_400(organiser_client: Client, query: dict[str, str]) -> None:
    for url in (URL, EXPORT):
        start = mark()
        response = organiser_client.get(url, query)
        assert response.status_code == 400
        assert since(start) == []


@pytest.mark.parametrize(
    "query",
    [
        {"page": "100000"},
        {"actor": "<script>alert(1)</script>"},
        {"action": "\u202eadmin\u200b"},
        {"object_type": "' OR 1=1 --"},
        {"start": "1970-01-01", "end": "9000-12-31"},
    ],
)
def test_hostile_but_wellformed_filters_give_empty_results(
    organiser_client: Client, query: dict[str, str]
) -> None:
    services.record(None, action="test.hostile", object_type="x.y")
    response = organiser_client.get(URL, query)
    assert response.status_code == 200
    body = response.content.decode()
    assert "<script>alert(1)</script>" not in body
    if "start" not in query:
        assert response.context["events"] == []


def test_the_export_is_csv_of_the_filtered_events_once_approved(
    organiser_client: Client, organiser: Any, django_user_model: Any
) -> None:
    services.record(
        None,
        action="test.csv",
        object_type="x.y",
        object_id="1",
        summary="=HYPERLINK(1)",
        actor_username="ann",
    )
    services.record(None, action="other.csv", object_type="x.y", object_id="2")
    asked = organiser_client.get(EXPORT, {"action": "test.", "actor": "ann"})
    assert asked.status_code == 302
    form = organiser_client.get(asked["Location"])
    assert form.status_code == 200
    data = dict(form.context["hidden"])
    assert data == {"kind": "audit.events", "action": "test.", "actor": "ann"}
    start = mark()
    assert (
        organiser_client.post(
            "/en/staff/exports/new/", {**data, "reason": "The yearly review of staff access."}
        ).status_code
        == 302
    )
    export = ExportRequest.objects.get()
    approver = Client()
    sign_in_staff(approver, make_user(django_user_model, "bert", "organiser"))
    assert (
        approver.post(f"/en/staff/exports/{export.pk}/", {"decision": "approve"}).status_code == 302
    )

    response = organiser_client.post(f"/en/staff/exports/{export.pk}/download/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["at", "actor_username", "action"]
    assert [row[2] for row in rows[1:]] == ["test.csv"]
    assert rows[1][5] == "'=HYPERLINK(1)"  # a formula is defused for spreadsheets
    recorded = [event for event in since(start) if event.action.startswith("export.")]
    assert [event.action for event in recorded] == [
        "export.request",
        "export.approve",
        "export.download",
    ]
    assert recorded[0].actor == organiser
    # Ids and the kind only: "ann" (a filter) is a person.
    assert all("ann" not in event.summary for event in recorded)


@pytest.mark.parametrize("language", ["en", "fa", "fr"])
def test_the_page_renders_in_each_language(organiser_client: Client, language: str) -> None:
    services.record(None, action="test.language", summary="changed: نام")
    response = organiser_client.get(f"/{language}/staff/audit/")
    assert response.status_code == 200
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    body = response.content.decode()
    assert "test.language" in body and "changed: نام" in body
    assert "<script>" not in body and " style=" not in body
