"""Maps (pydeck) that need no network: districts, the world's suppliers, the symbiosis hub.

This module owns what every map shares: no basemap (the sea and the country outlines shipped in data/geo
drawn as layers), compact JSON, labels that never overlap, and the city marked with its name.
"""

from __future__ import annotations

import json
import math

import pandas as pd
import pydeck as pdk
from pydeck.bindings import json_tools as pdk_json

from . import geography
from .formatting import format_mass


# Districts whose end of life per inhabitant differs by less than this share of the highest get one colour:
# a colour scale stretched over rounding would paint false hotspots.
DISTRICT_COLOUR_MIN_DIFFERENCE = 0.05


def district_map(districts: pd.DataFrame, centre: tuple[float, float], city: str | None = None) -> pdk.Deck:
    """District circles sized by urban-mine stock and coloured by end of life per inhabitant (one colour
    when they differ by less than DISTRICT_COLOUR_MIN_DIFFERENCE), with their names, over the country
    outlines shipped in data/geo, and the city centre marked (named ``city``): rows name, lat, lon,
    stock_kg, eol_kg, population. Needs no network."""
    data = districts.copy()
    largest = float(data["stock_kg"].max()) or 1.0
    data["radius"] = 6 + 26 * (data["stock_kg"] / largest) ** 0.5  # pixels; area follows the stock
    per_inhabitant = data["eol_kg"] / data["population"].where(data["population"] > 0)
    span = float(per_inhabitant.max() - per_inhabitant.min())
    if span <= DISTRICT_COLOUR_MIN_DIFFERENCE * float(per_inhabitant.abs().max() or 0.0):
        shade = pd.Series(0.5, index=data.index)  # no district stands out
    else:
        shade = ((per_inhabitant - per_inhabitant.min()) / span).fillna(0.0)
    data["colour"] = [[int(80 + 175 * s), int(140 - 90 * s), int(200 - 150 * s), 190] for s in shade]
    data["stock_text"] = data["stock_kg"].map(format_mass)
    data["eol_text"] = data["eol_kg"].map(lambda kg: format_mass(kg) + " per year")
    data["priority"] = _label_priority(data["stock_kg"])
    if len(data) > 1:  # fit the districts, with a margin for the circles and labels
        view = pdk.data_utils.compute_view(data[["lon", "lat"]].to_numpy().tolist(), view_proportion=1)
        view.zoom = max(8.0, view.zoom - 0.7)
    else:
        view = pdk.ViewState(latitude=centre[0], longitude=centre[1], zoom=11)
    layers = [
        *_geography_layers(_view_bounds(view)),
        pdk.Layer("ScatterplotLayer", data, id="districts", get_position=["lon", "lat"], get_radius="radius",
                  radius_units="'pixels'", get_fill_color="colour",
                  get_line_color=[40, 40, 40, 220], line_width_min_pixels=1, stroked=True, pickable=True),
        _text_layer(data, "district_labels", "name", size=12, offset=12, zoom=view.zoom,
                    taken=_city_label_box(city, centre, view.zoom)),
        *_city_layers(city, centre),
    ]
    return _OfflineDeck(layers=layers, initial_view_state=view,
                        tooltip={"text": "{name}\nurban mine: {stock_text}\nend of life: {eol_text}"})


def world_exposure_map(frame: pd.DataFrame, city: tuple[str, float, float] | None = None) -> pdk.Deck:
    """The city's demand by supplying country (rows name, lat, lon, kg, stability 0..1, optionally
    country_iso3): circles sized by kg, red where political stability is weak, the supplying countries
    shaded in the same colour on the country outlines shipped in data/geo, and the city (name, lat,
    lon) marked. Only the labels of the largest suppliers that do not overlap are drawn; every circle
    has a tooltip. Needs no network."""
    data = frame.copy()
    largest = float(data["kg"].max()) or 1.0
    data["radius"] = 5 + 35 * (data["kg"] / largest) ** 0.5
    data["colour"] = [[int(60 + 195 * s), int(160 - 110 * s), int(90 - 40 * s), 200] for s in data["stability"].clip(0, 1)]
    data["kg_text"] = data["kg"].map(lambda kg: format_mass(kg) + " per year")
    data["priority"] = _label_priority(data["kg"])
    view = pdk.ViewState(latitude=22, longitude=15, zoom=0.9)  # the inhabited world across a 1000-pixel map
    shading = ({iso3: colour[:3] + [90] for iso3, colour in zip(data["country_iso3"], data["colour"])}
               if "country_iso3" in data else {})
    layers = [
        *_geography_layers(None, shading),
        pdk.Layer("ScatterplotLayer", data, id="suppliers", get_position=["lon", "lat"], get_radius="radius",
                  radius_units="'pixels'", get_fill_color="colour", get_line_color=[40, 40, 40, 220], stroked=True,
                  line_width_min_pixels=1, pickable=True),
        _text_layer(data, "supplier_labels", "name", size=12, offset=10, zoom=view.zoom,
                    taken=_city_label_box(*_city_parts(city), view.zoom)),
        *_city_layers(*_city_parts(city)),
    ]
    return _OfflineDeck(layers=layers, initial_view_state=view,
                        tooltip={"text": "{name}\n{kg_text}"})


def symbiosis_map(orgs: pd.DataFrame, arcs: pd.DataFrame, city: tuple[str, float, float] | None = None) -> pdk.Deck:
    """Organisations (rows name, org_type, lat, lon, short) and matches as arcs (rows from_lat,
    from_lon, to_lat, to_lon, score, label, optionally from_org, to_org) over the country outlines
    shipped in data/geo, with the selected city (name, lat, lon) marked. Short names are drawn only
    where they do not overlap, organisations with more matches first; every point has a tooltip."""
    palette = {"recycler": [46, 125, 50], "manufacturer": [76, 120, 168], "repair or reuse centre": [245, 133, 24],
               "data centre": [178, 121, 162], "hospital": [228, 87, 86], "municipality service": [157, 117, 93],
               "university": [114, 183, 178]}
    data = orgs.assign(colour=orgs["org_type"].map(lambda t: palette.get(t, [120, 120, 120]) + [220]))
    arcs = arcs.assign(width=2 + 6 * arcs["score"]) if len(arcs) else arcs
    matched = (pd.concat([arcs["from_org"], arcs["to_org"]]).value_counts()
               if len(arcs) and {"from_org", "to_org"} <= set(arcs.columns) else pd.Series(dtype=float))
    data["priority"] = _label_priority(data["name"].map(matched).fillna(0.0).astype(float))
    points = data[["lon", "lat"]].to_numpy().tolist()
    if city:
        points.append([city[2], city[1]])
    view = pdk.data_utils.compute_view(points, view_proportion=1) if len(points) > 1 else pdk.ViewState(latitude=55, longitude=15, zoom=3)
    view.zoom = max(2.5, view.zoom - 0.5)
    layers = [
        *_geography_layers(_view_bounds(view)),
        pdk.Layer("ArcLayer", arcs, id="matches", get_source_position=["from_lon", "from_lat"],
                  get_target_position=["to_lon", "to_lat"], get_source_color=[76, 120, 168, 200],
                  get_target_color=[46, 125, 50, 200], get_width="width", pickable=True),
        pdk.Layer("ScatterplotLayer", data, id="organisations", get_position=["lon", "lat"], get_radius=9,
                  radius_units="'pixels'", get_fill_color="colour", stroked=True, get_line_color=[30, 30, 30, 220],
                  line_width_min_pixels=1, pickable=True),
        _text_layer(data, "organisation_labels", "short", size=11, offset=10, zoom=view.zoom,
                    taken=_city_label_box(*_city_parts(city), view.zoom)),
        *_city_layers(*_city_parts(city)),
    ]
    return _OfflineDeck(layers=layers, initial_view_state=view, tooltip={"text": "{name}{label}"})


# Streamlit draws a Carto basemap (fetched from basemaps.cartocdn.com) under any pydeck map without a map style,
# map_style=None included; this marker, which its pydeck element removes before drawing, means "no basemap".
STREAMLIT_NO_BASEMAP = "__MAP_STYLE__"


class _OfflineDeck(pdk.Deck):
    """A pydeck Deck that asks for no basemap (so the browser fetches no tiles or styles: the country
    outlines are drawn as layers) and whose JSON has no indentation: pydeck indents every coordinate
    onto its own line, which made the world map's JSON six times larger (1.1 MB against 180 kB)."""

    def __init__(self, **kwargs):
        kwargs.update(map_style=STREAMLIT_NO_BASEMAP, map_provider=None)
        super().__init__(**kwargs)

    def to_json(self) -> str:
        return json.dumps(self, sort_keys=True, default=pdk_json.default_serialize, separators=(",", ":"))


# Map backgrounds: the sea as one rectangle and Natural Earth country outlines shipped in data/geo
# (decision_tools.geography), so maps read with no basemap tiles and no network.
_SEA_RGBA = [214, 230, 240, 255]
_LAND_RGBA = (241, 239, 232, 255)
_BORDER_RGBA = [150, 150, 150, 255]
_CITY_RGBA = [20, 20, 20, 255]


def _geography_layers(bounds: tuple[float, float, float, float] | None,
                      shading: dict[str, list[int]] | None = None) -> list[pdk.Layer]:
    """The sea and the country outlines meeting ``bounds`` (west, south, east, north; the whole world
    but Antarctica when None), countries in ``shading`` (alpha-3 code to RGBA) filled in that colour."""
    features = geography.country_outlines(bounds, skip=frozenset({"ATA"}))
    west, south, east, north = bounds or (-180, -85, 180, 85)
    # One rectangle per map, no larger than needed: deck.gl drew half of a whole-world rectangle at zoom 4.
    sea = [{"polygon": [[west, south], [east, south], [east, north], [west, north]]}]
    return [
        pdk.Layer("PolygonLayer", sea, id="sea", get_polygon="polygon", get_fill_color=_SEA_RGBA, stroked=False),
        pdk.Layer("GeoJsonLayer", geography.outline_layer_data(features, shading, _LAND_RGBA), id="country_outlines",
                  filled=True, stroked=True, get_fill_color="properties.fill", get_line_color=_BORDER_RGBA,
                  line_width_min_pixels=1, pickable=False),
    ]


def _view_bounds(view: pdk.ViewState) -> tuple[float, float, float, float]:
    """(west, south, east, north) of what a map of up to 1600 x 800 pixels shows at ``view``, with a
    margin: the countries and the sea drawn under it."""
    half_lon = 800 * 360 / (512 * 2 ** view.zoom) * 1.5
    half_lat = min(half_lon, 85.0)  # generous: a degree of latitude is at least as long as one of longitude
    return (view.longitude - half_lon, max(view.latitude - half_lat, -85.0),
            view.longitude + half_lon, min(view.latitude + half_lat, 85.0))


def _label_priority(values: pd.Series) -> pd.Series:
    """Label priority (where two labels would overlap, the higher is drawn): the rank of ``values``,
    scaled into -1000..1000 (ties keep their order)."""
    if values.empty:
        return values.astype(float)
    ranks = values.rank(method="first")
    return (-1000 + 2000 * (ranks - 1) / max(len(values) - 1, 1)).round(0)


def _pixel_xy(lon: float, lat: float, zoom: float) -> tuple[float, float]:
    """Web Mercator pixel position at ``zoom`` (deck.gl's 512-pixel world at zoom 0)."""
    world_px = 512 * 2 ** zoom
    lat = max(min(lat, 85.0), -85.0)
    x = (lon + 180) / 360 * world_px
    y = (1 - math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) / math.pi) / 2 * world_px
    return x, y


def _label_boxes_free(data: pd.DataFrame, text_column: str, zoom: float, size: int, offset: int,
                      taken: list[tuple[float, float, float, float]] | None = None) -> pd.Series:
    """Which labels to draw so that none overlaps another at the map's first zoom: in order of
    ``priority`` (highest first) a label is kept when its box (centred under its point, ``offset``
    pixels down, about 0.6 ``size`` per character) meets no kept box nor a box in ``taken``.
    deck.gl's CollisionFilterExtension would do this in the browser, but in the deck.gl that
    Streamlit bundles (9.4) it culls every label on the first draw and hides labels drawn with a
    pixel offset (deck.gl issues 10333 and 8104). The hidden names stay in the tooltips."""
    kept = list(taken or [])
    show = pd.Series(False, index=data.index)
    for index in data.sort_values("priority", ascending=False, kind="stable").index:
        x, y = _pixel_xy(float(data.at[index, "lon"]), float(data.at[index, "lat"]), zoom)
        half_width = 0.3 * size * len(str(data.at[index, text_column])) + 2
        box = (x - half_width, y + offset, x + half_width, y + offset + 1.2 * size)
        if all(box[2] <= other[0] or box[0] >= other[2] or box[3] <= other[1] or box[1] >= other[3] for other in kept):
            kept.append(box)
            show[index] = True
    return show


def _city_label_box(city: str | None, position: tuple[float, float] | None, zoom: float) -> list[tuple[float, float, float, float]]:
    """The pixel box of the city's label (drawn above its marker by _city_layers), for _label_boxes_free."""
    if position is None:
        return []
    x, y = _pixel_xy(float(position[1]), float(position[0]), zoom)
    half_width = 0.3 * 14 * len(city or "city centre") + 6
    return [(x - half_width, y - 14 - 1.2 * 14 - 4, x + half_width, y + 2)]  # the ring's lower edge may be labelled over


# deck.gl's default label font is monospace; the page's own sans-serif reads better (a local font: no request).
_MAP_FONT = "'Source Sans, Source Sans Pro, Helvetica, Arial, sans-serif'"


def _text_layer(data: pd.DataFrame, layer_id: str, text_column: str, size: int, offset: int, zoom: float,
                taken: list[tuple[float, float, float, float]] | None = None) -> pdk.Layer:
    """Labels under points, only those that do not overlap at the first zoom (_label_boxes_free),
    so dense places do not stack into a blob."""
    shown = data[_label_boxes_free(data, text_column, zoom, size, offset, taken)] if len(data) else data
    return pdk.Layer("TextLayer", shown, id=layer_id, get_position=["lon", "lat"], get_text=text_column, get_size=size,
                     get_color=[20, 20, 20, 255], get_alignment_baseline="'top'", get_pixel_offset=[0, offset],
                     character_set="'auto'",  # names carry letters beyond ASCII (ä, Ö); quoted: pydeck evaluates strings
                     outline_width=2, outline_color=[255, 255, 255, 230], font_settings={"sdf": True},
                     font_family=_MAP_FONT)


def _city_parts(city: tuple[str, float, float] | None) -> tuple[str | None, tuple[float, float] | None]:
    """(name, (lat, lon)) of an optional (name, lat, lon)."""
    return (city[0], (city[1], city[2])) if city else (None, None)


def _city_layers(city: str | None, position: tuple[float, float] | None) -> list[pdk.Layer]:
    """The city marked as a dark ring with a dot and its name on a white box (rows of one: name,
    lat, lon). Nothing when no position is given."""
    if position is None:
        return []
    marker = pd.DataFrame({"name": [city or "city centre"], "lat": [float(position[0])], "lon": [float(position[1])]})
    return [
        pdk.Layer("ScatterplotLayer", marker, id="city_marker", get_position=["lon", "lat"], get_radius=9,
                  radius_units="'pixels'", get_fill_color=[255, 255, 255, 230], stroked=True, get_line_color=_CITY_RGBA,
                  line_width_min_pixels=3, pickable=True),
        pdk.Layer("ScatterplotLayer", marker, id="city_dot", get_position=["lon", "lat"], get_radius=3,
                  radius_units="'pixels'", get_fill_color=_CITY_RGBA),
        pdk.Layer("TextLayer", marker, id="city_label", get_position=["lon", "lat"], get_text="name", get_size=14,
                  get_color=_CITY_RGBA, font_weight="'bold'", get_alignment_baseline="'bottom'", get_pixel_offset=[0, -14],
                  background=True, get_background_color=[255, 255, 255, 220], background_padding=[4, 2],
                  character_set="'auto'", font_family=_MAP_FONT),
    ]
