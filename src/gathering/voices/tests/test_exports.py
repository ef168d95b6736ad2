"""PDF exports for delivery (voices/exports.py): the counts by country and the named
signatories, read back with poppler's ``pdftotext`` in English, Persian and French, with hostile
names; and the signatories download, which only organisers may make."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import subprocess
from pathlib import Path

import pytest
from django.test import Client
from django.utils import translation
from PIL import Image
from pypdf import PdfReader

from gathering.audit.models import ExportRequest
from gathering.core.dates import format_jalali
from gathering.core.testing.staff import sign_in_staff
from gathering.transparency import services as transparency
from gathering.transparency.models import Log
from gathering.voices import exports, services
from gathering.voices.models import Signature
from gathering.voices.tests.factories import CampaignFactory
from gathering.voices.tests.signers import Signers, make_staff, stored_signature

# Rendering and formats, not the database engine: the PostgreSQL run of `make test` leaves it out.
pytestmark = [pytest.mark.django_db, pytest.mark.engine_agnostic]

PDFTOTEXT = shutil.which("pdftotext")
PDFTOPPM = shutil.which("pdftoppm")
needs_poppler = pytest.mark.skipif(
    PDFTOTEXT is None or PDFTOPPM is None,
    reason="poppler-utils (pdftotext, pdftoppm) is not installed",
)
# 14:30 in Paris on 5 July 2026 (summer time): 14 Tir 1405 in the Solar Hijri calendar.
AT = dt.datetime(2026, 7, 5, 12, 30, tzinfo=dt.UTC)
HOSTILE_NAME = (
    "\u202eevil\u202c <script>alert(1)</script> \u200b\u2066\u200f" + "\u200b" * 40 + "W" * 300
)
ZALGO = "Z" + "\u0301\u0302\u0303\u0304\u0305\u0306\u0307" * 8 + "algo"


def pdf_text(pdf: bytes, tmp_path: Path, *, layout: bool = False) -> str:
    assert pdf.startswith(b"%PDF-")
    source = tmp_path / "export.pdf"
    source.write_bytes(pdf)
    command = [PDFTOTEXT or "pdftotext", "-enc", "UTF-8"]
    if layout:
        command.append("-layout")
    result = subprocess.run(
        [*command, str(source), "-"], check=True, capture_output=True, timeout=120
    )
    return result.stdout.decode("utf-8")


def pages_of(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


def label(language: str, message: str) -> str:
    with translation.override(language):
        return translation.gettext(message)


@pytest.fixture
def signers(smtp_sink, deliver, proof_of_work) -> Signers:
    return Signers(smtp_sink, deliver, proof_of_work)


@pytest.fixture
def campaign():
    return CampaignFactory(
        slug="free-iran",
        country_threshold=3,
        addressee={
            "en": "The European Parliament",
            "fa": "پارلمان اروپا",
            "fr": "Le Parlement européen",
        },
    )


def counted_in(campaign, country: str, n: int) -> None:
    for _index in range(n):
        stored_signature(campaign, country=country)


# --- counts ----------------------------------------------------------------------------------


@needs_poppler
def test_english_counts_pdf_has_title_addressee_date_total_countries_and_other(campaign, tmp_path):
    counted_in(campaign, "FR", 1200)
    counted_in(campaign, "DE", 4)
    counted_in(campaign, "SE", 2)  # under the threshold of 3: "other countries"
    counted_in(campaign, "NO", 1)
    stored_signature(campaign, country="IT", review=Signature.Review.HELD)  # not counted
    stored_signature(campaign, country="IT", status=Signature.Status.WITHDRAWN)

    pdf = exports.counts_pdf(campaign=campaign, language="en", at=AT)

    text = pdf_text(pdf, tmp_path)
    for expected in (
        "Stand with us",
        "Signatures by country",
        "Addressed to: The European Parliament",
        "As of July 5, 2026, 14:30",
        "1,207 signatures in all",
        "France",
        "1,200",
        "Germany",
        "Other countries",
        "Total",
        "Page 1 of 1",
        f"Gathering {campaign.edition.year}",
    ):
        assert expected in text, expected
    for absent in ("Sweden", "Norway", "Italy"):
        assert absent not in text
    layout = pdf_text(pdf, tmp_path, layout=True)
    assert any(
        "Other countries" in line and line.rstrip().endswith("3") for line in layout.splitlines()
    )
    assert "No signed snapshot of the log yet." in text
    assert f"/en/{campaign.edition.year}/voices/free-iran/audit/" in text


@needs_poppler
def test_counts_pdf_shows_the_latest_signed_tree_head(campaign, signers, tmp_path):
    for _index in range(3):
        signers.counted(campaign, country="FR")
    head = transparency.integrate(log=Log.objects.get(slug=campaign.log_slug))
    assert head is not None and head.size == 3

    pdf = exports.counts_pdf(campaign=campaign, language="en")

    text = pdf_text(pdf, tmp_path)
    assert "3 entries" in text
    assert bytes(head.root).hex() in text.replace("\n", "")
    assert "No signed snapshot" not in text


@needs_poppler
def test_persian_counts_pdf_runs_in_persian_with_solar_hijri_date_and_persian_digits(
    campaign, tmp_path
):
    counted_in(campaign, "IR", 25)
    counted_in(campaign, "FR", 12)
    counted_in(campaign, "SE", 1)

    pdf = exports.counts_pdf(campaign=campaign, language="fa", at=AT)

    text = pdf_text(pdf, tmp_path)
    assert format_jalali(dt.date(2026, 7, 5), "fa") == "۱۴ تیر ۱۴۰۵"
    for word in ("در کنار ما بایستید", "پارلمان اروپا", "ایران", "فرانسه", "تیر", "ژوئیه"):
        assert word in text, word
    assert label("fa", "Other countries") in text
    assert label("fa", "Total") in text
    # Counts in Persian digits (pdftotext gives a run of them in logical or visual order).
    for number in ("۲۵", "۱۲", "۳۸"):
        assert number in text or number[::-1] in text, number
    # No Latin digit in what the document says (the edition's title, typed with Latin digits
    # by the factory, and the audit page's address are given texts, not figures).
    body = text.split("https://")[0].replace(str(campaign.edition.year), "")
    assert not any(char.isascii() and char.isdigit() for char in body)


@needs_poppler
def test_french_counts_pdf_writes_the_date_and_labels_in_french(campaign, tmp_path):
    counted_in(campaign, "FR", 4)

    pdf = exports.counts_pdf(campaign=campaign, language="fr", at=AT)

    text = pdf_text(pdf, tmp_path)
    assert "Soutenez-nous" in text
    assert "Le Parlement européen" in text
    assert "5 juillet 2026" in text
    assert "14:30" in text
    assert "France" in text
    assert label("fr", "Signatures by country") in text
    assert "/fr/" in text


@needs_poppler
def test_counts_pdf_in_an_unknown_language_falls_back_to_english(campaign, tmp_path):
    counted_in(campaign, "FR", 3)

    text = pdf_text(exports.counts_pdf(campaign=campaign, language="xx"), tmp_path)

    assert "Signatures by country" in text


@needs_poppler
def test_counts_pdf_of_an_empty_campaign(campaign, tmp_path):
    text = pdf_text(exports.counts_pdf(campaign=campaign, language="en"), tmp_path)

    assert "0 signatures in all" in text
    assert "Total" in text


@needs_poppler
def test_counts_pdf_with_two_hundred_countries_flows_onto_several_pages(campaign, tmp_path):
    from gathering.registration.countries import CODES

    campaign.country_threshold = 1
    campaign.save()
    codes = sorted(CODES)[:200]
    Signature.objects.bulk_create(
        [
            Signature(
                campaign=campaign,
                public_id=f"{index:032x}",
                salt="0" * 32,
                status=Signature.Status.CONFIRMED,
                language="en",
                country=code,
                email_hash=f"{index:064x}",
                consent_version="test",
            )
            for index, code in enumerate(codes)
        ]
    )

    pdf = exports.counts_pdf(campaign=campaign, language="en")

    pages = pages_of(pdf)
    assert pages >= 4
    text = pdf_text(pdf, tmp_path)
    assert f"Page {pages} of {pages}" in text
    assert text.count("Country") >= pages  # the header repeats on every page
    assert "200 signatures in all" in text


# --- named signatories -----------------------------------------------------------------------


@needs_poppler
def test_signatories_pdf_lists_only_counted_signatories_who_agreed_to_be_named(
    campaign, signers, tmp_path
):
    signers.counted(campaign, name="Maryam Example", city="Lyon", show_name=True)
    signers.counted(campaign, name="Hidden Person", show_name=False)
    held = signers.held(campaign, name="Held Person", show_name=True)
    withdrawn = signers.counted(campaign, name="Gone Person", show_name=True)
    services.withdraw_signature(signature=withdrawn)
    signers.pending(campaign, name="Pending Person", show_name=True)
    invalid = signers.counted(campaign, name="Spam Person", show_name=True, email="x@spam.example")
    services.invalidate(
        campaign=campaign, kind="domain", domain="spam.example", reason="Spam", moderator=None
    )
    assert Signature.objects.get(pk=invalid.pk).status == Signature.Status.INVALIDATED
    assert held.review == Signature.Review.HELD

    pdf = exports.signatories_pdf(campaign=campaign, language="en", at=AT)

    text = pdf_text(pdf, tmp_path)
    assert "Signatories who agreed to be named" in text
    assert "1 signatory" in text
    assert "Maryam Example" in text and "Lyon" in text and "France" in text
    for absent in ("Hidden Person", "Held Person", "Gone Person", "Pending Person", "Spam Person"):
        assert absent not in text
    assert "@" not in text  # no address


@needs_poppler
def test_signatories_pdf_in_persian_and_french(campaign, tmp_path):
    stored_signature(campaign, name="مریم نمونه‌ای", show_name=True, city="تهران", country="IR")
    stored_signature(campaign, name="Zoë Béranger", show_name=True, city="Paris", country="FR")

    fa = pdf_text(exports.signatories_pdf(campaign=campaign, language="fa"), tmp_path)
    fr = pdf_text(exports.signatories_pdf(campaign=campaign, language="fr"), tmp_path)

    for word in ("مریم", "نمونه‌ای", "تهران", "ایران", "Zoë Béranger", "فرانسه"):
        assert word in fa, word
    assert label("fa", "Signatories who agreed to be named") in fa
    assert "۲" in fa  # "2 signatories" in Persian digits
    assert "Zoë Béranger" in fr and "Paris" in fr
    assert label("fr", "Signatories who agreed to be named") in fr
    assert "Iran" in fr


@needs_poppler
def test_many_signatories_fill_many_pages_in_order_with_numbered_rows(campaign, tmp_path):
    base = dt.datetime(2026, 7, 1, 8, tzinfo=dt.UTC)
    for index in range(150):
        stored_signature(
            campaign,
            name=f"Person {index:03d}",
            show_name=True,
            country="FR",
            confirmed_at=base + dt.timedelta(minutes=index),
        )

    pdf = exports.signatories_pdf(campaign=campaign, language="en")

    pages = pages_of(pdf)
    assert pages >= 3
    text = pdf_text(pdf, tmp_path)
    assert "150 signatories" in text
    positions = [text.index(f"Person {index:03d}") for index in range(150)]
    assert positions == sorted(positions)
    assert f"Page {pages} of {pages}" in text
    assert text.count("Name") >= pages


@needs_poppler
def test_hostile_names_are_cleaned_and_cut_in_the_text_layer(campaign, tmp_path):
    stored_signature(campaign, name=HOSTILE_NAME, show_name=True, city="=cmd|' /C calc'!A0")
    stored_signature(campaign, name=ZALGO, show_name=True)
    stored_signature(campaign, name="Иван Петров 王小明", show_name=True)

    pdf = exports.signatories_pdf(campaign=campaign, language="en")

    text = pdf_text(pdf, tmp_path)
    for control in ("\u202e", "\u202c", "\u200b", "\u2066", "\u200f"):
        assert control not in text
    assert "evil <script>alert(1)</script>" in text  # drawn as plain text
    assert "W" * 300 not in text and "\u2026" in text
    assert "Иван Петров" in text
    assert "\u0301\u0302\u0303\u0304" not in text  # stacked marks limited
    assert pages_of(pdf) == 1


def _blank(image: Image.Image, box_mm: tuple[float, float, float, float], *, dpi: int) -> bool:
    scale = dpi / 25.4
    left, top, right, bottom = (round(value * scale) for value in box_mm)
    low, _high = image.crop((left, top, right, bottom)).getextrema()
    return low >= 250


@needs_poppler
@pytest.mark.parametrize("language", ["en", "fa"])
def test_hostile_names_stay_inside_the_page_margins(campaign, tmp_path, language):
    for name in (HOSTILE_NAME, "ب" * 400, "W" * 200, ZALGO):
        stored_signature(campaign, name=name, show_name=True, city="X" * 100)

    pdf = exports.signatories_pdf(campaign=campaign, language=language)

    source = tmp_path / "export.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        [PDFTOPPM or "pdftoppm", "-r", "100", "-gray", "-png", str(source), str(tmp_path / "p")],
        check=True,
        timeout=120,
    )
    (page,) = sorted(tmp_path.glob("p-*.png"))
    image = Image.open(page).convert("L")
    # Everything is drawn between 18 mm margins: the outer 15 mm on each side stay white.
    assert _blank(image, (0, 0, 15, 297), dpi=100)
    assert _blank(image, (195, 0, 210, 297), dpi=100)


# --- the download ----------------------------------------------------------------------------


def export_url(campaign, fmt: str, lang: str = "en") -> str:
    return f"/{lang}/staff/voices/{campaign.edition.year}/{campaign.slug}/signatories.{fmt}"


def test_signatories_download_needs_a_sign_in(client: Client, campaign):
    url = export_url(campaign, "csv")
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/staff/login/?next={url}"


@pytest.mark.parametrize("role", ["moderator", "gate", "registration_desk", "program_editor", None])
def test_only_organisers_download_the_signatories(
    client: Client, django_user_model, campaign, role
):
    stored_signature(campaign, name="Maryam Example", show_name=True)
    sign_in_staff(client, make_staff(django_user_model, role))
    for fmt in ("csv", "pdf"):
        response = client.get(export_url(campaign, fmt))
        assert response.status_code == 403
        assert b"Maryam" not in response.content


def approved_download(client: Client, django_user_model, location: str, lang: str):
    """Follow the export address to the request form, ask, let another organiser approve,
    and download in ``lang`` (``audit/exports.py``: the signatories are a bulk export)."""
    form = client.get(location)
    assert form.status_code == 200
    data: dict[str, list[str]] = {}
    for name, value in form.context["hidden"]:
        data.setdefault(name, []).append(value)
    data["reason"] = ["Delivery to the parliament on Monday."]
    asked = client.post(f"/{lang}/staff/exports/new/", data)
    assert asked.status_code == 302
    export = ExportRequest.objects.latest("pk")
    approver = Client()
    sign_in_staff(
        approver,
        make_staff(django_user_model, "organiser", username=f"approver-{export.pk}"),
    )
    decided = approver.post(f"/{lang}/staff/exports/{export.pk}/", {"decision": "approve"})
    assert decided.status_code == 302
    return client.post(f"/{lang}/staff/exports/{export.pk}/download/")


@pytest.mark.parametrize("lang", ["en", "fa", "fr"])
def test_organiser_downloads_csv_and_pdf_in_the_page_language(
    client: Client, django_user_model, campaign, lang
):
    stored_signature(campaign, name='=HYPERLINK("http://x")', show_name=True, city="Paris")
    stored_signature(campaign, name="Nameless Choice", show_name=False)
    sign_in_staff(client, make_staff(django_user_model, "organiser"))

    asked = client.get(export_url(campaign, "csv", lang))
    assert asked.status_code == 302
    assert asked["Location"].startswith(f"/{lang}/staff/exports/new/?kind=voices.signatories")
    response = approved_download(client, django_user_model, asked["Location"], lang)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == [label(lang, "Name"), label(lang, "City"), label(lang, "Country")]
    assert rows[1][0] == '\'=HYPERLINK("http://x")'  # never a formula
    assert len(rows) == 2

    asked = client.get(export_url(campaign, "pdf", lang))
    response = approved_download(client, django_user_model, asked["Location"], lang)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")


def test_unknown_format_campaign_or_year_is_a_404(client: Client, django_user_model, campaign):
    sign_in_staff(client, make_staff(django_user_model, "organiser"))
    year = campaign.edition.year
    assert client.get(export_url(campaign, "xlsx")).status_code == 404
    assert client.get(f"/en/staff/voices/{year}/nowhere/signatories.csv").status_code == 404
    assert client.get(f"/en/staff/voices/1999/{campaign.slug}/signatories.csv").status_code == 404


def test_a_superuser_may_ask_for_the_download(client: Client, django_user_model, campaign):
    user = django_user_model.objects.create_superuser("root", password="a-long-password-2027")
    sign_in_staff(client, user)
    response = client.get(export_url(campaign, "pdf"))
    assert response.status_code == 302
    assert client.get(response["Location"]).status_code == 200
