"""Geography shipped inside the project, so every map has a background with no network.

Owns the country outlines (data/geo/world_110m.json: Natural Earth 1:110m Admin 0 countries, public
domain, via the world-atlas npm package; rebuilt by scripts/build_world_outlines.py), the TopoJSON
decoding that built them, and the selection of outlines a map needs. No tiles, fonts or other files
are fetched by the visitor's browser: the outlines travel inside the map's own JSON.

District boundaries are not shipped: no boundary polygons with a source a reader can find could be
obtained on this machine (see data/geo/README.md), so districts stay points at their approximate
centroids.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

OUTLINES_PATH = Path(__file__).resolve().parent.parent / "data" / "geo" / "world_110m.json"
OUTLINE_SOURCE_IDS = "NATURAL_EARTH_110M;WORLD_ATLAS_2;ISO_CODES_DEBIAN"  # data/sources.csv; kept in the file too


def _decode_arc(arc: list[list[int]], transform: dict | None) -> list[list[float]]:
    """One TopoJSON arc as [lon, lat] points: quantized arcs store the first position absolutely and
    every later one as the difference from the previous, in grid steps of transform.scale."""
    if transform is None:
        return [[float(x), float(y)] for x, y in arc]
    (scale_x, scale_y), (shift_x, shift_y) = transform["scale"], transform["translate"]
    points, x, y = [], 0, 0
    for dx, dy in arc:
        x, y = x + dx, y + dy
        points.append([x * scale_x + shift_x, y * scale_y + shift_y])
    return points


def _ring(indices: list[int], arcs: list[list[list[float]]]) -> list[list[float]]:
    """Stitch a ring from arc indices; a negative index ~i means arc i walked backwards. Each arc
    starts where the previous one ended, so that shared point is kept once."""
    points: list[list[float]] = []
    for index in indices:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        points.extend(arc if not points else arc[1:])
    return points


def decode_topology(topology: dict, object_name: str) -> list[dict]:
    """The geometries of one TopoJSON object as dicts {id, properties, polygons}, where polygons is a
    list of polygons, each a list of rings of [lon, lat] (the first ring the outside). Geometries
    other than Polygon and MultiPolygon (or empty ones) come back with no polygons."""
    transform = topology.get("transform")
    arcs = [_decode_arc(arc, transform) for arc in topology["arcs"]]
    obj = topology["objects"][object_name]
    geometries = obj["geometries"] if obj.get("type") == "GeometryCollection" else [obj]
    decoded = []
    for geometry in geometries:
        if geometry.get("type") == "Polygon":
            polygons = [[_ring(ring, arcs) for ring in geometry["arcs"]]]
        elif geometry.get("type") == "MultiPolygon":
            polygons = [[_ring(ring, arcs) for ring in polygon] for polygon in geometry["arcs"]]
        else:
            polygons = []
        decoded.append({"id": geometry.get("id"), "properties": dict(geometry.get("properties") or {}), "polygons": polygons})
    return decoded


@functools.lru_cache(maxsize=1)
def world_outlines() -> dict:
    """The country outlines as a GeoJSON FeatureCollection (MultiPolygons with properties iso3, name),
    read once per process. Shared: callers must not change it."""
    try:
        collection = json.loads(OUTLINES_PATH.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise FileNotFoundError(f"The country outlines file {OUTLINES_PATH} is missing; rebuild it with "
                                "scripts/build_world_outlines.py (see data/geo/README.md).") from error
    for feature in collection["features"]:  # bounding boxes, to pick the countries near a city quickly
        lons = [lon for polygon in feature["geometry"]["coordinates"] for ring in polygon for lon, _ in ring]
        lats = [lat for polygon in feature["geometry"]["coordinates"] for ring in polygon for _, lat in ring]
        feature["bbox"] = [min(lons), min(lats), max(lons), max(lats)]
    return collection


def country_outlines(bounds: tuple[float, float, float, float] | None = None, skip: frozenset[str] = frozenset()) -> list[dict]:
    """Features of the countries whose bounding box meets ``bounds`` (west, south, east, north; all
    when None), leaving out the alpha-3 codes in ``skip``. The features are the shared cached ones."""
    features = []
    for feature in world_outlines()["features"]:
        if feature["properties"]["iso3"] in skip:
            continue
        if bounds is not None:
            west, south, east, north = feature["bbox"]
            if east < bounds[0] or west > bounds[2] or north < bounds[1] or south > bounds[3]:
                continue
        features.append(feature)
    return features


def outline_layer_data(features: list[dict], fill: dict[str, list[int]] | None = None,
                       default_fill: tuple[int, ...] = (238, 236, 228, 255)) -> dict:
    """A FeatureCollection for a deck.gl GeoJsonLayer: the given countries, each with properties
    iso3, name and fill (an RGBA list: ``fill`` by alpha-3 code, else ``default_fill``). The
    geometries are shared, not copied."""
    fill = fill or {}
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": feature["geometry"],
         "properties": {**feature["properties"], "fill": list(fill.get(feature["properties"]["iso3"], default_fill))}}
        for feature in features]}
