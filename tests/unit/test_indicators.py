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
    assert ind.gap_to_benchmark(0.15) == pytest.approx(0.10)
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
