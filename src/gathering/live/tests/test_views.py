"""The live page, the wall, the polling fallback and the announcements page."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from gathering.checkin.tests.factories import make_staff
from gathering.core.testing.staff import sign_in_staff
from gathering.live import services
from gathering.live.models import Announcement
from gathering.program.tests.factories import EditionFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("language", ["en", "fa", "fr"])
def test_live_page_renders_figures_in_each_language(client: Client, language: str) -> None:
    edition = EditionFactory()
    services.post_announcement(edition=edition, text={"en": "Doors open", "fa": "درها باز شد"})
    response = client.get(f"/{language}/{edition.year}/live/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-live-counter="checked_in"' in body
    assert f"/live/{edition.year}/events" in body
    assert ("درها باز شد" if language == "fa" else "Doors open") in body
    # No script or style inline: the page works under a strict content security policy.
    assert "<script>" not in body and " style=" not in body


def test_events_url_follows_the_page_host_and_live_port(client: Client, settings) -> None:
    settings.LIVE_PORT = 9123
    settings.ALLOWED_HOSTS = ["*"]
    edition = EditionFactory()
    body = client.get(f"/en/{edition.year}/live/", HTTP_HOST="gathering.example:8000").content
    assert f"http://gathering.example:9123/live/{edition.year}/events".encode() in body
    body = client.get(f"/en/{edition.year}/wall/", HTTP_HOST="[::1]:8000").content
    assert f"http://[::1]:9123/live/{edition.year}/events".encode() in body


def test_events_url_behind_a_proxy(client: Client, settings) -> None:
    settings.LIVE_PUBLIC_URL = "https://live.example.org/"
    edition = EditionFactory()
    body = client.get(f"/en/{edition.year}/live/").content
    assert f'"https://live.example.org/live/{edition.year}/events"'.encode() in body


@pytest.mark.parametrize("language", ["en", "fa", "fr"])
def test_wall_renders_in_the_urls_language(client: Client, language: str) -> None:
    edition = EditionFactory()
    response = client.get(f"/{language}/{edition.year}/wall/")
    assert response.status_code == 200
    body = response.content.decode()
    assert f'<html lang="{language}" dir="{"rtl" if language == "fa" else "ltr"}">' in body
    assert "<svg" in body
    assert "data-wall-panel" in body


@pytest.mark.parametrize(
    "path",
    [
        "/en/1999/wall/",
        "/xx/{year}/wall/",
        "/en/{year}/wall/extra/",
        "/en/99999999999999999999/wall/",
        "/en/1999/live/",
        "/fa/1999/live/state.json",
    ],
)
def test_unknown_edition_or_language_is_a_404(client: Client, path: str) -> None:
    edition = EditionFactory()
    response = client.get(path.format(year=edition.year))
    assert response.status_code == 404


def test_state_json_holds_every_topic(client: Client) -> None:
    edition = EditionFactory()
    response = client.get(f"/en/{edition.year}/live/state.json?last_event_id=<script>")
    assert response.status_code == 200
    state = json.loads(response.content)
    assert isinstance(state["id"], int)
    assert state["topics"]["checked_in"] == 0
    assert set(state["topics"]["stage"]) == {"en", "fa", "fr"}


def test_announcements_page_needs_the_permission(client: Client, django_user_model) -> None:
    edition = EditionFactory()
    url = f"/en/{edition.year}/live/announcements/"
    assert client.get(url).status_code == 302  # to the staff sign-in
    make_staff(django_user_model, "gatekeeper", role="gate")
    sign_in_staff(client, django_user_model.objects.get(username="gatekeeper"))
    assert client.get(url).status_code == 403
    assert client.post(url, {"text_en": "Hi", "level": "info"}).status_code == 403
    assert not Announcement.objects.exists()


@pytest.mark.parametrize("role", ["organiser", "program_editor"])
def test_staff_post_and_withdraw(client: Client, django_user_model, role: str) -> None:
    edition = EditionFactory()
    make_staff(django_user_model, "stage", role=role)
    sign_in_staff(client, django_user_model.objects.get(username="stage"))
    url = f"/en/{edition.year}/live/announcements/"
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {"text_en": "Coaches leave at 18:00", "text_fa": "", "text_fr": "", "level": "important"},
    )
    assert response.status_code == 302
    announcement = Announcement.objects.get()
    assert announcement.level == "important"
    response = client.post(url, {"withdraw": str(announcement.pk)})
    assert response.status_code == 302
    announcement.refresh_from_db()
    assert announcement.withdrawn_at is not None
    page = client.get(url.replace("/en/", "/fa/"))
    assert page.status_code == 200
    assert "Coaches leave at 18:00" in page.content.decode()


@pytest.mark.parametrize(
    "data",
    [
        {"text_en": "", "text_fa": "", "text_fr": "", "level": "info"},
        {"text_en": "x" * 501, "text_fa": "", "text_fr": "", "level": "info"},
        {"text_en": "Hi", "text_fa": "", "text_fr": "", "level": "panic"},
        {"text_en": "\u202e\u200b", "text_fa": "", "text_fr": "", "level": "info"},
        {"withdraw": "1; DROP TABLE"},
        {"withdraw": "999999999"},
        {},
    ],
)
def test_bad_announcement_input_is_refused_cleanly(client: Client, django_user_model, data) -> None:
    edition = EditionFactory()
    make_staff(django_user_model, "stage", role="organiser")
    sign_in_staff(client, django_user_model.objects.get(username="stage"))
    response = client.post(f"/fa/{edition.year}/live/announcements/", data)
    assert response.status_code in {400, 404}
    assert not Announcement.objects.exists()


def test_announcement_of_another_edition_cannot_be_withdrawn(
    client: Client, django_user_model
) -> None:
    edition, other = EditionFactory(), EditionFactory()
    foreign = services.post_announcement(edition=other, text={"en": "Other"})
    make_staff(django_user_model, "stage", role="organiser")
    sign_in_staff(client, django_user_model.objects.get(username="stage"))
    response = client.post(f"/en/{edition.year}/live/announcements/", {"withdraw": str(foreign.pk)})
    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.withdrawn_at is None
