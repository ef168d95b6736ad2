# ruff: noqa: RUF001  (Persian texts: their letters are not look-alikes of Latin ones)
"""Demo content: the Free Iran Gathering, with past editions near Paris and a planned 2027 one.

Everything here is sample data for trying Gathering. Speakers are placeholders ("Sample speaker
1, member of parliament"), never real people; dates, rooms and programs are illustrative. Focus
texts state public, neutral themes only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from django.db import models, transaction

from gathering.core.dates import to_persian_digits
from gathering.core.models import Organisation
from gathering.core.translated import Translated
from gathering.program.models import Edition, Room, Session, SessionSpeaker, Speaker, Track

ModelT = TypeVar("ModelT", bound=models.Model)

# Texts as (English, Persian, French).
Texts = tuple[str, str, str]


def _t(texts: Texts) -> Translated:
    return Translated(zip(("en", "fa", "fr"), texts, strict=True))


ORGANISATION_NAME: Texts = (
    "Free Iran Gathering",
    "گردهمایی ایران آزاد",
    "Rassemblement pour un Iran libre",
)

VENUE: Texts = (
    "Paris Nord Villepinte exhibition centre",
    "مرکز نمایشگاهی پاری نور ویلپنت",
    "Parc des expositions de Paris Nord Villepinte",
)
VENUE_ADDRESS: Texts = (
    "ZAC Paris Nord 2, 93420 Villepinte, France",
    "منطقهٔ پاری نور ۲، کد پستی ۹۳۴۲۰، ویلپنت، فرانسه",
    "ZAC Paris Nord 2, 93420 Villepinte, France",
)
CITY: Texts = ("Villepinte", "ویلپنت", "Villepinte")

FOCUS_PROTESTS_2009: Texts = (
    "The gathering coincided with nationwide protests in Iran.",
    "این گردهمایی هم‌زمان با اعتراض‌های سراسری در ایران برگزار شد.",
    "Le rassemblement a coïncidé avec des manifestations dans tout le pays en Iran.",
)
FOCUS_CAMPS: Texts = (
    "Protection of the residents of Camps Ashraf and Liberty in Iraq.",
    "حفاظت از ساکنان کمپ‌های اشرف و لیبرتی در عراق.",
    "La protection des résidents des camps Ashraf et Liberty en Irak.",
)
FOCUS_PROTESTS_2018: Texts = (
    "Support for the protests in Iran of December 2017 and January 2018.",
    "حمایت از اعتراض‌های دی‌ماه ۱۳۹۶ (دسامبر ۲۰۱۷ و ژانویه ۲۰۱۸) در ایران.",
    "Soutien aux manifestations de décembre 2017 et janvier 2018 en Iran.",
)
FOCUS_2027: Texts = (
    "Solidarity with the people of Iran.",
    "همبستگی با مردم ایران.",
    "Solidarité avec le peuple iranien.",
)


@dataclass(frozen=True, slots=True)
class EditionSpec:
    year: int
    start: dt.date
    end: dt.date
    status: str
    focus: Texts
    full_program: bool = False


EDITIONS: tuple[EditionSpec, ...] = (
    EditionSpec(2009, dt.date(2009, 6, 20), dt.date(2009, 6, 20), "past", FOCUS_PROTESTS_2009),
    EditionSpec(2012, dt.date(2012, 6, 23), dt.date(2012, 6, 23), "past", FOCUS_CAMPS),
    EditionSpec(2013, dt.date(2013, 6, 22), dt.date(2013, 6, 22), "past", FOCUS_CAMPS),
    EditionSpec(2014, dt.date(2014, 6, 27), dt.date(2014, 6, 27), "past", FOCUS_CAMPS),
    EditionSpec(2015, dt.date(2015, 6, 13), dt.date(2015, 6, 13), "past", FOCUS_CAMPS),
    EditionSpec(2016, dt.date(2016, 7, 9), dt.date(2016, 7, 9), "past", FOCUS_CAMPS),
    EditionSpec(2018, dt.date(2018, 6, 30), dt.date(2018, 7, 1), "past", FOCUS_PROTESTS_2018, True),
    EditionSpec(2027, dt.date(2027, 6, 26), dt.date(2027, 6, 27), "planned", FOCUS_2027, True),
)

# (slug, name, capacity)
ROOMS: tuple[tuple[str, Texts, int], ...] = (
    ("main-hall", ("Main hall", "سالن اصلی", "Grande salle"), 10000),
    ("side-hall", ("Side hall", "سالن جانبی", "Salle annexe"), 800),
    ("press-room", ("Press room", "اتاق مطبوعات", "Salle de presse"), 80),
)

# (slug, name, colour)
TRACKS: tuple[tuple[str, Texts, str], ...] = (
    (
        "solidarity",
        ("International solidarity", "همبستگی بین‌المللی", "Solidarité internationale"),
        "#1f5f8b",
    ),
    ("human-rights", ("Human rights", "حقوق بشر", "Droits humains"), "#8b1f3d"),
    ("women", ("Women and equality", "زنان و برابری", "Femmes et égalité"), "#6b3fa0"),
    ("youth", ("Youth", "جوانان", "Jeunesse"), "#0b6e4f"),
    ("culture", ("Culture and arts", "فرهنگ و هنر", "Culture et arts"), "#9a4f00"),
)


@dataclass(frozen=True, slots=True)
class SpeakerSpec:
    number: int
    role: Texts
    country: str
    is_public: bool = True


SPEAKERS: tuple[SpeakerSpec, ...] = (
    SpeakerSpec(1, ("Member of parliament", "نماینده پارلمان", "Membre du Parlement"), "FR"),
    SpeakerSpec(2, ("Mayor", "شهردار", "Maire"), "FR"),
    SpeakerSpec(
        3, ("Human rights lawyer", "وکیل حقوق بشر", "Avocat spécialisé en droits humains"), "GB"
    ),
    SpeakerSpec(4, ("Former minister", "وزیر پیشین", "Ancien ministre"), "IT"),
    SpeakerSpec(5, ("Senator", "سناتور", "Sénateur"), "US"),
    SpeakerSpec(6, ("Journalist", "روزنامه‌نگار", "Journaliste"), "DE"),
    SpeakerSpec(7, ("Musician", "نوازنده", "Musicien"), "CA"),
    SpeakerSpec(8, ("Poet", "شاعر", "Poète"), "SE"),
    SpeakerSpec(
        9, ("Student representative", "نماینده دانشجویان", "Représentant des étudiants"), "NL"
    ),
    SpeakerSpec(10, ("Physician", "پزشک", "Médecin"), "BE"),
    SpeakerSpec(
        11,
        ("Professor of political science", "استاد علوم سیاسی", "Professeur de science politique"),
        "CH",
    ),
    SpeakerSpec(
        12,
        ("Women's rights advocate", "مدافع حقوق زنان", "Défenseur des droits des femmes"),
        "NO",
    ),
    # Not public: shows how a speaker can be planned without appearing on any public page.
    SpeakerSpec(13, ("Guest speaker", "سخنران مهمان", "Intervenant invité"), "", is_public=False),
)

SPEAKER_AFFILIATION: Texts = ("Sample organisation", "سازمان نمونه", "Organisation exemple")
SPEAKER_BIOGRAPHY: Texts = (
    "A placeholder speaker of the demo program, not a real person.",
    "سخنرانی نمونه در برنامهٔ آزمایشی؛ این شخص واقعی نیست.",
    "Intervenant fictif du programme de démonstration, et non une personne réelle.",
)


@dataclass(frozen=True, slots=True)
class SessionSpec:
    day: int  # 0 for the first day of the edition
    start: str
    end: str
    room: str
    track: str | None
    kind: str
    floor: str
    title: Texts
    abstract: Texts
    speakers: tuple[int, ...] = ()


LUNCH: Texts = ("Lunch break", "استراحت ناهار", "Pause déjeuner")
LUNCH_ABSTRACT: Texts = (
    "Meals are served in the hall foyer.",
    "غذا در سرسرای سالن سرو می‌شود.",
    "Les repas sont servis dans le hall d'accueil.",
)
COFFEE: Texts = ("Coffee break", "استراحت و پذیرایی", "Pause café")
COFFEE_ABSTRACT: Texts = (
    "Tea and coffee in the hall foyer.",
    "چای و قهوه در سرسرای سالن.",
    "Thé et café dans le hall d'accueil.",
)

# Two days of sessions; no room and no speaker is booked twice.
PROGRAM: tuple[SessionSpec, ...] = (
    SessionSpec(
        0,
        "10:00",
        "10:30",
        "main-hall",
        "solidarity",
        "plenary",
        "fa",
        ("Opening of the gathering", "افتتاح گردهمایی", "Ouverture du rassemblement"),
        (
            "Welcome and the program of the two days.",
            "خوشامدگویی و معرفی برنامهٔ دو روز.",
            "Accueil et présentation du programme des deux journées.",
        ),
        (11,),
    ),
    SessionSpec(
        0,
        "10:30",
        "11:15",
        "main-hall",
        "solidarity",
        "speech",
        "en",
        (
            "Keynote: solidarity with the people of Iran",
            "سخنرانی اصلی: همبستگی با مردم ایران",
            "Discours d'ouverture : solidarité avec le peuple iranien",
        ),
        (
            "Why international solidarity matters.",
            "چرا همبستگی بین‌المللی اهمیت دارد.",
            "Pourquoi la solidarité internationale compte.",
        ),
        (4,),
    ),
    SessionSpec(
        0,
        "11:15",
        "12:30",
        "main-hall",
        "solidarity",
        "panel",
        "en",
        (
            "Parliamentarians' panel",
            "میزگرد نمایندگان پارلمان‌ها",
            "Table ronde des parlementaires",
        ),
        (
            "Elected representatives from several countries compare their initiatives.",
            "نمایندگان منتخب از چند کشور ابتکارهای خود را با هم مقایسه می‌کنند.",
            "Des élus de plusieurs pays comparent leurs initiatives.",
        ),
        (1, 5),
    ),
    SessionSpec(0, "12:30", "13:30", "main-hall", None, "break", "fa", LUNCH, LUNCH_ABSTRACT),
    SessionSpec(
        0,
        "13:30",
        "14:00",
        "main-hall",
        "culture",
        "performance",
        "fa",
        ("Music: songs of freedom", "موسیقی: ترانه‌های آزادی", "Musique : chants de liberté"),
        (
            "Songs old and new, performed live.",
            "ترانه‌هایی قدیمی و تازه، به‌صورت زنده.",
            "Des chants anciens et nouveaux, interprétés en direct.",
        ),
        (7,),
    ),
    SessionSpec(
        0,
        "14:00",
        "15:15",
        "main-hall",
        "human-rights",
        "panel",
        "fa",
        (
            "Human rights in Iran: reports and testimonies",
            "حقوق بشر در ایران: گزارش‌ها و شهادت‌ها",
            "Les droits humains en Iran : rapports et témoignages",
        ),
        (
            "What recent reports by international bodies say.",
            "آنچه گزارش‌های اخیر نهادهای بین‌المللی می‌گویند.",
            "Ce que disent les rapports récents des instances internationales.",
        ),
        (3, 10),
    ),
    SessionSpec(0, "15:15", "15:45", "main-hall", None, "break", "fa", COFFEE, COFFEE_ABSTRACT),
    SessionSpec(
        0,
        "15:45",
        "16:30",
        "main-hall",
        "solidarity",
        "speech",
        "fr",
        (
            "Towns of Europe in solidarity",
            "شهرهای اروپا در همبستگی",
            "Les villes d'Europe solidaires",
        ),
        (
            "How towns and their mayors can support civil society.",
            "شهرها و شهرداران چگونه می‌توانند از جامعهٔ مدنی پشتیبانی کنند.",
            "Comment les villes et leurs maires peuvent soutenir la société civile.",
        ),
        (2,),
    ),
    SessionSpec(
        0,
        "16:30",
        "17:30",
        "main-hall",
        "solidarity",
        "plenary",
        "fa",
        ("Closing of the first day", "پایان روز نخست", "Clôture de la première journée"),
        (
            "A summary of the day and the program of tomorrow.",
            "جمع‌بندی روز و برنامهٔ فردا.",
            "Synthèse de la journée et programme du lendemain.",
        ),
        (11,),
    ),
    SessionSpec(
        0,
        "11:00",
        "12:00",
        "side-hall",
        "women",
        "panel",
        "fa",
        (
            "Women and equality: leadership in civil society",
            "زنان و برابری: رهبری در جامعهٔ مدنی",
            "Femmes et égalité : le leadership dans la société civile",
        ),
        (
            "Women who lead associations and campaigns share their experience.",
            "زنانی که انجمن‌ها و کارزارها را رهبری می‌کنند تجربهٔ خود را بازگو می‌کنند.",
            "Des femmes à la tête d'associations et de campagnes partagent leur expérience.",
        ),
        (12,),
    ),
    SessionSpec(
        0,
        "14:00",
        "15:00",
        "side-hall",
        "youth",
        "panel",
        "en",
        ("Youth and the future", "جوانان و آینده", "La jeunesse et l'avenir"),
        (
            "Students and young professionals on the future they want.",
            "دانشجویان و جوانان شاغل دربارهٔ آینده‌ای که می‌خواهند.",
            "Des étudiants et de jeunes actifs parlent de l'avenir qu'ils souhaitent.",
        ),
        (9,),
    ),
    SessionSpec(
        0,
        "16:00",
        "17:00",
        "side-hall",
        "culture",
        "performance",
        "fa",
        ("Poetry reading", "شعرخوانی", "Lecture de poésie"),
        (
            "Persian poems read aloud, with translations on screen.",
            "خوانش شعرهای فارسی، همراه با ترجمه روی پرده.",
            "Lecture de poèmes persans, avec leur traduction à l'écran.",
        ),
        (8,),
    ),
    SessionSpec(
        0,
        "12:45",
        "13:15",
        "press-room",
        None,
        "speech",
        "en",
        ("Press conference", "کنفرانس مطبوعاتی", "Conférence de presse"),
        (
            "Questions from accredited journalists.",
            "پرسش‌های روزنامه‌نگاران دارای مجوز.",
            "Questions des journalistes accrédités.",
        ),
        (1, 6),
    ),
    SessionSpec(
        1,
        "10:00",
        "10:45",
        "main-hall",
        "solidarity",
        "plenary",
        "fa",
        ("Opening of the second day", "آغاز روز دوم", "Ouverture de la deuxième journée"),
        (
            "Welcome back and the program of the day.",
            "خوشامدگویی دوباره و برنامهٔ روز.",
            "Accueil et programme de la journée.",
        ),
        (11,),
    ),
    SessionSpec(
        1,
        "10:45",
        "12:00",
        "main-hall",
        "human-rights",
        "panel",
        "en",
        ("Justice and accountability", "عدالت و پاسخ‌گویی", "Justice et responsabilité"),
        (
            "International law and the protection of human rights defenders.",
            "حقوق بین‌الملل و حمایت از مدافعان حقوق بشر.",
            "Le droit international et la protection des défenseurs des droits humains.",
        ),
        (3, 4),
    ),
    SessionSpec(1, "12:00", "13:00", "main-hall", None, "break", "fa", LUNCH, LUNCH_ABSTRACT),
    SessionSpec(
        1,
        "13:00",
        "13:30",
        "main-hall",
        "culture",
        "performance",
        "fa",
        (
            "Traditional music ensemble",
            "گروه موسیقی سنتی",
            "Ensemble de musique traditionnelle",
        ),
        (
            "Classical Persian music on tar, setar and tombak.",
            "موسیقی کلاسیک ایرانی با تار، سه‌تار و تنبک.",
            "Musique classique persane au tar, au setar et au tombak.",
        ),
        (7,),
    ),
    SessionSpec(
        1,
        "13:30",
        "14:30",
        "main-hall",
        "women",
        "panel",
        "fa",
        ("Women at the forefront", "زنان در صف مقدم", "Les femmes en première ligne"),
        (
            "The role of women in civic movements.",
            "نقش زنان در جنبش‌های مدنی.",
            "Le rôle des femmes dans les mouvements citoyens.",
        ),
        (12, 10),
    ),
    SessionSpec(
        1,
        "14:30",
        "15:15",
        "main-hall",
        "solidarity",
        "speech",
        "fr",
        (
            "Europe and Iran: a message of solidarity",
            "اروپا و ایران: پیام همبستگی",
            "L'Europe et l'Iran : un message de solidarité",
        ),
        (
            "A message from elected representatives across Europe.",
            "پیامی از سوی نمایندگان منتخب در سراسر اروپا.",
            "Un message d'élus de toute l'Europe.",
        ),
        (5,),
    ),
    SessionSpec(1, "15:15", "15:45", "main-hall", None, "break", "fa", COFFEE, COFFEE_ABSTRACT),
    SessionSpec(
        1,
        "15:45",
        "16:45",
        "main-hall",
        "youth",
        "panel",
        "en",
        ("Students speak", "صدای دانشجویان", "La parole aux étudiants"),
        (
            "Student representatives answer questions from the hall.",
            "نمایندگان دانشجویان به پرسش‌های حاضران پاسخ می‌دهند.",
            "Des représentants étudiants répondent aux questions de la salle.",
        ),
        (9, 13),
    ),
    SessionSpec(
        1,
        "16:45",
        "17:30",
        "main-hall",
        "solidarity",
        "plenary",
        "fa",
        ("Closing of the gathering", "اختتامیهٔ گردهمایی", "Clôture du rassemblement"),
        (
            "Closing words and thanks to the volunteers.",
            "سخنان پایانی و قدردانی از داوطلبان.",
            "Mot de clôture et remerciements aux bénévoles.",
        ),
        (1, 2),
    ),
    SessionSpec(
        1,
        "11:00",
        "12:00",
        "side-hall",
        "culture",
        "panel",
        "fa",
        (
            "Iranian cinema and literature",
            "سینما و ادبیات ایران",
            "Cinéma et littérature iraniens",
        ),
        (
            "Films and books that tell the story of a society.",
            "فیلم‌ها و کتاب‌هایی که داستان یک جامعه را روایت می‌کنند.",
            "Des films et des livres qui racontent une société.",
        ),
        (8,),
    ),
    SessionSpec(
        1,
        "14:00",
        "15:00",
        "side-hall",
        "human-rights",
        "panel",
        "en",
        ("Free press and journalism", "مطبوعات آزاد و روزنامه‌نگاری", "Presse libre et journalisme"),
        (
            "Reporting on Iran from abroad: sources, safety and verification.",
            "گزارشگری دربارهٔ ایران از خارج: منابع، امنیت و راستی‌آزمایی.",
            "Couvrir l'Iran depuis l'étranger : sources, sécurité et vérification.",
        ),
        (6,),
    ),
    SessionSpec(
        1,
        "12:15",
        "12:45",
        "press-room",
        None,
        "speech",
        "en",
        ("Press briefing", "نشست خبری", "Point presse"),
        (
            "A short briefing on the second day.",
            "گزارشی کوتاه دربارهٔ روز دوم.",
            "Un court point sur la deuxième journée.",
        ),
        (4,),
    ),
)

STAGE_LANGUAGES = ("fa", "en", "fr")


def _differs(obj: models.Model, key: str, value: Any) -> bool:
    model_field = obj._meta.get_field(key)
    if isinstance(model_field, models.ForeignKey):
        # Compare ids: reading the related row would cost a query per field.
        return bool(getattr(obj, model_field.attname) != (value.pk if value is not None else None))
    return bool(getattr(obj, key) != value)


@dataclass(slots=True)
class _Tally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def put(self, model: type[ModelT], lookup: dict[str, Any], values: dict[str, Any]) -> ModelT:
        """The row matching ``lookup``, created or brought back to ``values``; unchanged rows
        are not saved again (each save invalidates the program's cached pages)."""
        name = model._meta.model_name or model.__name__
        self.counts[name] = self.counts.get(name, 0) + 1
        obj = model._default_manager.filter(**lookup).first()
        if obj is None:
            obj = model(**lookup, **values)
            obj.full_clean()
            obj.save(force_insert=True)
            self.created += 1
            return obj
        changed = [key for key, value in values.items() if _differs(obj, key, value)]
        if not changed:
            self.unchanged += 1
            return obj
        for key in changed:
            setattr(obj, key, values[key])
        obj.full_clean()
        obj.save(update_fields=changed)
        self.updated += 1
        return obj


@dataclass(frozen=True, slots=True)
class DemoSummary:
    """What :func:`load_demo` did: how many objects the demo holds and how many of them this run
    created, changed back to the demo content, or found as they were."""

    editions: int
    sessions: int
    speakers: int
    created: int
    updated: int
    unchanged: int


def _interpretation(kind: str, floor: str) -> list[str]:
    if kind in {Session.Kind.BREAK, Session.Kind.PERFORMANCE}:
        return []
    return [code for code in STAGE_LANGUAGES if code != floor]


def _at(day: dt.date, clock: str, edition: Edition) -> dt.datetime:
    hour, minute = (int(part) for part in clock.split(":"))
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=edition.tzinfo)


def _load_edition(spec: EditionSpec, speakers: dict[int, Speaker], tally: _Tally) -> None:
    year_fa = to_persian_digits(str(spec.year))
    edition = tally.put(
        Edition,
        {"year": spec.year},
        {
            "title": _t(
                (
                    f"Free Iran Gathering {spec.year}",
                    f"گردهمایی ایران آزاد {year_fa}",
                    f"Rassemblement pour un Iran libre {spec.year}",
                )
            ),
            "focus": _t(spec.focus),
            "city": _t(CITY),
            "venue_name": _t(VENUE),
            "venue_address": _t(VENUE_ADDRESS),
            "latitude": Decimal("48.972400"),
            "longitude": Decimal("2.516600"),
            "start_date": spec.start,
            "end_date": spec.end,
            "timezone": "Europe/Paris",
            "status": spec.status,
            "default_language": "en",
        },
    )
    rooms = {
        slug: tally.put(
            Room,
            {"edition": edition, "slug": slug},
            {"name": _t(name), "capacity": capacity, "position": position},
        )
        for position, (slug, name, capacity) in enumerate(ROOMS)
    }
    tracks = {
        slug: tally.put(
            Track,
            {"edition": edition, "slug": slug},
            {"name": _t(name), "color": color, "position": position},
        )
        for position, (slug, name, color) in enumerate(TRACKS)
    }
    if not spec.full_program:
        return
    for item in PROGRAM:
        day = spec.start + dt.timedelta(days=item.day)
        session = tally.put(
            Session,
            {"edition": edition, "room": rooms[item.room], "start": _at(day, item.start, edition)},
            {
                "title": _t(item.title),
                "kind": item.kind,
                "end": _at(day, item.end, edition),
                "track": tracks[item.track] if item.track else None,
                "floor_language": item.floor,
                "interpretation_languages": _interpretation(item.kind, item.floor),
                "abstract": _t(item.abstract),
            },
        )
        for position, number in enumerate(item.speakers):
            tally.put(
                SessionSpeaker,
                {"session": session, "speaker": speakers[number]},
                {"position": position},
            )


@transaction.atomic
def load_demo() -> DemoSummary:
    """Create or restore the demo content; running it again changes nothing.

    Rows are matched by natural keys (the organisation's id 1, an edition's year, a room's or
    track's slug in its edition, a speaker's slug, a session's edition, room and start), so a
    second run finds every row and duplicates none. Organiser edits to demo rows are reset.
    """
    tally = _Tally()
    tally.put(
        Organisation,
        {"pk": 1},
        {
            "name": _t(ORGANISATION_NAME),
            "short_name": "Free Iran Gathering",
            "default_language": "en",
        },
    )
    speakers = {
        spec.number: tally.put(
            Speaker,
            {"slug": f"sample-speaker-{spec.number}"},
            {
                "name": _t(
                    (
                        f"Sample speaker {spec.number}",
                        f"سخنران نمونه {to_persian_digits(str(spec.number))}",
                        f"Intervenant exemple {spec.number}",
                    )
                ),
                "role_title": _t(spec.role),
                "affiliation": _t(SPEAKER_AFFILIATION),
                "biography": _t(SPEAKER_BIOGRAPHY),
                "country": spec.country,
                "is_public": spec.is_public,
            },
        )
        for spec in SPEAKERS
    }
    for spec in EDITIONS:
        _load_edition(spec, speakers, tally)
    return DemoSummary(
        editions=tally.counts.get("edition", 0),
        sessions=tally.counts.get("session", 0),
        speakers=tally.counts.get("speaker", 0),
        created=tally.created,
        updated=tally.updated,
        unchanged=tally.unchanged,
    )
