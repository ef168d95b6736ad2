"""Badges from the back office: organisers select registrations and get one PDF with the badges
of the confirmed press, guests and volunteers among them (A6 cards or label sheets); everyone
else is skipped with a message, and roles without the permission cannot print. One badge comes
at once; several are a bulk export, asked for and approved by another organiser first
(``audit/exports.py``)."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
import zxingcpp
from django.contrib.auth.models import Group, User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from PIL import Image
from pypdf import PdfReader

from gathering.audit.models import AuditEvent, ExportRequest
from gathering.core.testing.staff import sign_in_staff
from gathering.program.tests.factories import EditionFactory, texts
from gathering.registration import selectors, services
from gathering.registration.badges import affiliation, badge_document
from gathering.registration.models import Category, Question, Registration
from gathering.registration.tests.factories import (
    CategoryFactory,
    QuestionFactory,
    register_person,
    reload,
)
from gathering.registration.ticket_codes import CategoryCode
from gathering.registration.tickets import ticket_code

# Rendering and formats, not the database engine: the PostgreSQL run of `make test` leaves it out.
pytestmark = [pytest.mark.django_db, pytest.mark.engine_agnostic]

CHANGELIST = "admin:registration_registration_changelist"
A6 = (105.0, 148.0)
A4 = (210.0, 297.0)
LONG_NAME = "Ali " + "W" * 180 + " علی رضایی"
MM = 72 / 25.4  # PDF points per millimetre
PDFTOPPM = shutil.which("pdftoppm")
needs_pdftoppm = pytest.mark.skipif(
    PDFTOPPM is None,
    reason="pdftoppm (Debian's poppler-utils) is not installed, so the badges' QR codes "
    "cannot be read back; `make browser` installs it when run as root",
)


def read(pdf: bytes) -> PdfReader:
    assert pdf.startswith(b"%PDF-")
    return PdfReader(io.BytesIO(pdf))


def page_size_mm(reader: PdfReader, index: int = 0) -> tuple[float, float]:
    box = reader.pages[index].mediabox
    return round(float(box.width) / MM, 1), round(float(box.height) / MM, 1)


def rasterize(pdf: bytes, folder: Path, *, dpi: int) -> list[Image.Image]:
    """The PDF's pages as greyscale images (poppler)."""
    source = folder / "badges.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        [PDFTOPPM, "-r", str(dpi), "-gray", "-png", str(source), str(folder / "page")],
        check=True,
        timeout=300,
    )
    return [Image.open(page).convert("L") for page in sorted(folder.glob("page-*.png"))]


def qr_texts(image: Image.Image) -> list[str]:
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return sorted(result.text for result in found)


def staff(role: str) -> User:
    user = User.objects.create_user(f"{role}-user", password="a-long-staff-password-2027")
    user.is_staff = True
    user.save()
    user.groups.add(Group.objects.get(name=role))
    return user


class People:
    """One edition with press, guests, volunteers and attendees; who is confirmed varies."""

    def __init__(self, committed, smtp_sink) -> None:
        self._committed = committed
        self._sink = smtp_sink
        self.edition = EditionFactory(year=2061)
        self.attendees = CategoryFactory(
            edition=self.edition, kind=Category.Kind.ATTENDEE, slug="attendees", position=0
        )
        self.press = CategoryFactory(
            edition=self.edition,
            kind=Category.Kind.PRESS,
            slug="press",
            position=1,
            name=texts("Press", "خبرنگار", "Presse"),
        )
        QuestionFactory(
            category=self.press, key="outlet", label=texts("Media outlet"), required=False
        )
        self.guests = CategoryFactory(
            edition=self.edition,
            kind=Category.Kind.GUEST,
            slug="guests",
            position=2,
            name=texts("Guest of honour", "مهمان ویژه", "Invité d'honneur"),
        )
        self.volunteers = CategoryFactory(
            edition=self.edition,
            kind=Category.Kind.VOLUNTEER,
            slug="volunteers",
            position=3,
            name=texts("Volunteer", "داوطلب", "Bénévole"),
        )
        QuestionFactory(
            category=self.volunteers,
            key="team-affiliation",
            kind=Question.Kind.CHOICE,
            label=texts("Team"),
            choices=[
                {"value": "stewards", "label": {"en": "Stewards", "fr": "Accueil"}},
                {"value": "first-aid", "label": {"en": "First aid", "fa": "امداد"}},
            ],
        )
        # A yes/no question whose key mentions an organisation: never printed as affiliation.
        QuestionFactory(
            category=self.volunteers,
            key="organisation-member",
            kind=Question.Kind.YES_NO,
            label=texts("Member of an organisation?"),
            position=9,
        )

    def confirmed(self, category: Category, **fields) -> Registration:
        with self._committed():  # the confirmation email leaves as the block ends
            registration = register_person(category, **fields).registration
        with self._committed():
            services.confirm_email(token=self._sink.last_to(registration.email).token())
        return reload(registration)

    def pending(self, category: Category, **fields) -> Registration:
        with self._committed():
            return register_person(category, **fields).registration


@pytest.fixture
def people(committed, smtp_sink) -> People:
    return People(committed, smtp_sink)


@pytest.fixture
def crowd(people):
    """Three people who get a badge, and three who do not."""
    return {
        "reporter": people.confirmed(
            people.press, name="Jean-Pierre Dupont", language="fr", answers={"outlet": "Le Monde"}
        ),
        "guest": people.confirmed(people.guests, name="سارا محمدی", language="fa"),
        "volunteer": people.confirmed(
            people.volunteers,
            name="Zoë Helper",
            language="en",
            answers={"team-affiliation": "stewards", "organisation-member": True},
        ),
        "attendee": people.confirmed(people.attendees, name="Plain Attendee"),
        "unconfirmed": people.pending(people.press, name="Pending Reporter"),
        "cancelled": _cancelled(people.confirmed(people.press, name="Gone Reporter")),
    }


def _cancelled(registration: Registration) -> Registration:
    services.cancel(registration=registration, reason=Registration.CancelReason.BY_STAFF)
    return reload(registration)


def post_action(client, action: str, registrations, **extra):
    return client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [str(r.pk) for r in registrations], **extra},
    )


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


_approvers = iter(range(1, 10**6))


def through_approval(client, response):
    """Several badges: the action shows the export request form; it is sent with a reason,
    another organiser approves, and the PDF is downloaded (the response returned)."""
    assert response.status_code == 200
    assert response.context["kind"].code == "registration.badges"
    data: dict[str, list[str]] = {}
    for name, value in response.context["hidden"]:
        data.setdefault(name, []).append(value)
    data["reason"] = ["Badges for the press desk tomorrow morning."]
    assert client.post(reverse("audit:export-new"), data).status_code == 302
    export = ExportRequest.objects.latest("pk")
    approver = User.objects.create_user(f"approver-{next(_approvers)}", is_staff=True)
    approver.groups.add(Group.objects.get(name="organiser"))
    other = Client()
    sign_in_staff(other, approver)
    decided = other.post(reverse("audit:export-detail", args=[export.pk]), {"decision": "approve"})
    assert decided.status_code == 302
    return client.post(reverse("audit:export-download", args=[export.pk]))


def test_organiser_prints_a6_badges_of_confirmed_press_guests_and_volunteers(client, crowd) -> None:
    sign_in_staff(client, staff("organiser"))
    listing = client.get(reverse(CHANGELIST))
    assert "Print badges (A6)" in listing.content.decode()
    assert "Print badges (label sheet)" in listing.content.decode()

    asked = post_action(client, "print_badges_a6", crowd.values())
    assert messages_of(asked) == [
        "3 selected registrations have no badge: badges are printed for confirmed press, "
        "guests and volunteers only."
    ]
    assert "3 selected registrations" in asked.context["description"]
    assert ExportRequest.objects.count() == 0  # nothing is asked for until the form is sent
    response = through_approval(client, asked)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="badges-2061-a6.pdf"'
    reader = read(response.content)
    assert len(reader.pages) == 3
    assert {page_size_mm(reader, index) for index in range(3)} == {A6}
    press, guest, volunteer = (page.extract_text() for page in reader.pages)
    # Each badge in its registrant's language, by category.
    assert "Jean-Pierre Dupont" in press and "Presse" in press and "Le Monde" in press
    assert "سارا" in guest and "محمدی" in guest and "مهمان" in guest
    assert "Zoë Helper" in volunteer and "Volunteer" in volunteer and "Stewards" in volunteer
    everything = press + guest + volunteer
    for name in ("Plain Attendee", "Pending Reporter", "Gone Reporter"):
        assert name not in everything


@needs_pdftoppm
def test_label_sheet_puts_the_badges_on_one_a4_sheet_whose_codes_scan_as_the_tickets(
    client, crowd, tmp_path
) -> None:
    sign_in_staff(client, staff("organiser"))
    wanted = [crowd["reporter"], crowd["guest"], crowd["volunteer"]]

    asked = post_action(client, "print_badges_labels", wanted)
    assert messages_of(asked) == []
    response = through_approval(client, asked)

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="badges-2061-labels.pdf"'
    reader = read(response.content)
    assert len(reader.pages) == 1
    assert page_size_mm(reader) == A4
    (sheet,) = rasterize(response.content, tmp_path, dpi=200)
    assert qr_texts(sheet) == sorted(ticket_code(r.ticket) for r in wanted)


def test_nine_badges_fill_a_sheet_and_start_another(client, people) -> None:
    volunteers = [people.confirmed(people.volunteers, name=f"Helper {n}") for n in range(9)]
    sign_in_staff(client, staff("organiser"))

    labels = through_approval(client, post_action(client, "print_badges_labels", volunteers))
    a6 = through_approval(client, post_action(client, "print_badges_a6", volunteers))

    assert len(read(labels.content).pages) == 2
    assert len(read(a6.content).pages) == 9


def test_only_people_without_a_badge_selected_gives_a_message_and_no_pdf(client, crowd) -> None:
    sign_in_staff(client, staff("organiser"))

    response = post_action(
        client, "print_badges_a6", [crowd["attendee"], crowd["unconfirmed"], crowd["cancelled"]]
    )

    assert response.status_code == 302
    assert response["Location"] == reverse(CHANGELIST)
    assert messages_of(response) == [
        "3 selected registrations have no badge: badges are printed for confirmed press, "
        "guests and volunteers only."
    ]


def test_select_all_across_pages_prints_every_badge_of_the_filtered_list(client, crowd) -> None:
    sign_in_staff(client, staff("organiser"))

    response = client.post(
        f"{reverse(CHANGELIST)}?category__id__exact={crowd['reporter'].category_id}",
        {
            "action": "print_badges_a6",
            "select_across": "1",
            "_selected_action": [str(crowd["reporter"].pk)],
        },
    )

    assert response.status_code == 200
    assert len(read(response.content).pages) == 1  # the other two press people are skipped
    assert "2 selected registrations have no badge" in messages_of(response)[0]


def test_the_same_person_selected_twice_gets_one_badge(client, crowd) -> None:
    sign_in_staff(client, staff("organiser"))
    reporter = crowd["reporter"]

    response = post_action(client, "print_badges_a6", [reporter, reporter, reporter])

    assert len(read(response.content).pages) == 1
    assert messages_of(response) == []


def test_long_and_mixed_script_names_print_on_one_badge_each(client, people) -> None:
    guest = people.confirmed(people.guests, name=LONG_NAME, language="fa")
    reporter = people.confirmed(
        people.press, name='O\'Brien & "Sons"', answers={"outlet": "x" * 1000}
    )
    sign_in_staff(client, staff("organiser"))

    for action in ("print_badges_a6", "print_badges_labels"):
        response = through_approval(client, post_action(client, action, [guest, reporter]))
        assert response.status_code == 200
        assert len(read(response.content).pages) == (2 if action == "print_badges_a6" else 1)


@pytest.mark.parametrize("role", ["gate", "program_editor"])
def test_roles_that_cannot_see_registrations_are_refused(client, crowd, role) -> None:
    sign_in_staff(client, staff(role))

    response = post_action(client, "print_badges_a6", [crowd["reporter"]])

    assert response.status_code == 403
    assert not response.content.startswith(b"%PDF")


@pytest.mark.parametrize("role", ["registration_desk", "press_officer"])
def test_the_desk_and_the_press_officer_print_nothing_in_the_back_office(
    client, crowd, role
) -> None:
    sign_in_staff(client, staff(role))
    assert client.get(reverse(CHANGELIST)).status_code == 403

    for action in ("print_badges_a6", "print_badges_labels"):
        response = post_action(client, action, [crowd["reporter"], crowd["guest"]])
        assert response.status_code == 403
        assert not response.content.startswith(b"%PDF")


def test_one_badge_comes_at_once_and_is_recorded(client, crowd) -> None:
    sign_in_staff(client, staff("organiser"))

    response = post_action(client, "print_badges_a6", [crowd["guest"], crowd["attendee"]])

    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        f'attachment; filename="badge-2061-{crowd["guest"].pk}-a6.pdf"'
    )
    event = AuditEvent.objects.get(action="export.badges")
    assert event.summary == f"layout=a6 count=1 ids={crowd['guest'].pk}"
    assert ExportRequest.objects.count() == 0


def test_superuser_may_print_badges(client, crowd) -> None:
    sign_in_staff(client, User.objects.create_superuser("root", password="a-long-password-2027"))

    response = post_action(client, "print_badges_a6", [crowd["guest"]])

    assert response.status_code == 200
    assert len(read(response.content).pages) == 1


def test_selector_reads_badges_in_two_queries(crowd, django_assert_num_queries) -> None:
    with django_assert_num_queries(2):
        found = list(selectors.list_badge_registrations(registrations=Registration.objects.all()))
        details = [
            (r.edition.year, r.category.slug, r.ticket.ticket_id, len(r.category.questions.all()))
            for r in found
        ]
    assert [r.pk for r in found] == [crowd[key].pk for key in ("reporter", "guest", "volunteer")]
    assert [(year, slug, questions) for year, slug, _ticket, questions in details] == [
        (2061, "press", 1),
        (2061, "guests", 0),
        (2061, "volunteers", 2),
    ]


def test_selector_skips_revoked_tickets(crowd) -> None:
    reporter = crowd["reporter"]
    reporter.ticket.revoked_at = reporter.ticket.issued_at
    reporter.ticket.save(update_fields=["revoked_at"])

    found = selectors.list_badge_registrations(registrations=Registration.objects.all())

    assert reporter.pk not in {r.pk for r in found}


def test_badge_document_speaks_the_registrants_language(crowd) -> None:
    guest = crowd["guest"]

    document = badge_document(guest)

    assert document.language == "fa"
    assert document.name == "سارا محمدی"
    assert document.role_label == "مهمان ویژه"
    assert document.edition_title == "گردهمایی 2061"
    assert document.category == CategoryCode.GUEST
    assert document.qr_text == ticket_code(guest.ticket)
    assert document.affiliation == ""


def test_affiliation_comes_from_an_outlet_or_affiliation_answer(people) -> None:
    french = people.confirmed(
        people.volunteers, language="fr", answers={"team-affiliation": "stewards"}
    )
    persian = people.confirmed(
        people.volunteers, language="fa", answers={"team-affiliation": "first-aid"}
    )
    # A label missing in the registrant's language falls back to the edition's language.
    english_fallback = people.confirmed(
        people.volunteers, language="fa", answers={"team-affiliation": "stewards"}
    )
    unanswered = people.confirmed(people.volunteers, language="en")
    reporter = people.confirmed(people.press, answers={"outlet": "  Kayhan London  "})
    attendee = people.confirmed(people.attendees)

    assert affiliation(french) == "Accueil"
    assert affiliation(persian) == "امداد"
    assert affiliation(english_fallback) == "Stewards"
    assert affiliation(unanswered) == ""
    assert affiliation(reporter) == "Kayhan London"
    assert affiliation(attendee) == ""


@pytest.mark.parametrize(
    "selected",
    [["abc"], ["1" * 30], ["<script>alert(1)</script>"], ["-1"], ["\u202e12"], ["x" * 10_000]],
)
def test_malformed_selection_prints_nothing_and_is_no_error(client, people, selected) -> None:
    people.confirmed(people.guests, name="Selected Guest")
    sign_in_staff(client, staff("organiser"))

    response = client.post(
        reverse(CHANGELIST), {"action": "print_badges_a6", "_selected_action": selected}
    )

    assert response.status_code == 302
    assert "Items must be selected" in messages_of(response)[-1]


def test_malformed_ids_beside_good_ones_are_ignored(client, crowd) -> None:
    sign_in_staff(client, staff("organiser"))

    response = client.post(
        reverse(CHANGELIST),
        {
            "action": "print_badges_a6",
            "_selected_action": ["abc", str(crowd["guest"].pk), "9" * 40],
        },
    )

    assert response.status_code == 200
    assert len(read(response.content).pages) == 1


def test_staff_cancel_action_ignores_malformed_ids_too(client, crowd) -> None:
    sign_in_staff(client, staff("organiser"))

    response = client.post(
        reverse(CHANGELIST), {"action": "cancel_registrations", "_selected_action": ["abc"]}
    )

    assert response.status_code == 302
    assert reload(crowd["guest"]).status == Registration.Status.CONFIRMED
