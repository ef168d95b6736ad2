"""The filters of the trail's page (and of its CSV export)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

MAX_PAGE = 100_000
MIN_YEAR, MAX_YEAR = 1970, 9000


class AuditFilterForm(forms.Form):
    actor = forms.CharField(label=_("Username"), max_length=150, required=False)
    # Translators: the kind of event in the audit trail, e.g. "registration.view".
    action = forms.CharField(label=_("Action"), max_length=64, required=False)
    object_type = forms.CharField(label=_("Object type"), max_length=100, required=False)
    start = forms.DateField(label=_("From (date)"), required=False)
    end = forms.DateField(label=_("Until (date, included)"), required=False)
    page = forms.IntegerField(min_value=1, max_value=MAX_PAGE, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        for name, day in (("start", start), ("end", end)):
            # Far dates would overflow the day arithmetic of the query (and mean nothing here).
            if day is not None and not MIN_YEAR <= day.year <= MAX_YEAR:
                self.add_error(name, _("Enter a date between 1970 and 9000."))
                return data
        if start and end and start > end:
            raise ValidationError(_("The start date is after the end date."))
        return data

    def filters(self) -> dict[str, Any]:
        """The valid filters, without the page (call after ``is_valid()``)."""
        return {
            key: value
            for key, value in self.cleaned_data.items()
            if key != "page" and value not in (None, "")
        }
