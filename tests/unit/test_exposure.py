"""Exposure formulas against hand-worked cases, and the city's exposure and disruption."""

import pandas as pd
import pytest

from decision_tools import exposure as ex


def test_hhi_hand_worked():
    assert ex.hhi([0.5, 0.3, 0.2]) == pytest.approx(0.38)
    assert ex.hhi({"CHN": 1.0}) == 1.0
    assert ex.hhi([0.4, 0.2, 0.2], normalise=True) == pytest.approx(0.375)  # 0.5, 0.25, 0.25


def test_hhi_rejects_shares_that_do_not_sum_to_one():
    with pytest.raises(ValueError, match="Shares sum to 0.9, not 1; pass normalise=True"):
        ex.hhi([0.5, 0.4])
    with pytest.raises(ValueError, match="fractions between 0 and 1"):
        ex.hhi([1.5, -0.5])
    assert ex.hhi([0.5, 0.5 + 5e-7]) == pytest.approx(0.5, abs=1e-5)  # within 1e-6


def test_governance_weighted_hhi_hand_worked():
    # 0.6^2 x 5 + 0.4^2 x 2 = 1.8 + 0.32 = 2.12; a trade factor 1.5 on A: 2.7 + 0.32 = 3.02
    assert ex.governance_weighted_hhi({"A": 0.6, "B": 0.4}, {"A": 5, "B": 2}) == pytest.approx(2.12)
    assert ex.governance_weighted_hhi({"A": 0.6, "B": 0.4}, {"A": 5, "B": 2}, {"A": 1.5}) == pytest.approx(3.02)
    with pytest.raises(ValueError, match="No governance figure for B"):
        ex.governance_weighted_hhi({"A": 0.6, "B": 0.4}, {"A": 5})


def test_eu_supply_risk_hand_worked():
    # [2 x 0.8/2 + 1 x (1 - 0.8/2)] x (1 - 0.2) x 0.9 = (0.8 + 0.6) x 0.72 = 1.008
    assert ex.eu_supply_risk(2.0, 1.0, 0.8, 0.2, 0.9) == pytest.approx(1.008)
    # no import reliance: only EU sourcing counts
    assert ex.eu_supply_risk(5.0, 1.0, 0.0, 0.0, 1.0) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="import_reliance must be a share"):
        ex.eu_supply_risk(1, 1, 1.2, 0, 1)


def test_geopolrisk_score_hand_worked():
    # HHI 0.5^2 + 0.5^2 = 0.5; sum s g = 0.5 x 0.8 + 0.5 x 0.2 = 0.5 -> 0.25
    assert ex.geopolrisk_score({"A": 0.5, "B": 0.5}, {"A": 0.8, "B": 0.2}) == pytest.approx(0.25)


def test_supply_risk_what_if():
    assert ex.supply_risk_with_eol_rir(2.0, 0.2, 0.6) == pytest.approx(1.0)  # 2 x 0.4 / 0.8


@pytest.fixture(scope="module")
def data(small_db):
    from decision_tools import storage
    with storage.Store.open(small_db) as store:
        return ex.ExposureData.from_tables(store.input_tables(1))


def test_concentration_and_crma_checks(data):
    gallium = ex.concentration(data, "Ga").set_index("stage")
    assert gallium.at["processing", "largest_supplier"] == "CHN"
    assert gallium.at["processing", "largest_share"] == pytest.approx(0.984)
    assert gallium.at["processing", "above_65_percent"]
    assert gallium.at["processing", "hhi_published"] == pytest.approx(0.968)
    assert gallium.at["processing", "hhi_listed"] <= gallium.at["processing", "hhi_published"] + 1e-3  # published: 3 decimals
    checks = ex.single_country_checks(data)
    flagged = set(checks.loc[checks["above_65_percent"], "material"])
    assert {"Ga", "Ge", "C", "Nd", "Co"} <= flagged and "Cu" not in flagged


def test_recomputed_supply_risk_is_explained(data):
    cobalt = ex.recompute_supply_risk(data, "Co")
    assert cobalt["published"] == 2.8
    assert 1.5 < cobalt["recomputed"] < 5  # same order as the published figure
    assert any("political stability only" in reason for reason in cobalt["reasons"])


def test_city_exposure_splits_all_demand(data):
    demand = pd.DataFrame({"product": ["smartphone", "led_lamp"], "material": ["Ga", "Ga"], "kg": [2.0, 1.0]})
    exposure = ex.city_exposure(data, demand, {"smartphone": "ICT", "led_lamp": "lighting"})
    assert exposure["kg"].sum() == pytest.approx(3.0)
    china = exposure[exposure["country_iso3"] == "CHN"]
    assert china["kg"].sum() == pytest.approx(3.0 * 0.984)
    assert exposure["by_product"].all()


def test_disruption_of_half_of_chinese_gallium(data):
    demand = pd.DataFrame({"year": [2030, 2030, 2031], "product": ["smartphone", "led_lamp", "smartphone"],
                           "material": ["Ga"] * 3, "kg": [2.0, 1.0, 4.0]})
    secondary = pd.DataFrame({"year": [2030], "product": ["smartphone"], "material": ["Ga"], "kg": [0.3]})
    shortfall, coverage = ex.disruption_shortfall(data, ex.Disruption("CHN", ("Ga",), 0.5, 2030, 1), demand, secondary,
                                                  {"smartphone": "ICT", "led_lamp": "lighting"})
    by_product = shortfall.set_index("product")["shortfall_kg"]
    assert by_product["smartphone"] == pytest.approx(2.0 * 0.984 * 0.5)
    assert by_product["led_lamp"] == pytest.approx(1.0 * 0.984 * 0.5)
    assert 2031 not in set(shortfall["year"])
    row = coverage.iloc[0]
    assert row["covered_share"] == pytest.approx(0.3 / (3.0 * 0.984 * 0.5))
    with pytest.raises(ValueError, match="cut must be a share"):
        ex.Disruption("CHN", ("Ga",), 1.5, 2030, 1)
