from __future__ import annotations

import datetime as dt
from typing import Any

import factory
from django.utils.timezone import now

from gathering.program.tests.factories import EditionFactory, texts
from gathering.registration import services
from gathering.registration.models import Category, Question, Registration


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    # Tickets carry their window as 32-bit seconds (up to 2106): keep the years near.
    edition = factory.SubFactory(EditionFactory, year=factory.Sequence(lambda n: 2030 + n % 60))
    kind = Category.Kind.ATTENDEE
    slug = factory.Sequence(lambda n: f"category-{n}")
    name = factory.LazyFunction(lambda: texts("Attendee", "شرکت‌کننده", "Participant"))
    description = factory.LazyFunction(
        lambda: texts("Come to the hall.", "به سالن بیایید.", "Venez dans la salle.")
    )
    capacity = 100
    opens_at = factory.LazyFunction(lambda: now() - dt.timedelta(days=1))
    closes_at = factory.LazyFunction(lambda: now() + dt.timedelta(days=30))
    is_public = True
    gate = factory.LazyFunction(lambda: texts("Gate B", "ورودی ب", "Porte B"))


class QuestionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Question

    category = factory.SubFactory(CategoryFactory)
    key = factory.Sequence(lambda n: f"question-{n}")
    kind = Question.Kind.TEXT
    label = factory.LazyFunction(lambda: texts("Anything else?", "چیز دیگری؟", "Autre chose ?"))
    required = False


_counter = iter(range(1, 10**9))


def register_person(category: Category, **overrides: Any) -> services.RegistrationOutcome:
    """Register someone through the service, with plausible defaults."""
    n = next(_counter)
    data: dict[str, Any] = {
        "name": f"Person {n}",
        "email": f"person{n}@example.org",
        "language": "en",
        "country": "FR",
        "consent": True,
    }
    data.update(overrides)
    return services.register(category=category, **data)


def reload(registration: Registration) -> Registration:
    return Registration.objects.select_related("category", "edition").get(pk=registration.pk)
