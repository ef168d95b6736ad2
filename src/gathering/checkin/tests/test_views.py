from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import pytest

from gathering.checkin.tests.factories import SECRET_NAME, GateFactory, issue_ticket, make_staff
from gathering.core.testing.staff import sign_in_staff
from gathering.program.tests.factories import EditionFactory, texts

pytestmark = pytest.mark.django_db

URL = "/staff/scanner/2041/north/"


@pytest.fixture
def gate():
    edition = EditionFactory(year=2041)
    GateFactory(edition=edition, slug="south", name=texts("Gate South", "ورودی جنوب"), position=2)
    return GateFactory(
        edition=edition, slug="north", name=texts("Gate North", "ورودی شمال"), position=1
    )


@pytest.fixture
def gate_client(client, django_user_model):
    sign_in_staff(client, make_staff(django_user_model, "gatekeeper", role="gate"))
    return client


def data_attribute(html: str, name: str) -> dict:
    match = re.search(rf'data-{name}="([^"]*)"', html)
    assert match, f"no data-{name}"
    return json.loads(unescape(match.group(1)))


def test_scanner_needs_a_sign_in(client, gate) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == f"/staff/login/?next={URL}"


def test_scanner_refuses_staff_without_a_gate_role(client, django_user_model, gate) -> None:
    sign_in_staff(client, make_staff(django_user_model, "editor", role="program_editor"))
    response = client.get(URL)
    assert response.status_code == 403
    assert "Only gate staff and organisers" in response.content.decode()


def test_unknown_gate_or_year_is_a_404(gate_client, gate) -> None:
    assert gate_client.get("/staff/scanner/2041/nowhere/").status_code == 404
    assert gate_client.get("/staff/scanner/1999/north/").status_code == 404
    assert gate_client.get("/staff/scanner/1999/").status_code == 404


def test_scanner_page_is_configured_by_data_attributes_without_inline_script(
    gate_client, gate
) -> None:
    issue_ticket(gate.edition)

    response = gate_client.get(URL)

    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    assert "csrftoken" in response.cookies
    html = response.content.decode()
    config = data_attribute(html, "config")
    assert config["year"] == 2041 and config["gate"] == "north"
    assert config["scansUrl"] == "/api/checkin/2041/gates/north/scans"
    assert config["bundleUrl"] == "/api/checkin/2041/bundle"
    assert config["serviceWorkerUrl"] == "/staff/scanner/sw.js"
    assert config["gates"] == {"north": "Gate North", "south": "Gate South"}
    assert config["timeZone"] == "Europe/Paris"
    messages = data_attribute(html, "messages")
    assert messages["already_inside_at"] == "Already entered at %(gate)s at %(time)s."
    assert messages["forged"].startswith("The signature does not match")
    # Every script is a file: a Content-Security-Policy without 'unsafe-inline' allows them.
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts and all(" src=" in tag for tag in scripts)
    assert " style=" not in html and "<style" not in html
    assert not re.search(r"<[^>]+\son[a-z]+=", html)  # no inline event handlers
    assert "jsQR.js" in html and "scanner.js" in html
    assert SECRET_NAME not in html


def test_scanner_page_in_persian_is_right_to_left(gate_client, gate) -> None:
    html = gate_client.get(URL + "?lang=fa").content.decode()

    assert '<html lang="fa" dir="rtl">' in html
    assert "ورودی شمال" in html
    assert data_attribute(html, "config")["language"] == "fa"


def test_hostile_language_parameter_is_ignored(gate_client, gate) -> None:
    response = gate_client.get(URL + "?lang=%3Cscript%3E%E2%80%AE" + "x" * 10_000)
    assert response.status_code == 200
    assert "<script>" not in response.content.decode()


def test_gate_list_links_to_each_gate(gate_client, gate) -> None:
    html = gate_client.get("/staff/scanner/2041/").content.decode()
    assert html.index("/staff/scanner/2041/north/") < html.index("/staff/scanner/2041/south/")


def test_service_worker_covers_the_scanner_pages(client, gate) -> None:
    response = client.get("/staff/scanner/sw.js")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/staff/scanner/"
    assert response["Cache-Control"] == "no-cache"
    body = response.content.decode()
    assert "/static/checkin/scanner.js" in body
    assert "/static/registration/ticket-verify.js" in body
    assert "/static/checkin/vendor/jsqr/jsQR.js" in body
    assert re.search(r'const CACHE = "gathering-scanner-[0-9a-f]{16}";', body)


def test_vendored_decoder_and_its_licence_are_served(client) -> None:
    from django.contrib.staticfiles import finders

    assert finders.find("checkin/vendor/jsqr/jsQR.js")
    licence = finders.find("checkin/vendor/jsqr/LICENSE")
    assert licence and "Apache License" in Path(licence).read_text()
