"""Registration tests send real email over SMTP to a local sink (aiosmtpd on 127.0.0.1).

``smtp_sink`` is used by every test here (autouse): Django's SMTP mailer is switched back on
(Django's test set-up puts the local-memory backend in place) and pointed at the sink; the messages
that arrive are parsed for the test to read. Emails leave on transaction commit: wrap service
calls in ``django_capture_on_commit_callbacks(execute=True)`` (see ``committed``).
"""

from __future__ import annotations

import email
import email.policy
import logging
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

TOKEN_LINK = re.compile(r"/registration/([A-Za-z0-9_-]{43})/")


@dataclass
class ReceivedEmail:
    to: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def language(self) -> str:
        return str(self.message["Content-Language"])

    def part(self, content_type: str) -> str:
        for part in self.message.walk():
            if part.get_content_type() == content_type and not part.is_attachment():
                return str(part.get_content())
        raise AssertionError(f"no {content_type} part")

    @property
    def text(self) -> str:
        return self.part("text/plain")

    @property
    def html(self) -> str:
        return self.part("text/html")

    def attachments(self) -> list[tuple[str, str, bytes]]:
        return [
            (part.get_filename() or "", part.get_content_type(), part.get_payload(decode=True))
            for part in self.message.walk()
            if part.is_attachment()
        ]

    def token(self) -> str:
        """The private-link token in the email's links (the last one: offers and tickets
        link several pages with the same token)."""
        tokens = TOKEN_LINK.findall(self.text)
        assert tokens, f"no private link in: {self.text}"
        assert len(set(tokens)) == 1, tokens
        return tokens[0]


class SinkHandler:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[ReceivedEmail] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd API)
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.lock:
            self.received.append(ReceivedEmail(to=list(envelope.rcpt_tos), message=message))
        return "250 Message accepted for delivery"


class SmtpSink:
    def __init__(self, handler: SinkHandler, port: int) -> None:
        self.handler = handler
        self.port = port

    @property
    def messages(self) -> list[ReceivedEmail]:
        with self.handler.lock:
            return list(self.handler.received)

    def clear(self) -> None:
        with self.handler.lock:
            self.handler.received.clear()

    def to(self, address: str) -> list[ReceivedEmail]:
        return [message for message in self.messages if address in message.to]

    def last_to(self, address: str) -> ReceivedEmail:
        received = self.to(address)
        assert received, f"no email to {address}; got {[m.to for m in self.messages]}"
        return received[-1]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def _smtp_server() -> Iterator[SmtpSink]:
    # aiosmtpd logs every SMTP command at INFO: noise in failure reports.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    handler = SinkHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield SmtpSink(handler, controller.port)
    finally:
        controller.stop()


@pytest.fixture(autouse=True)
def smtp_sink(_smtp_server: SmtpSink, settings) -> Iterator[SmtpSink]:
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": _smtp_server.port, "timeout": 10},
        }
    }
    settings.SITE_URL = "https://gathering.test"
    _smtp_server.clear()
    yield _smtp_server
    _smtp_server.clear()


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """``with committed(): ...`` runs the on-commit callbacks (the emails) of the block."""

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run
