"""The three maps on their pages (issue 16): each has the shipped country outlines, the selected city
marked, and asks Streamlit for no basemap (which would be fetched from an outside host)."""

import json

import pytest

from decision_tools import maps
from tests.app.conftest import open_page


@pytest.mark.parametrize("page", ["pages/indicators.py", "pages/exposure.py", "pages/hub.py"])
def test_map_has_outlines_and_marks_the_city(app, page):
    at = open_page(app, page, city="Ghent", year="2030", material="Co")
    assert not at.exception
    (deck,) = at.get("deck_gl_json_chart")
    spec = json.loads(deck.proto.json)
    assert spec["mapStyle"] == maps.STREAMLIT_NO_BASEMAP
    layers = {layer["id"]: layer for layer in spec["layers"]}
    assert "BEL" in {feature["properties"]["iso3"] for feature in layers["country_outlines"]["data"]["features"]}
    assert layers["city_label"]["data"][0]["name"] == "Ghent"
