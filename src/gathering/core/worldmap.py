"""A world map as inline SVG: countries shaded by a count, optional circles for a second count.

The shapes are vendored (data/world-110m.json, see data/VENDORED.md): no tile server, no map
service, nothing fetched by the visitor's browser. The SVG carries no script and no style
attribute (the site's Content Security Policy forbids both); site.css colours it through the
``wm-*`` classes, and presentation attributes on the group keep it legible without CSS.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext

from gathering.core.templatetags.gathering import digits
from gathering.registration.countries import country_name

DATA_FILE = Path(__file__).resolve().parent / "data" / "world-110m.json"

LEVELS = 5
# Counts beyond this are not real attendance figures; refusing them also keeps str() and
# float conversions of absurd integers out of the page.
MAX_VALUE = 10**15
MARKER_MIN_RADIUS = 3.0
MARKER_MAX_RADIUS = 15.0

# Shapes without an ISO 3166-1 entry in pycountry (so without a name from it).
EXTRA_NAMES: dict[str, dict[str, str]] = {
    "XK": {"en": "Kosovo", "fa": "کوزوو", "fr": "Kosovo"},
}


@dataclass(frozen=True, slots=True)
class CountryShape:
    path: str
    label_x: float
    label_y: float


@dataclass(frozen=True, slots=True)
class WorldMap:
    width: int
    height: int
    countries: Mapping[str, CountryShape]


@functools.cache
def load_world_map() -> WorldMap:
    """The vendored shapes, read once per process."""
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    countries = {
        code: CountryShape(path=entry["d"], label_x=entry["c"][0], label_y=entry["c"][1])
        for code, entry in data["countries"].items()
    }
    return WorldMap(width=int(data["width"]), height=int(data["height"]), countries=countries)


def map_country_name(code: str, language: str | None = None) -> str:
    language = (language or get_language() or "en").split("-")[0]
    if extra := EXTRA_NAMES.get(code):
        return extra.get(language, extra["en"])
    return country_name(code, language)


def _clean(values: Mapping[str, int] | None, known: Mapping[str, CountryShape]) -> dict[str, int]:
    """Positive counts by upper-case code; unknown codes and non-integer values are dropped."""
    clean: dict[str, int] = {}
    for code, value in (values or {}).items():
        if not isinstance(code, str) or isinstance(value, bool) or not isinstance(value, int):
            continue
        key = code.upper()
        if key in known and 0 < value <= MAX_VALUE:
            clean[key] = min(clean.get(key, 0) + value, MAX_VALUE)
    return clean


def level(value: int, top: int) -> int:
    """1..5 on a logarithmic scale up to ``top``: one attendee shows, a thousand shows more."""
    if top <= 1:
        return LEVELS
    return max(1, min(LEVELS, math.ceil(LEVELS * math.log(value + 1) / math.log(top + 1))))


def _title(code: str, value: int) -> str:
    # Translators: tooltip on a country of the world map, e.g. "Iran: 120".
    return gettext("%(country)s: %(count)s") % {
        "country": map_country_name(code),
        "count": digits(value),
    }


def render_world_map(
    *, counts: Mapping[str, int], label: str, markers: Mapping[str, int] | None = None
) -> SafeString:
    """An ``<svg>`` world map: every country a ``wm-land`` path, countries with a count shaded
    ``wm-level-1`` (few) to ``wm-level-5`` (the most), with a tooltip "Country: N" in the
    active language; ``markers`` add a circle (``wm-marker``) per country, area growing with
    the value. ``label`` names the map for screen readers. Unknown codes are ignored.
    """
    world = load_world_map()
    shades = _clean(counts, world.countries)
    circles = _clean(markers, world.countries)
    top = max(shades.values(), default=0)

    paths = []
    for code, shape in world.countries.items():
        value = shades.get(code)
        if value:
            paths.append(
                format_html(
                    '<path class="wm-land wm-level-{}" d="{}"><title>{}</title></path>',
                    level(value, top),
                    shape.path,
                    _title(code, value),
                )
            )
        else:
            paths.append(format_html('<path class="wm-land" d="{}"/>', shape.path))

    top_marker = max(circles.values(), default=0)
    dots = []
    # Largest first, so small circles are drawn on top of the big ones they overlap.
    for code, value in sorted(circles.items(), key=lambda item: (-item[1], item[0])):
        shape = world.countries[code]
        radius = MARKER_MIN_RADIUS + (MARKER_MAX_RADIUS - MARKER_MIN_RADIUS) * math.sqrt(
            value / top_marker
        )
        dots.append(
            format_html(
                '<circle class="wm-marker" cx="{}" cy="{}" r="{}"><title>{}</title></circle>',
                shape.label_x,
                shape.label_y,
                f"{radius:.1f}",
                _title(code, value),
            )
        )

    return format_html(
        '<svg class="wm-map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" '
        'role="img" aria-label="{}" focusable="false" fill-rule="evenodd">'
        "<title>{}</title>"
        '<g class="wm-countries" fill="#d5d9de" stroke="#ffffff" stroke-width="0.5" '
        'stroke-linejoin="round">{}</g>'
        '<g class="wm-markers" fill="#b3261e" fill-opacity="0.75" stroke="#ffffff" '
        'stroke-width="1">{}</g>'
        "</svg>",
        world.width,
        world.height,
        label,
        label,
        format_html_join("", "{}", ((path,) for path in paths)),
        format_html_join("", "{}", ((dot,) for dot in dots)),
    )
