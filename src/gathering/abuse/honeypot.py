"""A honeypot: a form field people never see and bots fill in.

The field sits in a ``hidden`` container: browsers do not render it, screen readers do not
announce it, and keyboard users cannot reach it (``tabindex="-1"``); ``autocomplete="off"``
keeps password managers from filling it. Its label asks to leave it empty, for the rare reader
that ignores ``hidden``. Scripts that fill every input fill it, and a filled honeypot flags the
submission for review; the field never shows an error, so a bot learns nothing.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

FIELD = "website"
# A honeypot value is only ever tested for emptiness; keep no more of it than that needs.
_KEEP_CHARS = 100


class HoneypotInput(forms.TextInput):
    """Renders its own label inside the hidden container (the field has none of its own, so a
    form's layout shows nothing of it)."""

    template_name = "abuse/widgets/honeypot.html"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(
            attrs={"autocomplete": "off", "tabindex": "-1", "spellcheck": "false", **(attrs or {})}
        )

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        # Translators: label of a hidden anti-spam field, read only by software that shows it.
        context["honeypot_label"] = _("Leave this field empty")
        return context


class HoneypotField(forms.CharField):
    """Optional, never invalid, value stripped and cut to 100 characters."""

    widget = HoneypotInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", "")
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> str:
        return str(super().to_python(value))[:_KEEP_CHARS]


class HoneypotFormMixin(forms.Form):
    """Adds the honeypot field (named :data:`FIELD`) to a form."""

    website = HoneypotField()

    def honeypot_filled(self) -> bool:
        """Call after ``is_valid()``."""
        return is_honeypot_filled(self.cleaned_data.get(FIELD))


def is_honeypot_filled(value: object) -> bool:
    """True when the honeypot holds anything but whitespace."""
    return value is not None and bool(str(value).strip())
