"""Public pages of "add your voice": campaigns, signing, confirmation, receipt, withdrawal,
the audit page, the embeddable widget and the counts for delivery.

Views are thin: a form validates, one service or selector does the work, and a domain error
becomes a message in the visitor's language, never a 500. Whether an address has signed is never
revealed: signing shows the same "check your email" page in every case. Pages reached by a
private link are never cached and not indexed.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.decorators import method_decorator
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache

from gathering.abuse.client import client_ip
from gathering.core.security import embeddable
from gathering.core.translated import set_fallback_language
from gathering.privacy.services.requests import signature_data
from gathering.program.models import Edition
from gathering.program.views import get_edition_or_404
from gathering.registration.countries import country_name
from gathering.registration.views import page as edition_page
from gathering.voices import exports, receipts, selectors, services
from gathering.voices.errors import LinkNotValidError, VoiceError
from gathering.voices.forms import SignForm
from gathering.voices.models import Campaign, Signature
from gathering.voices.plain_post import plain_sign_request

private = method_decorator(never_cache, name="dispatch")


def get_campaign_or_404(year: int, slug: str) -> Campaign:
    try:
        campaign = selectors.get_published_campaign(year=year, slug=slug)
    except Campaign.DoesNotExist:
        get_edition_or_404(year)  # the right message when the year is the problem
        raise Http404(_("There is no such campaign.")) from None
    set_fallback_language(campaign.edition.default_language)
    return campaign


def page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    edition: Edition,
    status: int = 200,
    private_page: bool = False,
) -> HttpResponse:
    """Registration's page renderer (edition's time zone, private pages not indexed), with the
    "Add your voice" item of the menu marked."""
    return edition_page(
        request,
        template,
        {"nav": "voices", **context},
        edition=edition,
        status=status,
        private_page=private_page,
    )


def counts_context(campaign: Campaign) -> dict[str, Any]:
    counts = selectors.count_by_country(campaign=campaign)
    rows = [
        {
            "code": item.country,
            "name": _("Other countries")
            if item.country == selectors.OTHER
            else country_name(item.country),
            "count": item.count,
            "share": (item.count * 100 / counts.total) if counts.total else 0,
        }
        for item in counts.countries
    ]
    return {"counts": counts, "country_rows": rows}


def sign_posted(request: HttpRequest, campaign: Campaign) -> HttpResponse | tuple[SignForm, int]:
    """Sign ``campaign`` with the posted form: the redirect to "check your email" once the
    signature is committed, or the form with its errors and the status to show it with (400
    for fields that do not pass, 409 when the campaign refused it; nothing written then).
    Shared by the view and the hot path (``voices/fast_path.py``). A plain post is signed
    without building the form (``plain_post.py``); the form decides the rest."""
    plain = plain_sign_request(
        request.POST,
        campaign,
        language=get_language() or settings.LANGUAGE_CODE,  # as SignForm reads it
        client_ip=str(client_ip(request)),
    )
    if plain is not None:
        try:
            services.sign(campaign=campaign, request=plain)
        except VoiceError:
            pass  # nothing written: the form below says why, in its fields
        else:
            return _sent(campaign)
    form = SignForm(request.POST, campaign=campaign)
    if not form.is_valid():
        return form, 400
    try:
        services.sign(
            campaign=campaign, request=form.sign_request(client_ip=str(client_ip(request)))
        )
    except VoiceError as error:
        for field, messages in getattr(error, "errors", {}).items():
            for message in messages:
                form.add_error(field if field in form.fields else None, message)
        if not getattr(error, "errors", None):
            form.add_error(None, str(error.message))
        return form, 409
    return _sent(campaign)


def _sent(campaign: Campaign) -> HttpResponseRedirect:
    return HttpResponseRedirect(
        _sent_url(
            get_language(),
            get_script_prefix(),
            get_urlconf() or settings.ROOT_URLCONF,
            campaign.edition.year,
            campaign.slug,
        )
    )


@functools.lru_cache(maxsize=1024)
def _sent_url(_language: str, _prefix: str, _urlconf: object, year: int, slug: str) -> str:
    """The "check your email" page's address: each answer to a signature redirects there, and
    ``reverse`` cost 4 % of a signature's CPU (the key is everything its result depends on)."""
    return reverse("voices:sign-sent", args=[year, slug])


class CampaignListView(View):
    def get(self, request: HttpRequest, year: int) -> HttpResponse:
        edition = get_edition_or_404(year)
        campaigns = [
            {"campaign": campaign, "counts": selectors.count_by_country(campaign=campaign)}
            for campaign in selectors.list_campaigns(edition=edition)
        ]
        return page(request, "voices/campaign_list.html", {"campaigns": campaigns}, edition=edition)


class CampaignDetailView(View):
    """The campaign: its text, the count, counts by country, endorsements, messages, and the
    sign form (works without JavaScript; the proof of work needs it, and a signature without
    one is held for review, not refused)."""

    template = "voices/campaign_detail.html"

    def get(self, request: HttpRequest, year: int, slug: str) -> HttpResponse:
        campaign = get_campaign_or_404(year, slug)
        return self.show(request, campaign, SignForm(campaign=campaign))

    def post(self, request: HttpRequest, year: int, slug: str) -> HttpResponse:
        campaign = get_campaign_or_404(year, slug)
        outcome = sign_posted(request, campaign)
        if isinstance(outcome, HttpResponse):
            return outcome
        form, status = outcome
        return self.show(request, campaign, form, status=status)

    def show(
        self, request: HttpRequest, campaign: Campaign, form: SignForm, status: int = 200
    ) -> HttpResponse:
        return page(
            request,
            self.template,
            {
                "campaign": campaign,
                "form": form,
                "is_open": campaign.is_open(),
                "messages_wall": selectors.list_wall_messages(campaign=campaign, limit=30),
                "endorsements": selectors.list_endorsements(campaign=campaign),
                "widget_url": request.build_absolute_uri(
                    reverse("voices:widget", args=[campaign.edition.year, campaign.slug])
                ),
                **counts_context(campaign),
            },
            edition=campaign.edition,
            status=status,
        )


class SignSentView(View):
    """After signing: the same page whether the address was new, pending or already counted."""

    def get(self, request: HttpRequest, year: int, slug: str) -> HttpResponse:
        campaign = get_campaign_or_404(year, slug)
        return page(request, "voices/sent.html", {"campaign": campaign}, edition=campaign.edition)


class CountsView(View):
    """The live counts as JSON (the page refreshes its figures with it)."""

    def get(self, request: HttpRequest, year: int, slug: str) -> HttpResponse:
        campaign = get_campaign_or_404(year, slug)
        counts = selectors.count_by_country(campaign=campaign)
        response = JsonResponse(
            {
                "total": counts.total,
                "goal": counts.goal,
                "progress": counts.progress,
                "countries": [{"country": c.country, "count": c.count} for c in counts.countries],
            }
        )
        response["Cache-Control"] = "public, max-age=1"
        return response


@method_decorator(embeddable, name="dispatch")  # no X-Frame-Options, frame-ancestors *
class WidgetView(View):
    """A small page other sites may embed in an iframe: the count, progress and a link."""

    def get(self, request: HttpRequest, year: int, slug: str) -> HttpResponse:
        campaign = get_campaign_or_404(year, slug)
        response = page(
            request,
            "voices/widget.html",
            {"campaign": campaign, **counts_context(campaign)},
            edition=campaign.edition,
        )
        response["Cache-Control"] = "public, max-age=5"
        return response


class AuditView(View):
    """How the count shown reconciles with the transparency log, and every invalidation."""

    def get(self, request: HttpRequest, year: int, slug: str) -> HttpResponse:
        campaign = get_campaign_or_404(year, slug)
        return page(
            request,
            "voices/audit.html",
            {
                "campaign": campaign,
                "figures": selectors.audit_figures(campaign=campaign),
                "tree_head": receipts.latest_tree_head(campaign=campaign),
                "log_slug": campaign.log_slug,
                **counts_context(campaign),
            },
            edition=campaign.edition,
        )


class CountsCsvView(View):
    def get(self, request: HttpRequest, year: int, slug: str) -> HttpResponse:
        campaign = get_campaign_or_404(year, slug)
        response = HttpResponse(
            exports.counts_csv(campaign=campaign, language=get_language() or "en"),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="{campaign.slug}-counts.csv"'
        return response


class CountsPdfView(View):
    def get(self, request: HttpRequest, year: int, slug: str) -> HttpResponse:
        campaign = get_campaign_or_404(year, slug)
        response = HttpResponse(
            exports.counts_pdf(campaign=campaign, language=get_language() or "en"),
            content_type="application/pdf",
        )
        response["Content-Disposition"] = f'attachment; filename="{campaign.slug}-counts.pdf"'
        return response


# --- private links ---------------------------------------------------------------------------


@private
class SignatureConfirmView(View):
    """The link in the email: a button to confirm (a GET changes nothing)."""

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        signature = self.signature(token)
        if signature.status == Signature.Status.CONFIRMED:
            return HttpResponseRedirect(reverse("voices:signature-manage", args=[token]))
        return self.show(request, signature, token=token)

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            services.confirm(token=token)
        except LinkNotValidError:
            raise Http404(str(LinkNotValidError.default_message)) from None
        except VoiceError as error:
            signature = self.signature(token)
            return self.show(request, signature, token=token, error=str(error.message), status=409)
        # The private page of the signature is reached by the confirmation token as well.
        return HttpResponseRedirect(reverse("voices:signature-manage", args=[token]))

    def signature(self, token: str) -> Signature:
        try:
            signature = services.get_signature_by_confirm_token(token=token)
        except LinkNotValidError:
            raise Http404(str(LinkNotValidError.default_message)) from None
        set_fallback_language(signature.campaign.edition.default_language)
        return signature

    def show(
        self,
        request: HttpRequest,
        signature: Signature,
        *,
        token: str,
        error: str = "",
        status: int = 200,
    ) -> HttpResponse:
        return page(
            request,
            "voices/confirm.html",
            {"signature": signature, "campaign": signature.campaign, "error": error},
            edition=signature.campaign.edition,
            status=status,
            private_page=True,
        )


def _signature_for_private_link(token: str) -> Signature:
    """The confirmation link and the withdrawal link both open the signature's private page."""
    for getter in (
        services.get_signature_by_withdraw_token,
        services.get_signature_by_confirm_token,
    ):
        try:
            signature = getter(token=token)
        except LinkNotValidError:
            continue
        set_fallback_language(signature.campaign.edition.default_language)
        return signature
    raise Http404(str(LinkNotValidError.default_message))


@private
class SignatureManageView(View):
    """The signer's private page: status, receipt, withdrawal."""

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        signature = _signature_for_private_link(token)
        return self.show(request, signature, token=token)

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        signature = _signature_for_private_link(token)
        # A refusal says why, in the visitor's language (the page alone would not).
        if request.POST.get("action") != "withdraw":
            error = _("Unknown action.")
            return self.show(request, signature, token=token, status=400, error=error)
        if signature.withdraw_token_hash is None:
            error = _("This signature can no longer be withdrawn.")
            return self.show(request, signature, token=token, status=400, error=error)
        services.withdraw_signature(signature=signature)
        signature.refresh_from_db()
        return self.show(request, signature, token=token, withdrawn_now=True)

    def show(
        self,
        request: HttpRequest,
        signature: Signature,
        *,
        token: str,
        status: int = 200,
        withdrawn_now: bool = False,
        error: str = "",
    ) -> HttpResponse:
        receipt = receipts.receipt_for(signature=signature)
        return page(
            request,
            "voices/manage.html",
            {
                "signature": signature,
                "campaign": signature.campaign,
                "receipt": receipt,
                "receipt_json": json.dumps(receipt, indent=2, ensure_ascii=False)
                if receipt
                else "",
                "token": token,
                "withdrawn_now": withdrawn_now,
                "error": error,
            },
            edition=signature.campaign.edition,
            status=status,
            private_page=True,
        )


@private
class ReceiptView(View):
    """The receipt as a JSON file, for ``gathering verify``."""

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        signature = _signature_for_private_link(token)
        receipt = receipts.receipt_for(signature=signature)
        if receipt is None:
            raise Http404(_("This signature has no receipt: it is not counted."))
        response = HttpResponse(
            json.dumps(receipt, indent=2, ensure_ascii=False),
            content_type="application/json; charset=utf-8",
        )
        response["Content-Disposition"] = 'attachment; filename="receipt.json"'
        return response


@private
class SignatureExportView(View):
    """What is stored about the signature, as a JSON download (GDPR art. 15 and 20)."""

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        signature = _signature_for_private_link(token)
        response = HttpResponse(
            json.dumps(signature_data(signature), indent=2, ensure_ascii=False),
            content_type="application/json; charset=utf-8",
        )
        response["Content-Disposition"] = 'attachment; filename="signature.json"'
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response
