from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import translate_url
from django.utils.translation import get_language

from gathering.core.selectors import get_organisation
from gathering.core.translated import RTL_LANGUAGES


def site(request: HttpRequest) -> dict[str, Any]:
    """The organisation and a language switcher that keeps the page and its filters."""
    current = get_language() or settings.LANGUAGE_CODE
    query = request.META.get("QUERY_STRING", "")
    switcher = []
    native = {"en": "English", "fa": "فارسی", "fr": "Français"}
    for code, name in settings.LANGUAGES:
        url = translate_url(request.path, code)
        if query:
            url = f"{url}?{query}"
        switcher.append(
            {
                "code": code,
                "name": native.get(code, str(name)),
                "url": url,
                "current": code == current,
            }
        )
    return {
        "organisation": get_organisation(),
        "language_switcher": switcher,
        "text_dir": "rtl" if current in RTL_LANGUAGES else "ltr",
    }
