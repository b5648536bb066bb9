"""Chart builders and the URL view state."""

import re

import pandas as pd
import pytest

from decision_tools import chain_charts, maps, time_charts
from decision_tools.views import DEFAULT_YEAR, resolve_selection

CITIES = ["Delft", "Ghent", "Helsinki"]
MATERIALS = ["Co", "Nd"]


def test_sankey_shows_losses_and_the_stock_change(store):
    chain = store.chain(1, "Ghent", 2030, "Co")
    figure = chain_charts.sankey_figure(chain, "title")
    labels = list(figure.data[0].node.label)
    for expected in ("In use", "End of life", "Residual waste", "Export / reuse abroad", "Secondary supply",
                     "Added to stock"):
        assert any(label.startswith(expected) for label in labels), expected
    # Every link value is positive, and the stock-change link closes the 'In use' node.
    link = figure.data[0].link
    assert min(link.value) > 0
    use = next(i for i, label in enumerate(labels) if label.startswith("In use"))
    into = sum(v for t, v in zip(link.target, link.value) if t == use)
    out_of = sum(v for s, v in zip(link.source, link.value) if s == use)
    assert into == pytest.approx(out_of)


def test_timeseries_chart_picks_a_readable_unit():
    series = pd.DataFrame({"year": [2020, 2021], "metric": ["in_use_stock"] * 2, "kg": [1500.0, 2500.0]})
    spec = time_charts.timeseries_chart(series, ("in_use_stock",), "Stocks", 2021, per_year=False).to_dict()
    assert spec["layer"][0]["encoding"]["y"]["title"] == "t"
    assert time_charts.mass_unit(0.5) == (1e-3, "g")


def test_valid_parameters_are_kept():
    selection, notices = resolve_selection({"city": "Ghent", "year": "2030", "material": "Nd"}, CITIES, MATERIALS, (2000, 2050))
    assert (selection.city, selection.year, selection.material) == ("Ghent", 2030, "Nd") and notices == []


def test_missing_parameters_mean_the_defaults():
    selection, notices = resolve_selection({}, CITIES, MATERIALS, (2000, 2050))
    assert (selection.city, selection.year, selection.material) == ("Helsinki", DEFAULT_YEAR, "Co") and notices == []


@pytest.mark.parametrize("params, fragment", [
    ({"city": "Atlantis"}, "city 'Atlantis', which is not in the data; showing Helsinki"),
    ({"year": "1800"}, "year 1800, outside the modelled 2000-2050; showing 2025"),
    ({"year": "20x0"}, "year '20x0', which is not a year"),
    ({"material": "'; DROP TABLE flows; --"}, "material"),
])
def test_bad_parameters_fall_back_with_a_notice(params, fragment):
    selection, notices = resolve_selection(params, CITIES, MATERIALS, (2000, 2050))
    assert len(notices) == 1 and fragment in notices[0]
    assert selection.city in CITIES and selection.material in MATERIALS and 2000 <= selection.year <= 2050


def test_notices_never_carry_markup():
    _, notices = resolve_selection({"city": "[x](javascript:alert(1))<img src=x>"}, CITIES, MATERIALS, (2000, 2050))
    # every Markdown/HTML special character arrives escaped, so it shows as text
    assert not re.search(r"(?<!\\)[\[\]()<>]", notices[0].split("'")[1])


def _district_colours(eol_kg):
    frame = pd.DataFrame({"name": ["A", "B", "C"], "lat": [51.0, 51.1, 51.2], "lon": [3.7, 3.8, 3.9],
                          "population": [1000, 2000, 3000], "stock_kg": [1.0, 2.0, 3.0], "eol_kg": eol_kg})
    deck = maps.district_map(frame, (51.0, 3.7))
    districts = next(layer for layer in deck.layers if layer.id == "districts")  # drawn over the country outlines
    return [tuple(row["colour"]) for row in districts.data]


def test_district_colours_do_not_stretch_rounding_into_hotspots():
    # Per inhabitant 0.0172930, 0.0172931, 0.0172929: one colour (the browser review saw red "hotspots").
    same = _district_colours([17.2930, 34.5862, 51.8787])
    assert len(set(same)) == 1
    # One district at twice the others: coloured apart.
    apart = _district_colours([10.0, 20.0, 60.0])
    assert len(set(apart)) == 2 and apart[2] != apart[0]


def test_every_line_of_the_rate_chart_is_named_in_the_legend():
    bands = pd.DataFrame({"year": [2030, 2031], "central": [0.4, 0.5], "p05": [0.3, 0.4], "p95": [0.5, 0.6]})
    scoped = bands.assign(series="Collection rate, Laptop, Smartphone only")
    targets = pd.DataFrame({"label": ["WEEE 85 % of WEEE generated"], "value_share": [0.85], "year": [2019]})
    spec = time_charts.rate_chart(bands, "Collection rate", targets, 2030, scoped).to_dict()
    domain = next(layer["encoding"]["color"]["scale"]["domain"] for layer in spec["layer"] if "color" in layer.get("encoding", {}))
    assert domain == ["Collection rate, every product shown", "Collection rate, Laptop, Smartphone only", "WEEE 85 % of WEEE generated"]
