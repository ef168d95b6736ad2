"""The registry of email kinds: a kind's name and the builder that renders it at send time.

An app registers its kinds once, when Django starts (from its ``AppConfig.ready``)::

    kinds.register("registration.confirm", build_confirm)

``builder(context, language)`` returns the message (subject, text, HTML alternative,
attachments) rendered in ``language`` from the JSON ``context`` that was queued with it; the
outbox sets the recipient and the Message-ID. Builders run in the worker, not in the request:
they may query the database (e.g. to render a ticket's PDF from its id) and may raise
:class:`~gathering.outbox.errors.CancelEmail` when the email is no longer wanted. Any other
exception counts as a failed attempt (retried with back-off).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.core.mail import EmailMultiAlternatives

from gathering.outbox.errors import UnknownEmailKindError

Builder = Callable[[dict[str, Any], str], EmailMultiAlternatives]

# "<app label>.<name>": lower case, so kinds read the same in code, logs and the audit rows.
KIND_PATTERN = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
KIND_MAX_LENGTH = 64

_builders: dict[str, Builder] = {}


def register(kind: str, builder: Builder) -> None:
    """Register ``builder`` for ``kind``. Registering the same builder again is a no-op (apps'
    ``ready`` may run twice in tests); another builder under a taken name raises ValueError."""
    if not KIND_PATTERN.fullmatch(kind) or len(kind) > KIND_MAX_LENGTH:
        raise ValueError(f"Email kind {kind!r} must look like 'app.name' (lower case, ≤ 64).")
    existing = _builders.get(kind)
    if existing is not None and existing is not builder:
        raise ValueError(f"Email kind {kind!r} is already registered to another builder.")
    _builders[kind] = builder


def get_builder(kind: str) -> Builder:
    """The builder of ``kind``; raises UnknownEmailKindError if none is registered."""
    try:
        return _builders[kind]
    except KeyError:
        raise UnknownEmailKindError(f"No email kind {kind!r} is registered.") from None


def registered() -> list[str]:
    """The registered kinds, sorted."""
    return sorted(_builders)
