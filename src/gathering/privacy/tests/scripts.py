"""Steps the backup and canary tests run in a process of their own, as a site's operator would:
``python -m gathering.privacy.tests.scripts <step> [argument]``, with the site's environment
(its data folder and database: ``core.testing.server.server_env``). Each prints JSON.

- ``populate TAG``: migrate, then an edition (2031) full of personal data made through the
  services (``factories.populate``), its transparency logs integrated (signed tree heads);
- ``state``: everything a restore must bring back (row counts, decrypted personal data, keys,
  ticket codes signed again, tree heads, users and groups, look-ups through the blind index);
- ``register``: one more registration (after a restore: ids must go on past the loaded ones);
- ``canary_seed``, ``canary_age``, ``canary_state``: the canary test's steps (``test_canary``):
  people with canary names register, confirm, lead and join a delegation, sign, apply for a
  site and are scanned at a gate, through the public pages and APIs (Django's test client) and
  the emails sent over SMTP (to a sink on ``EMAIL_PORT``); then the edition is moved into the
  past (its retention period over); then what is left.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import re
import sys
from collections import Counter
from typing import Any


def _setup() -> None:
    from gathering.cli import ensure_secret_key

    ensure_secret_key()  # as `gathering` does on a new data folder
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gathering.settings")
    import django

    django.setup()
    if os.environ.get("LOG_LEVEL") == "DEBUG":
        # Every SQL statement with its parameters (logged by Django with DEBUG on, at DEBUG
        # level, which Django's own logging settings filter out by default).
        logging.getLogger("django.db.backends").setLevel(logging.DEBUG)


def plain(value: Any) -> Any:
    """``value`` as JSON values, comparable across processes."""
    if isinstance(value, Counter):
        return sorted([plain(key), count] for key, count in value.items())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [plain(item) for item in value]
        return sorted(items, key=json.dumps) if isinstance(value, set | frozenset) else items
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def populate(tag: str) -> dict[str, Any]:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from gathering.privacy.tests.factories import populate as fill
    from gathering.program.tests.factories import EditionFactory
    from gathering.transparency.services import integrate_all

    made = fill(EditionFactory(year=2031), tag=tag)
    integrate_all()
    return {"registrations": [r.pk for r in made.registrations]}


def state() -> dict[str, Any]:
    from django.apps import apps
    from django.contrib.auth.models import Group, User

    from gathering.core import crypto
    from gathering.outbox.models import OutboxEmail
    from gathering.privacy.tests.factories import figures, personal_data
    from gathering.program.models import Edition
    from gathering.registration import keys as ticket_keys
    from gathering.registration import selectors
    from gathering.registration.models import Registration, Ticket
    from gathering.registration.tickets import ticket_code
    from gathering.transparency import keys as log_keys
    from gathering.transparency.models import TreeHead

    edition = Edition.objects.get(year=2031)
    counts = {
        model._meta.label_lower: model._base_manager.count()
        for model in apps.get_models()
        if model._meta.app_label not in {"contenttypes", "sessions"}
        and model._meta.label_lower != "auth.permission"
    }
    found = {}
    for registration in Registration.objects.filter(edition=edition, email__isnull=False):
        match = selectors.find_active_registration(edition=edition, email=registration.email)
        found[registration.email] = match.pk if match else None
    return plain(
        {
            "counts": counts,
            "personal_data": personal_data(edition),
            "figures": figures(edition),
            "outbox": sorted(
                [row.kind, row.status, row.recipient, json.dumps(row.context, sort_keys=True)]
                for row in OutboxEmail.objects.all()
            ),
            "ticket_codes": {t.ticket_id: ticket_code(t) for t in Ticket.objects.order_by("pk")},
            "keys": {
                "tickets": ticket_keys.public_keys(),
                "transparency": log_keys.public_keys(),
                "pii": sorted(crypto.pii_keyring().keys),
                "pii_current": crypto.pii_keyring().current_id,
            },
            "tree_heads": list(
                TreeHead.objects.order_by("pk").values_list(
                    "log__slug", "size", "root", "key_id", "signature"
                )
            ),
            "users": sorted(
                [
                    user.username,
                    user.password,
                    user.is_staff,
                    sorted(g.name for g in user.groups.all()),
                ]
                for user in User.objects.all()
            ),
            "groups": {
                group.name: sorted(group.permissions.values_list("codename", flat=True))
                for group in Group.objects.all()
            },
            "found_by_blind_index": found,
            "rows": rows_digest(),
        }
    )


def rows_digest() -> dict[str, str]:
    """A digest of every row of every model, as stored (ciphertexts as they are, every column,
    ``auto_now`` ones included); users are named by username, since a restore numbers them."""
    import hashlib

    from django.apps import apps
    from django.contrib.auth.models import User

    from gathering.core.crypto import stored_form

    digests = {}
    with stored_form():
        for model in apps.get_models():
            if model._meta.app_label in {"contenttypes", "sessions", "auth", "admin"}:
                continue
            columns = [
                f"{field.name}__username" if field.related_model is User else field.attname
                for field in model._meta.concrete_fields
            ]
            rows = list(model._base_manager.order_by("pk").values_list(*columns))
            digests[model._meta.label_lower] = hashlib.sha256(
                json.dumps(plain(rows), default=str).encode()
            ).hexdigest()
    return digests


def register() -> dict[str, Any]:
    from gathering.program.models import Edition
    from gathering.registration import services
    from gathering.registration.models import Category

    category = Category.objects.filter(
        edition=Edition.objects.get(year=2031), kind=Category.Kind.ATTENDEE
    ).first()
    assert category is not None
    outcome = services.register(
        category=category,
        name="After Restore",
        email="after-restore@example.org",
        language="en",
        country="FR",
        consent=True,
    )
    return {"pk": outcome.registration.pk, "created": outcome.created}


# --- the canary test's steps ------------------------------------------------------------------

# Personal data no byte of the database, its dumps and the logs may show in clear. Every Latin
# one holds "Zxqwv", which nothing else does.
CANARY_TOKEN = "zxqwv"
CANARY_NAME = "Canary Zxqwv Registrant"
CANARY_NAME_FA = "قناری زیکسووو آزمایشی"
CANARY_FA_WORD = "زیکسووو"
CANARY_LEADER = "Canary Zxqwv Leader"
CANARY_MEMBER = "Canary Zxqwv Member"
CANARY_SIGNER = "Canary Zxqwv Signer"
CANARY_NEWS = "Canary Zxqwv Newsreader"
CANARY_CITY = "Canaryville Zxqwv"
CANARY_MESSAGE = "Canary Zxqwv message: free elections now"
CANARY_ANSWER = "Canary Zxqwv answer, no nuts"
CANARY_CONTACT = "Canary Zxqwv Coordinator"
CANARY_PHONE = "+33 7 45 91 28 36"
CANARY_PHONE_DIGITS = "745912836"


def canary_email(n: int | str) -> str:
    return f"canary-zxqwv-{n}@example.org"


CANARIES = [
    CANARY_NAME,
    CANARY_NAME_FA,
    CANARY_FA_WORD,
    CANARY_LEADER,
    CANARY_MEMBER,
    CANARY_SIGNER,
    CANARY_NEWS,
    CANARY_CITY,
    CANARY_MESSAGE,
    CANARY_ANSWER,
    CANARY_CONTACT,
    CANARY_PHONE,
    CANARY_PHONE_DIGITS,
    CANARY_TOKEN,
    *(canary_email(n) for n in range(1, 9)),
]
YEAR = 2030


class _Sink:
    """The SMTP server the site sends to (aiosmtpd, on EMAIL_PORT), read by the steps."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        from gathering.core.testing.smtp import SinkHandler

        # aiosmtpd logs every SMTP command (addresses included): test machinery, not the site.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self.handler = SinkHandler()
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=int(os.environ["EMAIL_PORT"])
        )
        self.controller.start()

    def deliver(self) -> None:
        """One turn of the worker: queued emails sent, periodic jobs run (the purge too)."""
        from gathering.cli import worker

        worker(once=True)

    def link(self, address: str, pattern: str) -> str:
        """The path of the last link to ``address`` that matches ``pattern``."""
        self.deliver()
        for received in reversed(self.handler.received):
            if address in received.to:
                found = re.findall(r"https?://[^/\s]+(/\S*" + pattern + r"\S*)", received.text)
                if found:
                    return str(found[-1])
        raise AssertionError(f"no email to {address} with a link like {pattern}")


def _posted(response: Any, *, status: int = 302) -> Any:
    assert response.status_code == status, (response.status_code, response.content[:3000])
    return response


def canary_seed() -> dict[str, Any]:
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from gathering.checkin import services as checkin
    from gathering.checkin.tests.factories import GateFactory
    from gathering.core.crypto import stored_form
    from gathering.privacy.tests.factories import figures, personal_data, proof_of_work
    from gathering.program.tests.factories import EditionFactory
    from gathering.registration.models import Category, Ticket
    from gathering.registration.tests.factories import CategoryFactory, QuestionFactory
    from gathering.registration.tickets import ticket_code
    from gathering.voices import services as voices
    from gathering.voices.models import Signature
    from gathering.voices.tests.factories import CampaignFactory

    call_command("migrate", interactive=False, verbosity=0)
    sink = _Sink()
    today = timezone.localdate()
    edition = EditionFactory(year=YEAR, start_date=today, end_date=today + dt.timedelta(days=1))
    attendee = CategoryFactory(edition=edition, slug="attendee")
    QuestionFactory(category=attendee, key="diet")
    CategoryFactory(
        edition=edition, slug="delegation", kind=Category.Kind.DELEGATION_MEMBER, is_public=False
    )
    CampaignFactory(edition=edition, slug="canary")
    client = Client()
    person = {"language": "en", "country": "FR", "phone": "", "consent": "on"}

    # Registration through the public form, confirmed through the emailed link.
    for language, name, n, phone in [
        ("en", CANARY_NAME, 1, CANARY_PHONE),
        ("fa", CANARY_NAME_FA, 2, ""),
    ]:
        _posted(
            client.post(
                f"/{language}/{YEAR}/register/attendee/",
                {**person, "name": name, "email": canary_email(n), "phone": phone,
                 "q_diet": CANARY_ANSWER, "language": language},
            )
        )  # fmt: skip
        _posted(client.post(sink.link(canary_email(n), "/registration/.{43}/confirm/")))

    # A delegation: its leader registers it, a member joins through the invitation link.
    _posted(
        client.post(
            f"/en/{YEAR}/delegations/new/",
            {**person, "name": CANARY_LEADER, "email": canary_email(3), "city": "Berlin",
             "departure_country": "DE", "transport": "coach", "expected_size": "12"},
        )
    )  # fmt: skip
    _posted(client.post(sink.link(canary_email(3), "/registration/.{43}/confirm/")))
    join = sink.link(canary_email(3), "/delegations/join/")
    _posted(client.post(join, {**person, "name": CANARY_MEMBER, "email": canary_email(4)}))
    _posted(client.post(sink.link(canary_email(4), "/registration/.{43}/confirm/")))

    # Signing, with a message (approved for the wall) and a signer who wants news.
    for name, n, extra in [
        (CANARY_SIGNER, 5, {"message": CANARY_MESSAGE}),
        (CANARY_NEWS, 6, {"wants_news": "on"}),
    ]:
        _posted(
            client.post(
                f"/en/{YEAR}/voices/canary/",
                {"name": name, "show_name": "on", "email": canary_email(n), "country": "FR",
                 "city": CANARY_CITY, "language": "en", "consent": "on", "website": "",
                 "altcha": proof_of_work(), "message": "", **extra},
            )
        )  # fmt: skip
        _posted(client.post(sink.link(canary_email(n), "/voice/.{43}/confirm/")))
    signed = Signature.objects.get(message__isnull=False)
    voices.moderate_message(signature=signed, approve=True)
    wall = client.get(f"/en/{YEAR}/voices/canary/").content.decode()
    assert CANARY_MESSAGE in wall, "the approved message is on the wall"

    # A satellite site's application.
    _posted(
        client.post(
            f"/en/{YEAR}/sites/apply/",
            {"name": "", "city": "Lyon", "country": "FR", "venue": "Salle des fêtes",
             "expected_attendance": "80", "timezone": "Europe/Paris",
             "contact_name": CANARY_CONTACT, "contact_email": canary_email(7), "language": "en",
             "consent": "on"},
        )
    )  # fmt: skip

    # The first registrant's ticket, scanned at a gate by a gate device (the check-in API).
    gate = GateFactory(edition=edition, slug="north")
    _device, device_token = checkin.create_gate_device(gate=gate, label="Turnstile 1")
    ticket = Ticket.objects.order_by("pk").first()
    assert ticket is not None
    scanned = _posted(
        Client(headers={"authorization": f"Bearer {device_token}"}).post(
            f"/api/checkin/{YEAR}/gates/north/scans",
            data=json.dumps(
                {"device_id": "turnstile-1", "scans": [
                    {"nonce": "canary-scan-0001", "code": ticket_code(ticket),
                     "direction": "entry"}]}
            ),
            content_type="application/json",
        ),
        status=200,
    )  # fmt: skip
    assert scanned.json()["results"][0]["status"] == "valid", scanned.json()

    sink.deliver()
    # An email left unsent: the private link asked for again (the purge must cancel it).
    _posted(client.post(f"/en/{YEAR}/register/lost-link/", {"email": canary_email(1)}))
    sink.controller.stop()
    with stored_form():
        stored = personal_data(edition)
    return {
        "figures": figures(edition),
        "personal_data": personal_data(edition),
        # The same, as stored: the ciphertexts that must be gone after the purge.
        "stored": stored,
        "emails": len(sink.handler.received),
    }


def canary_age() -> dict[str, Any]:
    """The edition ended long ago: its retention period is over."""
    from django.utils import timezone

    from gathering.program.models import Edition
    from gathering.voices.models import Campaign

    edition = Edition.objects.get(year=YEAR)
    today = timezone.localdate()
    edition.start_date = today - dt.timedelta(days=edition.retention_days + 40)
    edition.end_date = edition.start_date + dt.timedelta(days=1)
    edition.status = Edition.Status.PAST
    edition.save(update_fields=["start_date", "end_date", "status"])
    closed = timezone.now() - dt.timedelta(days=edition.retention_days + 30)
    Campaign.objects.filter(edition=edition).update(
        opens_at=closed - dt.timedelta(days=20), closes_at=closed
    )
    return {"deadline": edition.retention_deadline}


def canary_state() -> dict[str, Any]:
    from gathering.outbox.models import OutboxEmail
    from gathering.privacy.tests.factories import figures, personal_data
    from gathering.program.models import Edition

    edition = Edition.objects.get(year=YEAR)
    return {
        "figures": figures(edition),
        "personal_data": personal_data(edition),
        "unsent_emails": OutboxEmail.objects.filter(recipient__isnull=False).count(),
    }


def main(argv: list[str]) -> None:
    _setup()
    step, *arguments = argv
    steps = {
        "populate": populate,
        "state": state,
        "register": register,
        "canary_seed": canary_seed,
        "canary_age": canary_age,
        "canary_state": canary_state,
    }
    print(json.dumps(plain(steps[step](*arguments)), sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1:])
