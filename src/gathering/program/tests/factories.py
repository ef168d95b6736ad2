from __future__ import annotations

import datetime as dt
import zoneinfo

import factory

from gathering.core.translated import Translated
from gathering.program.models import Edition, Room, Session, SessionSpeaker, Speaker, Track

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def texts(en: str, fa: str | None = None, fr: str | None = None) -> Translated:
    value = Translated({"en": en})
    if fa:
        value["fa"] = fa
    if fr:
        value["fr"] = fr
    return value


class EditionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Edition
        django_get_or_create = ("year",)

    year = factory.Sequence(lambda n: 2030 + n)
    title = factory.LazyAttribute(
        lambda o: texts(f"Gathering {o.year}", f"گردهمایی {o.year}", f"Rassemblement {o.year}")
    )
    focus = factory.LazyFunction(lambda: texts("Solidarity", "همبستگی", "Solidarité"))
    city = factory.LazyFunction(lambda: texts("Villepinte", "ویلپنت", "Villepinte"))
    venue_name = factory.LazyFunction(
        lambda: texts("Exhibition centre", "نمایشگاه", "Parc des expositions")
    )
    venue_address = factory.LazyFunction(lambda: texts("1 Example Road, 93420 Villepinte"))
    latitude = "48.972400"
    longitude = "2.516600"
    start_date = factory.LazyAttribute(lambda o: dt.date(o.year, 6, 29))
    end_date = factory.LazyAttribute(lambda o: dt.date(o.year, 6, 30))
    timezone = "Europe/Paris"
    status = Edition.Status.PLANNED
    default_language = "en"


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Room

    edition = factory.SubFactory(EditionFactory)
    slug = factory.Sequence(lambda n: f"room-{n}")
    name = factory.LazyAttribute(
        lambda o: texts(f"Hall {o.slug}", f"سالن {o.slug}", f"Salle {o.slug}")
    )
    capacity = 1000


class TrackFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Track

    edition = factory.SubFactory(EditionFactory)
    slug = factory.Sequence(lambda n: f"track-{n}")
    name = factory.LazyAttribute(
        lambda o: texts(f"Track {o.slug}", f"مسیر {o.slug}", f"Parcours {o.slug}")
    )


class SpeakerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Speaker

    slug = factory.Sequence(lambda n: f"sample-speaker-{n}")
    name = factory.Sequence(
        lambda n: texts(f"Sample speaker {n}", f"سخنران نمونه {n}", f"Intervenant exemple {n}")
    )
    role_title = factory.LazyFunction(
        lambda: texts("Member of parliament", "نماینده پارلمان", "Député")
    )
    country = "FR"
    is_public = True


class SessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Session

    edition = factory.SubFactory(EditionFactory)
    title = factory.Sequence(lambda n: texts(f"Session {n}", f"نشست {n}", f"Séance {n}"))
    kind = Session.Kind.SPEECH
    start = factory.LazyAttribute(
        lambda o: dt.datetime.combine(o.edition.start_date, dt.time(14, 0), tzinfo=PARIS)
    )
    end = factory.LazyAttribute(lambda o: o.start + dt.timedelta(minutes=45))
    room = factory.LazyAttribute(lambda o: RoomFactory(edition=o.edition))
    track = None
    floor_language = "fa"
    interpretation_languages = factory.LazyFunction(lambda: ["en", "fr"])
    abstract = factory.LazyFunction(lambda: texts("An abstract.", "چکیده.", "Un résumé."))


def add_speaker(session: Session, speaker: Speaker, position: int = 0) -> SessionSpeaker:
    return SessionSpeaker.objects.create(session=session, speaker=speaker, position=position)
