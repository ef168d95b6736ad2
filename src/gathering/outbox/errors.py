"""Errors of the outbox. They signal mistakes in calling code, never anything a visitor did,
so their messages are for developers (not translated) and name no recipient."""

from __future__ import annotations


class OutboxError(Exception):
    """Base class of the outbox's errors."""


class UnknownEmailKindError(OutboxError):
    """``queue_email`` was given a kind that no app registered (see ``outbox.kinds``)."""


class InvalidEmailError(OutboxError):
    """``queue_email`` was given no recipient or a language the site does not offer."""


class CancelEmail(OutboxError):  # noqa: N818 (a signal, not a failure)
    """Raised by a builder when its email must no longer go out (the registration it is about
    was erased, the ticket it carries was revoked): the row is cancelled and its data erased,
    never retried."""
