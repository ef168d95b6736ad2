"""``{% altcha_strings language %}``: the widget's texts, from our translations, as JSON."""

from __future__ import annotations

import json

from django import template
from django.utils import translation
from django.utils.translation import gettext_lazy as _

register = template.Library()

# The widget's text keys (ALTCHA 2.x ``strings``). Links and audio challenges are not used:
# the footer is hidden and the codes are not enabled.
WIDGET_STRINGS = {
    # Translators: the anti-bot check beside a form's submit button (a checkbox).
    "label": _("I'm not a robot"),
    "verifying": _("Verifying…"),
    # Translators: screen-reader alert while the anti-bot check runs.
    "waitAlert": _("Verifying… please wait."),
    "verified": _("Verified"),
    "verify": _("Verify"),
    "verificationRequired": _("Verification required!"),
    "error": _("Verification failed. Try again later."),
    "expired": _("Verification expired. Try again."),
    "loading": _("Loading…"),
    "reload": _("Reload"),
    "footer": "",
    "ariaLinkLabel": "",
}


@register.simple_tag
def altcha_strings(language: str | None = None) -> str:
    """The widget's texts in ``language`` (default: the active one) as JSON, for its
    ``strings`` attribute (autoescaping makes it safe inside the attribute)."""
    with translation.override(language or translation.get_language()):
        return json.dumps({key: str(text) for key, text in WIDGET_STRINGS.items()})
