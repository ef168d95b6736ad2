"""Shapes of the API's responses (and so of its OpenAPI document).

Every multilingual text comes twice: ``<name>`` in the language asked for with ``?lang=``
(else the edition's default language, then any language that has a text), and
``<name>_i18n`` with every language's text by code. Times are ISO 8601 in the edition's time
zone, with their UTC offset.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from ninja import Field, Schema

Texts = dict[str, str]


class ErrorOut(Schema):
    detail: str = Field(description="What was wrong, in words.")


class VenueOut(Schema):
    name: str
    name_i18n: Texts
    address: str
    address_i18n: Texts
    latitude: float | None
    longitude: float | None


class EditionOut(Schema):
    year: int
    title: str
    title_i18n: Texts
    focus: str
    focus_i18n: Texts
    city: str
    city_i18n: Texts
    venue: VenueOut
    start_date: dt.date
    end_date: dt.date
    timezone: str = Field(description="IANA time zone of the venue, e.g. Europe/Paris.")
    status: Literal["planned", "live", "past"]
    default_language: str = Field(description="Texts missing in a language fall back to this.")
    links: dict[str, str] = Field(description="Absolute links: API, web pages and exports.")


class RoomOut(Schema):
    slug: str
    name: str
    name_i18n: Texts
    capacity: int | None


class TrackOut(Schema):
    slug: str
    name: str
    name_i18n: Texts
    color: str = Field(description="#rrggbb")


class SessionSpeakerOut(Schema):
    slug: str
    name: str
    name_i18n: Texts
    role_title: str
    role_title_i18n: Texts
    links: dict[str, str]


class SessionOut(Schema):
    id: int
    year: int
    title: str
    title_i18n: Texts
    abstract: str
    abstract_i18n: Texts
    kind: Literal["plenary", "panel", "speech", "performance", "break"]
    kind_label: str
    start: dt.datetime
    end: dt.datetime
    duration_minutes: int
    room: RoomOut | None
    track: TrackOut | None
    floor_language: str = Field(description="ISO 639-1 code of the language spoken on stage.")
    interpretation_languages: list[str]
    stream_url: str | None
    speakers: list[SessionSpeakerOut] = Field(description="Public speakers, in order.")
    links: dict[str, str]


class SpeakerOut(Schema):
    slug: str
    name: str
    name_i18n: Texts
    role_title: str
    role_title_i18n: Texts
    affiliation: str
    affiliation_i18n: Texts
    biography: str
    biography_i18n: Texts
    country: str = Field(description="ISO 3166 two-letter code, or empty.")
    photo: str | None
    links: dict[str, str]


class SpeakerDetailOut(SpeakerOut):
    sessions: list[SessionOut] = Field(description="Every session, latest edition first.")


class ProgramOut(Schema):
    lang: str = Field(description="The language the texts are given in.")
    edition: EditionOut
    days: list[dt.date]
    rooms: list[RoomOut]
    tracks: list[TrackOut]
    sessions: list[SessionOut]
    speakers: list[SpeakerOut]
