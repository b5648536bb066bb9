"""Exposure formulas against hand-worked cases, and the city's exposure and disruption."""

import pandas as pd
import pytest

from decision_tools import disruption as dis
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
    shortfall, coverage = dis.disruption_shortfall(data, dis.Disruption("CHN", ("Ga",), 0.5, 2030, 1), demand, secondary,
                                                  {"smartphone": "ICT", "led_lamp": "lighting"})
    by_product = shortfall.set_index("product")["shortfall_kg"]
    assert by_product["smartphone"] == pytest.approx(2.0 * 0.984 * 0.5)
    assert by_product["led_lamp"] == pytest.approx(1.0 * 0.984 * 0.5)
    assert 2031 not in set(shortfall["year"])
    row = coverage.iloc[0]
    assert row["covered_share"] == pytest.approx(0.3 / (3.0 * 0.984 * 0.5))
    with pytest.raises(ValueError, match="cut must be a share"):
        dis.Disruption("CHN", ("Ga",), 1.5, 2030, 1)


def _toy_data(rows, bottleneck):
    """A hand-made ExposureData: ``rows`` (material, stage, country, share), ``bottleneck`` by material."""
    shares = pd.DataFrame(rows, columns=["material", "stage", "country_iso3", "share"]).assign(
        source_id="TEST", confidence="illustrative", note="")
    countries = pd.DataFrame({"name": ["China", "Myanmar", "Finland", "DR Congo"], "lat": 0.0, "lon": 0.0,
                              "wgi_pv_norm": [0.5, 0.9, 0.1, 0.9]}, index=pd.Index(["CHN", "MMR", "FIN", "COD"], name="country_iso3"))
    countries["stability_known"] = True
    materials = pd.DataFrame({"bottleneck_stage": bottleneck}).rename_axis("symbol")
    return ex.ExposureData(shares=shares, published_hhi=pd.DataFrame(columns=["material", "stage", "hhi_published"]).set_index(["material", "stage"]),
                           countries=countries, materials=materials, eu=pd.DataFrame(),
                           by_products=pd.DataFrame({"host_metals": ["Cu; Ni"]}, index=pd.Index(["Co"], name="material")))


@pytest.fixture()
def toy():
    return _toy_data([
        ("Co", "extraction", "COD", 0.7), ("Co", "extraction", "ROW", 0.3),  # China mines no cobalt ...
        ("Co", "processing", "CHN", 0.79), ("Co", "processing", "FIN", 0.1), ("Co", "processing", "ROW", 0.11),  # ... but refines most
        ("Dy", "extraction", "MMR", 0.5), ("Dy", "extraction", "CHN", 0.4), ("Dy", "extraction", "ROW", 0.1),
        ("Dy", "processing", "CHN", 0.9), ("Dy", "processing", "ROW", 0.1),  # Myanmar refines none
        ("Ga", "processing", "CHN", 0.98), ("Ga", "processing", "ROW", 0.02),
    ], {"Co": "extraction", "Dy": "processing", "Ga": "processing"})


SECTORS = {"motor": "mobility", "phone": "ICT"}


def _demand(material, kg=10.0):
    return pd.DataFrame({"year": [2030, 2031], "product": ["motor", "motor"], "material": [material] * 2, "kg": [kg, 99.0]})


NO_SECONDARY = pd.DataFrame(columns=["year", "product", "material", "kg"])


def test_a_refining_country_causes_a_shortfall_at_processing(toy):
    # China: 0 % of cobalt mining, 79 % of refining; EU bottleneck is extraction. 10 kg x 0.79 x 0.5 = 3.95 kg
    shortfall, coverage = dis.disruption_shortfall(toy, dis.Disruption("CHN", ("Co",), 0.5, 2030, 1), _demand("Co"), NO_SECONDARY, SECTORS)
    row = shortfall.iloc[0]
    assert len(shortfall) == 1  # 2031 is outside the disruption
    assert row["stage"] == "processing" and row["country_share"] == pytest.approx(0.79)
    assert row["shortfall_kg"] == pytest.approx(3.95)
    assert row["shortfall_extraction_kg"] == pytest.approx(0.0) and row["shortfall_processing_kg"] == pytest.approx(3.95)
    assert coverage.iloc[0]["shortfall_kg"] == pytest.approx(3.95)


def test_a_mining_country_causes_a_shortfall_at_extraction(toy):
    # Myanmar: 50 % of dysprosium mining, 0 % of refining; EU bottleneck is processing. 10 x 0.5 x 0.5 = 2.5 kg
    shortfall, _ = dis.disruption_shortfall(toy, dis.Disruption("MMR", ("Dy",), 0.5, 2030, 1), _demand("Dy"), NO_SECONDARY, SECTORS)
    row = shortfall.iloc[0]
    assert row["stage"] == "extraction" and row["shortfall_kg"] == pytest.approx(2.5)
    assert row["shortfall_processing_kg"] == pytest.approx(0.0)


def test_the_largest_stage_binds_and_stages_are_not_added(toy):
    # China: 40 % of Dy mining, 90 % of refining -> processing binds: 10 x 0.9 x 1.0 = 9 kg, not 13 kg
    shortfall, _ = dis.disruption_shortfall(toy, dis.Disruption("CHN", ("Dy",), 1.0, 2030, 1), _demand("Dy"), NO_SECONDARY, SECTORS)
    row = shortfall.iloc[0]
    assert row["stage"] == "processing" and row["shortfall_kg"] == pytest.approx(9.0)
    assert row["shortfall_extraction_kg"] == pytest.approx(4.0)


def test_no_share_at_any_stage_gives_no_shortfall(toy):
    shortfall, coverage = dis.disruption_shortfall(toy, dis.Disruption("FIN", ("Dy", "Ga"), 0.5, 2030, 1),
                                                  pd.concat([_demand("Dy"), _demand("Ga")]), NO_SECONDARY, SECTORS)
    assert (shortfall["shortfall_kg"] == 0).all() and shortfall["stage"].isna().all()
    assert coverage["covered_share"].isna().all()
    # gallium has no mining data: that stage's figure is unknown, not zero
    assert shortfall.loc[shortfall["material"] == "Ga", "shortfall_extraction_kg"].isna().all()


def test_binding_stage_ties_go_to_the_bottleneck():
    assert dis.binding_stage({"extraction": 0.5, "processing": 0.5}, "processing") == "processing"
    assert dis.binding_stage({"extraction": 0.5, "processing": 0.5}, None) == "extraction"
    assert dis.binding_stage({"extraction": 0.0, "processing": 0.0}, "processing") is None


def test_shortfall_by_stage_lists_every_stage(toy):
    table = dis.shortfall_by_stage(toy, dis.Disruption("CHN", ("Co", "Ga"), 0.5, 2030, 2), pd.concat([_demand("Co"), _demand("Ga", 4.0)]))
    cobalt = table[table["material"] == "Co"].set_index("stage")
    assert list(cobalt.index) == ["extraction", "processing"]
    assert cobalt.at["extraction", "shortfall_kg"] == pytest.approx(0.0)
    assert cobalt.at["processing", "shortfall_kg"] == pytest.approx((10 + 99) * 0.79 * 0.5)  # both years disrupted
    assert cobalt.at["processing", "binding"] and not cobalt.at["extraction", "binding"]
    gallium = table[table["material"] == "Ga"]
    assert list(gallium["stage"]) == ["processing"] and gallium["shortfall_kg"].iloc[0] == pytest.approx((4 + 99) * 0.98 * 0.5)


def test_city_exposure_at_a_chosen_stage(toy):
    demand = pd.DataFrame({"product": ["motor"], "material": ["Co"], "kg": [10.0]})
    default = ex.city_exposure(toy, demand, SECTORS)  # the EU bottleneck: extraction
    assert set(default["stage"]) == {"extraction"} and "CHN" not in set(default["country_iso3"])
    refining = ex.city_exposure(toy, demand, SECTORS, stage="processing")
    assert set(refining["stage"]) == {"processing"}
    assert refining.set_index("country_iso3").at["CHN", "kg"] == pytest.approx(7.9)
    gallium = ex.city_exposure(toy, demand.assign(material="Ga"), SECTORS, stage="extraction")
    assert set(gallium["stage"]) == {"processing"}  # no mining data: the stage with data, and it says so
    with pytest.raises(ValueError, match="The stage must be one of extraction, processing"):
        ex.city_exposure(toy, demand, SECTORS, stage="smelting")


def test_supplier_shares_name_the_countries_and_the_unspecified_rest(toy):
    table = ex.supplier_shares(toy, "Co")
    refining = table[table["stage"] == "processing"].set_index("country")["share"]
    assert refining.to_dict() == {"China": pytest.approx(0.79), "Finland": pytest.approx(0.1),
                                  "rest of world (unspecified)": pytest.approx(0.11)}
    assert set(table["stage"]) == {"extraction", "processing"}


def test_supply_risk_curve_by_hand():
    # SR 2.0 at a published EOL-RIR of 0.2: at 0.6, SR = 2.0 x (1 - 0.6) / (1 - 0.2) = 1.0
    curve = ex.supply_risk_curve(2.0, 0.2, up_to=0.6, points=4)
    assert curve["eol_rir"].tolist() == pytest.approx([0.0, 0.2, 0.4, 0.6])
    assert curve["supply_risk"].tolist() == pytest.approx([2.5, 2.0, 1.5, 1.0])


def test_demand_by_country_and_by_product(toy):
    demand = pd.DataFrame({"product": ["motor", "phone"], "material": ["Co", "Co"], "kg": [10.0, 30.0]})
    exposed = ex.city_exposure(toy, demand, SECTORS, stage="processing")
    by_country = ex.demand_by_country(exposed, toy.countries)
    assert by_country["country_iso3"].tolist() == ["CHN", "ROW", "FIN"]  # largest first
    assert by_country.loc[0, "kg"] == pytest.approx(40 * 0.79) and by_country.loc[0, "share"] == pytest.approx(0.79)
    assert by_country.loc[1, "name"] == "rest of world (unspecified)" and pd.isna(by_country.loc[1, "lat"])
    assert by_country.loc[0, "stability"] == pytest.approx(0.5)
    by_product = ex.demand_by_product(exposed, {"motor": "Electric motor", "phone": "Smartphone"})
    assert by_product["product"].tolist() == ["Smartphone", "Electric motor"]
    assert by_product["kg"].tolist() == pytest.approx([30.0, 10.0]) and by_product["by_product"].all()


def test_disruption_outcome_against_a_scenario_and_its_explanation(toy):
    # Baseline: 10 kg of Co in 2030, no secondary supply; a scenario recovering 2 kg covers 2 / 3.95 of the shortfall.
    secondary = pd.DataFrame({"year": [2030], "product": ["motor"], "material": ["Co"], "kg": [2.0]})
    outcome = dis.disruption_outcome(toy, dis.Disruption("CHN", ("Co",), 0.5, 2030, 1),
                                     {"baseline": (_demand("Co"), NO_SECONDARY), "recycling": (_demand("Co"), secondary)},
                                     SECTORS, "China")
    assert outcome.total_kg == pytest.approx(3.95)
    coverage = outcome.coverage.set_index("run")
    assert coverage.at["baseline", "covered_share"] == 0  # no secondary supply: nothing covered
    assert coverage.at["recycling", "covered_share"] == pytest.approx(2.0 / 3.95)
    assert outcome.explanation == ("For Co, refining (processing) binds: China holds 79.0 % of world refining (processing) "
                                   "and 0.0 % of world mining (extraction), so the cut removes 3.95 kg of the city's 10.0 kg.")
    none = dis.disruption_outcome(toy, dis.Disruption("FIN", ("Dy",), 0.5, 2030, 1),
                                  {"baseline": (_demand("Dy"), NO_SECONDARY)}, SECTORS, "Finland")
    assert none.explanation.startswith("Finland has no listed share of Dy at any stage")
