"""The sign form's answer to a plain post, without building the form: for the hot path.

A signature posted in a surge is almost always what a browser sends from the campaign page:
every field once, checkboxes "on", a country and a language from the lists. Building
``SignForm`` for it (bound fields, widgets, error dictionaries) cost about a sixth of a
signature's CPU. :func:`plain_sign_request` reads the same values the way the form's fields and
widgets read them (Django's rules: the last value of a repeated key, text stripped, empty
strings, the checkbox widget's "true"/"false") and returns the ``SignRequest`` the form's
``sign_request`` would; for anything the form would refuse, or that this module does not
read exactly as the form does, it returns None and the caller lets the form do it.

The checks of ``voices/validation.py`` that the form's ``clean_<field>`` methods run are left
to ``services.sign``, which runs the same functions on the same stripped values (and raises
before writing anything). The tests check that each of them gives a value it accepts again
unchanged, so that both ways store the same thing (``test_plain_post.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gathering.privacy.consent_versions import SHOWN_VERSION_FIELD
from gathering.voices import validation
from gathering.voices.forms import SignForm, _prepared
from gathering.voices.models import Campaign
from gathering.voices.services import SignRequest

HONEYPOT_KEEP = 100  # HoneypotField keeps this much of a value: only its emptiness matters
ALTCHA_MAX_LENGTH = 4000
_EMPTY = (None, "")


def plain_sign_request(
    post: Mapping[str, Any], campaign: Campaign, *, language: str, client_ip: str
) -> SignRequest | None:
    """The ``SignRequest`` that ``SignForm(post, campaign=campaign)`` with ``language`` active
    would make once valid, or None when the form would refuse ``post`` or this plain reading
    cannot tell (the caller then builds the form). ``post`` is a ``QueryDict``: ``get`` gives
    the last value of a repeated key, as the form's widgets read it."""
    texts, fields = _prepared(
        SignForm,
        language,
        retention_days=campaign.edition.retention_days,
        asks=(campaign.asks_name, campaign.asks_city, campaign.asks_message),
    )
    shown = post.get(SHOWN_VERSION_FIELD)
    if shown is not None and shown != texts.version:
        return None  # the texts changed while the page was open: the form says so
    email = _text(post, "email", validation.EMAIL_MAX_LENGTH)
    country = _choice(post, "country", fields)
    chosen_language = _choice(post, "language", fields)
    consent = _checked(post, "consent")
    altcha = _text(post, "altcha", ALTCHA_MAX_LENGTH)
    honeypot = _text(post, "website", None)
    if not email or country is None or chosen_language is None or consent is not True:
        return None
    if altcha is None or honeypot is None:
        return None
    name, show_name = "", False
    if "name" in fields:
        checked = _checked(post, "show_name")
        name_value = _text(post, "name", validation.NAME_MAX_LENGTH)
        if name_value is None or checked is None:
            return None
        name, show_name = name_value, checked
    city = _text(post, "city", validation.CITY_MAX_LENGTH) if "city" in fields else ""
    message = _text(post, "message", validation.MESSAGE_MAX_LENGTH) if "message" in fields else ""
    wants_news = _checked(post, "wants_news")
    if city is None or message is None or wants_news is None:
        return None
    return SignRequest(
        name=name,
        show_name=show_name,
        email=email,
        country=country,
        city=city,
        message=message,
        language=chosen_language,
        wants_news=wants_news,
        client_ip=client_ip,
        proof_of_work=altcha or None,
        honeypot=honeypot[:HONEYPOT_KEEP],
        consent=True,
    )


def _text(post: Mapping[str, Any], key: str, max_length: int | None) -> str | None:
    """A ``CharField``'s value (stripped, "" when empty), or None when the field would refuse
    it (too long, a NUL character) or it is not plain text."""
    value = post.get(key)
    if value in _EMPTY:
        return ""
    if not isinstance(value, str) or "\x00" in value:
        return None
    value = value.strip()
    if max_length is not None and len(value) > max_length:
        return None
    return value


def _choice(post: Mapping[str, Any], key: str, fields: Mapping[str, Any]) -> str | None:
    """A required choice (not stripped, as ``ChoiceField`` reads it) among the form's, or
    None."""
    value = post.get(key)
    if not isinstance(value, str) or value not in fields[key].values:
        return None
    return value


def _checked(post: Mapping[str, Any], key: str) -> bool | None:
    """A checkbox as ``CheckboxInput`` reads it: absent or "" is False, "on" (what browsers
    send) is True; anything else (None: not read here) the form decides."""
    value = post.get(key)
    if value in _EMPTY:
        return False
    if value == "on":
        return True
    return None
