from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from gathering.core.translated import (
    Translated,
    TranslatedFormField,
    clean_translations,
    fallback_language,
)


def test_text_shows_in_active_language() -> None:
    value = Translated({"en": "Program", "fa": "برنامه", "fr": "Programme"})
    with translation.override("fa"):
        assert str(value) == "برنامه"
        assert value.dir == "rtl"
    with translation.override("fr"):
        assert str(value) == "Programme"


def test_missing_text_falls_back_to_edition_language_before_site_default() -> None:
    value = Translated({"en": "English text", "fr": "Texte français"})
    with translation.override("fa"), fallback_language("fr"):
        assert str(value) == "Texte français"
        assert value.lang == "fr"
    with translation.override("fa"):
        assert str(value) == "English text"


def test_any_language_is_better_than_nothing() -> None:
    with translation.override("en"):
        assert str(Translated({"fa": "فقط فارسی"})) == "فقط فارسی"
        assert str(Translated()) == ""


def test_clean_rejects_unknown_language_and_non_text() -> None:
    with pytest.raises(ValidationError):
        clean_translations({"xx": "text"})
    with pytest.raises(ValidationError):
        clean_translations({"en": 5})
    with pytest.raises(ValidationError):
        clean_translations(["en"])
    assert clean_translations({"en": "  padded  ", "fa": "   "}) == {"en": "padded"}


def test_form_field_requires_one_language_and_checks_length() -> None:
    field = TranslatedFormField(max_length=5, required=True)
    with pytest.raises(ValidationError):
        field.clean(["", "", ""])
    with pytest.raises(ValidationError):
        field.clean(["too long text", "", ""])
    assert field.clean(["", "سلام", ""]) == {"fa": "سلام"}
