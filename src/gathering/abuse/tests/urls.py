"""URLs for the browser test only: a page with the widget in a form, and a form target that
says what the server made of the solution."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import include, path
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt

from gathering.abuse import altcha

PAGE = """<!doctype html>
<html lang="{{ language }}" dir="{% if language == 'fa' %}rtl{% else %}ltr{% endif %}">
<head><meta charset="utf-8"><title>ALTCHA test</title></head>
<body>
<form method="post" action="/abuse-test/submit">
  <label for="name">Name</label> <input id="name" name="name">
  {% include "abuse/altcha_widget.html" with language=language %}
  <button type="submit">Sign</button>
</form>
</body></html>"""


def page(request: HttpRequest, language: str) -> HttpResponse:
    with translation.override(language):
        body = engines["django"].from_string(PAGE).render({"language": language}, request)
    return HttpResponse(body)


@csrf_exempt
def submit(request: HttpRequest) -> HttpResponse:
    result = altcha.verify_solution(payload=request.POST.get(altcha.FIELD))
    return HttpResponse(f"status={result.status.value}", content_type="text/plain")


urlpatterns = [
    path("abuse-test/<str:language>/page", page),
    path("abuse-test/submit", submit),
    path("", include("gathering.abuse.urls")),
]
