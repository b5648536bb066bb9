"""The shipped country outlines, the TopoJSON decoding that built them, and the maps drawn on them."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from decision_tools import geography, maps


def test_outline_file_has_the_supplier_countries_with_polygons():
    features = {f["properties"]["iso3"]: f for f in geography.world_outlines()["features"]}
    assert len(geography.world_outlines()["features"]) >= 170  # Natural Earth 1:110m has 177 areas
    for iso3, name in [("FIN", "Finland"), ("CHN", "China"), ("COD", "Dem. Rep. Congo"), ("BEL", "Belgium")]:
        feature = features[iso3]
        assert feature["properties"]["name"] == name
        assert feature["geometry"]["type"] == "MultiPolygon"
        outer = feature["geometry"]["coordinates"][0][0]
        assert len(outer) >= 4 and outer[0] == outer[-1]  # a closed ring
    west, south, east, north = features["FIN"]["bbox"]
    assert 19 < west < 22 and 59 < south < 61 and 29 < east < 33 and 69 < north < 71  # Finland where it is
    assert geography.OUTLINES_PATH.stat().st_size < 400_000  # compact enough to send with a map
    assert geography.world_outlines()["source_id"] == geography.OUTLINE_SOURCE_IDS  # cited in data/sources.csv


def test_topojson_decoding_by_hand():
    # Two quantized arcs on a grid of 0.5 degree steps shifted by (10, 20):
    # arc 0: (0,0) then +2 x, then +2 y   -> (10,20), (11,20), (11,21)
    # arc 1: (2,2) then -2 x, then -2 y   -> (11,21), (10,21), (10,20)
    topology = {
        "type": "Topology", "transform": {"scale": [0.5, 0.5], "translate": [10, 20]},
        "arcs": [[[0, 0], [2, 0], [0, 2]], [[2, 2], [-2, 0], [0, -2]]],
        "objects": {"shapes": {"type": "GeometryCollection", "geometries": [
            {"type": "Polygon", "arcs": [[0, 1]], "id": "001", "properties": {"name": "square"}},
            # the same ring walked the other way: ~1 is arc 1 reversed, ~0 arc 0 reversed
            {"type": "MultiPolygon", "arcs": [[[~1, ~0]]], "id": "002", "properties": {"name": "backwards"}},
            {"type": None, "id": "003"},
        ]}},
    }
    square, backwards, empty = geography.decode_topology(topology, "shapes")
    assert square["id"] == "001" and square["properties"] == {"name": "square"}
    # the shared point (11, 21) where arc 0 ends and arc 1 starts is kept once
    assert square["polygons"] == [[[[10, 20], [11, 20], [11, 21], [10, 21], [10, 20]]]]
    assert backwards["polygons"] == [[[[10, 20], [10, 21], [11, 21], [11, 20], [10, 20]]]]
    assert empty["polygons"] == []


def test_countries_near_a_city_are_picked_by_their_bounding_box():
    near_ghent = {f["properties"]["iso3"] for f in geography.country_outlines((1.7, 49.0, 5.7, 53.0))}
    assert {"BEL", "NLD", "FRA"} <= near_ghent and "CHN" not in near_ghent and "FIN" not in near_ghent
    assert "ATA" not in {f["properties"]["iso3"] for f in geography.country_outlines(skip=frozenset({"ATA"}))}


def _layers(deck) -> dict:
    return {layer.id: layer for layer in deck.layers}


def test_district_map_draws_outlines_under_the_districts_and_marks_the_city():
    frame = pd.DataFrame({"name": ["A", "B"], "lat": [51.0, 51.1], "lon": [3.7, 3.8], "population": [1000, 2000],
                          "stock_kg": [1.0, 2.0], "eol_kg": [1.0, 2.0]})
    deck = maps.district_map(frame, (51.05, 3.72), "Ghent")
    ids = [layer.id for layer in deck.layers]
    assert ids.index("country_outlines") < ids.index("districts")  # drawn underneath
    outlines = _layers(deck)["country_outlines"].data["features"]
    assert "BEL" in {f["properties"]["iso3"] for f in outlines}
    assert _layers(deck)["city_label"].data[0]["name"] == "Ghent"
    assert (_layers(deck)["city_marker"].data[0]["lat"], _layers(deck)["city_marker"].data[0]["lon"]) == (51.05, 3.72)
    spec = json.loads(deck.to_json())
    assert spec["mapStyle"] == maps.STREAMLIT_NO_BASEMAP and "mapProvider" not in spec  # no basemap tiles requested


def test_world_map_shades_suppliers_and_marks_the_city():
    frame = pd.DataFrame({"name": ["China", "DR Congo"], "lat": [35.0, -2.9], "lon": [103.8, 23.6], "kg": [10.0, 2.0],
                          "stability": [0.2, 0.9], "country_iso3": ["CHN", "COD"]})
    deck = maps.world_exposure_map(frame, ("Helsinki", 60.17, 24.94))
    fills = {f["properties"]["iso3"]: f["properties"]["fill"] for f in _layers(deck)["country_outlines"].data["features"]}
    china = next(row["colour"] for row in _layers(deck)["suppliers"].data if row["name"] == "China")
    assert fills["CHN"] == china[:3] + [90]  # shaded in its circle's colour
    assert fills["FIN"] == list(maps._LAND_RGBA)  # not a supplier: plain land
    assert "ATA" not in fills
    assert _layers(deck)["city_label"].data[0]["name"] == "Helsinki"
    # far apart: both labelled, the larger supplier first in priority
    labels = _layers(deck)["supplier_labels"]
    priority = {row["name"]: row["priority"] for row in labels.data}
    assert priority["China"] > priority["DR Congo"]


def test_overlapping_labels_are_dropped_by_priority_by_hand():
    # At zoom 5 the world is 512 * 2**5 = 16384 px wide: 0.1 degree of longitude is 4.55 px. Labels "AB" at
    # size 10 are 2 * (0.3 * 10 * 2 + 2) = 16 px wide, so labels under points less than 16 px apart overlap.
    frame = pd.DataFrame({"name": ["AB", "AB", "AB", "AB"], "lon": [0.0, 0.2, 0.4, 0.6], "lat": [0.0] * 4,
                          "priority": [4.0, 3.0, 2.0, 1.0]})
    shown = maps._label_boxes_free(frame, "name", zoom=5, size=10, offset=10)
    # 0.2 degree = 9.1 px from the first: hidden; 0.4 degree = 18.2 px: drawn; 0.6 is 9.1 px from that: hidden
    assert shown.tolist() == [True, False, True, False]
    # the priority decides who gives way: the second point first, then the first and third give way to it
    shown = maps._label_boxes_free(frame.assign(priority=[1.0, 4.0, 2.0, 3.0]), "name", zoom=5, size=10, offset=10)
    assert shown.tolist() == [False, True, False, True]
    # a box already taken (the city's label) keeps labels off it
    taken = [(-100.0, -100.0, 1e9, 1e9)]
    assert not maps._label_boxes_free(frame, "name", zoom=5, size=10, offset=10, taken=taken).any()


def test_hub_labels_of_a_dense_cluster_do_not_stack():
    orgs = pd.DataFrame({"name": [f"Fictitious: Org {i}" for i in range(12)], "short": [f"Org {i}" for i in range(12)],
                         "org_type": ["recycler"] * 12, "lat": [51.05 + 0.001 * i for i in range(12)],
                         "lon": [3.72] * 11 + [24.94]})
    deck = maps.symbiosis_map(orgs, pd.DataFrame(), ("Ghent", 51.05, 3.72))
    labelled = {row["short"] for row in _layers(deck)["organisation_labels"].data}
    assert "Org 11" in labelled  # alone near Helsinki
    assert len(labelled) <= 3  # the eleven within 1.2 km of each other in Ghent get one label or two, not eleven


def test_hub_map_labels_give_way_to_organisations_with_matches():
    orgs = pd.DataFrame({"name": ["Fictitious: A", "Fictitious: B", "Fictitious: C"], "short": ["A", "B", "C"],
                         "org_type": ["recycler", "hospital", "university"], "lat": [51.0, 51.01, 51.02],
                         "lon": [3.7, 3.71, 3.72]})
    arcs = pd.DataFrame({"from_lat": [51.0], "from_lon": [3.7], "to_lat": [51.02], "to_lon": [3.72], "score": [0.5],
                         "label": [": Cu 1 kg per year"], "from_org": ["Fictitious: C"], "to_org": ["Fictitious: A"]})
    deck = maps.symbiosis_map(orgs, arcs, ("Ghent", 51.05, 3.72))
    priority = {row["short"]: row["priority"] for row in _layers(deck)["organisation_labels"].data}
    assert priority["A"] > priority["B"] and priority["C"] > priority["B"]  # matched organisations are labelled first
    assert _layers(deck)["city_label"].data[0]["name"] == "Ghent"
    assert "BEL" in {f["properties"]["iso3"] for f in _layers(deck)["country_outlines"].data["features"]}


def test_compact_map_json_is_smaller_than_pydeck_default():
    frame = pd.DataFrame({"name": ["China"], "lat": [35.0], "lon": [103.8], "kg": [1.0], "stability": [0.5]})
    deck = maps.world_exposure_map(frame)
    compact = deck.to_json()
    assert json.loads(compact)["layers"][1]["id"] == "country_outlines"
    assert len(compact) < 400_000 and "\n" not in compact


@pytest.mark.parametrize("builder", ["district", "hub"])
def test_maps_without_a_city_have_no_marker(builder):
    if builder == "district":
        frame = pd.DataFrame({"name": ["A"], "lat": [51.0], "lon": [3.7], "population": [1], "stock_kg": [1.0], "eol_kg": [1.0]})
        deck = maps.district_map(frame, (51.0, 3.7))
        assert _layers(deck)["city_label"].data[0]["name"] == "city centre"
    else:
        orgs = pd.DataFrame({"name": ["X"], "short": ["X"], "org_type": ["recycler"], "lat": [51.0], "lon": [3.7]})
        deck = maps.symbiosis_map(orgs, pd.DataFrame())
        assert "city_marker" not in _layers(deck)
