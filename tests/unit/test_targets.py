"""EU targets: which can be drawn on which rate, for which products, on what basis (decision_tools.targets),
the rate over the products in a target's scope, the chart, and the targets table itself."""

import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from decision_tools import ingestion, table_checks, time_charts, validation_report
from decision_tools import targets as tr
from tests.conftest import PROJECT_DIR

WEEE = "smartphone;laptop;desktop_hdd;led_lamp;pv_module"
PAIRS = [("smartphone", "Co"), ("laptop", "Co"), ("ev_battery", "Co"), ("ev_battery", "Li"), ("wind_turbine", "Nd")]
NAMES = {"smartphone": "Smartphone", "laptop": "Laptop", "desktop_hdd": "Hard disk drive", "led_lamp": "LED lamp",
         "pv_module": "PV module", "ev_battery": "EV battery", "wind_turbine": "Wind turbine"}


def target(target_id, indicator="collection_rate", products=WEEE, materials="all", value=0.85, year=2019, basis="same",
           factor=np.nan, reason="same denominator"):
    return {"target_id": target_id, "instrument": "law, art. 1", "description": f"{target_id} description",
            "definition": f"{target_id} definition", "denominator": "what it divides by", "indicator": indicator,
            "products": products, "materials": materials, "value_share": value, "direction": "min", "year": year,
            "basis": basis, "conversion_factor": factor, "reason": reason, "source_id": "X", "confidence": "high", "note": ""}


def compare(rows, indicator="collection_rate", materials=("Co",), last_year=2050):
    return tr.compare_targets(pd.DataFrame(rows), indicator, materials, PAIRS, "Collection rate", product_names=NAMES,
                              material_names={"Co": "cobalt", "Li": "lithium", "Nd": "neodymium"}, last_year=last_year)


# --- which targets are drawn, and against which rate ---------------------------------------------------------

def test_weee_85_is_drawn_against_the_weee_products_only_and_65_is_listed():
    result = compare([target("weee_85"), target("weee_65", value=0.65, basis="not_comparable",
                                                reason="different denominator: put on the market")])
    assert list(result.lines["target_id"]) == ["weee_85"]
    line = result.lines.iloc[0]
    assert line["series"] == "Collection rate, Smartphone, Laptop only"
    assert result.scopes == {"Collection rate, Smartphone, Laptop only": (0, 1)}  # not the EV battery's cobalt
    assert "Smartphone, Laptop only" in line["label"] and "weee_85 description" in line["label"]
    assert list(result.not_comparable["target_id"]) == ["weee_65"]
    assert result.not_comparable.iloc[0]["reason"] == "different denominator: put on the market"


def test_all_materials_view_keeps_the_weee_line_off_the_ev_and_turbine_pairs():
    result = compare([target("weee_85")], materials=("Co", "Li", "Nd"))
    assert result.scopes == {"Collection rate, Smartphone, Laptop only": (0, 1)}


def test_a_target_covering_every_product_of_the_chart_is_drawn_on_the_chart_rate():
    result = compare([target("li_recovery", indicator="recovery_efficiency", products="ev_battery;smartphone;laptop",
                             materials="Li", value=0.5, year=2028)], indicator="recovery_efficiency", materials=("Li",))
    assert result.lines.iloc[0]["series"] is None and result.scopes == {}


def test_a_target_for_other_materials_is_left_out_and_one_for_some_materials_is_listed_on_an_all_materials_chart():
    rows = [target("co_ni_recovery", indicator="recovery_efficiency", products="ev_battery", materials="Co;Ni", value=0.9)]
    assert compare(rows, indicator="recovery_efficiency", materials=("Li",)).not_comparable.empty
    assert compare(rows, indicator="recovery_efficiency", materials=("Li",)).lines.empty
    listed = compare(rows, indicator="recovery_efficiency", materials=("Co", "Li", "Nd")).not_comparable
    assert "pick one of them" in listed.iloc[0]["reason"] and "cobalt" in listed.iloc[0]["reason"]


def test_no_product_in_scope_carrying_the_material_is_listed():
    result = compare([target("weee_85")], materials=("Li",))
    assert result.lines.empty
    assert "no product in its scope" in result.not_comparable.iloc[0]["reason"]
    assert "lithium" in result.not_comparable.iloc[0]["reason"]


def test_targets_of_other_rates_are_not_on_this_chart():
    result = compare([target("weee_85")], indicator="recovery_efficiency")
    assert result.lines.empty and result.not_comparable.empty


def test_converted_target_is_drawn_at_value_times_factor_and_says_so():
    result = compare([target("converted", basis="converted", value=0.65, factor=1.2)])
    assert result.lines.iloc[0]["value_share"] == pytest.approx(0.78)
    assert result.lines.iloc[0]["legal_value_share"] == pytest.approx(0.65)
    assert "converted x 1.2" in result.lines.iloc[0]["label"]
    missing = compare([target("converted", basis="converted", value=0.65)])
    assert missing.lines.empty and "no conversion factor" in missing.not_comparable.iloc[0]["reason"]


def test_a_target_after_the_last_modelled_year_and_unknown_products_are_listed():
    late = compare([target("late", year=2060)], last_year=2050)
    assert late.lines.empty and "after the last modelled year 2050" in late.not_comparable.iloc[0]["reason"]
    unknown = compare([target("odd", products="smartphone;toaster")])
    assert unknown.lines.empty and "toaster" in unknown.not_comparable.iloc[0]["reason"]


def test_a_targets_table_of_the_old_layout_draws_nothing():
    old = pd.DataFrame([target("weee_85")]).drop(columns=["definition", "denominator", "products", "basis",
                                                           "conversion_factor", "reason"])
    result = tr.compare_targets(old, "collection_rate", ("Co",), PAIRS, "Collection rate")
    assert result.lines.empty and result.not_comparable.iloc[0]["reason"] == tr.OLD_LAYOUT_REASON


def test_not_charted_lists_targets_of_indicators_without_a_chart():
    rows = [target("rc_co", indicator="recycled_content", products="ev_battery", materials="Co", value=0.16,
                   basis="not_comparable", reason="no battery-specific recycled content"),
            target("crma_extraction", indicator=None, basis="not_comparable", reason="not a city indicator"),
            target("weee_85")]
    listed = tr.not_charted(pd.DataFrame(rows), ["collection_rate", "recovery_efficiency"])
    assert list(listed["target_id"]) == ["rc_co", "crma_extraction"]
    assert list(listed["reason"]) == ["no battery-specific recycled content", "not a city indicator"]


# --- the rate over the products in a target's scope ---------------------------------------------------------

def _by_pair(collected, eol, secondary=None, new=None):
    """(s=1, t=1, p) arrays from lists per pair."""
    shape = lambda values: np.asarray(values, dtype=float).reshape(1, 1, -1)
    zeros = [0.0] * len(collected)
    return {"separately_collected": shape(collected), "end_of_life": shape(eol),
            "secondary_supply": shape(secondary or zeros), "new_products": shape(new or zeros)}


def test_rate_over_the_scope_pairs_is_hand_worked():
    by_pair = _by_pair(collected=[8, 2, 50], eol=[10, 10, 200])
    assert tr.rate_samples(by_pair, "collection_rate", (0, 1))[0, 0] == pytest.approx(10 / 20)
    assert tr.rate_samples(by_pair, "collection_rate", (0, 1, 2))[0, 0] == pytest.approx(60 / 220)
    weighted = tr.rate_samples(by_pair, "collection_rate", (0, 1), pair_weights=[1, 3, 1])
    assert weighted[0, 0] == pytest.approx((8 + 3 * 2) / (10 + 3 * 10))
    by_pair = _by_pair(collected=[10, 10], eol=[20, 20], secondary=[9, 1], new=[30, 10])
    assert tr.rate_samples(by_pair, "recovery_efficiency", (0,))[0, 0] == pytest.approx(0.9)
    assert tr.rate_samples(by_pair, "secondary_supply_share", (1,))[0, 0] == pytest.approx(0.1)
    assert tr.rate_samples(by_pair, "circular_material_use_rate", (0, 1))[0, 0] == pytest.approx(10 / 50)
    with pytest.raises(ValueError, match="No rate"):
        tr.rate_samples(by_pair, "portfolio_mci", (0,))


def test_scoped_bands_take_the_central_run_and_the_draws_range():
    draws = np.array([[[c, 99.0]] for c in range(1, 101)])  # 100 samples, one year, 2 pairs; pair 0 collected 1..100
    sim = SimpleNamespace(
        years=np.array([2030]),
        by_pair={"separately_collected": draws, "end_of_life": np.full((100, 1, 2), 100.0),
                 "secondary_supply": np.zeros((100, 1, 2)), "new_products": np.zeros((100, 1, 2))},
        central=SimpleNamespace(by_pair={"separately_collected": np.array([[[42.0, 99.0]]]), "end_of_life": np.full((1, 1, 2), 100.0),
                                         "secondary_supply": np.zeros((1, 1, 2)), "new_products": np.zeros((1, 1, 2))}))
    bands = tr.scoped_rate_bands(sim, "collection_rate", {"phones only": (0,)})
    row = bands.iloc[0]
    assert row["series"] == "phones only" and row["year"] == 2030
    assert row["central"] == pytest.approx(0.42)
    assert row["p05"] == pytest.approx(np.percentile(np.arange(1, 101) / 100, 5))
    assert row["p95"] == pytest.approx(np.percentile(np.arange(1, 101) / 100, 95))
    assert tr.scoped_rate_bands(sim, "collection_rate", {}).empty


# --- the chart -----------------------------------------------------------------------------------------------

def test_rate_chart_draws_the_scoped_rate_and_the_labelled_target_from_its_year():
    bands = pd.DataFrame({"year": [2020, 2030], "central": [0.3, 0.4], "p05": [0.2, 0.3], "p95": [0.4, 0.5]})
    scoped = pd.DataFrame({"series": ["Collection rate, Smartphone only"] * 2, "year": [2020, 2030],
                           "central": [0.5, 0.6], "p05": [0.4, 0.5], "p95": [0.6, 0.7]})
    lines = pd.DataFrame({"label": ["WEEE 85 %; compared with the collection rate of Smartphone only"],
                          "value_share": [0.85], "year": [2019]})
    spec = json.dumps(time_charts.rate_chart(bands, "Collection rate", lines, 2025, scoped).to_dict())
    assert "Collection rate, Smartphone only" in spec and "compared with the collection rate of Smartphone only" in spec
    assert '"start": 2020' in spec and '"value": 85.0' in spec  # a 2019 target starts at the chart's first year
    empty = json.dumps(time_charts.rate_chart(bands, "Collection rate", lines.iloc[0:0], 2025).to_dict())
    assert "85.0" not in empty


# --- the targets table -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def table():
    return ingestion.read_project_tables(PROJECT_DIR / "data", ("targets",))["targets"].set_index("target_id")


def test_every_target_states_its_definition_denominator_basis_and_reason(table):
    assert set(table["basis"]) <= set(tr.BASES)
    assert table["definition"].str.len().min() > 20 and table["denominator"].str.len().min() > 5
    assert table["reason"].str.len().min() > 10
    assert table["instrument"].str.contains(r"art\.|Annex|Decision|COM\(", regex=True).all()  # article and paragraph


def test_weee_lines_restricted_to_weee_products(table):
    assert table.at["weee_collection_generated_2019", "basis"] == "same"
    assert table.at["weee_collection_generated_2019", "value_share"] == pytest.approx(0.85)
    assert table.at["weee_collection_2019", "basis"] == "not_comparable"
    # Every product the data puts under WEEE (product_regimes.csv), and only those.
    for target_id in ("weee_collection_2019", "weee_collection_generated_2019"):
        assert set(tr.split_codes(table.at[target_id, "products"])) == products_under("WEEE")


def products_under(regime: str) -> set[str]:
    regimes = pd.read_csv(PROJECT_DIR / "data" / "product_regimes.csv", dtype=str, keep_default_na=False)
    return {product for product, listed in zip(regimes["product"], regimes["regimes"]) if regime in listed.split(";")}


def test_recycled_content_crma_and_cmu_are_not_comparable(table):
    for target_id in ("batt_rc_co_2031", "batt_rc_li_2031", "batt_rc_ni_2031", "crma_recycling_2030", "ceap_cmu_2030"):
        assert table.at[target_id, "basis"] == "not_comparable", target_id
    assert "recycled content" in table.at["batt_rc_co_2031", "reason"]
    assert "capacity" in table.at["crma_recycling_2030", "reason"]


def test_battery_recovery_targets_cover_battery_products_only(table):
    recovery = table[table["indicator"] == "recovery_efficiency"]
    assert len(recovery) == 6 and (recovery["basis"] == "same").all()
    for products in recovery["products"]:
        assert set(tr.split_codes(products)) <= products_under("Batteries Regulation")
    assert tr.split_codes(table.at["batt_cu_recovery_2027", "products"]) == ["ev_battery"]


def test_a_target_due_by_31_december_applies_from_the_next_year(table):
    due = table[table["note"].fillna("").str.startswith("by 31 December")]
    assert len(due) >= 10
    for target_id, row in due.iterrows():
        deadline = int(re.search(r"by 31 December (\d{4})", row["note"]).group(1))
        assert row["year"] == deadline + 1, target_id
    assert table.at["batt_li_recovery_2027", "year"] == 2028
    assert table.at["batt_portable_collection_2027", "year"] == 2028


def test_the_spec_rejects_an_unknown_basis(tmp_path: Path):
    frame = pd.DataFrame([target("x", basis="roughly")]).astype(str).replace("nan", "")
    report = validation_report.ValidationReport()
    table_checks.validate_table("targets", frame, report)
    assert any("column 'basis'" in p and "must be one of same, converted, not_comparable" in p for p in report.problems)
