"""No public page loads anything from another origin: a crawl of the demo site.

From the home page in each language (and the public pages nothing links to: the campaign
widgets, the wall, the API docs, staff sign-in), every same-site link is followed (GET only,
anonymous, bounded). For every HTML page, every stylesheet and every script it loads:

- resources (``src``, ``srcset``, ``poster``, ``data``, ``<link rel=stylesheet|icon|preload|…>``,
  SVG ``href``), ``url()`` and ``@import`` in CSS, and the addresses scripts fetch
  (``data-*`` URLs, ``fetch``/``EventSource``/``Worker``/``import`` of literal addresses) are
  ours, or the live server's for the event stream;
- forms post to our own origin;
- the Content-Security-Policy names no other host;
- the HTML has no inline script, style, style attribute or event handler (the policy would
  refuse them: the page would be broken, not attacked).

Links to other sites (``<a href>``: stream channels, a speaker's site) are allowed: a visitor
follows them, the page does not load them.
"""

from __future__ import annotations

import io
import re
from collections import Counter, deque
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from gathering.core.tests.test_security import InlineFinder, directives
from gathering.voices.models import Campaign

ORIGIN = "http://testserver"
MAX_FETCHES = 4000  # the demo needs about a tenth of this; reaching it fails the test
MAX_QUERIES_PER_PATH = 4  # filters and language switches: a few variants of a page suffice
# Files the crawl does not fetch: they cannot load anything (and PDFs take long to draw).
NOT_FETCHED = (".pdf",)
RESOURCE_RELS = {
    "stylesheet",
    "icon",
    "shortcut",
    "apple-touch-icon",
    "mask-icon",
    "preload",
    "modulepreload",
    "prefetch",
    "preconnect",
    "dns-prefetch",
    "manifest",
}
RESOURCE_ATTRIBUTES = {"src", "srcset", "poster", "data", "background", "formaction"}
# In scripts: a network call on a literal address of another origin.
SCRIPT_CALL = re.compile(
    r"""(?:fetch|EventSource|Worker|SharedWorker|WebSocket|importScripts|sendBeacon|import)\s*"""
    r"""\(\s*(['"`])((?:[a-z][a-z0-9+.-]*:)?//[^'"`]*)\1""",
    re.I,
)
SCRIPT_IMPORT = re.compile(r"""\bimport\b[^;'"`]*?from\s*(['"])((?:[a-z]+:)?//[^'"]*)\1""", re.I)
CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)""", re.I | re.S)
CSS_IMPORT = re.compile(r"""@import\s+(?:url\()?\s*(['"])(.*?)\1""", re.I)


class PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.resources: list[tuple[str, str]] = []  # (what, url)
        self.stylesheets: list[str] = []
        self.scripts: list[str] = []
        self.fetches: list[str] = []
        self.forms: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "a" and "href" in values:
            self.links.append(values["href"])
        if tag == "link" and "href" in values:
            rels = set(values.get("rel", "").lower().split())
            if rels & RESOURCE_RELS:
                self.resources.append((f"<link rel={values.get('rel')}>", values["href"]))
                if "stylesheet" in rels:
                    self.stylesheets.append(values["href"])
            else:
                self.links.append(values["href"])  # alternate, canonical: not loaded
        if tag == "script" and values.get("src"):
            self.scripts.append(values["src"])
        if tag in {"image", "use", "feimage"}:  # SVG: these load what they name
            for name in ("href", "xlink:href"):
                if values.get(name) and not values[name].startswith("#"):
                    self.resources.append((f"<{tag} {name}>", values[name]))
        if tag == "form":
            self.forms.append(values.get("action", ""))
        for name, value in values.items():
            if name in RESOURCE_ATTRIBUTES and value:
                for candidate in (
                    [part.split()[0] for part in value.split(",") if part.strip()]
                    if name == "srcset"
                    else [value]
                ):
                    self.resources.append((f"<{tag} {name}>", candidate))
            if name.startswith("data-") and re.match(r"(?:[a-z][a-z0-9+.-]*:)?//", value, re.I):
                self.fetches.append(value)  # data-live-events, data-counts-url …
            if tag.endswith("-widget") and name.endswith("url") and value:
                self.fetches.append(value)  # ALTCHA's challengeurl, workerurl
                if name == "workerurl":
                    self.scripts.append(value)


def origin_of(url: str) -> str | None:
    """The origin a URL (relative to one of our pages) points to; None for data: and the like."""
    parts = urlsplit(urljoin(ORIGIN + "/", url))
    if parts.scheme not in {"http", "https", "ws", "wss"}:
        return None
    return f"{parts.scheme}://{parts.netloc}"


class Crawl:
    def __init__(self, client: Client, live_origin: str) -> None:
        self.client = client
        self.live_origin = live_origin
        self.queue: deque[str] = deque()
        self.seen: set[str] = set()
        self.queries: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        self.problems: list[str] = []
        self.external_links: set[str] = set()
        self.checked_assets: set[str] = set()
        self.broken: list[str] = []

    def visit(self, url: str) -> None:
        absolute = urljoin(ORIGIN + "/", url.split("#", 1)[0])
        if origin_of(absolute) != ORIGIN:
            return
        parts = urlsplit(absolute)
        local = parts.path + (f"?{parts.query}" if parts.query else "")
        if local in self.seen:
            return
        if parts.query:
            self.queries[parts.path] += 1
            if self.queries[parts.path] > MAX_QUERIES_PER_PATH:
                return
        self.seen.add(local)
        if parts.path.endswith(NOT_FETCHED):
            self.counts["not fetched"] += 1
            return
        self.queue.append(local)

    def run(self) -> None:
        while self.queue:
            assert sum(self.counts.values()) < MAX_FETCHES, "the crawl does not end"
            url = self.queue.popleft()
            response = self.client.get(url)
            if response.status_code in {301, 302, 303, 307, 308}:
                self.counts["redirects"] += 1
                self.visit(response["Location"])
                continue
            if response.status_code >= 500:
                self.problems.append(f"{url}: status {response.status_code}")
                continue
            if response.status_code != 200:
                # Not this test's subject (nothing loaded from elsewhere), but worth a look.
                self.broken.append(f"{url}: status {response.status_code}")
                continue
            kind = response.get("Content-Type", "")
            if kind.startswith("text/html"):
                self.counts["pages"] += 1
                self.page(url, response)
            else:
                self.counts["other files"] += 1
                if getattr(response, "streaming", False):
                    # Read to the end: the test client then closes the file (response.close()
                    # would also close the test's database connection on PostgreSQL).
                    b"".join(response.streaming_content)

    def allowed(self, url: str, *, live: bool = False) -> bool:
        origin = origin_of(url)
        return origin in {None, ORIGIN} or (live and origin == self.live_origin)

    def page(self, url: str, response) -> None:
        html = response.content.decode()
        self.policy(url, response["Content-Security-Policy"])
        parser = PageParser()
        parser.feed(html)
        inline = InlineFinder()
        inline.feed(html)
        self.problems += [f"{url}: {found}" for found in inline.found]
        for what, resource in parser.resources:
            if not self.allowed(resource):
                self.problems.append(f"{url}: {what} loads {resource}")
        for target in parser.fetches:
            if not self.allowed(target, live=True):
                self.problems.append(f"{url}: a script fetches {target}")
        for action in parser.forms:
            if origin_of(urljoin(ORIGIN + url, action or url)) != ORIGIN:
                self.problems.append(f"{url}: a form posts to {action}")
        for sheet in parser.stylesheets:
            self.asset(urljoin(ORIGIN + url, sheet), self.stylesheet)
        for script in parser.scripts:
            self.asset(urljoin(ORIGIN + url, script), self.script)
        for link in parser.links:
            if origin_of(urljoin(ORIGIN + url, link)) in {None, ORIGIN}:
                self.visit(urljoin(url, link))
            else:
                self.external_links.add(link)

    def policy(self, url: str, header: str) -> None:
        for directive, sources in directives(header).items():
            for source in sources:
                keyword = source.startswith("'") and source.endswith("'")
                if (
                    keyword
                    or source in {"data:"}
                    or (source == "*" and directive == "frame-ancestors")
                ):
                    continue
                if directive == "connect-src" and source == self.live_origin:
                    continue
                self.problems.append(f"{url}: the policy allows {source} in {directive}")

    def asset(self, url: str, check) -> None:
        if not self.allowed(url) or url in self.checked_assets:
            return  # another origin: reported by the page already
        self.checked_assets.add(url)
        response = self.client.get(urlsplit(url).path)
        if response.status_code != 200:
            self.problems.append(f"{url}: status {response.status_code}")
            return
        text = b"".join(response.streaming_content).decode()  # read to the end: closed
        check(url, text)

    def stylesheet(self, url: str, text: str) -> None:
        self.counts["stylesheets"] += 1
        targets = {
            match.group(2).strip()
            for pattern in (CSS_URL, CSS_IMPORT)
            for match in pattern.finditer(text)
        }
        self.problems += [
            f"{url}: loads {target}"
            for target in sorted(targets)
            if not self.allowed(urljoin(url, target))
        ]
        for match in CSS_IMPORT.finditer(text):
            self.asset(urljoin(url, match.group(2)), self.stylesheet)

    def script(self, url: str, text: str) -> None:
        self.counts["scripts"] += 1
        for pattern in (SCRIPT_CALL, SCRIPT_IMPORT):
            for match in pattern.finditer(text):
                if not self.allowed(match.group(2), live=True):
                    self.problems.append(f"{url}: {match.group(0)[:120]}")


@pytest.mark.django_db
def test_no_public_page_loads_anything_from_another_origin(client: Client) -> None:
    call_command("demo", stdout=io.StringIO())
    crawl = Crawl(client, live_origin=f"http://testserver:{settings.LIVE_PORT}")
    languages = [code for code, _name in settings.LANGUAGES]
    for language in languages:
        crawl.visit(f"/{language}/")
        for campaign in Campaign.objects.select_related("edition"):
            crawl.visit(f"/{language}/{campaign.edition.year}/voices/{campaign.slug}/widget/")
        crawl.visit(f"/{language}/2027/wall/")
    crawl.visit("/api/docs")
    crawl.visit("/staff/login/")

    crawl.run()

    print(
        f"\ncrawled {crawl.counts['pages']} pages, {crawl.counts['stylesheets']} stylesheets, "
        f"{crawl.counts['scripts']} scripts ({crawl.counts['other files']} other files, "
        f"{crawl.counts['redirects']} redirects, {crawl.counts['not fetched']} PDFs not "
        f"fetched); {len(crawl.external_links)} links to other sites"
    )
    if crawl.broken:
        print("links that do not answer 200:\n  " + "\n  ".join(crawl.broken))
    assert crawl.problems == [], "\n".join(crawl.problems)
    # The crawl reached what it should: every language, the program, campaigns, sites, live.
    assert crawl.counts["pages"] > 100
    assert crawl.counts["stylesheets"] >= 4 and crawl.counts["scripts"] >= 3
    assert "http://testserver/static/abuse/altcha.worker.js" in crawl.checked_assets
    for path in ("/fa/2027/program/", "/fr/2027/voices/", "/en/2027/sites/", "/fa/2027/live/"):
        assert path in crawl.seen, path
    assert any(link.startswith("https://") for link in crawl.external_links)


def test_the_crawler_sees_what_it_must_refuse() -> None:
    """The checks above can fail: a page, a stylesheet and a script that load from elsewhere."""
    crawl = Crawl(Client(), live_origin="http://testserver:8001")
    parser = PageParser()
    parser.feed(
        '<link rel="stylesheet" href="https://cdn.example/x.css">'
        '<link rel="preconnect" href="https://fonts.example">'
        '<script src="//cdn.example/x.js"></script><img srcset="/a.png 1x, https://t.example/p.png 2x">'
        '<svg><image href="https://i.example/i.png"/></svg>'
        '<div data-live-events="http://testserver:8001/live/1/events" data-x="https://api.example/"></div>'
        '<a href="https://example.org/stream">a link is fine</a>'
    )
    refused = [url for _what, url in parser.resources if not crawl.allowed(url)]
    assert refused == [
        "https://cdn.example/x.css",
        "https://fonts.example",
        "//cdn.example/x.js",
        "https://t.example/p.png",
        "https://i.example/i.png",
    ]
    assert parser.scripts == ["//cdn.example/x.js"]
    assert not crawl.allowed(parser.scripts[0])
    assert [url for url in parser.fetches if not crawl.allowed(url, live=True)] == [
        "https://api.example/"
    ]
    crawl.stylesheet(
        "http://testserver/static/a.css",
        "@import url('https://fonts.example/css');"
        "a{background:url(data:image/png;base64,AA==)} b{background:url(/static/b.png)}",
    )
    crawl.script(
        "http://testserver/static/a.js",
        'fetch("https://api.example/x"); new EventSource("http://testserver:8001/live/1/events");'
        ' import x from "https://esm.example/m.js"; fetch("/ours");',
    )
    crawl.policy("/page", "default-src 'self'; connect-src 'self' https://evil.example")
    assert len(crawl.problems) == 4, crawl.problems


# Nothing here depends on the database engine: the PostgreSQL run of `make test` leaves it out.
pytestmark = pytest.mark.engine_agnostic
