"""Printable tickets and badges as PDF, drawn from plain data (no database, no request).

``render_ticket_pdf`` makes the one-page ticket that is emailed and re-downloaded;
``render_badges_pdf`` makes badges for press, guests and volunteers in bulk, one A6 card per page
or eight per A4 label sheet. Both take frozen dataclasses of already-resolved texts, so the caller
decides the language of each text and this module only lays them out.

Text is drawn with fpdf2 and shaped by HarfBuzz (``uharfbuzz``): Persian letters join, lines run
right to left with the Unicode bidi algorithm, and mixed Persian/Latin text comes out in the order
a browser would show it. The fonts are vendored in ``registration/fonts/``: Vazirmatn (Persian and
Latin, the site's font) with DejaVu Sans as fallback for Cyrillic, Greek, Hebrew, Armenian,
Georgian and more. Characters that no vendored font has (CJK, for one) print as U+FFFD rather
than as invisible boxes.

Persian documents are laid out right to left, with Persian digits and the Solar Hijri date
beside the Gregorian one. Ticket codes and references stay in Latin letters and digits in every
language: they are read out to gate staff and typed into scanners.

Names and other texts are cleaned before drawing (``clean_text``): bidi controls and zero-width
characters are dropped, whitespace collapses, and text that does not fit its box shrinks, wraps
and is then cut with an ellipsis, so no input can push text out of its box or reorder the page.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import math
import re
import unicodedata
import zoneinfo
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import qrcode
import qrcode.constants
from django.conf import settings
from django.utils import formats, translation
from django.utils.translation import gettext as _
from fontTools.ttLib import TTFont
from fpdf import FPDF

from gathering.core.dates import format_jalali, to_persian_digits
from gathering.core.translated import RTL_LANGUAGES
from gathering.registration.ticket_codes import CategoryCode

__all__ = [
    "BadgeDocument",
    "Canvas",
    "TicketDocument",
    "clean_text",
    "render_badges_pdf",
    "render_ticket_pdf",
]

FONT_DIR = Path(__file__).resolve().parent / "fonts"
# (family, style, file); the first family is the main font, the others are fallbacks.
_FONTS = (
    ("vazirmatn", "", "Vazirmatn-Regular.ttf"),
    ("vazirmatn", "B", "Vazirmatn-Bold.ttf"),
    ("dejavu", "", "DejaVuSans.ttf"),
    ("dejavu", "B", "DejaVuSans-Bold.ttf"),
)

# Longest text kept before layout (layout then shrinks, wraps and cuts to the box).
MAX_TEXT_CHARS = 200
# Combining marks kept on one base letter (Persian needs at most two; "Zalgo" text stacks dozens).
_MAX_MARKS = 3
_JOINERS = frozenset({"\u200c", "\u200d"})  # ZWNJ is Persian spelling; ZWJ joins emoji sequences
_KEPT_SPACES = frozenset({"\u00a0", "\u202f"})  # no-break spaces (French puts one before ":")
_ELLIPSIS = "\u2026"
_REPLACEMENT = "\ufffd"

RGB = tuple[int, int, int]
INK: RGB = (0x1A, 0x1A, 0x1A)
MUTED: RGB = (0x4A, 0x4F, 0x57)
LINE: RGB = (0xD5, 0xD9, 0xDE)
WHITE: RGB = (0xFF, 0xFF, 0xFF)
# One colour per category for badge bands and ticket headers; each is dark enough for white text
# (contrast 6.4:1 or more), and the band always names the role too, so colour is never the only cue.
CATEGORY_COLOURS: dict[CategoryCode, RGB] = {
    CategoryCode.ATTENDEE: (0x0B, 0x5D, 0x3B),
    CategoryCode.DELEGATION: (0x5B, 0x2A, 0x86),
    CategoryCode.PRESS: (0xB3, 0x26, 0x1E),
    CategoryCode.GUEST: (0x7A, 0x4F, 0x00),
    CategoryCode.VOLUNTEER: (0x1F, 0x5F, 0xA8),
    CategoryCode.STAFF: (0x1A, 0x1A, 0x1A),
}
NEUTRAL_COLOUR: RGB = (0x0B, 0x5D, 0x3B)

A4 = (210.0, 297.0)
A6 = (105.0, 148.0)
_PT = 25.4 / 72  # millimetres per point


@dataclass(frozen=True, slots=True)
class LabelSheet:
    """An A4 sheet of die-cut labels (millimetres)."""

    columns: int
    rows: int
    width: float
    height: float
    left: float
    top: float
    pitch_x: float
    pitch_y: float

    @property
    def per_page(self) -> int:
        return self.columns * self.rows


# Avery L7165 and its clones: 8 labels of 99.1 x 67.7 mm on A4.
LABELS_2X4 = LabelSheet(
    columns=2, rows=4, width=99.1, height=67.7, left=4.65, top=13.1, pitch_x=101.6, pitch_y=67.7
)


def _check_language(language: str) -> None:
    languages = [code for code, _name in settings.LANGUAGES]
    if language not in languages:
        raise ValueError(f"language must be one of {languages}, not {language!r}")


# Ticket codes are 142 characters; far longer text would need a QR code too dense to print small.
MAX_QR_TEXT = 512


def _check_qr_text(text: str) -> None:
    if not text or len(text) > MAX_QR_TEXT:
        raise ValueError(f"qr_text must be 1 to {MAX_QR_TEXT} characters")


def _check_aware(name: str, value: dt.datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")


@dataclass(frozen=True)
class TicketDocument:
    """What one printed ticket shows. Texts are final: already in ``language``.

    ``qr_text`` is the signed ticket code; ``ticket_ref`` a short reference to read out;
    ``entry_from``/``entry_until`` are aware datetimes shown in ``time_zone`` (an IANA name,
    normally the edition's). ``category`` only picks the header colour.

    Raises ValueError for an unknown language or time zone, naive datetimes or an empty window.
    """

    qr_text: str
    name: str
    category_label: str
    edition_title: str
    venue: str
    entry_from: dt.datetime
    entry_until: dt.datetime
    time_zone: str
    language: str
    ticket_ref: str
    gate: str | None = None
    category: CategoryCode | None = None

    def __post_init__(self) -> None:
        _check_language(self.language)
        _check_aware("entry_from", self.entry_from)
        _check_aware("entry_until", self.entry_until)
        if self.entry_from >= self.entry_until:
            raise ValueError("entry_from must be before entry_until")
        _zone(self.time_zone)
        _check_qr_text(self.qr_text)


@dataclass(frozen=True)
class BadgeDocument:
    """What one badge shows. Texts are final: already in ``language``.

    ``role_label`` is printed in the colour band of ``category`` ("Press", "Volunteer, Gate B");
    ``affiliation`` (optional) goes under the name (a newspaper, a delegation).
    """

    qr_text: str
    name: str
    role_label: str
    category: CategoryCode
    edition_title: str
    language: str
    affiliation: str = ""

    def __post_init__(self) -> None:
        _check_language(self.language)
        _check_qr_text(self.qr_text)


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {name!r}") from error


# --- text cleaning -------------------------------------------------------------------------------


@functools.cache
def _coverage() -> frozenset[int]:
    """Code points that some vendored font can draw."""
    covered: set[int] = set()
    for _family, _style, filename in _FONTS:
        font = TTFont(FONT_DIR / filename, lazy=True)
        try:
            covered.update(font.getBestCmap())
        finally:
            font.close()
    return frozenset(covered)


def clean_text(text: str, *, limit: int = MAX_TEXT_CHARS) -> str:
    """``text`` made safe to draw on one line: NFC, bidi controls and zero-width characters
    dropped, any run of whitespace or control characters turned into one space, at most a few
    combining marks per letter, joiners (ZWNJ, ZWJ) kept only between two letters, and cut to
    ``limit`` characters with an ellipsis.

    Characters that no vendored font draws become U+FFFD (marks and variation selectors that no
    font has are dropped instead).
    """
    covered = _coverage()
    out: list[str] = []
    marks = 0
    for char in unicodedata.normalize("NFC", text):
        category = unicodedata.category(char)
        if char in _JOINERS:
            if out and out[-1] not in _JOINERS and out[-1] != " ":
                out.append(char)
            continue
        if char in _KEPT_SPACES or category.startswith("Z") or category == "Cc":
            # A joiner before a space joins nothing.
            while out and out[-1] in _JOINERS:
                out.pop()
            if out and out[-1] not in {" ", *_KEPT_SPACES}:
                out.append(char if char in _KEPT_SPACES else " ")
            continue
        # Cf: bidi embeddings, overrides and isolates (U+202A-E, U+2066-9), marks (U+200E/F,
        # U+061C), zero-width space and word joiner, BOM, soft hyphen, tags. Cs/Co/Cn: surrogates,
        # private use and unassigned code points, which no font here draws.
        if category in {"Cf", "Cs", "Co", "Cn"}:
            continue
        if category.startswith("M"):
            if not out or out[-1] == " " or marks >= _MAX_MARKS or ord(char) not in covered:
                continue
            marks += 1
            out.append(char)
            continue
        marks = 0
        out.append(char if ord(char) in covered else _REPLACEMENT)
    cleaned = "".join(out).strip(" \u00a0\u202f\u200c\u200d")
    if len(cleaned) > limit:
        cleaned = _cut(cleaned, limit - 1) + _ELLIPSIS
    return cleaned


def _cut(text: str, length: int) -> str:
    """The first ``length`` characters of ``text``, without a dangling joiner or space."""
    head = text[:length]
    while head and (
        head[-1] in _JOINERS or head[-1].isspace() or unicodedata.category(head[-1]) == "Zs"
    ):
        head = head[:-1]
    return head


def _direction(text: str) -> Literal["ltr", "rtl"]:
    """The direction of ``text``'s first strong letter (as HTML's ``dir="auto"``)."""
    for char in text:
        bidi = unicodedata.bidirectional(char)
        if bidi == "L":
            return "ltr"
        if bidi in {"R", "AL"}:
            return "rtl"
    return "ltr"


# A line may break after a hyphen that joins two parts of a word ("Konstantinopoulou-Papa…").
_AFTER_HYPHEN = re.compile(r"(?<=[-\u2010])(?=\w)")


def _pieces(text: str) -> list[tuple[str, str]]:
    """``text`` as (separator, piece) pairs where a line may break: at spaces, after hyphens."""
    return [
        (" " if index == 0 else "", part)
        for word in text.split(" ")
        for index, part in enumerate(_AFTER_HYPHEN.split(word))
    ]


def _has_strong(text: str, direction: Literal["ltr", "rtl"]) -> bool:
    classes = {"L"} if direction == "ltr" else {"R", "AL"}
    return any(unicodedata.bidirectional(char) in classes for char in text)


def line_height(size: float, leading: float = 1.45) -> float:
    """The height in millimetres of a line of text at ``size`` points."""
    return size * _PT * leading


# --- drawing -------------------------------------------------------------------------------------

Align = Literal["start", "end", "center"]
# "auto": the direction of the text's first strong letter (user data: names, venues).
# "page": the frame's direction, unless the text has no letter of that direction (an untranslated
# label on a Persian page stays readable left to right).
Direction = Literal["ltr", "rtl", "auto", "page"]
Side = Literal["ltr", "rtl"]


@dataclass(frozen=True)
class _Block:
    """Text fitted to a width: its font size, lines and paragraph direction."""

    size: float
    lines: tuple[str, ...]
    bold: bool
    direction: Side

    @property
    def height(self) -> float:
        return len(self.lines) * line_height(self.size)


class _Canvas:
    """An fpdf2 document set up for shaped, bidi text in one language, in millimetres."""

    def __init__(self, *, language: str, page: tuple[float, float], title: str) -> None:
        self.language = language
        self.rtl = language in RTL_LANGUAGES
        # The frame that positions count in: the page, or one badge on a label sheet.
        self.frame_left = 0.0
        self.frame_width = page[0]
        self._widths: dict[tuple[str, bool, Side], float] = {}
        pdf = FPDF(unit="mm", format=page)
        pdf.set_auto_page_break(auto=False)
        pdf.set_margins(0, 0, 0)
        pdf.c_margin = 0
        for family, style, filename in _FONTS:
            pdf.add_font(family, style, str(FONT_DIR / filename))
        pdf.set_fallback_fonts(["dejavu"], exact_match=False)
        pdf.set_text_shaping(use_shaping_engine=True)
        pdf.set_lang(language)
        pdf.set_title(title)
        pdf.set_creator("Gathering")
        self.pdf = pdf

    def output(self) -> bytes:
        return bytes(self.pdf.output())

    def add_page(self) -> None:
        self.pdf.add_page()

    @contextlib.contextmanager
    def frame(self, *, left: float, width: float, language: str) -> Iterator[None]:
        """Within the block, positions count from the start side of the box from ``left`` to
        ``left + width``, in ``language``'s direction and with its translations."""
        saved = self.frame_left, self.frame_width, self.rtl
        self.frame_left, self.frame_width = left, width
        self.rtl = language in RTL_LANGUAGES
        try:
            with translation.override(language):
                yield
        finally:
            self.frame_left, self.frame_width, self.rtl = saved

    # Positions are given as (start, width): ``start`` counts from the frame's start side.
    def x_of(self, start: float, width: float) -> float:
        offset = self.frame_width - start - width if self.rtl else start
        return self.frame_left + offset

    def _resolve(self, direction: Direction, text: str) -> Side:
        if direction == "auto":
            return _direction(text)
        if direction == "page":
            page: Side = "rtl" if self.rtl else "ltr"
            return page if _has_strong(text, page) else _direction(text)
        return direction

    def _use(self, *, size: float, bold: bool, direction: Side) -> None:
        self.pdf.set_font("vazirmatn", "B" if bold else "", size)
        self.pdf.set_text_shaping(use_shaping_engine=True, direction=direction)

    def width_of(self, text: str, *, size: float, bold: bool, direction: Side) -> float:
        # Widths scale linearly with the font size: shape each text once, at 10 pt.
        key = (text, bold, direction)
        unit = self._widths.get(key)
        if unit is None:
            self._use(size=10, bold=bold, direction=direction)
            unit = self._widths[key] = float(self.pdf.get_string_width(text)) / 10
        return unit * size

    def fit(
        self,
        text: str,
        *,
        width: float,
        sizes: tuple[float, float],
        max_lines: int = 1,
        bold: bool = False,
        direction: Direction = "auto",
    ) -> _Block:
        """``text`` at the largest font size in ``sizes`` (largest, smallest) at which it fits
        in ``width``: on one line while the size stays in the upper half of the range, then on
        up to ``max_lines`` lines. At the smallest size, what still does not fit is cut with an
        ellipsis. The whole text takes one paragraph direction, whatever its lines hold."""
        side = self._resolve(direction, text)
        largest, smallest = sizes
        if not text:
            return _Block(size=largest, lines=(), bold=bold, direction=side)
        middle = (largest + smallest) / 2
        steps = max(1, math.ceil((largest - smallest) / 0.5))
        for step in range(steps + 1):
            size = largest - (largest - smallest) * step / steps
            wrapped = self._wrap(text, width=width, size=size, bold=bold, direction=side)
            if len(wrapped) <= (1 if size > middle else max_lines) and all(
                self.width_of(line, size=size, bold=bold, direction=side) <= width
                for line in wrapped
            ):
                return _Block(size=size, lines=tuple(wrapped), bold=bold, direction=side)
        wrapped = self._wrap(
            text, width=width, size=smallest, bold=bold, direction=side, split_words=True
        )
        if len(wrapped) > max_lines:
            rest = wrapped[max_lines - 1]
            for line in wrapped[max_lines:]:
                rest += line if rest.endswith(("-", "\u2010")) else f" {line}"
            wrapped = [*wrapped[: max_lines - 1], rest]
        if self.width_of(wrapped[-1], size=smallest, bold=bold, direction=side) > width:
            wrapped[-1] = self._ellipsize(
                wrapped[-1], width=width, size=smallest, bold=bold, direction=side
            )
        return _Block(size=smallest, lines=tuple(wrapped), bold=bold, direction=side)

    def _wrap(
        self,
        text: str,
        *,
        width: float,
        size: float,
        bold: bool,
        direction: Side,
        split_words: bool = False,
    ) -> list[str]:
        """Greedy wrap at spaces and after hyphens (words longer than the line are split only
        with ``split_words``)."""
        lines: list[str] = []
        current = ""
        for separator, piece in _pieces(text):
            candidate = f"{current}{separator}{piece}" if current else piece
            if self.width_of(candidate, size=size, bold=bold, direction=direction) <= width:
                current = candidate
                continue
            if current:
                lines.append(current)
            current = piece
            while split_words and (
                self.width_of(current, size=size, bold=bold, direction=direction) > width
            ):
                cut = self._longest_prefix(
                    current, width=width, size=size, bold=bold, direction=direction
                )
                lines.append(current[:cut])
                current = current[cut:]
        if current:
            lines.append(current)
        return lines

    def _longest_prefix(
        self, text: str, *, width: float, size: float, bold: bool, direction: Side
    ) -> int:
        low, high = 1, len(text)  # text[:low] is drawn even if too wide: progress is certain
        while low < high:
            middle = (low + high + 1) // 2
            if self.width_of(text[:middle], size=size, bold=bold, direction=direction) <= width:
                low = middle
            else:
                high = middle - 1
        return low

    def _ellipsize(
        self, text: str, *, width: float, size: float, bold: bool, direction: Side
    ) -> str:
        low, high = 0, len(text)
        while low < high:
            middle = (low + high + 1) // 2
            candidate = _cut(text, middle) + _ELLIPSIS
            if self.width_of(candidate, size=size, bold=bold, direction=direction) <= width:
                low = middle
            else:
                high = middle - 1
        return _cut(text, low) + _ELLIPSIS

    def draw(
        self,
        block: _Block,
        *,
        start: float,
        top: float,
        width: float,
        colour: RGB = INK,
        align: Align = "start",
    ) -> float:
        """Draws ``block``'s lines one under the other; returns the y under the last one."""
        pdf = self.pdf
        height = line_height(block.size)
        pdf.set_text_color(*colour)
        x = self.x_of(start, width)
        y = top
        for line in block.lines:
            self._use(size=block.size, bold=block.bold, direction=block.direction)
            pdf.set_xy(x, y)
            pdf.cell(w=width, h=height, text=line, align=self._align(align))
            y += height
        return y

    def text(
        self,
        text: str,
        *,
        start: float,
        top: float,
        width: float,
        sizes: tuple[float, float],
        max_lines: int = 1,
        bold: bool = False,
        colour: RGB = INK,
        align: Align = "start",
        direction: Direction = "auto",
    ) -> float:
        """Fits ``text`` in the box (see ``fit``) and draws it; returns the y under it."""
        block = self.fit(
            text, width=width, sizes=sizes, max_lines=max_lines, bold=bold, direction=direction
        )
        return self.draw(block, start=start, top=top, width=width, colour=colour, align=align)

    def _align(self, align: Align) -> str:
        if align == "center":
            return "C"
        return "R" if (align == "start") == self.rtl else "L"

    def box(
        self,
        *,
        start: float,
        top: float,
        width: float,
        height: float,
        colour: RGB,
        radius: float = 0,
    ) -> None:
        self.pdf.set_fill_color(*colour)
        self.pdf.rect(
            self.x_of(start, width),
            top,
            width,
            height,
            style="F",
            round_corners=radius > 0,
            corner_radius=radius,
        )

    def rule(self, *, start: float, top: float, width: float) -> None:
        self.pdf.set_draw_color(*LINE)
        self.pdf.set_line_width(0.3)
        x = self.x_of(start, width)
        self.pdf.line(x, top, x + width, top)

    def qr(self, text: str, *, x: float, y: float, size: float) -> None:
        """The QR code of ``text`` as vector squares, quiet zone included, in a ``size`` square
        whose top-left corner is (``x``, ``y``) (absolute, not mirrored)."""
        matrix = _qr_matrix(text)
        module = size / len(matrix)
        pdf = self.pdf
        pdf.set_fill_color(*WHITE)
        pdf.rect(x, y, size, size, style="F")
        pdf.set_fill_color(0, 0, 0)
        for top, left, height, width in _dark_rectangles(matrix):
            pdf.rect(
                x + left * module, y + top * module, width * module, height * module, style="F"
            )


# Other documents (voices/exports.py) lay out their pages with the same shaped, bidi text.
Canvas = _Canvas


def _dark_rectangles(
    matrix: Sequence[Sequence[bool]],
) -> list[tuple[int, int, int, int]]:
    """The dark modules as (top, left, height, width) rectangles: horizontal runs, merged with
    the same run in the rows below (a third fewer rectangles than runs, so smaller files)."""
    done: list[tuple[int, int, int, int]] = []
    open_runs: dict[tuple[int, int], int] = {}  # (left, width) -> top row
    for row_index, row in enumerate([*matrix, []]):
        runs: set[tuple[int, int]] = set()
        column = 0
        while column < len(row):
            if not row[column]:
                column += 1
                continue
            left = column
            while column < len(row) and row[column]:
                column += 1
            runs.add((left, column - left))
        for run in list(open_runs):
            if run not in runs:
                top = open_runs.pop(run)
                done.append((top, run[0], row_index - top, run[1]))
        for run in runs:
            open_runs.setdefault(run, row_index)
    return done


def _qr_matrix(text: str) -> tuple[tuple[bool, ...], ...]:
    # Level M, as on the ticket page (tickets.py): a 142-character code is a version 6 symbol.
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4, box_size=1)
    qr.add_data(text)
    qr.make(fit=True)
    return tuple(tuple(bool(cell) for cell in row) for row in qr.get_matrix())


# --- tickets -------------------------------------------------------------------------------------


def _localize(text: str, language: str) -> str:
    return to_persian_digits(text) if language == "fa" else text


def _moment(value: dt.datetime, *, zone: zoneinfo.ZoneInfo, language: str) -> str:
    """A date and time in ``zone``, as the language writes it (fa: Solar Hijri first)."""
    local = value.astimezone(zone)
    gregorian = formats.date_format(local.date(), "DATE_FORMAT")
    if language == "fa":
        day = f"{format_jalali(local.date(), 'fa')} ({_localize(gregorian, 'fa')})"
    else:
        day = gregorian
    # Translators: an entry time on a printed ticket, e.g. "July 5, 2026, 08:00".
    text = _("%(date)s, %(time)s") % {"date": day, "time": local.strftime("%H:%M")}
    return _localize(text, language)


def render_ticket_pdf(ticket: TicketDocument) -> bytes:
    """The ticket as a one-page A4 PDF in ``ticket.language``: the QR code large, the name,
    category, entry gate and window, venue and reference. Persian tickets run right to left."""
    with translation.override(ticket.language):
        return _render_ticket(ticket)


def _render_ticket(ticket: TicketDocument) -> bytes:
    language = ticket.language
    zone = _zone(ticket.time_zone)
    edition = clean_text(ticket.edition_title)
    # Translators: the title of a printed ticket, above the gathering's name.
    heading = _("Ticket")
    canvas = _Canvas(language=language, page=A4, title=f"{heading} · {edition}")
    canvas.add_page()
    page_width = A4[0]
    margin = 18.0
    width = page_width - 2 * margin
    colour = NEUTRAL_COLOUR
    if ticket.category is not None:
        colour = CATEGORY_COLOURS.get(ticket.category, NEUTRAL_COLOUR)

    # Header band: "Ticket" and the edition's title.
    canvas.box(start=margin, top=margin, width=width, height=30, colour=colour, radius=3)
    inner = width - 16
    canvas.text(
        heading.upper(),
        start=margin + 8,
        top=margin + 3.5,
        width=inner,
        sizes=(10, 8),
        bold=True,
        colour=WHITE,
        direction="page",
    )
    canvas.text(
        edition,
        start=margin + 8,
        top=margin + 11,
        width=inner,
        sizes=(18, 12),
        bold=True,
        colour=WHITE,
    )

    # The name as the person wants it printed, then the category as a chip.
    y = canvas.text(
        clean_text(ticket.name),
        start=margin,
        top=margin + 36,
        width=width,
        sizes=(26, 14),
        max_lines=2,
        bold=True,
    )
    category = clean_text(ticket.category_label)
    if category:
        chip = canvas.fit(category, width=width - 10, sizes=(12, 9), bold=True)
        text_width = canvas.width_of(
            chip.lines[0], size=chip.size, bold=True, direction=chip.direction
        )
        chip_width = min(width, text_width + 10)
        chip_height = chip.height + 3
        canvas.box(
            start=margin, top=y + 2, width=chip_width, height=chip_height, colour=colour, radius=2
        )
        canvas.draw(chip, start=margin + 5, top=y + 3.5, width=chip_width - 10, colour=WHITE)
        y += chip_height + 2

    # The QR code, centred.
    qr_size = 88.0
    qr_top = y + 6
    canvas.qr(ticket.qr_text, x=(page_width - qr_size) / 2, y=qr_top, size=qr_size)
    y = qr_top + qr_size + 4

    # The facts: label column on the start side, values beside it.
    facts: list[tuple[str, str, Direction]] = []
    gate = clean_text(ticket.gate or "")
    if gate:
        facts.append((_("Entrance"), gate, "auto"))
    facts.append(
        (_("Entry from"), _moment(ticket.entry_from, zone=zone, language=language), "page")
    )
    facts.append(
        (
            _("Entry until"),
            _moment(ticket.entry_until, zone=zone, language=language),
            "page",
        )
    )
    venue = clean_text(ticket.venue)
    if venue:
        facts.append((_("Venue"), venue, "auto"))
    # Translators: a short code printed on a ticket, to read out when the QR code cannot be scanned.
    facts.append((_("Ticket reference"), clean_text(ticket.ticket_ref, limit=40), "ltr"))
    label_width = 44.0
    value_start = margin + label_width + 4
    value_width = width - label_width - 4
    canvas.rule(start=margin, top=y, width=width)
    y += 3
    for label, value, direction in facts:
        label_bottom = canvas.text(
            label,
            start=margin,
            top=y,
            width=label_width,
            sizes=(11, 8),
            max_lines=2,
            colour=MUTED,
            direction="page",
        )
        value_bottom = canvas.text(
            value,
            start=value_start,
            top=y,
            width=value_width,
            sizes=(12, 9),
            max_lines=2,
            bold=True,
            direction=direction,
        )
        y = max(label_bottom, value_bottom) + 1.5
    canvas.rule(start=margin, top=y, width=width)
    y += 3

    for note in (
        _("Times are in the local time of the venue (%(zone)s).") % {"zone": ticket.time_zone},
        _(
            "Show this code at the entrance, on your phone or printed. It carries no name: keep "
            "it to yourself, as anyone holding it can enter once."
        ),
    ):
        y = canvas.text(
            clean_text(note, limit=400),
            start=margin,
            top=y,
            width=width,
            sizes=(10, 8),
            max_lines=4,
            colour=MUTED,
            direction="page",
        )
        y += 1
    return canvas.output()


# --- badges --------------------------------------------------------------------------------------


def render_badges_pdf(badges: Sequence[BadgeDocument], *, layout: Literal["a6", "labels"]) -> bytes:
    """Badges as one PDF: ``"a6"`` puts one badge on each A6 page; ``"labels"`` puts eight on
    each A4 sheet of 99.1 x 67.7 mm labels (Avery L7165), filled row by row.

    Each badge is laid out in its own language (Persian badges run right to left). The document
    language is that of the first badge. Raises ValueError for no badges or an unknown layout.
    """
    if not badges:
        raise ValueError("no badges to print")
    if layout not in {"a6", "labels"}:
        raise ValueError(f"unknown badge layout {layout!r}")
    first = badges[0].language
    with translation.override(first):
        # Translators: the title of a PDF file of printable name badges.
        title = _("Badges")
    canvas = _Canvas(language=first, page=A6 if layout == "a6" else A4, title=title)
    if layout == "a6":
        for badge in badges:
            canvas.add_page()
            _draw_badge(canvas, badge, left=0, top=0, width=A6[0], height=A6[1], tall=True)
    else:
        sheet = LABELS_2X4
        for index, badge in enumerate(badges):
            slot = index % sheet.per_page
            if slot == 0:
                canvas.add_page()
            row, column = divmod(slot, sheet.columns)
            _draw_badge(
                canvas,
                badge,
                left=sheet.left + column * sheet.pitch_x,
                top=sheet.top + row * sheet.pitch_y,
                width=sheet.width,
                height=sheet.height,
                tall=False,
            )
    return canvas.output()


def _draw_badge(
    canvas: _Canvas,
    badge: BadgeDocument,
    *,
    left: float,
    top: float,
    width: float,
    height: float,
    tall: bool,
) -> None:
    with canvas.frame(left=left, width=width, language=badge.language):
        if tall:
            _draw_tall_badge(canvas, badge, top=top, width=width, height=height)
        else:
            _draw_label_badge(canvas, badge, top=top, width=width, height=height)


def _draw_tall_badge(
    canvas: _Canvas, badge: BadgeDocument, *, top: float, width: float, height: float
) -> None:
    """A6 portrait: a band with the role, the edition, the name (up to three lines), the
    affiliation, and the QR code at the bottom; all centred."""
    margin = 6.0
    inner = width - 2 * margin
    colour = CATEGORY_COLOURS.get(badge.category, NEUTRAL_COLOUR)
    canvas.box(start=margin, top=top + margin, width=inner, height=20, colour=colour, radius=3)
    canvas.text(
        clean_text(badge.role_label),
        start=margin + 4,
        top=top + margin + 4.5,
        width=inner - 8,
        sizes=(18, 10),
        bold=True,
        colour=WHITE,
        align="center",
        direction="page",
    )
    canvas.text(
        clean_text(badge.edition_title),
        start=margin,
        top=top + margin + 23,
        width=inner,
        sizes=(10, 7),
        colour=MUTED,
        align="center",
    )
    qr_size = 34.0
    qr_top = top + height - margin - qr_size
    # The name and affiliation, centred between the edition's line and the QR code.
    name = canvas.fit(clean_text(badge.name), width=inner, sizes=(26, 13), max_lines=3, bold=True)
    affiliation = canvas.fit(clean_text(badge.affiliation), width=inner, sizes=(13, 9), max_lines=2)
    block = name.height + (2 + affiliation.height if affiliation.lines else 0)
    region_top, region_bottom = top + margin + 30, qr_top - 3
    y = region_top + max(0.0, (region_bottom - region_top - block) / 2)
    y = canvas.draw(name, start=margin, top=y, width=inner, align="center")
    canvas.draw(affiliation, start=margin, top=y + 2, width=inner, colour=MUTED, align="center")
    canvas.qr(badge.qr_text, x=canvas.x_of((width - qr_size) / 2, qr_size), y=qr_top, size=qr_size)


def _draw_label_badge(
    canvas: _Canvas, badge: BadgeDocument, *, top: float, width: float, height: float
) -> None:
    """A 99.1 x 67.7 mm label: a band with the role; the name, affiliation and edition on the
    start side; the QR code in the bottom corner on the end side."""
    margin = 4.0
    inner = width - 2 * margin
    band = 12.0
    colour = CATEGORY_COLOURS.get(badge.category, NEUTRAL_COLOUR)
    canvas.box(start=margin, top=top + margin, width=inner, height=band, colour=colour, radius=2)
    canvas.text(
        clean_text(badge.role_label),
        start=margin + 3,
        top=top + margin + 2.2,
        width=inner - 6,
        sizes=(14, 8),
        bold=True,
        colour=WHITE,
        direction="page",
    )
    qr_size = 30.0
    text_width = inner - qr_size - 1
    y = canvas.text(
        clean_text(badge.name),
        start=margin,
        top=top + margin + band + 2,
        width=text_width,
        sizes=(20, 10),
        max_lines=2,
        bold=True,
    )
    affiliation = clean_text(badge.affiliation)
    if affiliation:
        canvas.text(
            affiliation,
            start=margin,
            top=y + 0.5,
            width=text_width,
            sizes=(11, 8),
            max_lines=2,
            colour=MUTED,
        )
    canvas.text(
        clean_text(badge.edition_title),
        start=margin,
        top=top + height - margin - 5,
        width=text_width,
        sizes=(8, 6),
        colour=MUTED,
    )
    # The QR's own quiet zone is white margin enough: it may reach the label's edge.
    canvas.qr(
        badge.qr_text,
        x=canvas.x_of(width - qr_size - 1, qr_size),
        y=top + height - qr_size - 1,
        size=qr_size,
    )
