"""A local SMTP sink for tests: real email over SMTP to aiosmtpd on 127.0.0.1.

Loaded as a pytest plugin by the root ``conftest.py``. The ``smtp_sink`` fixture switches Django's
SMTP mailer back on (Django's test set-up puts the local-memory backend in place) and points it at
the sink; the messages that arrive are parsed for the test to read. It is not autouse: the
registration tests turn it on for every test in their ``conftest.py``; other tests ask for it.

Services do not send email: they queue it in the outbox, and the worker sends it. A test lets
the worker run before reading the sink: ``deliver_outbox()`` or the ``outbox_worker`` fixture
(``gathering.core.testing.outbox``); ``wait_for`` waits for emails sent from another thread.
"""

from __future__ import annotations

import email
import email.policy
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

__all__ = ["TOKEN_LINK", "ReceivedEmail", "SmtpSink", "smtp_server", "smtp_sink"]

TOKEN_LINK = re.compile(r"/registration/([A-Za-z0-9_-]{43})/")
# A link in a plain-text email: up to the first space or line break.
LINK = re.compile(r"https?://\S+")


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
        found: list[tuple[str, str, bytes]] = []
        for part in self.message.walk():
            if part.is_attachment():
                content = part.get_payload(decode=True)
                if not isinstance(content, bytes):
                    raise AssertionError(f"attachment {part.get_filename()!r} is not bytes")
                found.append((part.get_filename() or "", part.get_content_type(), content))
        return found

    def attachment(self, filename: str) -> bytes:
        """The content of the attachment called ``filename``."""
        for name, _content_type, content in self.attachments():
            if name == filename:
                return content
        raise AssertionError(f"no attachment {filename!r} in {[a[0] for a in self.attachments()]}")

    def token(self) -> str:
        """The private-link token in the email's links (the last one: offers and tickets
        link several pages with the same token)."""
        tokens: set[str] = set(TOKEN_LINK.findall(self.text))
        if len(tokens) != 1:
            raise AssertionError(f"expected one private link token in: {self.text}")
        return tokens.pop()

    def link(self, path_part: str) -> str:
        """The one link of the plain-text part whose address contains ``path_part``."""
        links: list[str] = [link for link in LINK.findall(self.text) if path_part in link]
        if len(links) != 1:
            raise AssertionError(f"expected one link with {path_part!r} in: {self.text}")
        return links[0]


class SinkHandler:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[ReceivedEmail] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd API)
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

    def wait_for(self, address: str, *, count: int = 1, timeout: float = 30.0) -> ReceivedEmail:
        """The last email to ``address`` once at least ``count`` have arrived (for emails sent
        by a worker in another thread); AssertionError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while len(self.to(address)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"fewer than {count} email(s) to {address} in {timeout} s")
            time.sleep(0.02)
        return self.to(address)[-1]

    def last_to(self, address: str) -> ReceivedEmail:
        received = self.to(address)
        if not received:
            raise AssertionError(f"no email to {address}; got {[m.to for m in self.messages]}")
        return received[-1]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpSink]:
    """The SMTP server itself, one per test session; use ``smtp_sink`` in tests."""
    # aiosmtpd logs every SMTP command at INFO: noise in failure reports.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    handler = SinkHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield SmtpSink(handler, controller.port)
    finally:
        controller.stop()


@pytest.fixture
def smtp_sink(smtp_server: SmtpSink, settings: Any) -> Iterator[SmtpSink]:
    """Django sends email to the sink for this test; the sink starts and ends empty.

    ``SITE_URL`` (the start of links in emails) is ``https://gathering.test``; a test that opens
    the emailed links in a browser sets it to ``live_server.url`` after asking for this fixture.
    """
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": smtp_server.port, "timeout": 10},
        }
    }
    settings.SITE_URL = "https://gathering.test"
    smtp_server.clear()
    yield smtp_server
    smtp_server.clear()
