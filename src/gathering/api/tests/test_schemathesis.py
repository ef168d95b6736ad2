"""Property-based tests of the whole JSON API against its own OpenAPI document (schemathesis).

Every operation of /api/openapi.json gets generated requests, valid and invalid, some aimed at
the objects that exist (the edition, its gate, campaign, speaker and transparency log) and the
check-in ones sent with and without a gate device's token. Each answer goes through all of
schemathesis' checks: no server error, a status code, content type, headers and body that the
document declares, invalid data refused, auth enforced (``ignored_auth`` probes the check-in
operations again without and with a wrong token), and so on. Derandomised: the same cases on
every run, so a failure here is reproducible.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

from gathering.checkin import services as checkin_services
from gathering.checkin.tests.factories import GateFactory
from gathering.program.models import Session
from gathering.program.tests.factories import (
    PARIS,
    EditionFactory,
    RoomFactory,
    SessionFactory,
    SpeakerFactory,
    TrackFactory,
    add_speaker,
    texts,
)
from gathering.transparency import services as transparency_services
from gathering.voices.tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db

YEAR = 2031
# Per operation; 19 operations, and the few without parameters run out of distinct cases
# before this: the total is asserted below.
MAX_EXAMPLES = 70
MIN_CASES = 1_000
# positive_data_acceptance expects well-formed requests to succeed, but the document cannot say
# which slugs exist or how large a log is: an unknown track filter or an index beyond the tree
# is a 400 the operation declares (status_code_conformance still checks that it does).
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", "400", "401", "403", "404", "409", "429"]
            }
        }
    }
)


@pytest.fixture
def wsgi_app() -> Iterator[Any]:
    # The real WSGI handler (as gathering.wsgi serves it, without its gc.freeze()), called in
    # this thread: it sees the test's transaction. As Django's test client does, keep the
    # request signals from closing that connection between requests.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def world() -> dict[str, Any]:
    """Something for every operation to find: an edition with a program, a gate and its device,
    a campaign and a transparency log with entries and tree heads."""
    edition = EditionFactory(year=YEAR, default_language="en")
    EditionFactory(year=2024, default_language="fa")
    room = RoomFactory(edition=edition, slug="main")
    track = TrackFactory(edition=edition, slug="politics")
    session = SessionFactory(
        edition=edition,
        title=texts("Opening", "گشایش", "Ouverture"),
        kind=Session.Kind.PLENARY,
        room=room,
        track=track,
        start=dt.datetime(YEAR, 6, 29, 10, 0, tzinfo=PARIS),
        end=dt.datetime(YEAR, 6, 29, 11, 30, tzinfo=PARIS),
        floor_language="fa",
        interpretation_languages=["en", "fr"],
    )
    speaker = SpeakerFactory(slug="maryam", name=texts("Maryam Example", "مریم نمونه"))
    add_speaker(session, speaker)
    gate = GateFactory(edition=edition, slug="north")
    _device, token = checkin_services.create_gate_device(gate=gate, label="Turnstile 1")
    campaign = CampaignFactory(edition=edition, slug="statement")
    log = transparency_services.get_or_create_log(slug=campaign.log_slug)
    for i in range(5):
        transparency_services.queue_entry(log=log, data=b'{"i":%d}' % i)
    transparency_services.integrate(log=log, limit=2)
    transparency_services.integrate(log=log)
    return {
        "token": token,
        "year": YEAR,
        "gate": gate.slug,
        "speaker": speaker.slug,
        "campaign": campaign.slug,
        "log": log.slug,
    }


def _known_path_parameters(path: str, world: dict[str, Any]) -> dict[str, Any]:
    """Path parameters naming objects that exist, for this operation's path."""
    known: dict[str, Any] = {}
    if "{year}" in path:
        known["year"] = world["year"]
    if "{slug}" in path:
        if path.startswith("/api/checkin/"):
            known["slug"] = world["gate"]
        elif path.startswith("/api/speakers/"):
            known["slug"] = world["speaker"]
        elif path.startswith("/api/voices/"):
            known["slug"] = world["campaign"]
        else:
            known["slug"] = world["log"]
    if "{index}" in path:
        known["index"] = 1
    return known


# The document, the validation and the permission checks do not depend on the database engine
# (the API's PostgreSQL behaviour has its own tests): a minute of CPU, on SQLite only.
@pytest.mark.engine_agnostic
def test_the_api_conforms_to_its_openapi_document(wsgi_app: Any, world: dict[str, Any]) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", wsgi_app, config=CONFIG)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 19
    cases: Counter[str] = Counter()
    statuses: Counter[tuple[bool, int]] = Counter()
    failures: list[str] = []
    for operation in operations:
        try:
            _fuzz(operation, world=world, cases=cases, statuses=statuses)
        except BaseException as error:  # every operation is tried; all failures are reported
            if isinstance(error, KeyboardInterrupt):
                raise
            failures.append(f"{operation.label}: {error}")
    assert not failures, "\n\n".join(failures)

    total = sum(cases.values())
    assert len(cases) == len(operations)
    assert total >= MIN_CASES, cases
    # A share of the check-in cases got past authentication (valid token, known year), others
    # were refused for the lack of it.
    assert statuses[(True, 200)] > 0, statuses
    assert statuses[(False, 401)] > 0, statuses


def _fuzz(
    operation: Any,
    *,
    world: dict[str, Any],
    cases: Counter[str],
    statuses: Counter[tuple[bool, int]],
) -> None:
    known = _known_path_parameters(operation.path, world)
    strategies = [
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    ]
    if known:
        strategies.append(
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters=known)
        )
    needs_auth = operation.path.startswith("/api/checkin/")
    bearer = {"Authorization": f"Bearer {world['token']}"}

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(strategies), authenticate=st.booleans())
    def run(case: Any, authenticate: bool) -> None:
        cases[operation.label] += 1
        headers = bearer if needs_auth and authenticate else None
        response = case.call_and_validate(headers=headers)
        statuses[(bool(headers), response.status_code)] += 1
        assert response.status_code < 500
        if needs_auth and not headers:
            # No valid credentials: refused before anything else is looked at.
            assert response.status_code in {401, 403}, response.status_code

    run()


# Regression tests for what schemathesis found, one each.


def _document(client: Client) -> dict[str, Any]:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    name = schema["$ref"].rsplit("/", 1)[-1]
    resolved: dict[str, Any] = document["components"]["schemas"][name]
    return resolved


def test_check_in_and_campaign_counts_are_two_schemas(client: Client) -> None:
    """Both were named CountsOut and the document kept one: the check-in counts were described
    as a campaign's (total, goal), and every real answer violated its own document."""
    document = _document(client)
    checkin = document["paths"]["/api/checkin/{year}/counts"]["get"]["responses"]["200"]
    voices = document["paths"]["/api/voices/{year}/campaigns/{slug}/counts"]["get"]["responses"][
        "200"
    ]
    checkin_schema = _resolve(document, checkin["content"]["application/json"]["schema"])
    voices_schema = _resolve(document, voices["content"]["application/json"]["schema"])
    assert {"inside", "gates", "quarters"} <= set(checkin_schema["properties"])
    assert {"total", "goal", "country_threshold"} <= set(voices_schema["properties"])


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/editions", "get"),
        ("/api/checkin/{year}/bundle", "get"),
        ("/api/checkin/{year}/gates", "get"),
        ("/api/checkin/{year}/counts", "get"),
        ("/api/voices/{year}/campaigns", "get"),
        ("/api/voices/{year}/campaigns/{slug}/counts", "get"),
        ("/api/voices/{year}/campaigns/{slug}/audit", "get"),
    ],
)
def test_every_error_the_operation_gives_is_declared(
    client: Client, path: str, method: str
) -> None:
    responses = _document(client)["paths"][path][method]["responses"]
    assert "400" in responses
    if "{" in path:
        assert "404" in responses


def test_bad_year_and_unknown_campaign_are_json_errors(
    client: Client, world: dict[str, Any]
) -> None:
    bearer = f"Bearer {world['token']}"
    response = client.get("/api/checkin/true/gates", headers={"Authorization": bearer})
    assert response.status_code == 400 and response.json()["detail"] == "Invalid parameter: year."
    assert client.get("/api/voices/1999/campaigns").status_code == 404
    response = client.get(f"/api/voices/{YEAR}/campaigns/nope/counts")
    assert response.status_code == 404 and response.json() == {"detail": "No such campaign."}
    assert client.get("/api/voices/abc/campaigns").status_code == 400


def test_lang_takes_the_documented_codes_only(client: Client, world: dict[str, Any]) -> None:
    """The document lists lang's codes; anything else (even "FR" or " fr") is a 400, so that
    a client never learns to rely on a spelling the document calls invalid."""
    parameters = _document(client)["paths"]["/api/editions"]["get"]["parameters"]
    (lang,) = [p for p in parameters if p["name"] == "lang"]
    assert lang["schema"]["enum"] == ["", "en", "fa", "fr"]
    for value in ["FR", " fr", "fr\u200b", "figures"]:
        response = client.get("/api/editions", {"lang": value})
        assert response.status_code == 400, value
        assert response.json()["detail"] == "Unknown language: use one of en, fa, fr."
    for value in ["", "fr"]:
        assert client.get("/api/editions", {"lang": value}).status_code == 200
