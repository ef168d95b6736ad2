"""Multilingual text stored as one JSON object per field: ``{"en": "...", "fa": "...", "fr": "..."}``.

A value shows itself in the active language and falls back, in order, to the fallback language
of the request (the edition's default language, see :func:`fallback_language`), to
``settings.LANGUAGE_CODE``, and to any language that has a text. Organisers edit all languages
side by side (:class:`TranslatedWidget`).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.text import capfirst
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

_fallback: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "gathering_fallback_language", default=None
)

RTL_LANGUAGES = frozenset({"fa", "ar", "he", "ur", "ku"})


def language_codes() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def set_fallback_language(code: str | None) -> None:
    """Set the language that texts fall back to for the rest of this request."""
    _fallback.set(code)


@contextmanager
def fallback_language(code: str | None) -> Iterator[None]:
    token = _fallback.set(code)
    try:
        yield
    finally:
        _fallback.reset(token)


def resolve(
    value: Mapping[str, str] | None, language: str | None = None, fallback: str | None = None
) -> str:
    """The text of ``value`` in ``language`` (default: the active one), else the fallback chain."""
    if not value:
        return ""
    language = (language or get_language() or settings.LANGUAGE_CODE).split("-")[0]
    for code in (language, fallback or _fallback.get(), settings.LANGUAGE_CODE):
        if code and value.get(code):
            return str(value[code])
    for text in value.values():
        if text:
            return str(text)
    return ""


def resolved_language(
    value: Mapping[str, str] | None, language: str | None = None, fallback: str | None = None
) -> str:
    """The language code whose text :func:`resolve` would show (for ``lang`` attributes)."""
    if not value:
        return language or settings.LANGUAGE_CODE
    language = (language or get_language() or settings.LANGUAGE_CODE).split("-")[0]
    for code in (language, fallback or _fallback.get(), settings.LANGUAGE_CODE):
        if code and value.get(code):
            return code
    for code, text in value.items():
        if text:
            return code
    return language


class Translated(dict[str, str]):
    """A dict of texts by language code whose ``str()`` is the text for the active language."""

    def __str__(self) -> str:
        return resolve(self)

    @property
    def lang(self) -> str:
        """The language actually shown, so templates can set ``lang``/``dir`` on fallbacks."""
        return resolved_language(self)

    @property
    def dir(self) -> str:
        return "rtl" if self.lang in RTL_LANGUAGES else "ltr"

    def get_in(self, language: str) -> str:
        return resolve(self, language)


def clean_translations(value: Any) -> Translated:
    """Normalise input to a :class:`Translated` with only known languages and stripped text."""
    if value is None or value == "":
        return Translated()
    if isinstance(value, str):
        return (
            Translated({settings.LANGUAGE_CODE: value.strip()}) if value.strip() else Translated()
        )
    if not isinstance(value, Mapping):
        raise ValidationError(_("Expected texts by language."), code="invalid")
    known = set(language_codes())
    cleaned = Translated()
    for code, text in value.items():
        if code not in known:
            raise ValidationError(
                _("Unknown language code %(code)s."), code="invalid", params={"code": code}
            )
        if text is None:
            continue
        if not isinstance(text, str):
            raise ValidationError(_("Each translation must be text."), code="invalid")
        if text.strip():
            cleaned[code] = text.strip()
    return cleaned


class TranslatedWidget(forms.MultiWidget):
    """One input per language, side by side, each with its own ``lang`` and ``dir``."""

    template_name = "core/widgets/translated.html"

    def __init__(self, *, long: bool = False, attrs: dict[str, Any] | None = None) -> None:
        self.codes = language_codes()
        widgets: dict[str, forms.Widget | type[forms.Widget]] = {}
        for code in self.codes:
            widget_attrs = {"lang": code, "dir": "rtl" if code in RTL_LANGUAGES else "ltr"}
            if long:
                widget_attrs["rows"] = "6"
                widgets[code] = forms.Textarea(attrs=widget_attrs)
            else:
                widget_attrs["size"] = "30"
                widgets[code] = forms.TextInput(attrs=widget_attrs)
        super().__init__(widgets, attrs)

    def decompress(self, value: Any) -> list[str]:
        if isinstance(value, str):
            import json

            try:
                value = json.loads(value)
            except ValueError:
                value = {settings.LANGUAGE_CODE: value}
        value = value or {}
        return [value.get(code, "") for code in self.codes]

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        names = dict(settings.LANGUAGES)
        for code, sub in zip(self.codes, context["widget"]["subwidgets"], strict=True):
            sub["language_code"] = code
            sub["language_name"] = names[code]
        return context


class TranslatedFormField(forms.MultiValueField):
    def __init__(self, *, long: bool = False, max_length: int | None = None, **kwargs: Any) -> None:
        self.codes = language_codes()
        self.max_length = max_length
        fields = [forms.CharField(required=False, max_length=max_length) for _c in self.codes]
        kwargs.pop("encoder", None)
        kwargs.pop("decoder", None)
        kwargs.setdefault("widget", TranslatedWidget(long=long))
        super().__init__(fields=fields, require_all_fields=False, **kwargs)

    def compress(self, data_list: list[str]) -> Translated:
        return clean_translations(dict(zip(self.codes, data_list or [], strict=False)))

    def validate(self, value: Any) -> None:
        if self.required and not value:
            raise ValidationError(_("Enter this text in at least one language."), code="required")


class TranslatedField(models.JSONField):
    """A JSON column of texts by language; reads back as :class:`Translated`."""

    def __init__(
        self, *args: Any, long: bool = False, max_length: int | None = None, **kwargs: Any
    ) -> None:
        self.long = long
        self.text_max_length = max_length
        kwargs.setdefault("default", dict)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        if self.long:
            kwargs["long"] = True
        if self.text_max_length:
            kwargs["max_length"] = self.text_max_length
        return name, path, args, kwargs

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        value = super().from_db_value(value, expression, connection)
        return Translated(value) if isinstance(value, dict) else value

    def to_python(self, value: Any) -> Translated:
        return clean_translations(value)

    def validate(self, value: Any, model_instance: Any) -> None:
        super().validate(value, model_instance)
        if self.text_max_length:
            for code, text in (value or {}).items():
                if len(text) > self.text_max_length:
                    raise ValidationError(
                        _("The %(code)s text is longer than %(max)s characters."),
                        code="max_length",
                        params={"code": code, "max": self.text_max_length},
                    )

    def formfield(self, **kwargs: Any) -> Any:
        # JSONField's own form field would show raw JSON; organisers get one input per language.
        allowed = {"label", "help_text", "initial", "disabled", "show_hidden_initial"}
        options = {key: value for key, value in kwargs.items() if key in allowed}
        return TranslatedFormField(
            long=self.long,
            max_length=self.text_max_length,
            required=not self.blank,
            label=options.pop("label", capfirst(self.verbose_name)),
            help_text=options.pop("help_text", self.help_text),
            **options,
        )
