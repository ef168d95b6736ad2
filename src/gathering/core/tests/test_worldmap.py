"""The vendored world map data and its SVG rendering."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pycountry
import pytest
from django.utils import translation
from lxml import etree

from gathering.core.dates import to_persian_digits
from gathering.core.worldmap import DATA_FILE, load_world_map, render_world_map

SVG = "{http://www.w3.org/2000/svg}"
ROOT = Path(__file__).resolve().parents[4]
# Where the helper scripts leave npm pack output; only read, never written.
TARBALL = Path("/tmp/npmwa/world-atlas-2.0.2.tgz")  # noqa: S108
TOKEN = re.compile(r"[MlzZ]|-?\d+(?:\.\d+)?")


def data() -> dict[str, Any]:
    return json.loads(DATA_FILE.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def rings(path: str) -> list[list[tuple[float, float]]]:
    """Absolute points of each ring of our path data (M x y, then relative l steps, z)."""
    tokens = TOKEN.findall(path)
    assert "".join(tokens) == re.sub(r"\s", "", path), "unexpected path syntax"
    out: list[list[tuple[float, float]]] = []
    i = 0
    while i < len(tokens):
        assert tokens[i] == "M", path[:40]
        x, y = float(tokens[i + 1]), float(tokens[i + 2])
        ring = [(x, y)]
        i += 3
        assert tokens[i] == "l"
        i += 1
        while tokens[i] != "z":
            x, y = x + float(tokens[i]), y + float(tokens[i + 1])
            ring.append((x, y))
            i += 2
        i += 1
        out.append(ring)
    return out


def parse(svg: str) -> etree._Element:
    return etree.fromstring(svg.encode())


def shaded(svg: str) -> dict[str, str]:
    """{tooltip: level class} of the countries with a count."""
    result = {}
    for path in parse(svg).iter(f"{SVG}path"):
        title = path.find(f"{SVG}title")
        if title is not None:
            level = next(c for c in path.get("class", "").split() if c.startswith("wm-level-"))
            result[title.text or ""] = level
    return result


# --- data -----------------------------------------------------------------------------------


def test_data_file_is_keyed_by_valid_alpha2_codes() -> None:
    codes = set(data()["countries"])
    known = {country.alpha_2 for country in pycountry.countries} | {"XK"}
    assert codes <= known
    assert len(codes) >= 170
    assert {"IR", "FR", "US", "DE", "GB", "CA", "AU", "SE", "XK", "CY", "SO"} <= codes
    assert "AQ" not in codes  # Antarctica is dropped


def test_data_file_is_small() -> None:
    assert DATA_FILE.stat().st_size < 150_000


def test_every_point_and_label_is_inside_the_view_box() -> None:
    world = data()
    width, height = world["width"], world["height"]
    assert 900 <= width <= 1100
    assert 350 <= height <= 550
    for code, entry in world["countries"].items():
        points = [point for ring in rings(entry["d"]) for point in ring]
        assert all(0 <= x <= width and 0 <= y <= height for x, y in points), code
        xs, ys = [x for x, _ in points], [y for _, y in points]
        label_x, label_y = entry["c"]
        # The label point lies on the country, at least within its bounding box.
        assert min(xs) <= label_x <= max(xs), code
        assert min(ys) <= label_y <= max(ys), code


def test_no_segment_jumps_across_half_the_map() -> None:
    """Rings crossing the antimeridian (Russia, Fiji) are cut; otherwise they streak across."""
    world = data()
    half = world["width"] / 2
    for code, entry in world["countries"].items():
        for ring in rings(entry["d"]):
            closed = [*ring, ring[0]]
            for (x0, _), (x1, _) in itertools.pairwise(closed):
                assert abs(x1 - x0) < half, code


def test_russia_and_fiji_keep_their_pieces_east_of_the_antimeridian() -> None:
    """Chukotka's tip and Fiji's eastern islands are drawn at the far west of the map."""
    world = data()["countries"]

    def xs(code: str) -> list[float]:
        return [x for ring in rings(world[code]["d"]) for x, _ in ring]

    assert min(xs("RU")) < 200  # beside Alaska
    assert max(xs("RU")) > 800
    assert min(xs("FJ")) < 50
    assert max(xs("FJ")) > 950


@pytest.mark.skipif(
    not TARBALL.exists(),
    reason=f"{TARBALL} is absent (cd /tmp/npmwa && npm pack world-atlas@2.0.2 to check "
    "that the vendored map is reproducible)",
)
def test_tool_regenerates_the_vendored_file_byte_for_byte(tmp_path: Path) -> None:
    output = tmp_path / "world.json"
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "build_world_map.py"), str(TARBALL), "-o", output],
        check=True,
        capture_output=True,
    )
    assert output.read_bytes() == DATA_FILE.read_bytes()


def test_data_is_loaded_once_per_process() -> None:
    assert load_world_map() is load_world_map()


# --- rendering ------------------------------------------------------------------------------


def test_map_is_an_accessible_svg_with_every_country() -> None:
    svg = render_world_map(counts={}, label="Where people come from")
    root = parse(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("aria-label") == "Where people come from"
    assert root.get("viewBox") == f"0 0 {data()['width']} {data()['height']}"
    assert root.find(f"{SVG}title").text == "Where people come from"
    paths = list(root.iter(f"{SVG}path"))
    assert len(paths) == len(data()["countries"])
    assert all(path.get("class") == "wm-land" for path in paths)


def test_countries_are_shaded_by_count_on_a_log_scale() -> None:
    with translation.override("en"):
        svg = render_world_map(counts={"IR": 1000, "US": 30, "FR": 1, "DE": 0}, label="Attendees")
    assert shaded(svg) == {
        "Iran: 1000": "wm-level-5",
        "United States: 30": "wm-level-3",
        "France: 1": "wm-level-1",
    }


def test_a_single_country_gets_the_top_level() -> None:
    with translation.override("en"):
        assert shaded(render_world_map(counts={"se": 1}, label="x")) == {"Sweden: 1": "wm-level-5"}


def test_unknown_and_malformed_codes_and_values_are_ignored() -> None:
    counts: dict[Any, Any] = {
        "ZZ": 5,
        "AQ": 5,  # a real code, but not on the map
        "<b>": 1,
        "FR ": 2,
        "\u200fDE": 3,
        "GB": -3,
        "CA": "7",
        "AU": 2.5,
        "SE": True,
        "US": 10**30,
        7: 1,
        "ir": 2,
    }
    with translation.override("en"):
        svg = render_world_map(counts=counts, label="x", markers=counts)
    assert shaded(svg) == {"Iran: 2": "wm-level-5"}
    assert len(list(parse(svg).iter(f"{SVG}circle"))) == 1


def test_hostile_label_is_escaped_and_there_is_no_script_or_style() -> None:
    label = '<script>alert("x")</script>"\u202eonload=alert(1)'
    svg = render_world_map(counts={"IR": 3}, label=label, markers={"IR": 3})
    assert "<script" not in svg
    assert "&lt;script&gt;" in svg
    assert "style=" not in svg
    root = parse(svg)
    assert set(root.keys()) == {"class", "viewBox", "role", "aria-label", "focusable", "fill-rule"}
    assert root.get("aria-label") == label
    assert root.find(f"{SVG}title").text == label


def test_persian_names_and_digits() -> None:
    with translation.override("fa"):
        svg = render_world_map(
            counts={"IR": 1234, "FR": 56, "XK": 7}, label="نقشه", markers={"DE": 89}
        )
    titles = {title.text for title in parse(svg).iter(f"{SVG}title")}
    assert f"ایران: {to_persian_digits('1234')}" in titles
    assert f"فرانسه: {to_persian_digits('56')}" in titles
    assert f"کوزوو: {to_persian_digits('7')}" in titles
    assert f"آلمان: {to_persian_digits('89')}" in titles
    assert not any(re.search(r"[0-9]", title) for title in titles if title)


def test_markers_sit_on_the_label_point_and_grow_with_the_value() -> None:
    world = data()["countries"]
    with translation.override("fr"):
        svg = render_world_map(counts={}, label="x", markers={"FR": 10, "US": 1000, "ZZ": 4})
    circles = {c.find(f"{SVG}title").text: c for c in parse(svg).iter(f"{SVG}circle")}
    # French puts a no-break space before the colon.
    assert set(circles) == {"France\u00a0: 10", "États-Unis\u00a0: 1000"}
    france, usa = circles["France\u00a0: 10"], circles["États-Unis\u00a0: 1000"]
    assert [float(france.get("cx")), float(france.get("cy"))] == world["FR"]["c"]
    assert float(usa.get("r")) > float(france.get("r")) > 0
    assert all(c.get("class") == "wm-marker" for c in circles.values())
    # No shading without counts.
    assert shaded(svg) == {}


# Nothing here depends on the database engine: the PostgreSQL run of `make test` leaves it out.
pytestmark = pytest.mark.engine_agnostic
