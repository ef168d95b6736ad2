"""The hot path of a gate device's scans (``checkin/middleware.py``): it answers as the whole
stack does, and leaves every other case to the whole stack."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from django.test import Client

from gathering.checkin import services
from gathering.checkin.models import GateDevice, Scan, ScanStatus
from gathering.checkin.tests.factories import GateFactory, issue_ticket, nonce
from gathering.checkin.tests.test_concurrency import run_at_once
from gathering.program.tests.factories import EditionFactory, texts

pytestmark = pytest.mark.django_db

YEAR = 2041
HOT_PATH = "gathering.checkin.middleware.DeviceScanMiddleware"


@pytest.fixture
def gate():
    edition = EditionFactory(year=YEAR)
    return GateFactory(edition=edition, slug="west", name=texts("Gate West", "ورودی غرب"))


@pytest.fixture
def token(gate) -> str:
    _device, token = services.create_gate_device(gate=gate, label="Turnstile 7")
    return token


def url(year: int = YEAR, slug: str = "west") -> str:
    return f"/api/checkin/{year}/gates/{slug}/scans"


def send(client: Client, body, path: str | None = None, **extra):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(path or url(), data=data, content_type="application/json", **extra)


def one_scan(code: str, **fields) -> dict:
    return {"device_id": "turnstile-7", "scans": [{"nonce": nonce("hot"), "code": code, **fields}]}


def took_hot_path(response) -> bool:
    # The hot path answers before AuthenticationMiddleware, which gives every request a user.
    return not hasattr(response.wsgi_request, "user")


def comparable(response) -> tuple[int, dict, dict]:
    """Status, headers and body of an answer, without what differs between two scans."""
    headers = {key: value for key, value in response.items() if key != "Content-Length"}
    body = response.json()
    for result in body.get("results", []):
        for key in ("nonce", "ticket_id", "server_time"):
            result.pop(key, None)
    return response.status_code, headers, body


def test_a_device_scan_takes_the_hot_path_and_is_stored(gate, token) -> None:
    client = Client(headers={"authorization": f"Bearer {token}"})
    issued = issue_ticket(gate.edition)

    response = send(client, one_scan(issued.code))

    assert took_hot_path(response)
    assert response.status_code == 200
    result = response.json()["results"][0]
    assert result["status"] == "valid" and result["gate"] == "west"
    scan = Scan.objects.get()
    assert scan.status == ScanStatus.VALID and scan.scanner_id == "turnstile-7"
    assert scan.device == GateDevice.objects.get()


@pytest.mark.parametrize("headers", [{}, {"accept-language": "fr-FR,fr;q=0.9"}])
@pytest.mark.parametrize("query", ["", "?lang=fa"])
def test_the_hot_path_answers_as_the_whole_stack(gate, token, settings, headers, query) -> None:
    client = Client(headers={"authorization": f"Bearer {token}", **headers})
    first, second = issue_ticket(gate.edition), issue_ticket(gate.edition)
    services.record_scan(code=second.code, gate=gate, direction="entry", nonce=nonce("in"))

    hot = [send(client, one_scan(code), url() + query) for code in (first.code, second.code)]
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != HOT_PATH]
    whole_client = Client(headers={"authorization": f"Bearer {token}", **headers})
    third = issue_ticket(gate.edition)
    whole = [
        send(whole_client, one_scan(code), url() + query) for code in (third.code, second.code)
    ]

    assert all(took_hot_path(response) for response in hot)
    assert not any(took_hot_path(response) for response in whole)
    assert [comparable(r) for r in hot] == [comparable(r) for r in whole]
    valid, duplicate = hot
    assert valid["X-Frame-Options"] == "DENY"
    assert valid["X-Content-Type-Options"] == "nosniff"
    assert "Accept-Language" in valid["Vary"]
    assert int(valid["Content-Length"]) == len(valid.content)
    assert duplicate.json()["results"][0]["status"] == "already_inside"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("not json", 400),
        ("", 422),  # ninja reads an empty body as {}
        ('{"scans": []}', 422),
        ('{"scans": [{"nonce": "short", "code": "x"}]}', 422),
        ('{"scans": [{"nonce": "<script>alert(1)</script>", "code": "x"}]}', 422),
        ('{"scans": [{"nonce": "zero\\u200bwidth-01", "code": "x"}]}', 422),
        ('{"device_id": "\\u202eevil", "scans": [{"nonce": "abcdefgh01", "code": "x"}]}', 422),
        ('{"scans": [{"nonce": "abcdefgh01", "code": "x", "direction": "sideways"}]}', 422),
        ('["a list"]', 422),
        ("null", 422),
    ],
)
def test_malformed_bodies_get_the_whole_stacks_answer(gate, token, body, status) -> None:
    client = Client(headers={"authorization": f"Bearer {token}"})

    response = send(client, body)

    assert not took_hot_path(response)
    assert response.status_code == status
    assert "detail" in response.json()
    assert not Scan.objects.exists()


def test_other_cases_go_down_the_whole_stack(gate, token) -> None:
    GateFactory(edition=gate.edition, slug="south")
    issued = issue_ticket(gate.edition)
    device = Client(headers={"authorization": f"Bearer {token}"})
    stranger = Client(headers={"authorization": "Bearer gd_not-a-real-token"})

    other_gate = send(device, one_scan(issued.code), url(slug="south"))
    other_year = send(device, one_scan(issued.code), url(year=YEAR + 1))
    unknown_token = send(stranger, one_scan(issued.code))
    other_query = send(device, one_scan(issued.code), url() + "?lang=fa&debug=1")

    assert (other_gate.status_code, other_gate.json()) == (
        403,
        {"detail": "This device scans at another gate."},
    )
    assert other_year.status_code == 404
    assert unknown_token.status_code == 401
    assert other_query.status_code == 200  # ninja ignores the extra parameter
    assert not any(took_hot_path(r) for r in (other_gate, other_year, unknown_token, other_query))
    assert Scan.objects.count() == 1


def test_a_revoked_device_is_refused(gate, token) -> None:
    services.revoke_gate_device(device=GateDevice.objects.get())
    client = Client(headers={"authorization": f"Bearer {token}"})

    response = send(client, one_scan(issue_ticket(gate.edition).code))

    assert response.status_code == 401
    assert not Scan.objects.exists()


def test_a_host_not_allowed_is_refused(gate, token) -> None:
    client = Client(headers={"authorization": f"Bearer {token}"})

    response = send(client, one_scan(issue_ticket(gate.edition).code), HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert not Scan.objects.exists()


def test_a_retried_batch_is_replayed_on_the_hot_path(gate, token) -> None:
    client = Client(headers={"authorization": f"Bearer {token}"})
    body = one_scan(issue_ticket(gate.edition).code)

    first, again = send(client, body), send(client, body)

    assert took_hot_path(again)
    assert first.json()["results"][0]["replayed"] is False
    assert again.json()["results"][0]["replayed"] is True
    assert again.json()["results"][0]["status"] == "valid"
    assert Scan.objects.count() == 1


def test_a_reused_nonce_in_a_batch_gets_its_own_result(gate, token) -> None:
    client = Client(headers={"authorization": f"Bearer {token}"})
    first, second = issue_ticket(gate.edition), issue_ticket(gate.edition)
    body = one_scan(first.code)
    send(client, body)
    body["scans"][0]["code"] = second.code

    response = send(client, body)

    assert took_hot_path(response)
    assert response.json()["results"][0]["status"] == "nonce_reused"


def test_fifty_concurrent_device_scans_of_one_ticket_give_one_valid(transactional_db) -> None:
    gate = GateFactory(edition=EditionFactory(year=YEAR + 5), slug="west")
    _device, token = services.create_gate_device(gate=gate, label="Turnstile 8")
    issued = issue_ticket(gate.edition)

    def scan(index: int) -> str:
        client = Client(headers={"authorization": f"Bearer {token}"})
        body = {"scans": [{"nonce": f"concurrent-api-{index:04d}", "code": issued.code}]}
        response = send(client, body, url(year=YEAR + 5))
        assert took_hot_path(response)
        return str(response.json()["results"][0]["status"])

    statuses = run_at_once(50, scan)

    assert Counter(statuses) == {"valid": 1, "already_inside": 49}
    assert Scan.objects.filter(status=ScanStatus.VALID).count() == 1
