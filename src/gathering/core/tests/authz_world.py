"""The world of the authorization matrix (``test_authz_matrix.py``): two editions, two sites with
their own coordinators, registrations (press among them), a delegation, signatures, gates and a
gate device, export requests, and one signed-in client per role.

Every URL parameter is filled from here (:func:`variants`): one object a role may act on and,
where an object-level check matters, one it may not ("other-site", "other-edition", "not-press",
"not-looked-up", "other's"). Personal data is made of canary strings (:data:`CANARIES`) that the
matrix looks for in every answer a role gets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.contrib.auth.tokens import default_token_generator
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from gathering.audit import services as audit_services
from gathering.checkin import tokens as gate_tokens
from gathering.checkin.models import Direction, Gate, GateDevice
from gathering.checkin.services import record_scan
from gathering.core.models import Organisation
from gathering.core.testing.staff import sign_in_staff
from gathering.live.services import post_announcement
from gathering.program.models import Edition
from gathering.program.tests.factories import (
    EditionFactory,
    SessionFactory,
    SpeakerFactory,
    TrackFactory,
    add_speaker,
    texts,
)
from gathering.registration import services as registration_services
from gathering.registration import tokens
from gathering.registration.models import Category, Registration
from gathering.registration.staff_views import DESK_SESSION_KEY
from gathering.registration.tests.factories import CategoryFactory, QuestionFactory
from gathering.registration.tickets import ticket_code
from gathering.satellites.models import AttendanceReport
from gathering.satellites.tests.factories import (
    AttendanceReportFactory,
    SiteFactory,
    StreamChannelFactory,
    live_edition,
)
from gathering.transparency import services as transparency_services
from gathering.voices.models import Invalidation
from gathering.voices.tests.factories import CampaignFactory, EndorsementFactory
from gathering.voices.tests.signers import stored_signature

# Who asks: every staff role (settings.GATHERING_STAFF_ROLES) and three who are not staff.
NOT_STAFF = ("anonymous", "user", "device")

# Personal data, planted so that a leak shows: (kind, text).
ATTENDEE_NAME = "Atlas Canaryattendee"
ATTENDEE_EMAIL = "atlas.canary@attendee.example"
OTHER_ATTENDEE_NAME = "Bora Canaryotheredition"
OTHER_ATTENDEE_EMAIL = "bora.canary@attendee.example"
PRESS_NAME = "Pressa Canaryjournalist"
PRESS_EMAIL = "pressa.canary@press.example"
LEADER_NAME = "Leda Canaryleader"
LEADER_EMAIL = "leda.canary@leader.example"
SIGNER_EMAIL = "sina.canary@signer.example"
HIDDEN_SIGNER_NAME = "Hidda Canarysigner"
SITE_A_CONTACT = "Alma Canarycontact"
SITE_A_EMAIL = "alma.canary@site-a.example"
SITE_B_CONTACT = "Bruno Canarycontact"
SITE_B_EMAIL = "bruno.canary@site-b.example"

REGISTRANT_NAMES = (ATTENDEE_NAME, OTHER_ATTENDEE_NAME, PRESS_NAME, LEADER_NAME)
REGISTRANT_EMAILS = (ATTENDEE_EMAIL, OTHER_ATTENDEE_EMAIL, PRESS_EMAIL, LEADER_EMAIL)
NON_PRESS_NAMES = (ATTENDEE_NAME, OTHER_ATTENDEE_NAME, LEADER_NAME)
NON_PRESS_EMAILS = (ATTENDEE_EMAIL, OTHER_ATTENDEE_EMAIL, LEADER_EMAIL)
SITE_CONTACTS = (SITE_A_CONTACT, SITE_A_EMAIL, SITE_B_CONTACT, SITE_B_EMAIL)
CANARIES = (
    *REGISTRANT_NAMES,
    *REGISTRANT_EMAILS,
    *SITE_CONTACTS,
    SIGNER_EMAIL,
    HIDDEN_SIGNER_NAME,
)
# What organisers do see somewhere (the back office): the leak check looks for real text.
REACHABLE_CANARIES = (*REGISTRANT_NAMES, ATTENDEE_EMAIL, PRESS_EMAIL, SITE_A_CONTACT, SITE_A_EMAIL)


def forbidden_texts(role: str) -> tuple[str, ...]:
    """What ``role`` must never be shown (outside the private pages a token opens, which show
    their holder's own data to whoever holds the token)."""
    everyone = (SIGNER_EMAIL, HIDDEN_SIGNER_NAME)
    if role == "organiser":
        return ()
    if role == "registration_desk":
        # Names one at a time (each look-up recorded); addresses only masked.
        return (*everyone, *REGISTRANT_EMAILS, *SITE_CONTACTS)
    if role == "press_officer":
        return (*everyone, *NON_PRESS_NAMES, *NON_PRESS_EMAILS, *SITE_CONTACTS)
    if role == "site_coordinator":
        # Their own site's contact is themselves.
        return (*everyone, *REGISTRANT_NAMES, *REGISTRANT_EMAILS, SITE_B_CONTACT, SITE_B_EMAIL)
    return (*everyone, *REGISTRANT_NAMES, *REGISTRANT_EMAILS, *SITE_CONTACTS)


@dataclass
class World:
    edition: Edition
    other_edition: Edition
    objects: dict[str, Any] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    clients: dict[str, Client] = field(default_factory=dict)


def _user(username: str, *, role: str | None = None, staff: bool = True) -> User:
    user = User.objects.create_user(username, password=None, is_staff=staff)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def _registration(
    category: Category, name: str, email: str, *, confirm: bool, leader: bool = False
) -> tuple[Any, str]:
    registration = registration_services.register(
        category=category,
        name=name,
        email=email,
        language="en",
        country="FR",
        consent=True,
        leader=leader,
    ).registration
    token = tokens.new_token()
    Registration.objects.filter(pk=registration.pk).update(
        manage_token_hash=tokens.hash_token(token)
    )
    if confirm:
        registration_services.confirm_email(token=token)
    return Registration.objects.get(pk=registration.pk), token


def build(roles: list[str]) -> World:
    """Everything the URLs need, and a client per role in ``roles``."""
    Organisation.objects.update_or_create(pk=1, defaults={"name": texts("Matrix Gathering")})
    edition = live_edition(2041)
    other = EditionFactory(year=2039, status=Edition.Status.PAST)
    world = World(edition=edition, other_edition=other)
    o = world.objects

    # Program.
    speaker = SpeakerFactory(slug="matrix-speaker")
    session = SessionFactory(edition=edition, track=TrackFactory(edition=edition))
    add_speaker(session, speaker)
    o.update(speaker=speaker, session=session)

    # Registration: attendees in both editions, press, a delegation.
    attendee_category = CategoryFactory(edition=edition, slug="attendee")
    press_category = CategoryFactory(edition=edition, slug="press", kind=Category.Kind.PRESS)
    QuestionFactory(category=press_category, key="media-outlet")
    delegation_category = CategoryFactory(
        edition=edition, slug="delegation", kind=Category.Kind.DELEGATION_MEMBER, is_public=False
    )
    other_category = CategoryFactory(edition=other, slug="attendee")
    attendee, world.tokens["registration"] = _registration(
        attendee_category, ATTENDEE_NAME, ATTENDEE_EMAIL, confirm=True
    )
    press, _press_token = _registration(press_category, PRESS_NAME, PRESS_EMAIL, confirm=True)
    other_attendee, _other_token = _registration(
        other_category, OTHER_ATTENDEE_NAME, OTHER_ATTENDEE_EMAIL, confirm=True
    )
    leader, _leader_token = _registration(
        delegation_category, LEADER_NAME, LEADER_EMAIL, confirm=True, leader=True
    )
    outcome = registration_services.create_delegation(
        leader=leader, city="Lyon", country="FR", transport="coach", expected_size=40
    )
    world.tokens["invitation"] = outcome.invitation_token
    o.update(
        attendee=attendee,
        press=press,
        other_attendee=other_attendee,
        leader=leader,
        delegation=outcome.delegation,
        attendee_category=attendee_category,
        other_category=other_category,
    )

    # Sites: A and B in the edition, each with its own coordinator.
    coordinator_a = _user("coordinator-a", role="site_coordinator")
    coordinator_b = _user("coordinator-b", role="site_coordinator")
    channel = StreamChannelFactory(edition=edition, language="en", is_main=True)
    site_a = SiteFactory(
        edition=edition,
        slug="site-a",
        name="Site Alpha",
        coordinator=coordinator_a,
        contact_name=SITE_A_CONTACT,
        contact_email=SITE_A_EMAIL,
        channel=channel,
    )
    site_b = SiteFactory(
        edition=edition,
        slug="site-b",
        name="Site Beta",
        coordinator=coordinator_b,
        contact_name=SITE_B_CONTACT,
        contact_email=SITE_B_EMAIL,
    )
    AttendanceReportFactory(site=site_a, count=40)
    AttendanceReportFactory(site=site_b, count=70, status=AttendanceReport.Status.HELD)
    o.update(site_a=site_a, site_b=site_b)
    world.tokens["uidb64"] = urlsafe_base64_encode(force_bytes(coordinator_a.pk))
    world.tokens["password_set"] = default_token_generator.make_token(coordinator_a)

    # Gates: two in the edition (one at site A), one in the other; a device at the first.
    gate_1 = Gate.objects.create(edition=edition, slug="gate-1", name=texts("Gate 1"))
    gate_2 = Gate.objects.create(edition=edition, slug="gate-2", name=texts("Gate 2"), site=site_a)
    gate_3 = Gate.objects.create(edition=other, slug="gate-3", name=texts("Gate 3"))
    device_token = gate_tokens.new_token()
    GateDevice.objects.create(
        gate=gate_1, label="Phone 1", token_hash=gate_tokens.hash_token(device_token)
    )
    world.tokens["device"] = device_token
    record_scan(
        code=ticket_code(attendee.ticket), gate=gate_1, direction=Direction.ENTRY, nonce="matrix-1"
    )
    o.update(gate_1=gate_1, gate_2=gate_2, gate_3=gate_3)

    # Voices: a campaign in each edition; a named and a hidden signer; an invalidation.
    campaign = CampaignFactory(edition=edition, slug="stand-with-us", asks_message=True)
    other_campaign = CampaignFactory(edition=other, slug="older-statement")
    EndorsementFactory(campaign=campaign)
    confirm_token, withdraw_token = tokens.new_token(), tokens.new_token()
    stored_signature(
        campaign,
        name=HIDDEN_SIGNER_NAME,
        show_name=False,
        email=SIGNER_EMAIL,
        email_domain="signer.example",
        message="Solidarity from Lyon",
        message_status="pending",
        confirm_token_hash=tokens.hash_token(confirm_token),
        withdraw_token_hash=tokens.hash_token(withdraw_token),
    )
    world.tokens["signature"] = withdraw_token
    world.tokens["signature_confirm"] = confirm_token
    Invalidation.objects.create(
        campaign=campaign,
        kind=Invalidation.Kind.DOMAIN,
        reason="Spam",
        criteria={"domain": "spam.example"},
        count=0,
        counted=0,
    )
    o.update(campaign=campaign, other_campaign=other_campaign)

    # Transparency: a log with one entry.
    log = transparency_services.get_or_create_log(slug="matrix-log")
    transparency_services.queue_entry(log=log, data=b"matrix entry")
    transparency_services.integrate(log=log)
    o["log"] = log

    post_announcement(edition=edition, text={"en": "Doors open at nine."})

    # Roles. The site coordinator is coordinator A.
    for role in roles:
        if role in ("anonymous", "device"):
            continue
        if role == "site_coordinator":
            user = coordinator_a
        elif role == "user":
            user = _user("signed-in-visitor", staff=False)
        else:
            user = _user(f"matrix-{role}", role=role)
        world.users[role] = user

    # Export requests: one of the matrix's organiser (approved by another), one of another.
    other_organiser = _user("other-organiser", role="organiser")
    world.users["other_organiser"] = other_organiser
    if "organiser" in world.users:
        mine = audit_services.request_export(
            None,
            user=world.users["organiser"],
            kind="voices.signatories",
            data={"campaign": str(campaign.pk), "format": "csv"},
            reason="The matrix's own request.",
        )
        audit_services.decide_export(None, export=mine, user=other_organiser, approve=True)
        o["export_own"] = mine
    o["export_other"] = audit_services.request_export(
        None,
        user=other_organiser,
        kind="voices.signatories",
        data={"campaign": str(campaign.pk), "format": "pdf"},
        reason="Another organiser's request.",
    )

    for role in roles:
        if role == "anonymous":
            world.clients[role] = Client()
        elif role == "device":
            world.clients[role] = Client(HTTP_AUTHORIZATION=f"Bearer {device_token}")
        elif role == "user":
            client = Client()
            client.force_login(world.users[role])
            world.clients[role] = client
        else:
            client = Client()
            sign_in_staff(client, world.users[role])
            world.clients[role] = client
    # The desk has looked the attendee up (and nobody else): it may open that one only.
    if "registration_desk" in world.clients:
        session = world.clients["registration_desk"].session
        session[DESK_SESSION_KEY] = [attendee.pk]
        session.save()
    return world


Variant = tuple[str, dict[str, Any]]

# Request bodies (by method) for the routes that validate their body before checking who asks:
# with an empty body every caller would get the same 422, hiding the authorization.
BODIES: dict[str, dict[str, tuple[str, str]]] = {
    "api:checkin-scans": {
        "POST": (
            '{"scans": [{"nonce": "matrix-nonce-0001", "code": "not-a-ticket"}]}',
            "application/json",
        )
    },
}

# Where the edition in the address decides what a role may reach (staff pages, the gates'
# API): those get a variant of the other edition. Public pages are the same for everyone.
_EDITION_BOUND = ("staff/", "<lang>/staff/", "api/checkin/")


def _year(world: World, route: str) -> list[Variant]:
    own: list[Variant] = [("", {"year": world.edition.year})]
    if route.startswith(_EDITION_BOUND):
        return [*own, ("other-edition", {"year": world.other_edition.year})]
    return own


def variants(name: str, route: str, params: list[str], world: World) -> list[Variant]:
    """The ways of filling ``params`` of the URL called ``name`` ("namespace:name") whose
    pattern is ``route``; raises LookupError for a URL this function does not know (add it
    here)."""
    o, t = world.objects, world.tokens
    e1, e2 = world.edition.year, world.other_edition.year
    if not params:
        return [("", {})]
    if name.startswith("admin:"):
        return _admin_variants(name, params, world)
    if params == ["year"]:
        return _year(world, route)
    campaign: list[Variant] = [("", {"year": e1, "slug": o["campaign"].slug})]
    if route.startswith(_EDITION_BOUND):
        campaign.append(("other-edition", {"year": e2, "slug": o["other_campaign"].slug}))
    by_name: dict[str, list[Variant]] = {
        # Public pages with a slug or a private link's token.
        "program:session-detail": [("", {"year": e1, "pk": o["session"].pk})],
        "exports:session-ical": [("", {"year": e1, "pk": o["session"].pk})],
        "program:speaker-detail": [("", {"slug": o["speaker"].slug})],
        "exports:speaker-ical": [("", {"slug": o["speaker"].slug})],
        "api:speaker-detail": [("", {"slug": o["speaker"].slug})],
        "registration:registration-create": [
            ("", {"year": e1, "slug": o["attendee_category"].slug})
        ],
        "registration:delegation-join": [("", {"year": e1, "token": t["invitation"]})],
        "satellites:site-detail": [("", {"year": e1, "slug": o["site_a"].slug})],
        "satellites:password-set": [("", {"uidb64": t["uidb64"], "token": t["password_set"]})],
        "voices:signature-manage": [("", {"token": t["signature"]})],
        "voices:signature-confirm": [("", {"token": t["signature_confirm"]})],
        "voices:receipt": [("", {"token": t["signature"]})],
        "voices:signatories-export": [(label, {**kw, "fmt": "csv"}) for label, kw in campaign],
        # The gate device works at gate 1 of the edition.
        "checkin:scanner": [
            ("", {"year": e1, "slug": o["gate_1"].slug}),
            ("other-gate", {"year": e1, "slug": o["gate_2"].slug}),
            ("other-edition", {"year": e2, "slug": o["gate_3"].slug}),
        ],
        "api:checkin-scans": [
            ("", {"year": e1, "slug": o["gate_1"].slug}),
            ("other-gate", {"year": e1, "slug": o["gate_2"].slug}),
            ("other-edition", {"year": e2, "slug": o["gate_3"].slug}),
        ],
        # Staff pages of one object.
        "satellites:site-dashboard": [
            ("own-site", {"pk": o["site_a"].pk}),
            ("other-site", {"pk": o["site_b"].pk}),
        ],
        "registration:desk-registration": [
            ("looked-up", {"pk": o["attendee"].pk}),
            ("not-looked-up", {"pk": o["other_attendee"].pk}),
        ],
        "registration:press-registration": [
            ("press", {"pk": o["press"].pk}),
            ("not-press", {"pk": o["attendee"].pk}),
        ],
        "registration:press-badge": [
            ("press", {"pk": o["press"].pk}),
            ("not-press", {"pk": o["attendee"].pk}),
        ],
        "audit:export-detail": [
            ("organiser's", {"pk": _pk(o.get("export_own"))}),
            ("other's", {"pk": o["export_other"].pk}),
        ],
        "audit:export-download": [
            ("organiser's", {"pk": _pk(o.get("export_own"))}),
            ("other's", {"pk": o["export_other"].pk}),
        ],
        "accounts:staff-reset": [("other-organiser", {"pk": world.users["other_organiser"].pk})],
        "accounts:key-remove": [("unknown-key", {"pk": 999_999})],
    }
    if name in by_name:
        return by_name[name]
    if name.startswith("voices:") and params == ["year", "slug"]:
        return campaign
    if name.startswith("voices:") and params == ["token"]:
        return [("", {"token": t["signature"]})]
    if name.startswith("registration:") and params == ["token"]:
        return [("", {"token": t["registration"]})]
    if name.startswith("api:transparency-"):
        kwargs: dict[str, Any] = {"slug": o["log"].slug}
        if "index" in params:
            kwargs["index"] = 0
        return [("", kwargs)]
    if name.startswith("api:") and params == ["year", "slug"]:
        return campaign
    raise LookupError(f"no way to fill {params} of {name}: add it to authz_world.variants")


def _pk(obj: Model | None) -> int:
    return obj.pk if obj is not None else 999_999


def _admin_variants(name: str, params: list[str], world: World) -> list[Variant]:
    # Unnamed back-office URLs are named after their route by the matrix: "admin:<route>".
    if params == ["app_label"]:
        return [("", {"app_label": "registration"})]
    if params == ["url"]:
        return [("", {"url": "no-such-page/"})]
    if params == ["content_type_id", "object_id"]:
        campaign = world.objects["campaign"]
        kind = ContentType.objects.get_for_model(campaign)
        return [("", {"content_type_id": kind.pk, "object_id": campaign.pk})]
    if params == ["id"]:  # a user's password form
        return [("other-organiser", {"id": world.users["other_organiser"].pk})]
    model = admin_model(name)
    obj = model._default_manager.order_by("pk").first()  # type: ignore[attr-defined]
    if obj is None:
        raise LookupError(f"the world has no {model._meta.label} for {name}")
    return [("", {"object_id": obj.pk})]


def admin_model(name: str) -> type[Model]:
    """The model of a back-office URL: by name (``admin:registration_ticket_change``) or, for
    the unnamed ones, by route (``admin:admin/registration/ticket/<path:object_id>/``)."""
    for model in admin.site._registry:
        label = f"{model._meta.app_label}_{model._meta.model_name}_"
        route = f"admin/{model._meta.app_label}/{model._meta.model_name}/"
        if name.startswith((f"admin:{label}", f"admin:{route}")):
            return model
    raise LookupError(f"no model in the back office for {name}")
