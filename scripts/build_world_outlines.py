"""Build data/geo/world_110m.json (country outlines) from world-atlas's countries-110m.json.

Run once, by hand, when the outlines should change; the app only reads the result:

    cd /tmp && npm pack world-atlas@2 && tar xzf world-atlas-2.0.2.tgz
    .venv/bin/python scripts/build_world_outlines.py /tmp/package/countries-110m.json

world-atlas (ISC licence, https://github.com/topojson/world-atlas) is Natural Earth's public-domain
1:110m Admin 0 countries (v4.1.0) as TopoJSON. The ISO 3166-1 numeric ids become alpha-3 codes through
Debian's iso-codes package (/usr/share/iso-codes/json/iso_3166-1.json, `apt-get install iso-codes`).
Coordinates are rounded to 0.01 degree (about 1 km, far below what a 1:110m map resolves).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from decision_tools.geography import OUTLINE_SOURCE_IDS, OUTLINES_PATH, decode_topology  # noqa: E402

ISO_CODES = Path("/usr/share/iso-codes/json/iso_3166-1.json")
# Natural Earth areas without an ISO 3166-1 code keep their name and get no alpha-3 code, except Kosovo,
# whose user-assigned code XKX is the one the EU and the World Bank use.
NO_ISO_CODE = {"Kosovo": "XKX"}
DECIMALS = 2


def _round_ring(ring: list[list[float]]) -> list[list[float]]:
    rounded: list[list[float]] = []
    for lon, lat in ring:
        point = [round(lon, DECIMALS), round(lat, DECIMALS)]
        if not rounded or point != rounded[-1]:  # rounding merges close vertices
            rounded.append(point)
    return rounded


def _unwrap_ring(ring: list[list[float]]) -> list[list[float]]:
    """TopoJSON stitches a country cut at the antimeridian (Russia, Fiji) back into one ring that jumps
    from +180 to -180 degrees; drawn flat, that jump is a band across the whole world. Shift the points
    after a jump by 360 degrees so the ring is continuous (Chukotka then sits just east of 180). Rings that
    would not close again (around a pole: Antarctica) stay as they are."""
    unwrapped, shift = [ring[0]], 0.0
    for (prev_lon, _), (lon, lat) in zip(ring, ring[1:]):
        if lon - prev_lon > 180:
            shift -= 360.0
        elif lon - prev_lon < -180:
            shift += 360.0
        unwrapped.append([lon + shift, lat])
    if unwrapped[-1] != unwrapped[0]:
        return ring
    if min(lon for lon, _ in unwrapped) >= 180 or max(lon for lon, _ in unwrapped) <= -180:  # wholly off the map
        offset = -360.0 if unwrapped[0][0] > 0 else 360.0
        unwrapped = [[lon + offset, lat] for lon, lat in unwrapped]
    return unwrapped


def build(topology_path: Path, output: Path = OUTLINES_PATH) -> int:
    """Write the outlines file; return the number of countries written."""
    topology = json.loads(topology_path.read_text(encoding="utf-8"))
    numeric_to_alpha3 = {entry["numeric"]: entry["alpha_3"]
                         for entry in json.loads(ISO_CODES.read_text(encoding="utf-8"))["3166-1"]}
    features = []
    for feature in decode_topology(topology, "countries"):
        name = feature["properties"]["name"]
        numeric = feature.get("id")
        iso3 = numeric_to_alpha3.get(numeric, "") if numeric else NO_ISO_CODE.get(name, "")
        polygons = []
        for polygon in feature["polygons"]:
            rings = [_round_ring(_unwrap_ring(ring)) for ring in polygon]
            rings = [ring for ring in rings if len(ring) >= 4]  # a ring needs three corners and its closing point
            if rings:
                polygons.append(rings)
        features.append({"type": "Feature", "properties": {"iso3": iso3, "name": name},
                         "geometry": {"type": "MultiPolygon", "coordinates": polygons}})
    features.sort(key=lambda f: f["properties"]["name"])
    collection = {"type": "FeatureCollection",
                  "source": "Natural Earth 1:110m Admin 0 countries v4.1.0 (public domain), via world-atlas 2.0.2 "
                            "(ISC); built by scripts/build_world_outlines.py",
                  "source_id": OUTLINE_SOURCE_IDS,  # rows of data/sources.csv
                  "features": features}
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(collection, separators=(",", ":"), ensure_ascii=False), encoding="utf-8")
    return len(features)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("topology", type=Path, help="world-atlas's countries-110m.json")
    args = parser.parse_args()
    count = build(args.topology)
    print(f"Wrote {count} countries to {OUTLINES_PATH.relative_to(PROJECT_DIR)} ({OUTLINES_PATH.stat().st_size / 1000:.0f} kB).")
