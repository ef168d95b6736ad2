"""The ticket's QR code, as emailed (PNG) and shown (SVG), reads back as the signed code."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from gathering.registration import services
from gathering.registration.models import Ticket
from gathering.registration.tests.factories import CategoryFactory, register_person
from gathering.registration.tickets import qr_png, qr_svg, ticket_code

zxingcpp = pytest.importorskip("zxingcpp")

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(committed, smtp_sink) -> Ticket:
    with committed():
        register_person(CategoryFactory(), email="qr@example.org")
    with committed():
        services.confirm_email(token=smtp_sink.last_to("qr@example.org").token())
    return Ticket.objects.select_related("edition").get()


def test_emailed_png_decodes_to_the_signed_code(ticket: Ticket, smtp_sink) -> None:
    attachments = smtp_sink.last_to("qr@example.org").attachments()
    [png] = [content for name, _type, content in attachments if name == "ticket-qr.png"]
    [result] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert result.text == ticket_code(ticket)
    assert result.text.startswith("GT1:")


def test_svg_draws_the_same_modules_as_the_png(ticket: Ticket) -> None:
    code = ticket_code(ticket)
    svg = str(qr_svg(code, label="Ticket"))
    # Rasterise the SVG's unit squares ("M x,y H x+1 V y+1 H x z") and decode that.
    size = int(re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).group(1))
    image = Image.new("L", (size * 8, size * 8), 255)
    for x, y in re.findall(r"M(\d+),(\d+)H", svg):
        image.paste(0, (int(x) * 8, int(y) * 8, int(x) * 8 + 8, int(y) * 8 + 8))
    [result] = zxingcpp.read_barcodes(image)
    assert result.text == code
    assert qr_png(code)[:4] == b"\x89PNG"


def test_code_is_stable_for_a_ticket(ticket: Ticket) -> None:
    assert ticket_code(ticket) == ticket_code(Ticket.objects.get(pk=ticket.pk))
