"""Forms of the public program pages."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.conf import settings
from django.http import QueryDict
from django.utils.functional import Promise
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from gathering.core.dates import format_jalali
from gathering.core.errors import InvalidQueryError
from gathering.core.templatetags.gathering import ldate
from gathering.program import selectors
from gathering.program.models import Edition, Session
from gathering.program.selectors import SessionFilters
from gathering.program.templatetags.program import language_name

StrOrPromise = str | Promise

# Longer than any slug, date or language code: anything longer is not a real filter value.
MAX_VALUE_LENGTH = 100


def day_label(day: dt.date) -> str:
    """A day as people read it: "Saturday 29 June"; on Persian pages the Solar Hijri date
    comes first, then the Gregorian one."""
    gregorian = ldate(day, "l j F")
    if get_language() == "fa":
        return f"{format_jalali(day, 'fa')} ({gregorian})"
    return gregorian


class SessionFilterForm(forms.Form):
    """The program page's filters, read from the query string (a GET form: works without
    JavaScript). Every choice belongs to ``edition``; an empty value means "all"."""

    day = forms.CharField(label=_("Day"), required=False, widget=forms.Select)
    track = forms.ChoiceField(
        label=_("Track"),
        required=False,
        error_messages={"invalid_choice": _("This edition has no such track.")},
    )
    room = forms.ChoiceField(
        label=_("Room"),
        required=False,
        error_messages={"invalid_choice": _("This edition has no such room.")},
    )
    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        error_messages={"invalid_choice": _("Unknown language code.")},
    )
    kind = forms.ChoiceField(
        label=_("Kind of session"),
        required=False,
        error_messages={"invalid_choice": _("Unknown kind of session.")},
    )

    def __init__(self, data: QueryDict | dict[str, Any] | None = None, *, edition: Edition) -> None:
        super().__init__(data)
        self.edition = edition
        self.days = selectors.list_days(edition=edition)
        self.fields["day"].widget.choices = [
            ("", _("All days")),
            *((day.isoformat(), day_label(day)) for day in self.days),
        ]
        self._set_choices(
            "track",
            _("All tracks"),
            [(track.slug, str(track)) for track in selectors.list_tracks(edition=edition)],
        )
        self._set_choices(
            "room",
            _("All rooms"),
            [(room.slug, str(room)) for room in selectors.list_rooms(edition=edition)],
        )
        # The site's languages are always offered, so a shared link never breaks.
        codes = sorted(
            {code for code, _name in settings.LANGUAGES}
            | set(selectors.list_session_languages(edition=edition))
        )
        self._set_choices(
            "language", _("All languages"), [(code, language_name(code)) for code in codes]
        )
        self._set_choices("kind", _("All kinds"), list(Session.Kind.choices))

    def _set_choices(
        self, name: str, everything: StrOrPromise, choices: list[tuple[str, StrOrPromise]]
    ) -> None:
        field = cast(forms.ChoiceField, self.fields[name])
        field.choices = [("", everything), *choices]

    def clean_day(self) -> dt.date | None:
        value: str = self.cleaned_data["day"]
        if not value:
            return None
        try:
            day = dt.datetime.strptime(value, "%Y-%m-%d").date()  # noqa: DTZ007 (a date, no time)
        except ValueError:
            raise forms.ValidationError(
                _("Give the day as year-month-day, e.g. 2030-06-29."), code="invalid"
            ) from None
        if day not in self.days:
            raise forms.ValidationError(
                _("This day is not one of the edition's days."), code="out_of_range"
            )
        return day

    def validated_filters(self) -> SessionFilters:
        """The filters, or :class:`InvalidQueryError` (a 400 page) with a message that says
        what is wrong: a repeated or overlong parameter, or a value that is not a choice."""
        for name, field in self.fields.items():
            values = (
                self.data.getlist(name) if hasattr(self.data, "getlist") else [self.data.get(name)]
            )
            if len(values) > 1:
                raise InvalidQueryError(
                    gettext("Give the filter “%(filter)s” only once.") % {"filter": field.label}
                )
            if any(len(str(value)) > MAX_VALUE_LENGTH for value in values if value is not None):
                raise InvalidQueryError(
                    gettext("The value of the filter “%(filter)s” is too long.")
                    % {"filter": field.label}
                )
        if not self.is_valid():
            messages = [
                f"{self.fields[name].label}: {' '.join(str(error) for error in errors)}"
                for name, errors in self.errors.items()
            ]
            raise InvalidQueryError(" ".join(messages))
        data = self.cleaned_data
        return SessionFilters(
            day=data["day"],
            track=data["track"] or None,
            room=data["room"] or None,
            language=data["language"] or None,
            kind=data["kind"] or None,
        )

    @property
    def is_filtered(self) -> bool:
        return self.is_bound and any(self.data.get(name) for name in self.fields)
