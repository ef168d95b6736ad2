from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from gathering.core.cache import bump_version, cached_page, get_version

pytestmark = pytest.mark.django_db

calls: list[str] = []


@cached_page("test-pages")
def counting_view(request: HttpRequest) -> HttpResponse:
    calls.append(request.path)
    status = int(request.GET.get("status", "200"))
    response = HttpResponse(f"render {len(calls)}", status=status)
    response["X-Extra"] = "kept"
    return response


def _get(path: str, user: object | None = None) -> HttpResponse:
    request = RequestFactory().get(path)
    request.user = user or AnonymousUser()  # type: ignore[assignment]
    return counting_view(request)


@pytest.fixture(autouse=True)
def _reset() -> None:
    calls.clear()


def test_second_anonymous_request_is_served_from_cache_with_headers() -> None:
    first = _get("/en/page/")
    second = _get("/en/page/")
    assert calls == ["/en/page/"]
    assert second.content == first.content
    assert second["X-Extra"] == "kept"


def test_query_string_is_part_of_the_key() -> None:
    _get("/en/page/?track=a")
    _get("/en/page/?track=b")
    assert len(calls) == 2


def test_bumping_the_version_invalidates_every_page() -> None:
    before = get_version("test-pages")
    _get("/en/page/")
    bump_version("test-pages")
    assert get_version("test-pages") == before + 1
    response = _get("/en/page/")
    assert len(calls) == 2
    assert response.content == b"render 2"


def test_errors_are_not_cached() -> None:
    _get("/en/page/?status=404")
    _get("/en/page/?status=404")
    assert len(calls) == 2


def test_signed_in_staff_always_see_the_live_page() -> None:
    staff = User.objects.create_user("editor", password="x-long-password")
    _get("/en/page/", staff)
    _get("/en/page/", staff)
    assert len(calls) == 2


@cached_page("test-pages", seconds=0)
def clock_view(request: HttpRequest) -> HttpResponse:
    calls.append(request.path)
    return HttpResponse("now")


def test_a_short_lifetime_applies_to_pages_that_follow_the_clock() -> None:
    for _ in range(2):
        request = RequestFactory().get("/en/clock/")
        request.user = AnonymousUser()  # type: ignore[assignment]
        clock_view(request)
    # Django's cache treats a timeout of 0 as "expire at once": the view ran both times.
    assert len(calls) == 2
