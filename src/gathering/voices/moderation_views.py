"""Staff pages of "add your voice": the moderation queues, bulk invalidation and the exports of
named signatories for delivery.

Who may do what (``core/roles.py``): the moderator role (``voices.moderate_signature``) decides
on messages and held signatures and invalidates in bulk; only organisers
(``voices.view_signature``) ask for the list of signatories who agreed to be named (an export
request that another organiser approves, ``audit/exports.py``). Staff sign
in on core's staff page (``login_required`` sends them there); a signed-in account without the
permission gets a 403, checked before the campaign is looked up so that a 404 reveals nothing.

What a moderator sees of a signature is what the decision needs and no more: its flags,
country, time, email domain and network hash, its message, and the name only where the signer
agreed to be named. Never an email address.

Every change is a POST (CSRF-checked by the middleware) and goes through ``voices.services``;
the decision is logged with ids only. A bulk invalidation is always previewed first (with the
number of signatures it matches) and runs only from the confirmation form of that preview.
Malformed input gets a 400 with a translated message, never a 500.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View
from django.views.decorators.cache import never_cache

from gathering.audit.services import record as audit
from gathering.core.translated import set_fallback_language
from gathering.core.views import render_error
from gathering.program import selectors as program_selectors
from gathering.program.models import Edition
from gathering.voices import selectors, services
from gathering.voices.errors import ModerationError
from gathering.voices.forms import BulkInvalidationForm, ReasonForm
from gathering.voices.models import Campaign, Invalidation, Signature
from gathering.voices.services import Flag

logger = logging.getLogger(__name__)

MODERATE = "voices.moderate_signature"
EXPORT = "voices.view_signature"
# A queue page lists this many items; a flood is dealt with by bulk invalidation, not by paging.
QUEUE_LIMIT = 200
# Selected items one POST may decide on (a page shows at most QUEUE_LIMIT).
MAX_SELECTED = QUEUE_LIMIT
_ID = re.compile(r"[1-9][0-9]{0,17}")
_DECISION = re.compile(r"(approve|reject)(?::([1-9][0-9]{0,17}))?")
# A DNS name: labels of letters, digits and hyphens (IDNs arrive here already as xn--).
_DOMAIN = re.compile(
    r"(?=.{1,253}\Z)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+"
)
# A network's keyed hash, with the id of its key after a rotation (``<key id>:<hex>``).
_HEX = re.compile(r"(?:[a-z0-9][a-z0-9-]{0,14}:)?[0-9a-f]{8,64}")

FLAG_LABELS = {
    Flag.NO_PROOF: gettext_lazy("No proof of work"),
    Flag.BAD_PROOF: gettext_lazy("Proof of work not valid"),
    Flag.REPLAYED_PROOF: gettext_lazy("Proof of work used twice"),
    Flag.HONEYPOT: gettext_lazy("Hidden field filled in"),
    Flag.RATE_ADDRESS: gettext_lazy("Many signatures from one address"),
    Flag.RATE_NETWORK: gettext_lazy("Many signatures from one network"),
    Flag.RATE_DOMAIN: gettext_lazy("Many signatures from one email domain"),
}


class BadRequestError(Exception):
    """Malformed moderation input: ``message`` (translated) is shown with a 400."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


# --- access -----------------------------------------------------------------------------------


def _forbidden(request: HttpRequest) -> HttpResponse:
    return render_error(
        request,
        403,
        _("Not allowed"),
        _("Only moderators and organisers can use the moderation pages."),
    )


def _forbidden_export(request: HttpRequest) -> HttpResponse:
    return render_error(
        request,
        403,
        _("Not allowed"),
        _("Only organisers can download the list of signatories."),
    )


def _campaign_or_404(year: int, slug: str) -> Campaign:
    """The campaign, published or not (moderators also work on a campaign being prepared)."""
    try:
        edition = program_selectors.get_edition(year=year)
    except Edition.DoesNotExist:
        raise Http404(_("There is no edition of this year.")) from None
    set_fallback_language(edition.default_language)
    campaign = Campaign.objects.select_related("edition").filter(edition=edition, slug=slug).first()
    if campaign is None:
        raise Http404(_("There is no such campaign."))
    return campaign


def _moderation_url(campaign: Campaign) -> str:
    return reverse("voices:moderation", args=[campaign.edition.year, campaign.slug])


def _page(
    request: HttpRequest, template: str, context: dict[str, Any], *, campaign: Campaign, status: int
) -> HttpResponse:
    edition = campaign.edition
    with timezone.override(edition.tzinfo):
        response = render(
            request,
            template,
            {
                "edition": edition,
                "campaign": campaign,
                "nav": "voices",
                "private_page": True,
                "can_export": request.user.has_perm(EXPORT),
                **context,
            },
            status=status,
        )
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


class StaffView(View):
    """Signed-in staff with ``permission``; the others get a 403."""

    permission = MODERATE

    @method_decorator(login_required)
    @method_decorator(never_cache)
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if not request.user.has_perm(self.permission):
            return self.forbidden(request)
        return super().dispatch(request, *args, **kwargs)

    def forbidden(self, request: HttpRequest) -> HttpResponse:
        return _forbidden(request)


# --- the queues -------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeldRow:
    """A held signature as a moderator sees it (no address, the name only if it may be shown)."""

    pk: int
    name: str
    country: str
    created_at: Any
    confirmed_at: Any
    email_domain: str
    prefix_hash: str
    flags: list[str]
    message: str


@dataclass(frozen=True)
class MessageRow:
    pk: int
    name: str
    country: str
    confirmed_at: Any
    message: str


def _shown_name(signature: Signature) -> str:
    return (signature.name or "") if signature.show_name else ""


def _flag_label(flag: str) -> str:
    label = FLAG_LABELS.get(flag)
    return str(label) if label is not None else flag


def _held_rows(campaign: Campaign) -> tuple[list[HeldRow], int]:
    queryset = selectors.list_held(campaign=campaign)
    total = queryset.count()
    rows = [
        HeldRow(
            pk=signature.pk,
            name=_shown_name(signature),
            country=signature.country,
            created_at=signature.created_at,
            confirmed_at=signature.confirmed_at,
            email_domain=signature.email_domain,
            prefix_hash=signature.prefix_hash,
            flags=[_flag_label(flag) for flag in signature.flags or []],
            message=signature.message or "",
        )
        for signature in queryset[:QUEUE_LIMIT]
    ]
    return rows, total


def _message_rows(campaign: Campaign) -> tuple[list[MessageRow], int]:
    queryset = selectors.list_pending_messages(campaign=campaign)
    total = queryset.count()
    rows = [
        MessageRow(
            pk=signature.pk,
            name=_shown_name(signature),
            country=signature.country,
            confirmed_at=signature.confirmed_at,
            message=signature.message or "",
        )
        for signature in queryset[:QUEUE_LIMIT]
    ]
    return rows, total


def _trend_rows(campaign: Campaign, field: str) -> list[dict[str, Any]]:
    rows = []
    for trend in selectors.trending(campaign=campaign, field=field):
        ratio = trend.last_hour / trend.previous_day_hourly if trend.previous_day_hourly else None
        kind = Invalidation.Kind.DOMAIN if field == "email_domain" else Invalidation.Kind.PREFIX
        query = QueryDict(mutable=True)
        query["kind"] = kind
        query["domain" if kind == Invalidation.Kind.DOMAIN else "prefix_hash"] = trend.value
        rows.append(
            {
                "value": trend.value,
                "last_hour": trend.last_hour,
                "previous_day_hourly": trend.previous_day_hourly,
                "ratio": ratio,
                # A surge: over ten in the hour and at least five times the usual rate.
                "surge": trend.last_hour >= 10 and (ratio is None or ratio >= 5),
                "invalidate_query": query.urlencode(),
            }
        )
    return rows


def _decision(post: QueryDict) -> tuple[bool, list[int]]:
    """(approve?, ids) from a queue form: a row's button sends ``approve:<id>`` or
    ``reject:<id>``; the buttons under the list send ``approve`` or ``reject`` and the ticked
    ``ids``. Raises BadRequestError."""
    match = _DECISION.fullmatch(post.get("decide", ""))
    if match is None:
        raise BadRequestError(_("Choose approve or reject."))
    approve = match.group(1) == "approve"
    if match.group(2):
        return approve, [int(match.group(2))]
    values = post.getlist("ids")
    if not values:
        raise BadRequestError(_("Tick at least one item first."))
    if len(values) > MAX_SELECTED or not all(_ID.fullmatch(value) for value in values):
        raise BadRequestError(_("The selection was not valid. Reload the page and try again."))
    return approve, sorted({int(value) for value in values})


def _held_reason(post: QueryDict, *, approve: bool) -> str:
    """The published reason of a rejection (an approval needs none)."""
    if approve:
        return ""
    form = ReasonForm(post)
    form.fields["reason"].error_messages["required"] = _("Give the reason: it is published.")
    if not form.is_valid():
        errors = form.errors.get("reason") or [_("Give the reason: it is published.")]
        raise BadRequestError(str(errors[0]))
    return str(form.cleaned_data["reason"])


@dataclass
class Tally:
    done: int = 0
    skipped: int = 0


class ModerationView(StaffView):
    """The moderation page of one campaign: messages waiting, held signatures, the hourly
    trends of domains and networks, and the way to a bulk invalidation."""

    template = "voices/moderation.html"

    def get(self, request: HttpRequest, year: int, slug: str) -> HttpResponse:
        campaign = _campaign_or_404(year, slug)
        return self.show(request, campaign)

    def post(self, request: HttpRequest, year: int, slug: str) -> HttpResponse:
        campaign = _campaign_or_404(year, slug)
        queue = request.POST.get("queue", "")
        try:
            if queue == "messages":
                tally, approve = self.decide_messages(request, campaign)
            elif queue == "held":
                tally, approve = self.decide_held(request, campaign)
            else:
                raise BadRequestError(_("This form is not known. Reload the page and try again."))
        except BadRequestError as error:
            return self.show(request, campaign, error=error.message, status=400)
        audit(
            request,
            action="moderation.decide",
            obj=campaign,
            summary=f"queue={queue} approve={approve} done={tally.done} skipped={tally.skipped}",
        )
        self.report(request, queue=queue, approve=approve, tally=tally)
        selectors.forget_counts(campaign=campaign)
        return HttpResponseRedirect(_moderation_url(campaign) + f"#{queue}")

    def decide_messages(self, request: HttpRequest, campaign: Campaign) -> tuple[Tally, bool]:
        approve, ids = _decision(request.POST)
        tally = Tally()
        signatures = Signature.objects.filter(campaign=campaign, pk__in=ids)
        for signature in signatures:
            try:
                services.moderate_message(signature=signature, approve=approve)
            except ModerationError:
                tally.skipped += 1  # decided by someone else meanwhile, or withdrawn
                continue
            tally.done += 1
            logger.info(
                "voices message %s signature_id=%s campaign_id=%s moderator_id=%s",
                "approved" if approve else "rejected",
                signature.pk,
                campaign.pk,
                request.user.pk,
            )
        tally.skipped += len(ids) - len(signatures)
        return tally, approve

    def decide_held(self, request: HttpRequest, campaign: Campaign) -> tuple[Tally, bool]:
        approve, ids = _decision(request.POST)
        reason = _held_reason(request.POST, approve=approve)
        tally = Tally()
        signatures = Signature.objects.filter(campaign=campaign, pk__in=ids)
        for signature in signatures:
            try:
                services.review_held(
                    signature=signature, approve=approve, reason=reason, moderator=request.user
                )
            except ModerationError:
                tally.skipped += 1
                continue
            tally.done += 1
            logger.info(
                "voices review recorded signature_id=%s campaign_id=%s moderator_id=%s",
                signature.pk,
                campaign.pk,
                request.user.pk,
            )
        tally.skipped += len(ids) - len(signatures)
        return tally, approve

    def report(self, request: HttpRequest, *, queue: str, approve: bool, tally: Tally) -> None:
        if queue == "messages":
            if approve:
                text = ngettext("%(n)s message approved.", "%(n)s messages approved.", tally.done)
            else:
                text = ngettext("%(n)s message rejected.", "%(n)s messages rejected.", tally.done)
        elif approve:
            text = ngettext(
                "%(n)s signature approved: it counts now.",
                "%(n)s signatures approved: they count now.",
                tally.done,
            )
        else:
            text = ngettext(
                "%(n)s signature rejected: it is set aside.",
                "%(n)s signatures rejected: they are set aside.",
                tally.done,
            )
        messages.success(request, text % {"n": tally.done})
        if tally.skipped:
            messages.warning(
                request,
                ngettext(
                    "%(n)s item had been decided already or is gone: it was left as it is.",
                    "%(n)s items had been decided already or are gone: they were left as they are.",
                    tally.skipped,
                )
                % {"n": tally.skipped},
            )

    def show(
        self, request: HttpRequest, campaign: Campaign, *, error: str = "", status: int = 200
    ) -> HttpResponse:
        held, held_total = _held_rows(campaign)
        pending, pending_total = _message_rows(campaign)
        figures = selectors.audit_figures(campaign=campaign)
        return _page(
            request,
            self.template,
            {
                "error": error,
                "held": held,
                "held_total": held_total,
                "pending": pending,
                "pending_total": pending_total,
                "queue_limit": QUEUE_LIMIT,
                "domains": _trend_rows(campaign, "email_domain"),
                "networks": _trend_rows(campaign, "prefix_hash"),
                "figures": figures,
                "reason_form": ReasonForm(),
            },
            campaign=campaign,
            status=status,
        )


# --- bulk invalidation ------------------------------------------------------------------------


class ModerationInvalidationForm(BulkInvalidationForm):
    """The bulk form, with the checks a moderator's typing needs: a domain is a DNS name (no
    spaces, no address), a network is the hexadecimal hash the report shows, and the times are
    read in the edition's time zone (the view activates it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].error_messages["invalid_choice"] = gettext_lazy(
            "Choose what to match: an email domain, a network or a time window."
        )
        self.fields["kind"].error_messages["required"] = gettext_lazy(
            "Choose what to match: an email domain, a network or a time window."
        )
        self.fields["reason"].error_messages["required"] = gettext_lazy(
            "Give the reason: it is published."
        )
        for name in ("start", "end"):
            self.fields[name].widget = forms.DateTimeInput(
                attrs={"type": "datetime-local", "step": "60"}, format="%Y-%m-%dT%H:%M"
            )
            self.fields[name].error_messages["invalid"] = gettext_lazy(
                "Enter a date and time such as 2026-07-05 14:30."
            )
        self.fields["domain"].widget.attrs.update({"dir": "ltr", "spellcheck": "false"})
        self.fields["prefix_hash"].widget.attrs.update({"dir": "ltr", "spellcheck": "false"})

    def clean_domain(self) -> str:
        value = str(self.cleaned_data.get("domain") or "")
        text = value.strip()
        if not text:
            return ""
        if "@" in text:
            raise ValidationError(
                _("Enter only the domain, the part after @ (such as example.org)."),
                code="address",
            )
        from gathering.voices.canonical import canonical_domain

        if not _DOMAIN.fullmatch(canonical_domain(text)):
            raise ValidationError(
                _("Enter a domain such as example.org, without spaces."), code="domain"
            )
        return text

    def clean_prefix_hash(self) -> str:
        text = str(self.cleaned_data.get("prefix_hash") or "").strip().lower()
        if text and not _HEX.fullmatch(text):
            raise ValidationError(
                _("Enter the network's hash as the report shows it (letters a-f and digits)."),
                code="hash",
            )
        return text

    def criteria(self) -> dict[str, Any]:
        """The keyword arguments of ``services.preview_invalidation``/``invalidate``."""
        data = self.cleaned_data
        kind = data["kind"]
        if kind == Invalidation.Kind.DOMAIN:
            return {"kind": kind, "domain": data["domain"]}
        if kind == Invalidation.Kind.PREFIX:
            return {"kind": kind, "prefix_hash": data["prefix_hash"]}
        return {"kind": kind, "start": data["start"], "end": data["end"]}


class BulkInvalidationView(StaffView):
    """Invalidate by email domain, network or time window: the form, then a preview with the
    number of signatures that match, then (a second POST, ``confirmed``) the decision."""

    template = "voices/moderation_invalidate.html"

    def get(self, request: HttpRequest, year: int, slug: str) -> HttpResponse:
        campaign = _campaign_or_404(year, slug)
        # The trend report links here with the domain or network filled in.
        initial = {
            key: request.GET[key][:253]
            for key in ("kind", "domain", "prefix_hash")
            if key in request.GET
        }
        return self.show(request, campaign, ModerationInvalidationForm(initial=initial))

    def post(self, request: HttpRequest, year: int, slug: str) -> HttpResponse:
        campaign = _campaign_or_404(year, slug)
        with timezone.override(campaign.edition.tzinfo):
            form = ModerationInvalidationForm(request.POST)
            valid = form.is_valid()
        if not valid:
            return self.show(request, campaign, form, status=400)
        criteria = form.criteria()
        try:
            count = services.preview_invalidation(campaign=campaign, **criteria)
        except ModerationError as error:
            form.add_error(None, str(error.message))
            return self.show(request, campaign, form, status=400)
        if not form.cleaned_data.get("confirmed"):
            return self.show(request, campaign, form, preview=count)
        try:
            invalidation = services.invalidate(
                campaign=campaign,
                reason=form.cleaned_data["reason"],
                moderator=request.user,
                **criteria,
            )
        except ModerationError as error:
            form.add_error(None, str(error.message))
            return self.show(request, campaign, form, status=400)
        selectors.forget_counts(campaign=campaign)
        audit(request, action="moderation.invalidate", obj=invalidation)
        logger.info(
            "voices bulk invalidation confirmed invalidation_id=%s campaign_id=%s "
            "moderator_id=%s count=%s",
            invalidation.pk,
            campaign.pk,
            request.user.pk,
            invalidation.count,
        )
        messages.success(
            request,
            ngettext(
                "%(n)s signature was set aside. The decision and its reason are published.",
                "%(n)s signatures were set aside. The decision and its reason are published.",
                invalidation.count,
            )
            % {"n": invalidation.count},
        )
        return HttpResponseRedirect(_moderation_url(campaign))

    def show(
        self,
        request: HttpRequest,
        campaign: Campaign,
        form: ModerationInvalidationForm,
        *,
        preview: int | None = None,
        status: int = 200,
    ) -> HttpResponse:
        context: dict[str, Any] = {"form": form, "preview": preview}
        if preview is not None:
            context.update(_preview_context(form, campaign=campaign))
        return _page(request, self.template, context, campaign=campaign, status=status)


def _preview_context(form: ModerationInvalidationForm, *, campaign: Campaign) -> dict[str, Any]:
    """What the preview shows, and the hidden fields its confirmation form posts again."""
    data = form.cleaned_data
    kind = data["kind"]
    hidden: list[tuple[str, str]] = [("kind", kind), ("reason", data["reason"]), ("confirmed", "1")]
    if kind == Invalidation.Kind.DOMAIN:
        hidden.append(("domain", data["domain"]))
    elif kind == Invalidation.Kind.PREFIX:
        hidden.append(("prefix_hash", data["prefix_hash"]))
    else:
        for name in ("start", "end"):
            local = timezone.localtime(data[name], campaign.edition.tzinfo)
            hidden.append((name, local.strftime("%Y-%m-%dT%H:%M:%S")))
    return {
        "kind_label": Invalidation.Kind(kind).label,
        "match": data.get("domain") or data.get("prefix_hash") or "",
        "window": (data["start"], data["end"]) if kind == Invalidation.Kind.WINDOW else None,
        "reason": data["reason"],
        "hidden": hidden,
    }


# --- exports ----------------------------------------------------------------------------------


class SignatoriesExportView(StaffView):
    """The signatories who agreed to be named, as CSV or PDF, for delivery (organisers only).

    A bulk export of personal data: it is asked for on the export requests' page and approved
    by another organiser before it can be downloaded (``audit/exports.py``). This address
    sends there, with the campaign and the format filled in."""

    permission = EXPORT

    def forbidden(self, request: HttpRequest) -> HttpResponse:
        return _forbidden_export(request)

    def get(self, request: HttpRequest, year: int, slug: str, fmt: str) -> HttpResponse:
        if fmt not in {"csv", "pdf"}:
            raise Http404(_("There is nothing at this address."))
        campaign = _campaign_or_404(year, slug)
        query = QueryDict(mutable=True)
        query.update({"kind": "voices.signatories", "campaign": str(campaign.pk), "format": fmt})
        return HttpResponseRedirect(reverse("audit:export-new") + "?" + query.urlencode())
