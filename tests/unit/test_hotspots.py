"""A district is a hotspot only where its per-inhabitant value stands out by more than the uncertainty."""

import pandas as pd
import pytest

from decision_tools.hotspots import (
    MIN_RELATIVE_DIFFERENCE,
    SHARED_INPUTS_REASON,
    districts_share_inputs,
    hotspot_district,
    relative_half_width,
)


def _districts(eol_kg, population=(1000, 2000, 3000, 4000)):
    return pd.DataFrame({"name": [f"D{i}" for i in range(len(eol_kg))], "population": list(population)[:len(eol_kg)],
                         "eol_kg": list(eol_kg)})


def test_districts_sharing_per_inhabitant_inputs_get_no_hotspot():
    # split by population share: 0.5 kg per inhabitant everywhere, up to rounding of the stored kg
    table = _districts([500.0004, 999.9996, 1500.0002, 2000.0])
    result = hotspot_district(table, "eol_kg", shared_inputs=True)
    assert result.district is None and result.reason == SHARED_INPUTS_REASON
    assert "Districts differ only by population in this model" in result.reason
    # the same rounding without being told: still no hotspot, for the same reason
    assert hotspot_district(table, "eol_kg").reason == SHARED_INPUTS_REASON


def test_a_district_twice_the_others_is_the_hotspot():
    # per inhabitant: 0.5, 0.5, 1.0, 0.5 kg; median 0.5; D2 is 100 % above, more than the 10 % minimum and a 30 % band
    table = _districts([500.0, 1000.0, 3000.0, 2000.0])
    result = hotspot_district(table, "eol_kg", band_relative_half_width=0.3)
    assert result.district == "D2"
    assert result.value_per_inhabitant == pytest.approx(1.0) and result.median_per_inhabitant == pytest.approx(0.5)
    assert result.reason == ("D2 has 100% more end of life per inhabitant than the median district, more than the "
                             "uncertainty of end of life (5-95 % band ±30%).")


def test_a_difference_within_the_uncertainty_is_no_hotspot():
    # D2 is 30 % above the median: more than the 10 % minimum, but within a band of ±40 %
    table = _districts([500.0, 1000.0, 1950.0, 2000.0])
    result = hotspot_district(table, "eol_kg", band_relative_half_width=0.4)
    assert result.district is None and result.threshold == pytest.approx(0.4)
    assert "No district stands out: the highest, D2, has only 30% more" in result.reason
    # without a band, the 10 % minimum rules: 30 % is enough; 5 % is not
    assert hotspot_district(table, "eol_kg").district == "D2"
    small = hotspot_district(_districts([500.0, 1000.0, 1575.0, 2000.0]), "eol_kg")
    assert small.district is None and f"minimum difference of {MIN_RELATIVE_DIFFERENCE:.0%}" in small.reason


def test_a_city_without_districts_or_without_end_of_life_has_no_hotspot():
    assert "modelled as a whole" in hotspot_district(_districts([500.0]), "eol_kg").reason
    assert "No district has any end of life yet" in hotspot_district(_districts([0.0, 0.0, 0.0]), "eol_kg").reason


def test_relative_half_width():
    assert relative_half_width(80.0, 120.0, 100.0) == pytest.approx(0.2)
    assert relative_half_width(0.0, 0.0, 0.0) != relative_half_width(0.0, 0.0, 0.0)  # NaN: no band


def test_the_model_gives_districts_the_same_per_inhabitant_inputs():
    cities = pd.DataFrame({"city": ["X"], "country_iso3": ["BEL"], "population": [10_000], "households": [4_000],
                           "confidence": ["high"], "source_id": ["S"]})
    districts = pd.DataFrame({"city": ["X", "X", "X"], "district": ["a", "b", "c"], "population": [1000, 3000, 6000],
                              "confidence": ["low"] * 3, "source_id": ["D"] * 3})
    assert districts_share_inputs(cities, districts, "X")


def test_no_median_to_compare_with_is_said_as_such():
    result = hotspot_district(_districts([0.0, 0.0, 30.0]), "eol_kg")
    assert result.district is None and result.reason.startswith("The median district has no end of life yet")


def test_district_places_are_the_districts_or_the_city_as_one_point():
    from decision_tools.hotspots import district_places

    city = pd.Series({"lat": 51.0, "lon": 3.7, "population": 1000}, name="Ghent")
    wide = pd.DataFrame({"district": ["A", "B"], "in_use_stock": [3.0, 1.0], "hibernating_stock": [1.0, 0.0],
                         "end_of_life": [0.5, 0.2]})
    districts = pd.DataFrame({"city": ["Ghent", "Ghent"], "district": ["A", "B"], "lat": [51.0, 51.1], "lon": [3.7, 3.8],
                              "population": [600, 400]})
    places = district_places(districts, city, wide).set_index("name")
    assert places.loc["A", "stock_kg"] == 4.0 and places.loc["B", "eol_kg"] == 0.2 and places.loc["B", "population"] == 400
    whole = district_places(districts.iloc[0:0], city, pd.DataFrame({"district": [None], "in_use_stock": [5.0],
                                                                     "hibernating_stock": [2.0], "end_of_life": [1.0]}))
    assert whole[["name", "lat", "stock_kg", "eol_kg"]].values.tolist() == [["Ghent", 51.0, 7.0, 1.0]]
