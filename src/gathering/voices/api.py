"""The voices part of the JSON API (mounted at /api/voices/): public campaigns and their counts.

Read only and public: the counts are exactly what the campaign page shows (countries under the
campaign's threshold are added together as "other"), and the audit figures reconcile them with
the campaign's transparency log (/api/transparency/logs/<log>/...). Nothing here names a signer.
"""

# No ``from __future__ import annotations``: ninja reads the annotations at runtime.
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.errors import HttpError

from gathering.program import selectors as program_selectors
from gathering.program.models import Edition
from gathering.voices import receipts, selectors
from gathering.voices.models import Campaign

router = Router(tags=["voices"])


class ErrorOut(Schema):
    detail: str


# 404 for an unknown edition or campaign, 400 for a path parameter of the wrong type
# (api/api.py's handler): declared, so that the OpenAPI document lists every answer.
ERRORS = {400: ErrorOut, 404: ErrorOut}


class CountryCountOut(Schema):
    country: str = Field(description="ISO 3166 code, or 'other' for the small countries together.")
    count: int


class CampaignOut(Schema):
    year: int
    slug: str
    kind: str
    title: dict[str, str]
    goal: int
    opens_at: Any
    closes_at: Any
    log: str = Field(description="The campaign's transparency log id.")


# Not "CountsOut": the OpenAPI document names schemas by class name, and check-in's CountsOut
# would take this one's place (or this one its).
class CampaignCountsOut(Schema):
    total: int
    goal: int
    country_threshold: int
    countries: list[CountryCountOut]


class InvalidationOut(Schema):
    kind: str
    reason: str
    count: int
    counted: int = Field(description="Of which had been counted (had a leaf in the log).")
    created_at: Any


class AuditOut(Schema):
    counted: int
    leaves: int = Field(description="Leaves queued for the log (integrated within seconds).")
    withdrawn_after_counting: int
    invalidated_after_counting: int
    held_for_review: int
    tree_head_size: int | None
    tree_head_root: str | None
    invalidations: list[InvalidationOut]


def _campaign(year: int, slug: str) -> Campaign:
    try:
        edition = program_selectors.get_edition(year=year)
        return selectors.get_campaign(edition=edition, slug=slug)
    except (Edition.DoesNotExist, Campaign.DoesNotExist):
        raise HttpError(404, "No such campaign.") from None


def _campaign_out(campaign: Campaign) -> dict[str, Any]:
    return {
        "year": campaign.edition.year,
        "slug": campaign.slug,
        "kind": campaign.kind,
        "title": dict(campaign.title),
        "goal": campaign.goal,
        "opens_at": campaign.opens_at,
        "closes_at": campaign.closes_at,
        "log": campaign.log_slug,
    }


@router.get(
    "/{year}/campaigns",
    response={200: list[CampaignOut], **ERRORS},
    summary="Campaigns of an edition",
)
def list_campaigns(request: HttpRequest, year: int) -> list[dict[str, Any]]:
    try:
        edition = program_selectors.get_edition(year=year)
    except Edition.DoesNotExist:
        raise HttpError(404, "No such edition.") from None
    return [_campaign_out(campaign) for campaign in selectors.list_campaigns(edition=edition)]


@router.get(
    "/{year}/campaigns/{slug}/counts",
    response={200: CampaignCountsOut, **ERRORS},
    summary="Public counts",
)
def campaign_counts(request: HttpRequest, year: int, slug: str) -> dict[str, Any]:
    campaign = _campaign(year, slug)
    counts = selectors.count_by_country(campaign=campaign)
    return {
        "total": counts.total,
        "goal": counts.goal,
        "country_threshold": campaign.country_threshold,
        "countries": [{"country": c.country, "count": c.count} for c in counts.countries],
    }


@router.get(
    "/{year}/campaigns/{slug}/audit", response={200: AuditOut, **ERRORS}, summary="Audit figures"
)
def campaign_audit(request: HttpRequest, year: int, slug: str) -> dict[str, Any]:
    campaign = _campaign(year, slug)
    figures = selectors.audit_figures(campaign=campaign)
    head = receipts.latest_tree_head(campaign=campaign)
    return {
        "counted": figures.counted,
        "leaves": figures.leaves,
        "withdrawn_after_counting": figures.withdrawn_after_counting,
        "invalidated_after_counting": figures.invalidated_after_counting,
        "held_for_review": figures.held,
        "tree_head_size": head.size if head else None,
        "tree_head_root": head.root_hex if head else None,
        "invalidations": [
            {
                "kind": item.kind,
                "reason": item.reason,
                "count": item.count,
                "counted": item.counted,
                "created_at": item.created_at,
            }
            for item in figures.invalidations
        ],
    }
