"""Indicators against hand-worked cases, and the MCI's anchors and input checks."""

import math

import numpy as np
import pytest

from decision_tools import indicators as ind
from decision_tools.indicators import material_circularity_indicator as mci


def test_mci_anchor_fully_linear_average_utility():
    assert mci(1.0) == pytest.approx(0.1)
    assert mci(250.0, recycling_efficiency_eol=0.3) == pytest.approx(0.1)  # E_C is irrelevant without collection


def test_mci_anchor_fully_restorative():
    assert mci(1.0, recycled_feedstock=1.0, collected_for_recycling=1.0) == pytest.approx(1.0)


def test_mci_hand_worked_partial_case():
    # M = 2 kg, F_R = 0.5, C_R = 0.6, E_C = 0.8, E_F = 0.8, L/L_av = 2:
    # V = 1; W0 = 0.8; W_C = 2 x 0.2 x 0.6 = 0.24; W_F = 2 x 0.2 x 0.5 / 0.8 = 0.25
    # W = 0.8 + (0.25 + 0.24) / 2 = 1.045; LFI = (1 + 1.045) / (4 + 0.005) = 0.510612
    # F(X) = 0.9 / 2 = 0.45; MCI = 1 - 0.510612 x 0.45 = 0.770225
    value = mci(2.0, recycled_feedstock=0.5, collected_for_recycling=0.6, recycling_efficiency_eol=0.8,
                recycling_efficiency_feedstock=0.8, lifetime_ratio=2.0)
    assert value == pytest.approx(1 - (2.045 / 4.005) * 0.45, rel=1e-9)


def test_mci_never_below_zero():
    assert mci(1.0, lifetime_ratio=0.5) == 0.0  # LFI 1 x F(X) 1.8 -> clipped


def test_mci_is_elementwise_on_arrays():
    values = mci(np.array([1.0, 1.0]), collected_for_recycling=np.array([0.0, 1.0]), recycled_feedstock=np.array([0.0, 1.0]))
    np.testing.assert_allclose(values, [0.1, 1.0])


@pytest.mark.parametrize("kwargs, fragment", [
    ({"mass_kg": 0.0}, "mass_kg must be positive"),
    ({"mass_kg": -1.0}, "mass_kg must be positive"),
    ({"mass_kg": 1.0, "recycled_feedstock": 1.2}, "recycled_feedstock must be a share between 0 and 1"),
    ({"mass_kg": 1.0, "collected_for_reuse": -0.1}, "collected_for_reuse must be a share"),
    ({"mass_kg": 1.0, "recycled_feedstock": 0.7, "reused_feedstock": 0.5}, "must not exceed 1"),
    ({"mass_kg": 1.0, "collected_for_recycling": 0.7, "collected_for_reuse": 0.4}, "must not exceed 1"),
    ({"mass_kg": 1.0, "recycled_feedstock": 0.1, "recycling_efficiency_feedstock": 0.0}, "recycled feedstock cannot be produced"),
    ({"mass_kg": 1.0, "lifetime_ratio": 0.0}, "lifetime_ratio must be positive"),
    ({"mass_kg": 1.0, "intensity_ratio": -2.0}, "intensity_ratio must be positive"),
])
def test_mci_rejects_invalid_inputs_with_a_sentence(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        mci(**kwargs)


def test_rates_hand_worked():
    # 100 kg reach end of life, 40 kg collected, 30 kg recovered; 200 kg in new products.
    assert ind.collection_rate(40, 100) == 0.4
    assert ind.recovery_efficiency(30, 40) == 0.75
    assert ind.eol_recycling_rate(30, 100) == pytest.approx(ind.collection_rate(40, 100) * ind.recovery_efficiency(30, 40))
    assert ind.secondary_supply_share(30, 200) == 0.15
    assert ind.circular_material_use_rate(30, 200) == pytest.approx(30 / 230)
    assert ind.hibernation_share(10, 90) == 0.1
    assert ind.stock_per_inhabitant(1000, 500) == 2.0
    assert ind.recycled_content(6, 100) == 0.06


def test_undefined_rates_are_nan_not_zero():
    assert math.isnan(ind.collection_rate(0, 0))
    np.testing.assert_array_equal(np.isnan(ind.collection_rate(np.array([1.0, 0.0]), np.array([2.0, 0.0]))), [False, True])


def test_mass_weighted_mean_skips_undefined_values():
    assert ind.mass_weighted_mean([0.2, 0.6, np.nan], [1.0, 3.0, 5.0]) == pytest.approx(0.5)


def test_every_indicator_has_an_explanation():
    for indicator in ind.INDICATORS.values():
        assert indicator.explanation.endswith(".") and indicator.definition and indicator.source


# Aggregates of several materials: weighting by mass, value or supply risk.
def _two_materials():
    import pandas as pd

    materials = pd.DataFrame({"symbol": ["Cu", "Nd"], "name": ["Copper", "Neodymium"], "supply_risk": [0.1, 4.5],
                              "critical_2023": [True, True],
                              "role": ["non-critical benchmark (supply risk far below the 1.0 threshold)", "critical"]})
    prices = pd.DataFrame({"material": ["Cu", "Nd"], "price_eur_per_kg": [8.5, 75.0]})
    return materials, prices


def test_material_weights_for_each_weighting():
    materials, prices = _two_materials()
    assert ind.material_weights("mass", materials) == {"Cu": 1.0, "Nd": 1.0}
    assert ind.material_weights("value", materials, prices) == {"Cu": 8.5, "Nd": 75.0}
    assert ind.material_weights("supply_risk", materials) == {"Cu": 0.1, "Nd": 4.5}
    with pytest.raises(ValueError, match="Unknown weighting 'volume'"):
        ind.material_weights("volume", materials)
    with pytest.raises(ValueError, match="No weight for Li"):
        ind.pair_weights([("phone", "Cu"), ("battery", "Li")], {"Cu": 1.0})


def test_weighted_ratio_two_materials_by_hand():
    # Copper: 90 kg recovered of 100 kg at end of life (90 %); neodymium: 1 kg of 10 kg (10 %).
    recovered, end_of_life = np.array([90.0, 1.0]), np.array([100.0, 10.0])
    # By mass, copper decides: 91 / 110.
    assert ind.weighted_ratio(recovered, end_of_life, [1.0, 1.0]) == pytest.approx(91 / 110)
    # By value (8.5 and 75 EUR/kg): (8.5 x 90 + 75 x 1) / (8.5 x 100 + 75 x 10) = 840 / 1600.
    assert ind.weighted_ratio(recovered, end_of_life, [8.5, 75.0]) == pytest.approx(840 / 1600)
    # By supply risk (0.1 and 4.5): (9 + 4.5) / (10 + 45) = 13.5 / 55: neodymium decides.
    assert ind.weighted_ratio(recovered, end_of_life, [0.1, 4.5]) == pytest.approx(13.5 / 55)
    # Element-wise over samples (last axis: materials), NaN when nothing reaches end of life.
    both = ind.weighted_ratio(np.array([[90.0, 1.0], [0.0, 0.0]]), np.array([[100.0, 10.0], [0.0, 0.0]]), [1.0, 1.0])
    assert both[0] == pytest.approx(91 / 110) and math.isnan(both[1])


def test_weighted_kg_of_stored_rows():
    import pandas as pd

    rows = pd.DataFrame({"material": ["Cu", "Nd"], "kg": [100.0, 10.0]})
    assert list(ind.weighted_kg(rows, {"Cu": 0.1, "Nd": 4.5})) == pytest.approx([10.0, 45.0])


def test_the_aggregate_says_that_copper_is_in_it():
    materials, _ = _two_materials()
    note = ind.aggregate_scope_note(materials)
    assert "2 materials" in note and "including copper (EU supply risk 0.1): non-critical benchmark" in note
    assert "counted in the aggregate" in note


def test_critical_materials_are_those_on_the_eu_list_in_table_order():
    import pandas as pd

    materials = pd.DataFrame({"symbol": ["Nd", "Fe", "Co", "Cu"], "critical_2023": [True, False, True, True]})
    assert ind.critical_materials(materials) == ("Nd", "Co", "Cu")
    assert ind.critical_materials(materials.iloc[1:2]) == ()
