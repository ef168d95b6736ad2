"""Read-only endpoints of the program: editions, their sessions and speakers, the whole program.

Texts come in the language of ``?lang=`` (en, fa, fr; default: the edition's default language).
Errors are JSON ``{"detail": ...}``: 404 for an unknown year or speaker, 400 for a filter or
language that cannot be used or a parameter of the wrong type or out of range.
"""

# No ``from __future__ import annotations``: ninja reads the parameter annotations at runtime.
import hashlib
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils.http import parse_etags, quote_etag
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.pagination import LimitOffsetPagination, paginate

from gathering.api.presenters import Presented, Presenter
from gathering.api.schemas import (
    EditionOut,
    ErrorOut,
    ProgramOut,
    SessionOut,
    SpeakerDetailOut,
    SpeakerOut,
)
from gathering.core.cache import get_version
from gathering.core.errors import InvalidQueryError
from gathering.program import selectors
from gathering.program.exports.common import UnknownLanguageError, parse_language
from gathering.program.forms import SessionFilterForm
from gathering.program.models import Edition, Speaker

router = Router(tags=["program"])

MAX_LIMIT = 200
# Far beyond any real program; keeps OFFSET within what every database accepts.
MAX_OFFSET = 1_000_000
PROGRAM_CACHE_SECONDS = 3600
LANG_DESCRIPTION = "Language of the texts: en, fa or fr (default: the edition's default language)."
NOT_FOUND = {404: ErrorOut}
BAD_REQUEST = {400: ErrorOut}


class LimitOffset(LimitOffsetPagination):
    """ninja's limit/offset pagination, with a maximum page size and offset."""

    class Input(Schema):
        limit: int = Field(50, ge=1, le=MAX_LIMIT, description=f"Items per page, 1 to {MAX_LIMIT}.")
        offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Items to skip.")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_limit=MAX_LIMIT, **kwargs)


# The codes ``?lang=`` takes exactly as the OpenAPI document lists them ("" is the default), so
# that a client generated from the document sends nothing the API refuses.
LANGUAGE_CODES = ["", *(code for code, _name in settings.LANGUAGES)]


class LanguageQuery(Schema):
    lang: str | None = Field(
        None, description=LANG_DESCRIPTION, json_schema_extra={"enum": list(LANGUAGE_CODES)}
    )


class SessionFilterQuery(LanguageQuery):
    day: str | None = Field(None, description="A day of the edition, YYYY-MM-DD.")
    track: str | None = Field(None, description="Track slug.")
    room: str | None = Field(None, description="Room slug.")
    language: str | None = Field(None, description="Floor or interpretation language code.")
    kind: str | None = Field(None, description="plenary, panel, speech, performance or break.")


def _language(raw: str | None) -> str | None:
    """The language asked for, None when none was; raises a 400 for an unknown one.

    Only the exact codes of the OpenAPI document: "FR" or " fr" would be a value the document
    calls invalid, and a client should not come to rely on it."""
    if not raw:
        return None
    try:
        code = parse_language(raw, default="")
        if code != raw:
            raise UnknownLanguageError
    except UnknownLanguageError as error:
        raise HttpError(400, str(error)) from error
    return code


def _edition(year: int) -> Edition:
    try:
        return selectors.get_edition(year=year)
    except Edition.DoesNotExist as error:
        raise HttpError(404, _("There is no edition of %(year)s.") % {"year": year}) from error


@router.get("/editions", response={200: list[EditionOut], **BAD_REQUEST}, url_name="edition-list")
def list_editions(request: HttpRequest, query: Query[LanguageQuery]) -> list[dict[str, Any]]:
    """Every edition, latest first."""
    presenter = Presenter(request=request, language=_language(query.lang))
    return [presenter.edition(edition) for edition in selectors.list_editions()]


@router.get(
    "/editions/{year}",
    response={200: EditionOut, **NOT_FOUND, **BAD_REQUEST},
    url_name="edition-detail",
)
def get_edition(request: HttpRequest, year: int, query: Query[LanguageQuery]) -> dict[str, Any]:
    language = _language(query.lang)
    return Presenter(request=request, language=language).edition(_edition(year))


@router.get(
    "/editions/{year}/sessions",
    response={200: list[SessionOut], **NOT_FOUND, **BAD_REQUEST},
    url_name="edition-sessions",
)
@paginate(LimitOffset)
def list_sessions(
    request: HttpRequest, year: int, filters: Query[SessionFilterQuery]
) -> Presented[Any]:
    """The edition's sessions in time order, filtered like the program page."""
    language = _language(filters.lang)
    edition = _edition(year)
    try:
        session_filters = SessionFilterForm(request.GET, edition=edition).validated_filters()
    except InvalidQueryError as error:
        raise HttpError(400, str(error)) from error
    presenter = Presenter(request=request, language=language)
    sessions = selectors.list_sessions(edition=edition, filters=session_filters)
    return Presented(sessions, presenter.session)


@router.get(
    "/editions/{year}/speakers",
    response={200: list[SpeakerOut], **NOT_FOUND, **BAD_REQUEST},
    url_name="edition-speakers",
)
@paginate(LimitOffset)
def list_speakers(request: HttpRequest, year: int, query: Query[LanguageQuery]) -> Presented[Any]:
    """The public speakers of the edition, by slug."""
    language = _language(query.lang)
    edition = _edition(year)
    presenter = Presenter(request=request, language=language)
    return Presented(
        selectors.list_public_speakers(edition=edition),
        lambda speaker: presenter.speaker(speaker, edition),
    )


@router.get(
    "/speakers/{slug}",
    response={200: SpeakerDetailOut, **NOT_FOUND, **BAD_REQUEST},
    url_name="speaker-detail",
)
def get_speaker(request: HttpRequest, slug: str, query: Query[LanguageQuery]) -> dict[str, Any]:
    """A public speaker and their sessions in every edition, latest first."""
    language = _language(query.lang)
    try:
        speaker = selectors.get_public_speaker(slug=slug)
    except Speaker.DoesNotExist as error:
        raise HttpError(404, _("There is no such speaker.")) from error
    sessions = list(selectors.list_speaker_sessions(speaker=speaker))
    presenter = Presenter(request=request, language=language)
    latest = sessions[0].edition if sessions else None
    return {
        **presenter.speaker(speaker, latest),
        "sessions": [presenter.session(session) for session in sessions],
    }


@router.get(
    "/editions/{year}/program",
    response={200: ProgramOut, 304: None, **NOT_FOUND, **BAD_REQUEST},
    url_name="edition-program",
)
def get_program(request: HttpRequest, year: int, query: Query[LanguageQuery]) -> HttpResponse:
    """The whole program of an edition in one document, for apps that work offline.

    Send the ``ETag`` back in ``If-None-Match``: while the program is unchanged the answer is
    ``304 Not Modified`` with no body.
    """
    language = _language(query.lang)
    key = ":".join(
        [
            "api-program",
            str(get_version("program")),
            str(year),
            language or "-",
            hashlib.blake2b(request.get_host().encode(), digest_size=8).hexdigest(),
        ]
    )
    cached: tuple[bytes, str] | None = cache.get(key)
    if cached is None:
        content = _program_document(request, _edition(year), language)
        etag = quote_etag(hashlib.blake2b(content, digest_size=16).hexdigest())
        cached = (content, etag)
        cache.set(key, cached, PROGRAM_CACHE_SECONDS)
    content, etag = cached
    if _matches(request.headers.get("If-None-Match", ""), etag):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(content, content_type="application/json; charset=utf-8")
    response["ETag"] = etag
    response["Cache-Control"] = "public, max-age=60"
    return response


def _matches(if_none_match: str, etag: str) -> bool:
    # If-None-Match uses the weak comparison (RFC 9110 13.1.2): W/ prefixes do not matter.
    tags = parse_etags(if_none_match)
    return "*" in tags or etag in {tag.removeprefix("W/") for tag in tags}


def _program_document(request: HttpRequest, edition: Edition, language: str | None) -> bytes:
    presenter = Presenter(request=request, language=language)
    document = {
        "lang": presenter.language_for(edition),
        "edition": presenter.edition(edition),
        "days": selectors.list_days(edition=edition),
        "rooms": [presenter.room(room, edition) for room in selectors.list_rooms(edition=edition)],
        "tracks": [
            presenter.track(track, edition) for track in selectors.list_tracks(edition=edition)
        ],
        "sessions": [presenter.session(s) for s in selectors.list_sessions(edition=edition)],
        "speakers": [
            presenter.speaker(speaker, edition)
            for speaker in selectors.list_public_speakers(edition=edition)
        ],
    }
    return ProgramOut.model_validate(document).model_dump_json().encode()
