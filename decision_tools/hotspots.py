"""District hotspots: a district is offered as a hotspot only where its per-inhabitant value stands
out from the city's other districts by more than the uncertainty of that value.

The rule (owned here, stated on the Indicators page and in the README):

- a district stands out when its value per inhabitant exceeds the median of the city's districts by
  more than the larger of (a) the relative half-width of the Monte Carlo 5-95 % band of the quantity,
  (p95 - p05) / 2 / median, and (b) a minimum relative difference of 10 %;
- where every district shares the city's per-inhabitant inputs (in this model they always do: the
  city is split by population share, and ownership is looked up by city, country or EU, never by
  district), districts differ only by population, so no district is singled out whatever rounding
  leaves between them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MIN_RELATIVE_DIFFERENCE = 0.10  # below this, a difference between districts is not worth a challenge
SAME_VALUE_TOLERANCE = 1e-4  # relative spread (0.01 %) below which per-inhabitant values are equal up to rounding
SHARED_INPUTS_REASON = ("Districts differ only by population in this model: every district shares the city's "
                        "per-inhabitant inputs, so no district stands out (the small differences are rounding).")


@dataclass(frozen=True)
class Hotspot:
    """The district that stands out (None when none does) and the reason, in a sentence."""

    district: str | None
    reason: str
    value_per_inhabitant: float = float("nan")
    median_per_inhabitant: float = float("nan")
    threshold: float = MIN_RELATIVE_DIFFERENCE  # relative difference the district had to exceed


def relative_half_width(p05: float, p95: float, median: float) -> float:
    """Half the 5-95 % band relative to the median, (p95 - p05) / 2 / median; NaN when the median is
    not positive (no band to compare with)."""
    if not (median > 0) or any(pd.isna(v) for v in (p05, p95)):
        return float("nan")
    return float((p95 - p05) / 2 / median)


def districts_share_inputs(cities: pd.DataFrame, districts: pd.DataFrame, city: str) -> bool:
    """True when every district of ``city`` gets the same per-inhabitant inputs from the model.

    The model (model_inputs.regions_of) gives each district its population share of the city's households
    and of its per-city units, and looks ownership up by city, country or EU; so the inputs per
    inhabitant are shared exactly when households and city share are proportional to population."""
    from . import model_inputs  # the model's libraries: only when asked

    mine = districts[districts["city"] == city]
    if len(mine) < 2:
        return True
    regions = model_inputs.regions_of(cities[cities["city"] == city], mine)
    population = regions["population"].to_numpy(dtype=float)
    for column in ("households", "city_share"):
        per_inhabitant = regions[column].to_numpy(dtype=float) / population
        if np.ptp(per_inhabitant) > SAME_VALUE_TOLERANCE * np.abs(per_inhabitant).max():
            return False
    return True


def hotspot_district(table: pd.DataFrame, value_column: str, *, population_column: str = "population",
                     name_column: str = "name", band_relative_half_width: float | None = None,
                     min_relative_difference: float = MIN_RELATIVE_DIFFERENCE, shared_inputs: bool = False,
                     quantity: str = "end of life") -> Hotspot:
    """The district whose ``value_column`` per inhabitant stands out, or None with the reason.

    ``table`` has one row per district (name, population, value). ``band_relative_half_width`` is the
    relative half-width of the quantity's Monte Carlo 5-95 % band (``relative_half_width``); the
    district must exceed the median district by more than it and by more than
    ``min_relative_difference``. ``shared_inputs`` says every district uses the same per-inhabitant
    inputs (``districts_share_inputs``), in which case no district is singled out."""
    rows = table[table[population_column] > 0]
    if len(rows) < 2:
        return Hotspot(None, "The city is modelled as a whole (no district data), so there is no district to single out.")
    if shared_inputs:
        return Hotspot(None, SHARED_INPUTS_REASON)
    per_inhabitant = (rows[value_column].astype(float) / rows[population_column].astype(float)).to_numpy()
    names = rows[name_column].to_numpy()
    median = float(np.median(per_inhabitant))
    top = int(np.argmax(per_inhabitant))
    if not (median > 0):
        return Hotspot(None, f"No district has any {quantity} yet, so there is no hotspot." if not per_inhabitant[top] > 0
                       else f"The median district has no {quantity} yet, so there is nothing to measure a hotspot against.")
    if np.ptp(per_inhabitant) <= SAME_VALUE_TOLERANCE * median:
        return Hotspot(None, SHARED_INPUTS_REASON, float(per_inhabitant[top]), median)
    band = 0.0 if band_relative_half_width is None or pd.isna(band_relative_half_width) else float(band_relative_half_width)
    threshold = max(float(min_relative_difference), float(band))
    above = float(per_inhabitant[top]) / median - 1
    why = (f"the uncertainty of {quantity} (5-95 % band ±{band:.0%})" if band > min_relative_difference
           else f"the minimum difference of {min_relative_difference:.0%}")
    if above > threshold:
        return Hotspot(str(names[top]), f"{names[top]} has {above:.0%} more {quantity} per inhabitant than the median "
                                        f"district, more than {why}.", float(per_inhabitant[top]), median, threshold)
    return Hotspot(None, f"No district stands out: the highest, {names[top]}, has only {above:.0%} more {quantity} per "
                         f"inhabitant than the median district, within {why}.", float(per_inhabitant[top]), median, threshold)


def district_places(districts: pd.DataFrame, city_row: pd.Series, by_district_wide: pd.DataFrame) -> pd.DataFrame:
    """The places the district map draws for a city: its districts (rows of ``districts`` for that city), or the
    city itself as one point where it has none; each with name, lat, lon, population, stock_kg (the urban mine:
    in use + hibernating) and eol_kg (end of life per year). ``by_district_wide``: results.metrics_wide of the
    city's rows by district (one row with an empty district when the city is modelled whole)."""
    wide = by_district_wide.set_index("district")
    if len(districts):
        places = districts.rename(columns={"district": "name"}).set_index("name")
    else:
        places = pd.DataFrame({"lat": [city_row["lat"]], "lon": [city_row["lon"]], "population": [city_row["population"]]},
                              index=pd.Index([city_row.name], name="name"))
        wide.index = [city_row.name]
    return places.assign(stock_kg=wide["in_use_stock"] + wide["hibernating_stock"], eol_kg=wide["end_of_life"]).reset_index()
