# ruff: noqa: RUF001  (Persian texts and digits are not look-alikes here)
"""Printed tickets and badges (registration/pdf.py): the PDFs parse, say the right things in the
right language, survive hostile names, and their QR codes scan back to the signed ticket code.

The QR checks render pages with poppler's ``pdftoppm`` (Debian's poppler-utils, which
``make browser`` installs) and read them with zxing-cpp. No database is needed.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import shutil
import subprocess
import unicodedata
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import zxingcpp
from django.utils import translation
from PIL import Image
from pypdf import PdfReader

from gathering.core.dates import format_jalali
from gathering.registration.keys import SigningKey
from gathering.registration.pdf import (
    BadgeDocument,
    TicketDocument,
    clean_text,
    render_badges_pdf,
    render_ticket_pdf,
)
from gathering.registration.ticket_codes import (
    CODE_LENGTH,
    CategoryCode,
    TicketClaims,
    new_ticket_id,
    sign_ticket,
)

PARIS = ZoneInfo("Europe/Paris")
PDFTOPPM = shutil.which("pdftoppm")
needs_pdftoppm = pytest.mark.skipif(
    PDFTOPPM is None,
    reason="pdftoppm (Debian's poppler-utils) is not installed, so the rendered QR codes "
    "cannot be read back; `make browser` installs it when run as root",
)
MM = 72 / 25.4  # PDF points per millimetre
HOSTILE_NAME = (
    "\u202eevil\u202c <script>alert(1)</script> \u200b\u200b\u2066\u200f"
    + "\u200b" * 40
    + "W" * 300
)


@pytest.fixture(scope="module")
def signing_key() -> SigningKey:
    return SigningKey.generate(7)


def code_for(key: SigningKey, category: CategoryCode = CategoryCode.ATTENDEE) -> str:
    claims = TicketClaims(
        ticket_id=new_ticket_id(),
        edition_year=2026,
        category=category,
        valid_from=dt.datetime(2026, 7, 5, 8, tzinfo=PARIS),
        valid_until=dt.datetime(2026, 7, 5, 22, tzinfo=PARIS),
    )
    code = sign_ticket(claims, key=key)
    assert len(code) == CODE_LENGTH
    return code


TEXTS = {
    "en": {
        "category": "Attendee",
        "edition": "Free Iran Gathering 2026",
        "venue": "Paris Expo, Villepinte",
        "gate": "Gate B",
    },
    "fr": {
        "category": "Participant",
        "edition": "Rassemblement pour un Iran libre 2026",
        "venue": "Paris Expo, Villepinte",
        "gate": "Porte B",
    },
    "fa": {
        "category": "شرکت‌کننده",
        "edition": "گردهمایی ایران آزاد ۲۰۲۶",
        "venue": "نمایشگاه پاریس، ویلپنت",
        "gate": "در ب",
    },
}


def ticket(code: str, *, language: str = "en", name: str = "Maryam Example", **changes):
    texts = TEXTS.get(language, TEXTS["en"])
    fields = {
        "qr_text": code,
        "name": name,
        "category_label": texts["category"],
        "edition_title": texts["edition"],
        "venue": texts["venue"],
        "gate": texts["gate"],
        # 06:00 UTC is 08:00 in Paris (summer time): the ticket shows the venue's time.
        "entry_from": dt.datetime(2026, 7, 5, 6, tzinfo=dt.UTC),
        "entry_until": dt.datetime(2026, 7, 5, 20, tzinfo=dt.UTC),
        "time_zone": "Europe/Paris",
        "language": language,
        "ticket_ref": "7KQ2-9XFA",
        "category": CategoryCode.ATTENDEE,
    }
    fields.update(changes)
    return TicketDocument(**fields)


def read(pdf: bytes) -> PdfReader:
    assert pdf.startswith(b"%PDF-")
    return PdfReader(io.BytesIO(pdf))


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in read(pdf).pages)


def page_size_mm(reader: PdfReader, index: int = 0) -> tuple[float, float]:
    box = reader.pages[index].mediabox
    return round(float(box.width) / MM, 1), round(float(box.height) / MM, 1)


def label(language: str, message: str) -> str:
    with translation.override(language):
        return translation.gettext(message)


def rasterize(pdf: bytes, folder: Path, *, dpi: int = 150) -> list[Image.Image]:
    """The PDF's pages as greyscale images (poppler)."""
    source = folder / "document.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        [PDFTOPPM, "-r", str(dpi), "-gray", "-png", str(source), str(folder / "page")],
        check=True,
        timeout=300,
    )
    pages = sorted(folder.glob("page-*.png"))
    assert pages, "pdftoppm wrote no page"
    return [Image.open(page).convert("L") for page in pages]


def qr_texts(image: Image.Image) -> list[str]:
    return sorted(
        result.text
        for result in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    )


def blank(image: Image.Image, box_mm: tuple[float, float, float, float], *, dpi: int) -> bool:
    """Whether the (left, top, right, bottom) box in millimetres is white on ``image``."""
    scale = dpi / 25.4
    left, top, right, bottom = (round(value * scale) for value in box_mm)
    low, _high = image.crop((left, top, right, bottom)).getextrema()
    return low >= 250


# --- tickets -------------------------------------------------------------------------------------


def test_english_ticket_is_one_a4_page_with_the_name_and_translated_labels(signing_key):
    pdf = render_ticket_pdf(ticket(code_for(signing_key)))

    reader = read(pdf)
    assert len(reader.pages) == 1
    assert page_size_mm(reader) == (210.0, 297.0)
    text = text_of(pdf)
    for expected in (
        "Maryam Example",
        "Attendee",
        "Free Iran Gathering 2026",
        "Gate B",
        "Paris Expo, Villepinte",
        "7KQ2-9XFA",
        "July 5, 2026, 08:00",
        "July 5, 2026, 22:00",
        "Europe/Paris",
    ):
        assert expected in text
    for message in ("Entrance", "Entry from", "Entry until", "Venue", "Ticket reference"):
        assert message in text
    assert reader.metadata is not None
    assert "Free Iran Gathering 2026" in reader.metadata.title


def test_french_ticket_writes_dates_and_labels_in_french(signing_key):
    pdf = render_ticket_pdf(ticket(code_for(signing_key), language="fr", name="Zoë Béranger"))

    text = text_of(pdf)
    assert "Zoë Béranger" in text
    assert "5 juillet 2026" in text
    assert "08:00" in text
    assert label("fr", "Entry from") in text
    assert label("fr", "Venue") in text
    assert "Porte B" in text


def test_the_ticket_language_wins_over_the_active_language(signing_key):
    with translation.override("fr"):
        pdf = render_ticket_pdf(ticket(code_for(signing_key), language="en"))

    text = text_of(pdf)
    assert "July 5, 2026" in text
    assert "juillet" not in text


def test_persian_ticket_has_persian_text_digits_and_a_solar_hijri_date(signing_key):
    name = "مریم نمونه‌ای"
    pdf = render_ticket_pdf(ticket(code_for(signing_key), language="fa", name=name))

    reader = read(pdf)
    assert len(reader.pages) == 1
    text = text_of(pdf)
    for word in ("مریم", "نمونه‌ای", "شرکت‌کننده", "گردهمایی", "نمایشگاه", "ویلپنت"):
        assert word in text
    # 5 July 2026 is 14 Tir 1405: the Solar Hijri month and the Gregorian one in Persian.
    assert format_jalali(dt.date(2026, 7, 5), "fa") == "۱۴ تیر ۱۴۰۵"
    assert "تیر" in text
    assert "ژوئیه" in text
    # Dates and times use Persian digits: no Latin digit is left but the ticket reference's.
    # pypdf returns a run of Persian digits in visual order (reversed) when the whole line runs
    # right to left, as it does once the labels are translated; the page itself shows 08:00 in Persian digits.
    for time in ("۰۸:۰۰", "۲۲:۰۰"):
        assert time in text or time[::-1] in text
    assert {"۱", "۴", "۰", "۵", "۲", "۶"} <= set(text)
    latin_digits = {
        char for char in text.replace("7KQ2-9XFA", "") if char.isascii() and char.isdigit()
    }
    assert latin_digits == set()
    assert "7KQ2-9XFA" in text
    for message in ("Entry from", "Entry until", "Venue", "Ticket reference"):
        assert label("fa", message) in text
    assert label("fa", "Venue") == "محل برگزاری"  # an existing translation: proves fa was active


@needs_pdftoppm
@pytest.mark.parametrize("language", ["en", "fa", "fr"])
def test_ticket_qr_code_scans_back_to_the_signed_code(signing_key, tmp_path, language):
    code = code_for(signing_key)
    pdf = render_ticket_pdf(ticket(code, language=language, name="Sara محمدی"))

    (page,) = rasterize(pdf, tmp_path)
    assert qr_texts(page) == [code]


@needs_pdftoppm
@pytest.mark.parametrize("language", ["en", "fa"])
def test_hostile_name_stays_inside_the_page_margins(signing_key, tmp_path, language):
    code = code_for(signing_key)
    pdf = render_ticket_pdf(ticket(code, language=language, name=HOSTILE_NAME))

    (page,) = rasterize(pdf, tmp_path, dpi=100)
    # Everything is drawn between 18 mm margins: the outer 15 mm on each side stay white.
    assert blank(page, (0, 0, 15, 297), dpi=100)
    assert blank(page, (195, 0, 210, 297), dpi=100)
    assert qr_texts(page) == [code]


def test_hostile_name_is_cleaned_and_cut_in_the_text_layer(signing_key):
    pdf = render_ticket_pdf(ticket(code_for(signing_key), name=HOSTILE_NAME))

    assert len(read(pdf).pages) == 1
    text = text_of(pdf)
    for control in ("\u202e", "\u202c", "\u200b", "\u2066", "\u200f"):
        assert control not in text
    assert "evil <script>alert(1)</script>" in text  # drawn as plain text, nothing interpreted
    assert "\u2026" in text  # the 300 Ws were cut with an ellipsis
    assert "W" * 300 not in text
    assert "Gate B" in text  # the rest of the ticket is still there


def test_names_in_other_scripts_print_with_fallback_fonts(signing_key, caplog):
    name = "Иван Петров Ἀθηνᾶ שלום 王小明"
    with caplog.at_level(logging.WARNING):
        pdf = render_ticket_pdf(ticket(code_for(signing_key), name=name))

    text = text_of(pdf)
    assert "Иван Петров" in text
    assert "Ἀθηνᾶ" in text
    assert "\ufffd\ufffd\ufffd" in text  # no bundled font draws Chinese: marked, not invisible
    assert not [record for record in caplog.records if "missing" in record.getMessage()]


def test_ticket_without_gate_or_venue_leaves_those_rows_out(signing_key):
    pdf = render_ticket_pdf(ticket(code_for(signing_key), gate=None, venue="  \u200b "))

    text = text_of(pdf)
    assert "Entrance" not in text
    assert "Venue" not in text
    assert "Entry from" in text


def test_an_entry_window_over_several_days_shows_both_dates(signing_key):
    pdf = render_ticket_pdf(
        ticket(
            code_for(signing_key),
            entry_from=dt.datetime(2026, 7, 4, 12, tzinfo=PARIS),
            entry_until=dt.datetime(2026, 7, 6, 1, 30, tzinfo=PARIS),
        )
    )

    text = text_of(pdf)
    assert "July 4, 2026, 12:00" in text
    assert "July 6, 2026, 01:30" in text


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"language": "de"}, "language"),
        ({"time_zone": "Mars/Olympus_Mons"}, "time zone"),
        ({"time_zone": "../../etc/passwd"}, "time zone"),
        ({"entry_from": dt.datetime(2026, 7, 5, 8)}, "aware"),  # noqa: DTZ001 (naive on purpose)
        ({"entry_until": dt.datetime(2026, 7, 5, 6, tzinfo=dt.UTC)}, "before"),
        ({"qr_text": ""}, "qr_text"),
        ({"qr_text": "A" * 10_000}, "qr_text"),
    ],
)
def test_ticket_document_rejects_bad_data(signing_key, changes, message):
    with pytest.raises(ValueError, match=message):
        ticket(code_for(signing_key), **changes)


# --- text cleaning -------------------------------------------------------------------------------


def test_clean_text_drops_bidi_controls_and_invisible_characters():
    assert clean_text("\u202eevil\u202c\u200b \u2067x\u2069\ufeff\u00ad") == "evil x"
    assert clean_text("\u200e\u200f\u061c") == ""


def test_clean_text_keeps_persian_zwnj_only_between_letters():
    assert clean_text("می\u200cخواهم") == "می\u200cخواهم"
    assert clean_text("\u200c\u200cمی\u200c\u200c\u200c خواهم\u200c") == "می خواهم"


def test_clean_text_collapses_whitespace_and_control_characters():
    assert clean_text("  Ada\t\n\r  Lovelace\x00\x07 ") == "Ada Lovelace"
    assert clean_text("Anne\u00a0:\u202fx") == "Anne\u00a0:\u202fx"  # French no-break spaces


def test_clean_text_limits_stacked_combining_marks():
    zalgo = "z" + "\u0336\u0322\u031b\u0316\u0317" * 20 + "a\u0301"
    cleaned = clean_text(zalgo)
    assert len(cleaned) == 5
    assert cleaned[0] == "z"
    assert all(unicodedata.category(char) == "Mn" for char in cleaned[1:4])
    assert cleaned[4:] == "\u00e1"  # a mark that composes (NFC) is kept as one letter


def test_clean_text_cuts_long_text_with_an_ellipsis():
    cleaned = clean_text("x" * 10_000)
    assert len(cleaned) == 200
    assert cleaned.endswith("\u2026")
    assert clean_text("word " * 100, limit=12) == "word word w\u2026"


def test_clean_text_marks_characters_no_font_has():
    assert clean_text("Li 王") == "Li \ufffd"
    assert clean_text("Ok\U000f0000") == "Ok"  # private use: dropped


# --- badges --------------------------------------------------------------------------------------


def badge(code: str, *, language: str = "en", name: str = "Jean-Pierre Dupont", **changes):
    fields = {
        "qr_text": code,
        "name": name,
        "role_label": "Press" if language != "fa" else "خبرنگار",
        "category": CategoryCode.PRESS,
        "edition_title": TEXTS.get(language, TEXTS["en"])["edition"],
        "language": language,
        "affiliation": "Le Monde",
    }
    fields.update(changes)
    return BadgeDocument(**fields)


def test_a6_layout_puts_one_badge_on_each_a6_page(signing_key):
    badges = [
        badge(code_for(signing_key, CategoryCode.PRESS)),
        badge(
            code_for(signing_key, CategoryCode.GUEST),
            language="fa",
            name="سارا محمدی",
            category=CategoryCode.GUEST,
            role_label="مهمان",
            affiliation="",
        ),
        badge(
            code_for(signing_key, CategoryCode.VOLUNTEER),
            language="fr",
            name="Zoë Béranger",
            category=CategoryCode.VOLUNTEER,
            role_label="Bénévole",
            affiliation="",
        ),
    ]
    pdf = render_badges_pdf(badges, layout="a6")

    reader = read(pdf)
    assert len(reader.pages) == 3
    assert {page_size_mm(reader, index) for index in range(3)} == {(105.0, 148.0)}
    pages = [page.extract_text() for page in reader.pages]
    assert "Jean-Pierre Dupont" in pages[0]
    assert "Press" in pages[0]
    assert "Le Monde" in pages[0]
    assert "سارا" in pages[1]
    assert "محمدی" in pages[1]
    assert "مهمان" in pages[1]
    assert "Zoë Béranger" in pages[2]
    assert "Bénévole" in pages[2]


@needs_pdftoppm
def test_label_sheet_holds_eight_badges_whose_codes_all_scan(signing_key, tmp_path):
    codes = [code_for(signing_key, CategoryCode.PRESS) for _ in range(10)]
    badges = [
        badge(code, language="fa" if index % 2 else "en", name=f"Person {index}")
        for index, code in enumerate(codes)
    ]
    pdf = render_badges_pdf(badges, layout="labels")

    first, second = rasterize(pdf, tmp_path, dpi=200)
    assert qr_texts(first) == sorted(codes[:8])
    assert qr_texts(second) == sorted(codes[8:])


@needs_pdftoppm
def test_hostile_names_stay_inside_their_labels(signing_key, tmp_path):
    code = code_for(signing_key)
    badges = [
        badge(code, language=language, name=HOSTILE_NAME, affiliation=HOSTILE_NAME)
        for language in ("en", "fa") * 4
    ]
    pdf = render_badges_pdf(badges, layout="labels")

    (page,) = rasterize(pdf, tmp_path, dpi=100)
    # The sheet's outer margins and the gap between the two label columns stay white.
    assert blank(page, (0, 0, 4.5, 297), dpi=100)
    assert blank(page, (205.5, 0, 210, 297), dpi=100)
    assert blank(page, (103.9, 0, 106.1, 297), dpi=100)
    assert blank(page, (0, 0, 210, 13), dpi=100)
    assert qr_texts(page) == [code] * 8


def test_two_hundred_badges_on_label_sheets_make_25_compact_pages(signing_key):
    codes = [code_for(signing_key, CategoryCode.VOLUNTEER) for _ in range(200)]
    badges = [
        badge(
            code,
            language=("en", "fa", "fr")[index % 3],
            name=("Jean-Pierre Dupont", "سارا محمدی", "Zoë Béranger")[index % 3],
            category=CategoryCode.VOLUNTEER,
            role_label="Volunteer",
            affiliation="",
        )
        for index, code in enumerate(codes)
    ]
    pdf = render_badges_pdf(badges, layout="labels")

    reader = read(pdf)
    assert len(reader.pages) == 25
    assert page_size_mm(reader) == (210.0, 297.0)
    # Fonts are embedded once, subset; QR codes are merged rectangles: about 2 kB a badge.
    assert len(pdf) < 1_500_000
    assert reader.pages[24].extract_text().count("Volunteer") == 8


def test_badges_need_at_least_one_badge_and_a_known_layout(signing_key):
    with pytest.raises(ValueError, match="no badges"):
        render_badges_pdf([], layout="labels")
    with pytest.raises(ValueError, match="layout"):
        render_badges_pdf([badge(code_for(signing_key))], layout="a4")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="language"):
        badge(code_for(signing_key), language="xx")


@pytest.mark.parametrize("name", ["", "\u202e\u200b\u2066", " \t\n ", "\u200c" * 50])
def test_a_name_with_nothing_printable_still_gives_a_ticket(signing_key, name):
    pdf = render_ticket_pdf(ticket(code_for(signing_key), name=name))

    assert len(read(pdf).pages) == 1
    assert "Entry from" in text_of(pdf)


# Nothing here depends on the database engine: the PostgreSQL run of `make test` leaves it out.
pytestmark = pytest.mark.engine_agnostic
