"""Versions of the consent texts, and the fingerprint that ties a version to its words.

Each collection point's texts live in its app's ``consent.py`` (registration, voices,
satellites), with ``HISTORY``: every version it ever had, oldest first, each with the SHA-256 of
its English texts (:func:`text_hash`). The version a person saw is stored beside their consent
(``consent_version`` on registrations, signatures and sites), so the history says which words
each stored consent answered. ``privacy/tests/test_consents.py`` renders each current text and
fails when its hash is not the last one listed: a text changed without a new version.

This module imports nothing of the apps (their ``consent.py`` and forms import it).
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class ConsentVersion:
    """One version of one purpose's consent texts."""

    version: str
    # The day it was first shown (ISO date).
    since: str
    # SHA-256 (hex) of the English texts, as :func:`text_hash` computes it.
    sha256: str
    # What changed, for whoever reads old consents (not shown to the public).
    note: str = ""


def text_hash(text: Any) -> str:
    """SHA-256 of the text fields of a consent-text dataclass (every field but ``version``),
    in their declared order, each as ``name=value`` on its own line."""
    lines = [
        f"{field.name}={getattr(text, field.name)}"
        for field in dataclasses.fields(text)
        if field.name != "version"
    ]
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def current(history: tuple[ConsentVersion, ...]) -> str:
    """The version in use: the last one of ``history``."""
    return history[-1].version


# The hidden input that carries the version a form showed (``registration/_consent.html``).
SHOWN_VERSION_FIELD = "consent_version"


def check_shown_version(form: forms.Form, *, version: str, field: str = "consent") -> None:
    """Refuse the consent of ``form`` when the page showed another version of the texts than
    the one in use now (the texts changed while it was open): the person must read them again.
    A post without the hidden input (an older page, a script) is taken as the current one."""
    shown = form.data.get(SHOWN_VERSION_FIELD)
    if shown is None or shown == version or field not in form.fields:
        return
    form.add_error(
        field,
        _(
            "The texts below changed while this page was open. Please read them again and "
            "tick the box."
        ),
    )
