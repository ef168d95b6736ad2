from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command

from gathering.core.models import Organisation
from gathering.core.translated import TranslatedField
from gathering.program.demo import load_demo
from gathering.program.models import Edition, Room, Session, SessionSpeaker, Speaker, Track
from gathering.program.selectors import list_conflicts
from gathering.program.tests.factories import EditionFactory

pytestmark = pytest.mark.django_db

PERSIAN_LETTERS = re.compile(r"[\u0600-\u06FF]")
MODELS = (Organisation, Edition, Room, Track, Speaker, Session)


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in (*MODELS, SessionSpeaker)}


def test_loading_twice_duplicates_nothing_and_changes_nothing() -> None:
    first = load_demo()
    counts = row_counts()

    second = load_demo()

    assert row_counts() == counts
    assert first.created == sum(counts.values())
    assert (second.created, second.updated) == (0, 0)
    assert second.unchanged == first.created
    assert (second.editions, second.sessions, second.speakers) == (
        first.editions,
        first.sessions,
        first.speakers,
    )


def test_loading_again_restores_an_edited_demo_row() -> None:
    load_demo()
    session = Session.objects.filter(edition__year=2027).first()
    session.title = {"en": "Edited"}
    session.save()

    summary = load_demo()

    session.refresh_from_db()
    assert summary.updated == 1
    assert session.title["en"] != "Edited"
    assert set(session.title) == {"en", "fa", "fr"}


def test_demo_has_past_editions_and_a_planned_2027_edition_near_paris() -> None:
    load_demo()

    planned = Edition.objects.get(year=2027)
    assert planned.status == Edition.Status.PLANNED
    assert planned.venue_name["en"] == "Paris Nord Villepinte exhibition centre"
    assert planned.city["en"] == "Villepinte"
    assert (float(planned.latitude), float(planned.longitude)) == (48.9724, 2.5166)
    assert (planned.start_date.month, planned.end_date.month) in {(6, 6), (6, 7), (7, 7)}
    past = Edition.objects.filter(status=Edition.Status.PAST)
    assert {2009, 2018} <= set(past.values_list("year", flat=True))
    assert past.filter(year__range=(2012, 2016)).count() >= 3
    assert "Ashraf" in Edition.objects.get(year=2013).focus["en"]
    organisation = Organisation.objects.get(pk=1)
    assert organisation.name == {
        "en": "Free Iran Gathering",
        "fa": "گردهمایی ایران آزاد",
        "fr": "Rassemblement pour un Iran libre",
    }


@pytest.mark.parametrize("year", [2018, 2027])
def test_full_program_spans_two_days_with_every_kind_and_language(year: int) -> None:
    load_demo()
    edition = Edition.objects.get(year=year)
    sessions = list(Session.objects.filter(edition=edition))

    assert 20 <= len(sessions) <= 30
    days = {s.start.astimezone(edition.tzinfo).date() for s in sessions}
    assert days == {edition.start_date, edition.end_date}
    assert len(days) == 2
    assert {s.kind for s in sessions} == set(Session.Kind.values)
    assert {s.floor_language for s in sessions} == {"fa", "en", "fr"}
    assert any(s.interpretation_languages for s in sessions)
    assert {r.slug for r in edition.rooms.all()} == {"main-hall", "press-room", "side-hall"}
    assert edition.tracks.count() >= 3
    assert SessionSpeaker.objects.filter(session__edition=edition).count() >= 20


def test_demo_has_no_conflicts() -> None:
    load_demo()

    for edition in Edition.objects.all():
        assert list_conflicts(edition=edition) == [], edition.year


def test_every_text_exists_in_english_persian_and_french() -> None:
    load_demo()

    for model in MODELS:
        fields = [f for f in model._meta.get_fields() if isinstance(f, TranslatedField)]
        for obj in model.objects.all():
            for field in fields:
                value = getattr(obj, field.name)
                label = f"{model.__name__} {obj.pk} {field.name}"
                assert set(value) == {"en", "fa", "fr"}, label
                assert all(text.strip() for text in value.values()), label
                assert PERSIAN_LETTERS.search(value["fa"]), label
                assert not PERSIAN_LETTERS.search(value["fr"]), label


def test_speakers_are_sample_placeholders_and_one_is_not_public() -> None:
    load_demo()

    speakers = list(Speaker.objects.all())
    assert len(speakers) >= 10
    assert all(re.fullmatch(r"Sample speaker \d+", s.name["en"]) for s in speakers)
    assert all(s.name["fa"].startswith("سخنران نمونه") for s in speakers)
    roles = {s.role_title["en"] for s in speakers}
    assert {"Member of parliament", "Mayor"} <= roles
    hidden = [s for s in speakers if not s.is_public]
    assert len(hidden) == 1
    assert hidden[0].sessions.exists()


def test_command_loads_the_demo_and_reports_it() -> None:
    out = io.StringIO()

    call_command("demo", stdout=out)

    assert Edition.objects.filter(year=2027).exists()
    assert "Demo loaded" in out.getvalue()
    assert "8 editions" in out.getvalue()


def test_command_if_empty_loads_into_an_empty_database() -> None:
    out = io.StringIO()

    call_command("demo", "--if-empty", stdout=out)

    assert Edition.objects.count() == 8
    assert "Demo loaded" in out.getvalue()


def test_command_if_empty_does_nothing_when_editions_exist() -> None:
    EditionFactory(year=2031)
    out = io.StringIO()

    call_command("demo", "--if-empty", stdout=out)

    assert list(Edition.objects.values_list("year", flat=True)) == [2031]
    assert not Speaker.objects.exists()
    assert not Organisation.objects.exists()
    assert "not loaded" in out.getvalue()
