from __future__ import annotations

import datetime as dt
import json
import secrets

import pytest
from django.test import Client
from django.utils import translation
from django.utils.timezone import now

from gathering.checkin import services
from gathering.checkin.api import MAX_BATCH, PreviousScanOut, ScanBatchOut, ScanOut
from gathering.checkin.models import Scan, ScanStatus
from gathering.checkin.tests.factories import (
    SECRET_EMAIL,
    SECRET_NAME,
    GateFactory,
    issue_ticket,
    make_staff,
    nonce,
)
from gathering.core.testing.staff import sign_in_staff
from gathering.program.tests.factories import EditionFactory, texts
from gathering.registration import keys
from gathering.registration.revocation import decode_gate_bundle, encode_gate_bundle

pytestmark = pytest.mark.django_db

YEAR = 2040


@pytest.fixture
def edition():
    return EditionFactory(year=YEAR)


@pytest.fixture
def gate(edition):
    return GateFactory(edition=edition, slug="north", name=texts("Gate North", "ورودی شمال"))


@pytest.fixture
def device_token(gate) -> str:
    _device, token = services.create_gate_device(gate=gate, label="Turnstile 1")
    return token


@pytest.fixture
def device(device_token) -> Client:
    return Client(headers={"authorization": f"Bearer {device_token}"})


@pytest.fixture
def staff(django_user_model) -> Client:
    client = Client()
    sign_in_staff(client, make_staff(django_user_model, "gatekeeper", role="gate"))
    return client


def scans_url(year: int = YEAR, slug: str = "north") -> str:
    return f"/api/checkin/{year}/gates/{slug}/scans"


def post(client: Client, body, url: str | None = None, **extra):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(url or scans_url(), data=data, content_type="application/json", **extra)


def batch(*codes: str, direction: str = "entry") -> dict:
    return {
        "device_id": "web-test",
        "scans": [{"nonce": nonce("api"), "code": code, "direction": direction} for code in codes],
    }


# --- authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [f"/api/checkin/{YEAR}/bundle", f"/api/checkin/{YEAR}/counts", f"/api/checkin/{YEAR}/gates"],
)
def test_reads_need_credentials(client, gate, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 401
    assert response.json() == {"detail": "Unauthorized"}


def test_scans_need_credentials(client, gate) -> None:
    issued = issue_ticket(gate.edition)
    response = post(client, batch(issued.code))
    assert response.status_code == 401
    assert not Scan.objects.exists()


@pytest.mark.parametrize(
    "header",
    [
        "Bearer gd_not-a-real-token",
        "Bearer ",
        "Bearer " + "x" * 10_000,
        "Bearer <script>alert(1)</script>",
        "Bearer \u202egd_reversed",
        "Basic Z2F0ZTpnYXRl",
        "gd_token-without-scheme",
    ],
)
def test_wrong_bearer_tokens_are_refused(gate, header: str) -> None:
    client = Client(headers={"authorization": header})
    assert client.get(f"/api/checkin/{YEAR}/bundle").status_code == 401
    assert post(client, batch("GT1:x")).status_code == 401
    assert not Scan.objects.exists()


def test_revoked_device_is_refused(gate, device, device_token) -> None:
    services.revoke_gate_device(device=services.GateDevice.objects.get())
    assert device.get(f"/api/checkin/{YEAR}/bundle").status_code == 401


def test_staff_without_a_gate_role_is_refused(client, django_user_model, gate) -> None:
    sign_in_staff(client, make_staff(django_user_model, "editor", role="program_editor"))

    response = client.get(f"/api/checkin/{YEAR}/bundle")

    assert response.status_code == 403
    assert response.json() == {"detail": "This account has no gate role."}


def test_organisers_may_scan(client, django_user_model, gate) -> None:
    sign_in_staff(client, make_staff(django_user_model, "organiser", role="organiser"))
    issued = issue_ticket(gate.edition)

    response = post(client, batch(issued.code))

    assert response.status_code == 200
    assert response.json()["results"][0]["status"] == "valid"


def test_session_scans_need_the_csrf_token(django_user_model, gate) -> None:
    client = Client(enforce_csrf_checks=True)
    sign_in_staff(client, make_staff(django_user_model, "gatekeeper", role="gate"))
    page = client.get(f"/staff/scanner/{YEAR}/north/")
    token = page.cookies["csrftoken"].value
    issued = issue_ticket(gate.edition)

    refused = post(client, batch(issued.code))
    accepted = post(client, batch(issued.code), headers={"x-csrftoken": token})

    assert refused.status_code == 403
    assert refused.json() == {"detail": "CSRF check Failed"}
    assert accepted.status_code == 200
    assert Scan.objects.count() == 1


def test_device_scans_without_csrf(gate, device_token) -> None:
    client = Client(enforce_csrf_checks=True, headers={"authorization": f"Bearer {device_token}"})
    issued = issue_ticket(gate.edition)

    response = post(client, batch(issued.code))

    assert response.status_code == 200
    scan = Scan.objects.get()
    assert scan.device is not None and scan.scanned_by is None
    assert scan.scanner_id == "web-test"


def test_device_may_not_scan_at_another_gate(gate, device) -> None:
    GateFactory(edition=gate.edition, slug="south")
    issued = issue_ticket(gate.edition)

    response = post(device, batch(issued.code), url=scans_url(slug="south"))

    assert response.status_code == 403
    assert response.json() == {"detail": "This device scans at another gate."}
    assert not Scan.objects.exists()


def test_device_may_not_read_another_edition(gate, device) -> None:
    EditionFactory(year=YEAR + 1)
    response = device.get(f"/api/checkin/{YEAR + 1}/bundle")
    assert response.status_code == 403


def test_gate_of_another_edition_is_not_found(staff, gate) -> None:
    other = GateFactory(edition=EditionFactory(year=YEAR + 2), slug="east")
    issued = issue_ticket(gate.edition)

    response = post(staff, batch(issued.code), url=scans_url(slug=other.slug))
    unknown_year = post(staff, batch(issued.code), url=scans_url(year=1999))

    assert response.status_code == 404
    assert response.json() == {"detail": "There is no such gate in this edition."}
    assert unknown_year.status_code == 404
    assert not Scan.objects.exists()


# --- malformed bodies -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", ["{not json", "", "\x00\x01", '{"scans": [', "null", "[]", '"scans"', "{}"]
)
def test_malformed_bodies_are_refused_clearly(staff, gate, body: str) -> None:
    response = post(staff, body)

    assert response.status_code in {400, 422}
    assert "detail" in response.json()
    assert not Scan.objects.exists()


def test_not_json_is_a_400(staff, gate) -> None:
    response = post(staff, "{not json")
    assert response.status_code == 400
    assert response.json() == {"detail": "Cannot parse request body"}


@pytest.mark.parametrize(
    "scan",
    [
        {"nonce": "short", "code": "x"},
        {"nonce": "n" * 65, "code": "x"},
        {"nonce": "<script>1234</script>", "code": "x"},
        {"nonce": "valid-nonce-0001", "code": "x", "direction": "sideways"},
        {"nonce": "valid-nonce-0001", "code": "x", "device_time": "yesterday"},
        {"nonce": "valid-nonce-0001", "code": "x" * 7101},
        {"nonce": "valid-nonce-0001"},
        {"code": "x"},
        {"nonce": "valid-nonce-0001", "code": 12},
    ],
)
def test_malformed_scans_are_a_422(staff, gate, scan: dict) -> None:
    response = post(staff, {"scans": [scan]})

    assert response.status_code == 422
    assert response.json()["detail"]
    assert not Scan.objects.exists()


def test_malformed_device_id_is_a_422(staff, gate) -> None:
    body = batch("x")
    body["device_id"] = "web\u202eevil"
    assert post(staff, body).status_code == 422


def test_empty_and_oversized_batches_are_refused(staff, gate) -> None:
    empty = post(staff, {"scans": []})
    huge = post(staff, batch(*(["GT1:x"] * (MAX_BATCH + 1))))

    assert empty.status_code == 422
    assert huge.status_code == 422
    assert "at most 200 items" in json.dumps(huge.json())
    assert not Scan.objects.exists()


def test_a_body_beyond_the_upload_limit_is_a_413(staff, gate, settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = post(staff, batch(*(["GT1:" + "A" * 7000] * 3)))

    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is too large."}


# --- results ----------------------------------------------------------------------------------


def test_a_batch_gets_one_result_per_scan_in_order(staff, gate) -> None:
    good, revoked = issue_ticket(gate.edition), issue_ticket(gate.edition, revoked=True)
    other_year = issue_ticket(EditionFactory(year=YEAR + 3))
    forged = good.code[:-10] + ("A" if good.code[-10] != "A" else "B") + good.code[-9:]
    body = batch(
        good.code,
        good.code,
        revoked.code,
        other_year.code,
        forged,
        good.code[:60],
        "<script>alert(1)</script>",
        "\u202e" + good.code,
    )

    response = post(staff, body)

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["nonce"] for r in results] == [s["nonce"] for s in body["scans"]]
    assert [r["status"] for r in results] == [
        "valid",
        "already_inside",
        "revoked",
        "wrong_edition",
        "forged",
        "malformed",
        "malformed",
        "malformed",
    ]
    assert [r["accepted"] for r in results] == [True] + [False] * 7
    assert results[0]["ticket_id"] == good.ticket_id
    assert results[0]["category"] == 1
    assert results[0]["message"] == "Valid ticket: welcome."
    assert results[1]["previous"]["gate"] == "north"
    assert results[1]["previous"]["gate_name"] == "Gate North"
    assert results[1]["message"].startswith("Already entered at Gate North at ")
    assert results[4]["ticket_id"] is None
    assert Scan.objects.count() == 8


def test_every_kind_of_answer_is_what_the_openapi_document_says(staff, gate) -> None:
    # The scans endpoint writes its JSON itself (ninja would validate its own dicts again):
    # each answer must still have exactly the documented fields and types.
    issued = issue_ticket(gate.edition)
    post(staff, {"scans": [{"nonce": "taken-nonce-0001", "code": "garbage"}]})
    body = batch(issued.code, issued.code, "garbage")
    body["scans"].append({"nonce": "taken-nonce-0001", "code": issued.code})

    answers = [post(staff, body), post(staff, body)]  # the second one replayed

    for response in answers:
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json; charset=utf-8"
        document = response.json()
        ScanBatchOut.model_validate(document)
        for result in document["results"]:
            assert set(result) == set(ScanOut.model_fields)
            if result["previous"] is not None:
                assert set(result["previous"]) == set(PreviousScanOut.model_fields)
    statuses = [r["status"] for r in answers[0].json()["results"]]
    assert statuses == ["valid", "already_inside", "malformed", "nonce_reused"]
    assert dt.datetime.fromisoformat(answers[0].json()["results"][0]["server_time"]).tzinfo


def test_the_same_batch_sent_again_is_replayed_and_writes_nothing(staff, gate) -> None:
    issued = issue_ticket(gate.edition)
    body = batch(issued.code, "garbage")
    first = post(staff, body).json()["results"]

    again = post(staff, body).json()["results"]

    assert [r["status"] for r in again] == [r["status"] for r in first] == ["valid", "malformed"]
    assert [r["replayed"] for r in first] == [False, False]
    assert [r["replayed"] for r in again] == [True, True]
    assert Scan.objects.count() == 2


def test_a_nonce_reused_for_another_code_gets_its_own_result(staff, gate) -> None:
    one, two = issue_ticket(gate.edition), issue_ticket(gate.edition)
    post(staff, {"scans": [{"nonce": "shared-nonce-0001", "code": one.code}]})

    response = post(staff, {"scans": [{"nonce": "shared-nonce-0001", "code": two.code}]})

    assert response.status_code == 200
    (result,) = response.json()["results"]
    assert result["status"] == "nonce_reused" and not result["accepted"]
    assert Scan.objects.count() == 1


def test_exit_mode_through_the_api(staff, gate) -> None:
    issued = issue_ticket(gate.edition)
    statuses = [
        post(staff, batch(issued.code, direction=direction)).json()["results"][0]["status"]
        for direction in ("exit", "entry", "exit", "exit", "entry")
    ]
    assert statuses == ["not_inside", "valid", "valid", "already_left", "valid"]


def test_messages_come_in_the_language_asked_for(staff, gate) -> None:
    issued = issue_ticket(gate.edition)
    tz = gate.edition.tzinfo
    moment = dt.datetime.combine(now().astimezone(tz).date(), dt.time(10, 42), tzinfo=tz)
    services.record_scan(
        code=issued.code, gate=gate, direction="entry", nonce="first-scan-0001", at=moment
    )

    response = post(staff, batch(issued.code), url=scans_url() + "?lang=fa")

    message = response.json()["results"][0]["message"]
    assert "ورودی شمال" in message and "۱۰:۴۲" in message  # noqa: RUF001


def test_without_lang_messages_follow_the_browser_language(device, gate) -> None:
    issued = issue_ticket(gate.edition)
    with translation.override("fr"):
        french = services.message_templates()["valid_entry"]

    response = post(device, batch(issued.code), headers={"accept-language": "fr-FR,fr;q=0.9"})

    assert french != "Valid ticket: welcome."  # the catalogue has it in French
    assert response.json()["results"][0]["message"] == french
    assert response["Content-Language"] == "fr"
    assert "Accept-Language" in response["Vary"]


def test_offline_scans_are_stored_as_decided_offline(device, gate) -> None:
    issued = issue_ticket(gate.edition)
    body = {
        "scans": [
            {
                "nonce": "offline-scan-0001",
                "code": issued.code,
                "offline": True,
                "device_time": "2040-06-29T10:42:00+02:00",
            }
        ]
    }

    assert post(device, body).json()["results"][0]["status"] == "valid"
    scan = Scan.objects.get()
    assert scan.offline
    assert scan.device_time == dt.datetime(2040, 6, 29, 8, 42, tzinfo=dt.UTC)


def test_no_personal_data_in_any_answer(staff, gate) -> None:
    issued = issue_ticket(gate.edition)
    issue_ticket(gate.edition, revoked=True)
    answers = [
        post(staff, batch(issued.code, issued.code)).content,
        staff.get(f"/api/checkin/{YEAR}/bundle").content,
        staff.get(f"/api/checkin/{YEAR}/counts").content,
        staff.get(f"/api/checkin/{YEAR}/gates").content,
    ]
    for content in answers:
        text = content.decode()
        assert SECRET_NAME not in text
        assert SECRET_EMAIL not in text
        assert "Shirin" not in text


# --- bundle, counts, gates ---------------------------------------------------------------------


def test_bundle_holds_keys_and_revoked_ids(device, gate) -> None:
    revoked = issue_ticket(gate.edition, revoked=True)

    response = device.get(f"/api/checkin/{YEAR}/bundle")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    bundle = decode_gate_bundle(response.content)
    assert bundle.edition_year == YEAR
    assert bundle.revoked == {revoked.ticket.ticket_id_bytes}
    assert bundle.public_keys == keys.public_keys()


def test_bundle_for_a_hundred_thousand_revoked_tickets_is_under_a_megabyte() -> None:
    revoked = [secrets.token_bytes(8) for _ in range(100_000)]

    data = encode_gate_bundle(
        edition_year=YEAR, public_keys=keys.public_keys(), revoked=revoked, generated_at=now()
    )

    assert len(data) < 1_000_000
    assert len(decode_gate_bundle(data).revoked) == 100_000


def test_counts_per_gate_and_quarter(staff, gate) -> None:
    south = GateFactory(edition=gate.edition, slug="south")
    one, two = issue_ticket(gate.edition), issue_ticket(gate.edition)
    post(staff, batch(one.code, two.code, "garbage"))
    post(staff, batch(one.code, direction="exit"), url=scans_url(slug="south"))

    everything = staff.get(f"/api/checkin/{YEAR}/counts").json()
    only_south = staff.get(f"/api/checkin/{YEAR}/counts?gate=south").json()
    unknown = staff.get(f"/api/checkin/{YEAR}/counts?gate=nowhere")

    assert everything["year"] == YEAR and everything["timezone"] == "Europe/Paris"
    assert everything["inside"] == 1
    assert {g["gate"]: (g["entries"], g["exits"], g["rejected"]) for g in everything["gates"]} == {
        "north": (2, 0, 1),
        "south": (0, 1, 0),
    }
    assert sum(q["entries"] for q in everything["quarters"]) == 2
    assert sum(q["exits"] for q in everything["quarters"]) == 1
    assert {q["gate"] for q in only_south["quarters"]} == {south.slug}
    assert unknown.status_code == 404


def test_gate_list(device, gate) -> None:
    GateFactory(edition=gate.edition, slug="south", name=texts("Gate South"))
    response = device.get(f"/api/checkin/{YEAR}/gates")
    assert response.json() == [
        {"slug": "north", "name": "Gate North"},
        {"slug": "south", "name": "Gate South"},
    ]


def test_openapi_documents_both_ways_to_sign_in(client) -> None:
    schema = client.get("/api/openapi.json").json()

    schemes = schema["components"]["securitySchemes"]
    assert schemes["GateDeviceAuth"] == {"type": "http", "scheme": "bearer"}
    assert schemes["GateStaffSessionAuth"]["in"] == "cookie"
    operation = schema["paths"]["/api/checkin/{year}/gates/{slug}/scans"]["post"]
    assert {"GateDeviceAuth": []} in operation["security"]
    assert {"GateStaffSessionAuth": []} in operation["security"]
    assert ScanStatus.ALREADY_INSIDE.value in json.dumps(schema)
