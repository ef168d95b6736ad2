"""Build the vendored world map, src/gathering/core/data/world-110m.json, from world-atlas.

    cd /tmp/npmwa && npm pack world-atlas@2.0.2
    .venv/bin/python tools/build_world_map.py /tmp/npmwa/world-atlas-2.0.2.tgz

Reads ``countries-110m.json`` (TopoJSON, Natural Earth 1:110m admin-0 shapes) from the npm
tarball (or from the extracted JSON file), projects it with Equal Earth and writes, for each
country with an ISO 3166-1 alpha-2 code, ``{"d": SVG path data, "c": [x, y] label point}``.
Pure Python, no dependency beyond pycountry; the output is deterministic so the test suite can
check that the vendored file is exactly what this script makes.

Countries without an ISO numeric id in the source:
- Kosovo is kept as "XK" (the code the EU, IMF and ISO 3166 users agree on);
- Northern Cyprus is merged into Cyprus (CY) and Somaliland into Somalia (SO), as ISO 3166 does:
  their shared borders are dissolved, so the merged country is one shape.
Antarctica is dropped (nobody travels from there; it would take a fifth of the height).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import tarfile
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import pycountry

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "src" / "gathering" / "core" / "data" / "world-110m.json"
MEMBER = "package/countries-110m.json"

WIDTH = 1000  # viewBox width; the height follows from the projection and the data
PADDING = 5  # viewBox units on every side, so edge strokes are not cut off

NAMED_CODES = {"Kosovo": "XK"}
MERGED_INTO = {"N. Cyprus": "CY", "Somaliland": "SO"}
DROPPED = {"010"}  # Antarctica

Point = tuple[float, float]
Ring = list[Point]
Polygon = list[Ring]  # outer ring first, then holes

# Equal Earth (Šavrič, Patterson & Jenny 2018).
A1, A2, A3, A4 = 1.340264, -0.081106, 0.000893, 0.003796
M = math.sqrt(3) / 2


def equal_earth(lon: float, lat: float) -> Point:
    lam, phi = math.radians(lon), math.radians(lat)
    theta = math.asin(M * math.sin(phi))
    t2 = theta * theta
    t6 = t2 * t2 * t2
    x = 2 * math.sqrt(3) * lam * math.cos(theta)
    x /= 3 * (9 * A4 * t6 * t2 + 7 * A3 * t6 + 3 * A2 * t2 + A1)
    y = theta * (A4 * t6 * t2 + A3 * t6 + A2 * t2 + A1)
    return x, y


def load_topology(source: Path) -> dict[str, object]:
    if source.suffix in {".tgz", ".gz"}:
        with tarfile.open(source) as archive:
            member = archive.extractfile(MEMBER)
            if member is None:
                raise SystemExit(f"{MEMBER} not found in {source}")
            return json.load(member)  # type: ignore[no-any-return]
    return json.loads(source.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def decode_arcs(topology: dict[str, object]) -> list[list[tuple[int, int]]]:
    """Quantized, absolute arc positions (the file stores deltas)."""
    arcs = []
    for arc in topology["arcs"]:  # type: ignore[attr-defined]
        x = y = 0
        points = []
        for dx, dy in arc:
            x += dx
            y += dy
            points.append((x, y))
        arcs.append(points)
    return arcs


def ring_points(refs: Sequence[int], arcs: list[list[tuple[int, int]]]) -> list[tuple[int, int]]:
    points: list[tuple[int, int]] = []
    for ref in refs:
        arc = arcs[ref] if ref >= 0 else arcs[~ref][::-1]
        points.extend(arc if not points else arc[1:])
    return points


def signed_area(ring: Sequence[tuple[float, float]]) -> float:
    return (
        sum(
            x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, [*ring[1:], ring[0]], strict=True)
        )
        / 2
    )


def contains(ring: Sequence[Point], point: Point) -> bool:
    x, y = point
    inside = False
    for (x0, y0), (x1, y1) in zip(ring, [*ring[1:], ring[0]], strict=True):
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            inside = not inside
    return inside


def merge(
    polygons: list[list[list[int]]], arcs: list[list[tuple[int, int]]]
) -> list[list[list[tuple[int, int]]]]:
    """Dissolve the borders the polygons share (like topojson.merge); quantized rings out.

    Neighbours run a shared arc in opposite directions, so an arc used twice is inside the
    merged shape; what is left chains into closed rings end to start.
    """
    refs = [ref for polygon in polygons for ring in polygon for ref in ring]
    uses = Counter(ref if ref >= 0 else ~ref for ref in refs)
    outside = [ref for ref in refs if uses[ref if ref >= 0 else ~ref] == 1]
    by_start = {ring_points([ref], arcs)[0]: ref for ref in outside}
    rings = []
    while by_start:
        start, ref = next(iter(by_start.items()))
        chain = [by_start.pop(start)]
        end = ring_points([ref], arcs)[-1]
        while end != start:
            chain.append(by_start.pop(end))
            end = ring_points([chain[-1]], arcs)[-1]
        rings.append(ring_points(chain, arcs))
    # Outer rings and holes wind in opposite directions; each hole goes to the smallest outer
    # ring around it.
    outer_sign = math.copysign(1, signed_area(max(rings, key=lambda r: abs(signed_area(r)))))
    outers = [r for r in rings if math.copysign(1, signed_area(r)) == outer_sign]
    result: list[list[list[tuple[int, int]]]] = [[r] for r in outers]
    for hole in (r for r in rings if math.copysign(1, signed_area(r)) != outer_sign):
        point = (float(hole[0][0]), float(hole[0][1]))
        around = [p for p in result if contains([(float(x), float(y)) for x, y in p[0]], point)]
        min(around, key=lambda p: abs(signed_area(p[0]))).append(hole)
    return result


def clip(ring: Ring, limit: float, *, keep_west: bool) -> Ring:
    """Sutherland-Hodgman against one meridian: the part west (or east) of ``limit``."""

    def inside(point: Point) -> bool:
        return point[0] <= limit if keep_west else point[0] >= limit

    out: Ring = []
    if not ring:
        return out
    for current, following in zip(ring, [*ring[1:], ring[0]], strict=True):
        if inside(current):
            out.append(current)
        if inside(current) != inside(following):
            (x0, y0), (x1, y1) = current, following
            out.append((limit, y0 + (limit - x0) * (y1 - y0) / (x1 - x0)))
    return out


def split_at_antimeridian(polygon: Polygon) -> list[Polygon]:
    """Polygons that cross ±180° (Russia, Fiji) cut into pieces that each stay on one side.

    A ring that jumps by more than 180° of longitude between two points goes the short way
    round the back of the globe; drawn flat it would streak across the whole map.
    """
    if not any(abs(b[0] - a[0]) > 180 for ring in polygon for a, b in itertools.pairwise(ring)):
        return [polygon]
    unwrapped: Polygon = []
    for ring in polygon:
        offset = 0.0
        points = [ring[0]]
        for (lon0, _), (lon1, lat1) in itertools.pairwise(ring):
            if lon1 - lon0 > 180:
                offset -= 360
            elif lon0 - lon1 > 180:
                offset += 360
            points.append((lon1 + offset, lat1))
        if offset:
            raise ValueError("a ring around a pole cannot be cut at the antimeridian")
        unwrapped.append(points)
    pieces = []
    for shift in (-360.0, 0.0, 360.0):
        piece = []
        for ring in unwrapped:
            moved = [(lon + shift, lat) for lon, lat in ring]
            part = clip(clip(moved, 180.0, keep_west=True), -180.0, keep_west=False)
            if len(part) >= 3 and abs(signed_area(part)) > 1e-9:
                piece.append(part)
            elif not piece:
                break  # the outer ring is not on this side: neither are its holes
        if piece:
            pieces.append(piece)
    return pieces


def to_tenths(ring: Ring) -> list[tuple[int, int]]:
    """Rounded to 0.1 viewBox unit (kept as integers), without repeated points."""
    out: list[tuple[int, int]] = []
    for x, y in ring:
        point = (round(x * 10), round(y * 10))
        if not out or out[-1] != point:
            out.append(point)
    while len(out) > 1 and out[-1] == out[0]:
        out.pop()
    return out


def number(tenths: int) -> str:
    whole, frac = divmod(abs(tenths), 10)
    sign = "-" if tenths < 0 else ""
    return f"{sign}{whole}.{frac}" if frac else f"{sign}{whole}"


def path_data(polygons: Iterable[list[list[tuple[int, int]]]]) -> str:
    """``M x y l dx dy … z`` per ring: relative steps of exact tenths, so nothing drifts."""
    parts = []
    for polygon in polygons:
        for ring in polygon:
            (x, y), rest = ring[0], ring[1:]
            steps = []
            for nx, ny in rest:
                steps.append(f"{number(nx - x)} {number(ny - y)}")
                x, y = nx, ny
            parts.append(f"M{number(ring[0][0])} {number(ring[0][1])}l{' '.join(steps)}z")
    return "".join(parts).replace(" -", "-")


def label_point(polygon: list[list[tuple[int, int]]]) -> tuple[int, int]:
    """Centroid of the polygon (holes subtracted); if that falls outside a curved shape, the
    middle of the widest stretch of land on the centroid's horizontal line instead."""
    area = cx = cy = 0.0
    for ring in polygon:
        for (x0, y0), (x1, y1) in zip(ring, [*ring[1:], ring[0]], strict=True):
            cross = x0 * y1 - x1 * y0
            area += cross
            cx += (x0 + x1) * cross
            cy += (y0 + y1) * cross
    centre = (cx / (3 * area), cy / (3 * area))
    floats = [[(float(x), float(y)) for x, y in ring] for ring in polygon]
    if sum(contains(ring, centre) for ring in floats) % 2:
        return round(centre[0]), round(centre[1])
    y = centre[1]
    crossings = sorted(
        x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        for ring in floats
        for (x0, y0), (x1, y1) in zip(ring, [*ring[1:], ring[0]], strict=True)
        if (y0 > y) != (y1 > y)
    )
    spans = list(zip(crossings[::2], crossings[1::2], strict=True))
    left, right = max(spans, key=lambda span: span[1] - span[0])
    return round((left + right) / 2), round(y)


def country_code(geometry: dict[str, object]) -> str | None:
    name = geometry.get("properties", {}).get("name", "")  # type: ignore[attr-defined]
    if name in NAMED_CODES:
        return NAMED_CODES[name]
    if name in MERGED_INTO:
        return MERGED_INTO[name]
    numeric = geometry.get("id")
    if numeric in DROPPED:
        return None
    country = pycountry.countries.get(numeric=numeric) if isinstance(numeric, str) else None
    if country is None:
        raise SystemExit(f"no ISO 3166-1 code for {name!r} (id {numeric!r}): decide what to do")
    return str(country.alpha_2)


def build(topology: dict[str, object]) -> str:
    arcs = decode_arcs(topology)
    (sx, sy), (tx, ty) = topology["transform"].values()  # type: ignore[attr-defined]
    geometries = topology["objects"]["countries"]["geometries"]  # type: ignore[index]

    grouped: dict[str, list[list[list[int]]]] = {}
    for geometry in geometries:
        code = country_code(geometry)
        if code is None or geometry["type"] is None:
            continue
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        grouped.setdefault(code, []).extend(polygons)
    merged = set(MERGED_INTO.values())

    projected: dict[str, list[Polygon]] = {}
    for code, polygons in grouped.items():
        rings_of = (
            merge(polygons, arcs)
            if code in merged
            else [[ring_points(ring, arcs) for ring in polygon] for polygon in polygons]
        )
        lonlat = [
            [[(x * sx + tx, y * sy + ty) for x, y in ring] for ring in polygon]
            for polygon in rings_of
        ]
        pieces = [piece for polygon in lonlat for piece in split_at_antimeridian(polygon)]
        projected[code] = [
            [[equal_earth(lon, lat) for lon, lat in ring] for ring in polygon] for polygon in pieces
        ]

    # Scale so that ±180° on the equator meets the padded edges; y grows downwards in SVG.
    half_width = equal_earth(180, 0)[0]
    scale = (WIDTH / 2 - PADDING) / half_width
    all_y = [y for polys in projected.values() for p in polys for r in p for _, y in r]
    top, bottom = max(all_y), min(all_y)
    height = math.ceil((top - bottom) * scale + 2 * PADDING)

    countries = {}
    for code in sorted(projected):
        polygons = []
        for polygon in projected[code]:
            rings = [
                to_tenths([(WIDTH / 2 + x * scale, PADDING + (top - y) * scale) for x, y in ring])
                for ring in polygon
            ]
            rings = [ring for ring in rings if len(ring) >= 3]
            if rings and len(rings[0]) >= 3:
                polygons.append(rings)
        largest = max(
            polygons,
            key=lambda p: abs(signed_area(p[0])) - sum(abs(signed_area(hole)) for hole in p[1:]),
        )
        cx, cy = label_point(largest)
        countries[code] = {"d": path_data(polygons), "c": [cx / 10, cy / 10]}

    lines = [
        "{",
        '"source":"world-atlas 2.0.2 countries-110m.json (Natural Earth 1:110m, public domain)",',
        '"projection":"Equal Earth",',
        f'"width":{WIDTH},',
        f'"height":{height},',
        '"countries":{',
    ]
    entries = [
        f"{json.dumps(code)}:{json.dumps(entry, separators=(',', ':'))}"
        for code, entry in countries.items()
    ]
    lines.append(",\n".join(entries))
    lines.append("}}")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="world-atlas-2.0.2.tgz or countries-110m.json")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    text = build(load_topology(args.source))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    count = text.count('"d":')
    sys.stdout.write(f"{args.output}: {count} countries, {len(text.encode())} bytes\n")


if __name__ == "__main__":
    main()
