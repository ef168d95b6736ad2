"""Exports for delivery: counts by country, and the signatories who agreed to be named.

CSV files start with a byte order mark so spreadsheet programs read Persian as UTF-8, and every
cell that a spreadsheet would run as a formula (starting with = + - @ or a tab) is prefixed with
an apostrophe: a signer's name must never execute in an organiser's spreadsheet.

PDF files are A4, laid out by ``registration/pdf.py``'s canvas (vendored fonts, HarfBuzz shaping,
bidi): Persian documents run right to left with Persian digits and the Solar Hijri date beside
the Gregorian one. Names, cities and titles are cleaned before drawing (bidi controls and
invisible characters dropped) and cut to their column, so no input can reorder or overflow a
page.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable

from django.conf import settings
from django.urls import reverse
from django.utils import formats, translation
from django.utils.timezone import now
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from gathering.core.dates import format_jalali, to_persian_digits
from gathering.core.translated import resolve
from gathering.registration.countries import country_name
from gathering.registration.pdf import (
    A4,
    INK,
    MUTED,
    Align,
    Canvas,
    Direction,
    clean_text,
    line_height,
)
from gathering.voices import receipts, selectors
from gathering.voices.models import Campaign, Signature

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_bytes(rows: Iterable[Iterable[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _country_label(code: str) -> str:
    return _("Other countries") if code == selectors.OTHER else country_name(code)


def counts_csv(*, campaign: Campaign, language: str) -> bytes:
    """The public counts by country (small countries together, as on the page)."""
    counts = selectors.count_by_country(campaign=campaign, fresh=True)
    with translation.override(language):
        rows: list[list[object]] = [[_("Country code"), _("Country"), _("Signatures")]]
        rows += [
            [
                item.country if item.country != selectors.OTHER else "",
                _country_label(item.country),
                item.count,
            ]
            for item in counts.countries
        ]
        rows.append(["", _("Total"), counts.total])
    return csv_bytes(rows)


def named_signatories(*, campaign: Campaign) -> list[Signature]:
    """Counted signatures whose signer agreed to be named, in order of confirmation."""
    return list(
        selectors.counted_signatures(campaign=campaign)
        .filter(show_name=True, name__isnull=False)
        .order_by("confirmed_at", "pk")
    )


def signatories_csv(*, campaign: Campaign, language: str) -> bytes:
    """Name, city (if given) and country of the signatories who agreed to be named."""
    with translation.override(language):
        rows: list[list[object]] = [[_("Name"), _("City"), _("Country")]]
        rows += [
            [signature.name, signature.city or "", country_name(signature.country)]
            for signature in named_signatories(campaign=campaign)
        ]
    return csv_bytes(rows)


# --- PDF ---------------------------------------------------------------------------------------

_MARGIN = 18.0
_WIDTH = A4[0] - 2 * _MARGIN
_FOOTER_TOP = A4[1] - 12.0
_BOTTOM = A4[1] - 20.0  # rows stop here; the footer goes under
_ROW_SIZE = (10.5, 8.0)
_ROW_HEIGHT = line_height(_ROW_SIZE[0]) + 1.2


def _language(language: str) -> str:
    code = (language or "").split("-")[0]
    known = {code for code, _name in settings.LANGUAGES}
    return code if code in known else settings.LANGUAGE_CODE


def _digits(text: str, language: str) -> str:
    return to_persian_digits(text) if language == "fa" else text


def _number(value: int, language: str) -> str:
    return _digits(formats.number_format(value, force_grouping=True), language)


def _day(value: dt.date, language: str) -> str:
    """A date as the language writes it; Persian: the Solar Hijri date, Gregorian beside it."""
    gregorian = formats.date_format(value, "DATE_FORMAT")
    if language == "fa":
        return f"{format_jalali(value, 'fa')} ({_digits(gregorian, 'fa')})"
    return gregorian


def _moment(value: dt.datetime, *, campaign: Campaign, language: str) -> str:
    local = value.astimezone(campaign.edition.tzinfo)
    # Translators: a date and time in a PDF export, e.g. "July 5, 2026, 14:30".
    text = _("%(date)s, %(time)s") % {
        "date": _day(local.date(), language),
        "time": local.strftime("%H:%M"),
    }
    return _digits(text, language)


_Cell = tuple[str, float, float, Align, bool]


class _Document:
    """A4 pages with a header on the first one, a running footer on every one, and rows that
    flow onto new pages."""

    def __init__(self, *, campaign: Campaign, language: str, title: str) -> None:
        self.campaign = campaign
        self.language = language
        self.canvas = Canvas(language=language, page=A4, title=clean_text(title, limit=300))
        self.pages = 0
        self.y = _MARGIN

    def new_page(self) -> None:
        self.canvas.add_page()
        self.pages += 1
        self.y = _MARGIN

    def room_for(self, height: float) -> bool:
        return self.y + height <= _BOTTOM

    def line(
        self,
        text: str,
        *,
        sizes: tuple[float, float] = (11, 8),
        max_lines: int = 2,
        bold: bool = False,
        muted: bool = False,
        direction: Direction = "page",
        gap: float = 1.5,
    ) -> None:
        block = self.canvas.fit(
            text,
            width=_WIDTH,
            sizes=sizes,
            max_lines=max_lines,
            bold=bold,
            direction=direction,
        )
        if not self.room_for(block.height):
            self.new_page()
        self.y = self.canvas.draw(
            block,
            start=_MARGIN,
            top=self.y,
            width=_WIDTH,
            colour=MUTED if muted else INK,
        )
        self.y += gap

    def heading(self, *, subtitle: str, at: dt.datetime) -> None:
        """The campaign's title, its edition, what this document is and the date it was made."""
        campaign, language = self.campaign, self.language
        edition = clean_text(resolve(campaign.edition.title, language), limit=300)
        self.line(edition, sizes=(10, 8), muted=True, direction="auto")
        title = clean_text(resolve(campaign.title, language), limit=400)
        self.line(title, sizes=(20, 12), max_lines=3, bold=True, direction="auto", gap=2.5)
        self.line(subtitle, sizes=(13, 10), bold=True)
        addressee = clean_text(resolve(campaign.addressee, language), limit=300)
        if addressee:
            # Translators: in a PDF of a petition's counts: who the petition is addressed to.
            self.line(_("Addressed to: %(addressee)s") % {"addressee": addressee}, max_lines=3)
        today = at.astimezone(campaign.edition.tzinfo)
        # Translators: the date a PDF export was made, e.g. "As of July 5, 2026, 14:30".
        self.line(
            _("As of %(moment)s")
            % {"moment": _moment(today, campaign=campaign, language=language)},
            muted=True,
        )
        self.y += 3

    def row(self, cells: list[_Cell], *, bold: bool = False) -> None:
        """One line of a table: (text, start offset, width, align, user text?) per cell."""
        for text, start, width, align, user_text in cells:
            self.canvas.text(
                text,
                start=_MARGIN + start,
                top=self.y,
                width=width,
                sizes=_ROW_SIZE,
                bold=bold,
                align=align,
                direction="auto" if user_text else "page",
            )
        self.y += _ROW_HEIGHT

    def rule(self) -> None:
        self.canvas.rule(start=_MARGIN, top=self.y - 0.6, width=_WIDTH)
        self.y += 0.8

    def footers(self, text: str) -> None:
        """``text`` and "page n of N" at the foot of every page (drawn once all are known)."""
        pdf = self.canvas.pdf
        for number in range(1, self.pages + 1):
            pdf.page = number
            # Translators: the page number at the foot of a PDF export, e.g. "Page 2 of 7".
            page = _("Page %(page)s of %(pages)s") % {
                "page": _digits(str(number), self.language),
                "pages": _digits(str(self.pages), self.language),
            }
            self.canvas.text(
                text,
                start=_MARGIN,
                top=_FOOTER_TOP,
                width=_WIDTH - 40,
                sizes=(8, 6),
                colour=MUTED,
                direction="auto",
            )
            self.canvas.text(
                page,
                start=_MARGIN + _WIDTH - 38,
                top=_FOOTER_TOP,
                width=38,
                sizes=(8, 6),
                colour=MUTED,
                align="end",
                direction="page",
            )
        pdf.page = self.pages

    def output(self) -> bytes:
        edition = clean_text(resolve(self.campaign.edition.title, self.language), limit=120)
        self.footers(edition)
        return self.canvas.output()


def _table_header(document: _Document, cells: list[_Cell]) -> None:
    document.row(cells, bold=True)
    document.rule()


def counts_pdf(*, campaign: Campaign, language: str, at: dt.datetime | None = None) -> bytes:
    """The counts by country for delivery, in ``language``: the campaign's title, addressee and
    date, the total, the table of countries (small ones together as "other countries", as on
    the page) and the latest signed head of the public log, with the address of its audit
    page. ``at`` is the moment the document states (default: now)."""
    language = _language(language)
    with translation.override(language):
        counts = selectors.count_by_country(campaign=campaign, fresh=True)
        # Translators: the subtitle of a PDF of a campaign's counts.
        subtitle = _("Signatures by country")
        document = _Document(
            campaign=campaign,
            language=language,
            title=f"{resolve(campaign.title, language)} · {subtitle}",
        )
        document.new_page()
        document.heading(subtitle=subtitle, at=at or now())
        document.line(
            ngettext("%(n)s signature in all", "%(n)s signatures in all", counts.total)
            % {"n": _number(counts.total, language)},
            sizes=(16, 11),
            bold=True,
            gap=4,
        )
        number_width = 40.0
        name_width = _WIDTH - number_width - 4
        header: list[_Cell] = [
            (_("Country"), 0.0, name_width, "start", False),
            (_("Signatures"), name_width + 4, number_width, "end", False),
        ]
        _table_header(document, header)
        for item in counts.countries:
            if not document.room_for(_ROW_HEIGHT):
                document.new_page()
                _table_header(document, header)
            document.row(
                [
                    (clean_text(_country_label(item.country)), 0.0, name_width, "start", False),
                    (_number(item.count, language), name_width + 4, number_width, "end", False),
                ]
            )
        document.rule()
        document.row(
            [
                (_("Total"), 0.0, name_width, "start", False),
                (_number(counts.total, language), name_width + 4, number_width, "end", False),
            ],
            bold=True,
        )
        document.y += 3
        document.line(
            _(
                "Countries with fewer than %(n)s signatures are counted together as “other "
                "countries”, so that a small number never points at a person."
            )
            % {"n": _number(max(1, campaign.country_threshold), language)},
            sizes=(9, 7),
            max_lines=3,
            muted=True,
            gap=5,
        )
        _tree_head_section(document)
        return document.output()


def _tree_head_section(document: _Document) -> None:
    campaign, language = document.campaign, document.language
    # Translators: a heading in a PDF export: the public Merkle log that anyone can check.
    document.line(_("Public log of the count"), sizes=(12, 10), bold=True)
    head = receipts.latest_tree_head(campaign=campaign)
    if head is None:
        document.line(_("No signed snapshot of the log yet."), muted=True)
    else:
        document.line(
            _("Signed snapshot of %(moment)s: %(size)s entries.")
            % {
                "moment": _moment(head.timestamp, campaign=campaign, language=language),
                "size": _number(head.size, language),
            }
        )
        # Hashes stay in Latin letters and digits: they are compared character by character.
        document.line(_("Root hash:"), sizes=(9, 8), muted=True, gap=0.5)
        document.line(head.root_hex, sizes=(9, 7), direction="ltr")
    url = settings.SITE_URL + reverse("voices:audit", args=[campaign.edition.year, campaign.slug])
    document.line(
        _("Anyone can check the count and the log at:"), sizes=(9, 8), muted=True, gap=0.5
    )
    document.line(url, sizes=(9, 7), direction="ltr")


def signatories_pdf(*, campaign: Campaign, language: str, at: dt.datetime | None = None) -> bytes:
    """The signatories who agreed to be named, for delivery, in ``language``: number, name,
    city (if given) and country, in order of confirmation, over as many pages as needed.
    ``at`` is the moment the document states (default: now)."""
    language = _language(language)
    with translation.override(language):
        signatories = named_signatories(campaign=campaign)
        # Translators: the subtitle of a PDF listing the people who signed and agreed to be named.
        subtitle = _("Signatories who agreed to be named")
        document = _Document(
            campaign=campaign,
            language=language,
            title=f"{resolve(campaign.title, language)} · {subtitle}",
        )
        document.new_page()
        document.heading(subtitle=subtitle, at=at or now())
        document.line(
            ngettext("%(n)s signatory", "%(n)s signatories", len(signatories))
            % {"n": _number(len(signatories), language)},
            sizes=(13, 10),
            bold=True,
            gap=3,
        )
        number_width, country_width, city_width = 16.0, 40.0, 45.0
        name_width = _WIDTH - number_width - country_width - city_width - 12
        columns = (0.0, number_width + 4, number_width + name_width + 8, _WIDTH - country_width)
        header: list[_Cell] = [
            ("#", columns[0], number_width, "end", False),
            (_("Name"), columns[1], name_width, "start", False),
            (_("City"), columns[2], city_width, "start", False),
            (_("Country"), columns[3], country_width, "start", False),
        ]
        _table_header(document, header)
        for position, signature in enumerate(signatories, start=1):
            if not document.room_for(_ROW_HEIGHT):
                document.new_page()
                _table_header(document, header)
            document.row(
                [
                    (_digits(str(position), language), columns[0], number_width, "end", False),
                    (clean_text(signature.name or ""), columns[1], name_width, "start", True),
                    (clean_text(signature.city or ""), columns[2], city_width, "start", True),
                    (
                        clean_text(country_name(signature.country)),
                        columns[3],
                        country_width,
                        "start",
                        False,
                    ),
                ]
            )
        if not signatories:
            document.line(_("No signatory has agreed to be named yet."), muted=True)
        return document.output()
