"""The Indicators page's figures, computed in decision_tools: MCI by product and the cities side by side."""

import numpy as np
import pandas as pd
import pytest

from decision_tools.indicator_ranges import mci_by_product, year_ranges
from decision_tools.indicators import city_comparison
from tests.unit.test_uncertainty import _two_material_simulation


def test_mci_by_product_by_hand():
    # One product holding A (recovery 1 of 10 kg collected) and B (9 of 10), 10 kg of each in new products, no
    # recycled feedstock, everything collected, X = 1. Ellen MacArthur MCI = 1 - LFI x 0.9 with
    # LFI = (V + W) / (2M - W_C / 2), V = M, W = W_C / 2, W_C = M (1 - E_C):
    # A: LFI = 1.45 / 1.55, MCI = 0.158065; B: LFI = 1.05 / 1.95, MCI = 0.515385.
    sim = _two_material_simulation([1.0, 9.0], [10.0, 10.0])
    by_mass = mci_by_product(sim, 2030)
    assert by_mass["product"].tolist() == ["p"]
    assert by_mass.loc[0, "central"] == pytest.approx((0.158065 + 0.515385) / 2, abs=5e-4)
    weighted = mci_by_product(sim, 2030, np.array([1.0, 3.0]))  # B weighs 3: (0.158065 + 3 x 0.515385) / 4
    assert weighted.loc[0, "central"] == pytest.approx(0.426, abs=5e-4)
    assert weighted.loc[0, "p05"] == weighted.loc[0, "central"] == weighted.loc[0, "p95"]  # one sample


def test_year_ranges_hold_every_card_and_every_year_of_the_quantities():
    sim = _two_material_simulation([1.0, 9.0], [10.0, 10.0])
    ranges = year_ranges(sim, 2030)
    assert ranges.cards["eol_recycling_rate"] == {"central": pytest.approx(0.5), "p05": pytest.approx(0.5),
                                                  "p95": pytest.approx(0.5)}
    assert set(ranges.quantities["metric"]) == set(sim.totals)
    with pytest.raises(ValueError, match="outside"):
        year_ranges(sim, 2031)


def test_city_comparison_by_hand():
    rows = [("A", "in_use_stock", 30.0), ("A", "hibernating_stock", 10.0), ("A", "end_of_life", 8.0),
            ("A", "separately_collected", 4.0), ("A", "secondary_supply", 2.0), ("A", "new_products", 10.0),
            ("B", "in_use_stock", 5.0), ("B", "hibernating_stock", 5.0), ("B", "end_of_life", 1.0),
            ("B", "separately_collected", 1.0), ("B", "secondary_supply", 1.0), ("B", "new_products", 4.0)]
    long = pd.DataFrame(rows, columns=["city", "metric", "kg"])
    population = pd.Series({"A": 1000.0, "B": 500.0}, name="population").rename_axis("city")
    table = city_comparison(long, population).set_index("city")
    assert table.loc["A", "urban mine (g per inhabitant)"] == pytest.approx(40.0)  # 40 kg x 1000 g / 1000 people
    assert table.loc["B", "end of life (g per inhabitant per year)"] == pytest.approx(2.0)
    assert table.loc["A", "collection rate"] == pytest.approx(0.5)
    assert table.loc["A", "end-of-life recycling rate"] == pytest.approx(0.25)
    assert table.loc["B", "secondary-supply share"] == pytest.approx(0.25)


def test_city_comparison_weighs_the_rates_but_not_the_masses():
    # City A: material X recovers 1 of 10 kg at end of life, Y 9 of 10; Y weighs 3 -> (1 + 27) / (10 + 30).
    per_material = pd.DataFrame([("A", m, metric, kg) for m, eol, sec in (("X", 10.0, 1.0), ("Y", 10.0, 9.0))
                                 for metric, kg in (("end_of_life", eol), ("secondary_supply", sec), ("separately_collected", eol),
                                                    ("new_products", 10.0), ("in_use_stock", 1.0), ("hibernating_stock", 0.0))],
                                columns=["city", "material", "metric", "kg"])
    summed = per_material.groupby(["city", "metric"], as_index=False)["kg"].sum()
    table = city_comparison(summed, pd.Series({"A": 1.0}).rename_axis("city"), per_material, {"X": 1.0, "Y": 3.0})
    assert table.loc[0, "end-of-life recycling rate"] == pytest.approx(28 / 40)
    assert table.loc[0, "urban mine (g per inhabitant)"] == pytest.approx(2000.0)  # 2 kg, by mass
