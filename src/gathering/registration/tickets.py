"""A ticket's QR code: its signed code (``ticket_codes``) and the code drawn as SVG or PNG.

The database keeps no signed code: the code is signed again each time it is shown. Ed25519
signatures are deterministic, so the same ticket and key always give the same code. A ticket
whose key has been retired since is signed with the current key instead (same ticket id, so
revocation still applies).
"""

from __future__ import annotations

import io
import re

import qrcode
import qrcode.constants
import qrcode.image.svg
from django.utils import translation
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from gathering.core.translated import resolve
from gathering.registration import keys
from gathering.registration.models import Ticket
from gathering.registration.pdf import TicketDocument, render_ticket_pdf
from gathering.registration.ticket_codes import CategoryCode, TicketClaims, sign_ticket


def ticket_claims(ticket: Ticket) -> TicketClaims:
    return TicketClaims(
        ticket_id=ticket.ticket_id_bytes,
        edition_year=ticket.edition.year,
        category=CategoryCode(ticket.category_code),
        valid_from=ticket.valid_from,
        valid_until=ticket.valid_until,
    )


def ticket_code(ticket: Ticket) -> str:
    """The QR text of ``ticket`` (signed now, with the key that issued it while it is active)."""
    keyring = keys.load_keyring()
    key = keyring.active.get(ticket.key_id) or keyring.current
    return sign_ticket(ticket_claims(ticket), key=key)


def _qr(code: str) -> qrcode.QRCode:
    # The code is 142 characters of the QR alphanumeric set: version 6 at level M.
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    qr.add_data(code)
    qr.make(fit=True)
    return qr


def qr_svg(code: str, *, label: str) -> SafeString:
    """The QR code as inline SVG that scales with its container (a white, square image)."""
    image = _qr(code).make_image(image_factory=qrcode.image.svg.SvgPathFillImage)
    svg = image.to_string(encoding="unicode")
    # Drop the fixed size in millimetres: the page's CSS sizes the image.
    svg = re.sub(r'^<svg width="[^"]*" height="[^"]*" ', "<svg ", svg, count=1)
    # The SVG is made here from an alphanumeric code; only the label needs escaping.
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" class="qr" ', 1)
    return mark_safe(svg)  # noqa: S308  # nosec B308, B703 # SVG drawn by qrcode from the code; the label is escaped


def qr_png(code: str, *, box_size: int = 8) -> bytes:
    """The QR code as a PNG image (for email attachments)."""
    qr = _qr(code)
    qr.box_size = box_size
    buffer = io.BytesIO()
    qr.make_image().save(buffer, format="PNG")
    return buffer.getvalue()


def ticket_document(ticket: Ticket) -> TicketDocument:
    """What the printed ticket shows, in the registrant's language."""
    registration = ticket.registration
    edition = ticket.edition
    language = registration.language
    category = registration.category
    with translation.override(language):
        return TicketDocument(
            qr_text=ticket_code(ticket),
            name=str(registration.name),
            category_label=resolve(category.name, language, edition.default_language),
            edition_title=resolve(edition.title, language, edition.default_language),
            venue=", ".join(
                text
                for text in (
                    resolve(edition.venue_name, language, edition.default_language),
                    resolve(edition.city, language, edition.default_language),
                )
                if text
            ),
            entry_from=ticket.valid_from,
            entry_until=ticket.valid_until,
            time_zone=edition.timezone,
            language=language,
            ticket_ref=ticket.ticket_id.upper(),
            gate=resolve(category.gate, language, edition.default_language) or None,
            category=CategoryCode(ticket.category_code),
        )


def ticket_pdf(ticket: Ticket) -> bytes:
    """The ticket as a one-page PDF in the registrant's language (Persian right to left)."""
    return render_ticket_pdf(ticket_document(ticket))
