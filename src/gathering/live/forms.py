from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from gathering.core.translated import TranslatedFormField
from gathering.live.models import Announcement
from gathering.live.services import MAX_LENGTH


class AnnouncementForm(forms.Form):
    text = TranslatedFormField(
        long=True,
        max_length=MAX_LENGTH,
        label=_("Announcement"),
        help_text=_("Shown at once on the live page, the wall and every site, in each language."),
    )
    level = forms.ChoiceField(
        label=_("Level"), choices=Announcement.Level.choices, initial=Announcement.Level.INFO
    )
