"""Emails to signers, rendered by the outbox worker at send time in the signer's language.

The context queued with each email holds only ids and the private-link tokens (the outbox
encrypts it at rest and erases it once sent); names are never put in these emails.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from gathering.core.translated import RTL_LANGUAGES, resolve
from gathering.voices.models import Campaign


def _url(name: str, *, language: str, **kwargs: Any) -> str:
    with translation.override(language):
        return settings.SITE_URL + reverse(name, kwargs=kwargs)


def build(template: str, context: dict[str, Any], language: str) -> EmailMultiAlternatives:
    campaign = Campaign.objects.select_related("edition").get(pk=context["campaign_id"])
    with translation.override(language):
        title = resolve(dict(campaign.title), language)
        links: dict[str, str] = {
            "campaign_url": _url(
                "voices:campaign-detail",
                language=language,
                year=campaign.edition.year,
                slug=campaign.slug,
            )
        }
        for key, name in (
            ("confirm_token", "voices:signature-confirm"),
            ("withdraw_token", "voices:signature-manage"),
        ):
            if context.get(key):
                links[key.replace("_token", "_url")] = _url(
                    name, language=language, token=context[key]
                )
        if template == "confirm":
            subject = _("Please confirm your signature: %(title)s") % {"title": title}
        else:
            subject = _("You have already signed: %(title)s") % {"title": title}
        values = {
            **links,
            "title": title,
            "subject": subject,
            "lang": language,
            "dir": "rtl" if language in RTL_LANGUAGES else "ltr",
        }
        text = render_to_string(f"voices/emails/{template}.txt", values)
        html = render_to_string(f"voices/emails/{template}.html", values)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        headers={"Auto-Submitted": "auto-generated", "Content-Language": language},
    )
    message.attach_alternative(html, "text/html")
    return message


def build_confirm(context: dict[str, Any], language: str) -> EmailMultiAlternatives:
    return build("confirm", context, language)


def build_already_signed(context: dict[str, Any], language: str) -> EmailMultiAlternatives:
    return build("already_signed", context, language)
