"""The procurement clause builder (decision_tools.procurement): clauses turned into lever levels by the city's own
share of the category, combined by the largest level on one lever, clipped to the lever's range, with their cost;
worked by hand on small tables; and the clause table's checks."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from decision_tools import ingestion, procurement
from decision_tools.levers import Lever, check_settings
from decision_tools.validation_report import DataValidationError


def _lever(lever_id, products, maximum, cost_at_max=1.0, default=0.0, minimum=0.0):
    return Lever(lever_id, lever_id.replace("_", " ").title(), "test", "collection_rate", products, None, "share points",
                 minimum, default, maximum, 0.05, "direct", "the city", 2026, 2, cost_at_max, "illustrative", "S", "illustrative")


LEVERS = {
    "take_back": _lever("take_back", ("laptop", "smartphone"), 0.8, cost_at_max=0.5),
    "repair": _lever("repair", ("laptop",), 0.5, cost_at_max=2.0),
    "recycled": _lever("recycled", None, 0.1),
}
CLAUSES = pd.DataFrame([
    ("tb_contract", "Take-back in the contract", "laptop;smartphone", "take_back", 0.8),
    ("tb_wiping", "Take-back with data wiping", "laptop", "take_back", 0.6),
    ("spare_parts", "Spare parts", "laptop", "repair", 0.5),
    ("too_much", "Beyond the range", "laptop", "repair", 0.9),
    ("recycled", "Recycled content", "laptop;pv_module", "recycled", 0.1),
    ("ghost", "A lever not in the data", "laptop", "no_such_lever", 0.2),
], columns=["clause_id", "name", "purchase_categories", "lever_id", "lever_level"])
SHARES = {"laptop": 0.25, "pv_module": 0.01}


def test_a_clause_is_its_level_times_the_citys_share():
    # The city owns a quarter of the city's laptops: 0.8 at full coverage -> 0.8 x 0.25 = 0.2.
    assert procurement.clause_settings(CLAUSES, ["tb_contract"], "laptop", SHARES, LEVERS) == pytest.approx({"take_back": 0.2})
    # Two levers at once: take-back 0.2 and spare parts 0.5 x 0.25 = 0.125.
    settings = procurement.clause_settings(CLAUSES, ["tb_contract", "spare_parts"], "laptop", SHARES, LEVERS)
    assert settings == pytest.approx({"take_back": 0.2, "repair": 0.125})
    assert check_settings(LEVERS, settings) == settings  # what save_scenario and engine.run accept


def test_clauses_on_one_lever_combine_by_their_largest_level():
    # 0.8 x 0.25 = 0.2 and 0.6 x 0.25 = 0.15 on the same lever: 0.2, not 0.35.
    translation = procurement.translate(CLAUSES, ["tb_wiping", "tb_contract"], "laptop", SHARES, LEVERS)
    assert translation.settings == pytest.approx({"take_back": 0.2})
    table = translation.table.set_index("clause_id")
    assert table.at["tb_wiping", "level_from_clause"] == pytest.approx(0.15)
    assert table.at["tb_wiping", "level"] == pytest.approx(0.2)
    assert "higher level applies" in table.at["tb_wiping", "why"]
    assert table.at["tb_contract", "city_share"] == pytest.approx(0.25)


def test_levels_are_clipped_to_the_levers_range():
    # 0.9 at full coverage and a city owning every laptop: 0.9 is above the lever's 0.5, so 0.5, and a note says so.
    translation = procurement.translate(CLAUSES, ["too_much"], "laptop", {"laptop": 1.0}, LEVERS)
    assert translation.settings == {"repair": 0.5}
    assert any("outside its range 0 to 0.5" in note for note in translation.notes)
    # A share above 1 (a register counting more than the model) counts as 1.
    assert procurement.clause_settings(CLAUSES, ["tb_contract"], "laptop", {"laptop": 3.0}, LEVERS) == {"take_back": 0.8}


def test_a_city_owning_none_of_the_category_changes_nothing_and_says_so():
    translation = procurement.translate(CLAUSES, ["tb_contract"], "smartphone", SHARES, LEVERS)
    assert translation.settings == {}
    assert "owns none" in translation.table.at[0, "why"]
    assert any("owns none of 'smartphone'" in note for note in translation.notes)


def test_a_lever_acting_on_other_products_says_the_level_is_an_approximation():
    why = procurement.translate(CLAUSES, ["recycled"], "pv_module", SHARES, LEVERS).table.at[0, "why"]
    assert "0.1 when the clause covers all the city's own units" in why and "1.00 %" in why
    assert "every product" in why and "approximation" in why
    # A lever acting on the category alone has no such caveat.
    assert "approximation" not in procurement.translate(CLAUSES, ["spare_parts"], "laptop", SHARES, LEVERS).table.at[0, "why"]


def test_unknown_or_foreign_clauses_are_refused_in_a_sentence():
    with pytest.raises(ValueError, match="Unknown clause 'nope'; choose one of: tb_contract"):
        procurement.clause_settings(CLAUSES, ["nope"], "laptop", SHARES, LEVERS)
    with pytest.raises(ValueError, match="written for laptop, not for 'pv_module'"):
        procurement.clause_settings(CLAUSES, ["spare_parts"], "pv_module", SHARES, LEVERS)
    with pytest.raises(ValueError, match="does not have"):
        procurement.clause_settings(CLAUSES, ["ghost"], "laptop", SHARES, LEVERS)


def test_the_cost_follows_the_levers_cost_model():
    # take_back 0.2 of 0.8 at 0.5 EUR per inhabitant at max: 0.5 x 1000 x 0.2 / 0.8 = 125 EUR; repair 0.125 of 0.5 at
    # 2 EUR: 2 x 1000 x 0.25 = 500 EUR; together 625 EUR per year for 1000 inhabitants.
    # The page reads it from the scenario run (ScenarioEngine.cost: the same sum over the levers' cost model).
    def cost(settings):
        return sum(LEVERS[k].cost_eur_per_year(v, 1000) for k, v in settings.items())

    settings = {"take_back": 0.2, "repair": 0.125}
    assert cost(settings) == pytest.approx(625.0)
    assert cost({}) == 0.0


def test_clauses_for_a_category_and_the_saved_note():
    assert list(procurement.clauses_for_category(CLAUSES, "pv_module")["clause_id"]) == ["recycled"]
    note = procurement.scenario_note(CLAUSES, ["tb_contract", "spare_parts"], "Laptop")
    assert note == "Procurement clauses for Laptop: Take-back in the contract; Spare parts"
    assert len(procurement.scenario_note(CLAUSES, ["tb_contract"] * 1, "x" * 400)) == 300


def test_the_project_clauses_name_known_levers_and_products(small_data_dir):
    tables = ingestion.read_project_tables(small_data_dir)
    clauses = tables["procurement_clauses"]
    assert set(clauses["lever_id"]) <= set(tables["levers"]["lever_id"])
    assert not clauses.empty and set(clauses["confidence"]) <= {"illustrative", "low", "medium", "high", "derived"}


def test_the_clause_table_refuses_unknown_levers_products_and_levels_out_of_range(small_data_dir, tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(small_data_dir, folder)
    clauses = pd.read_csv(folder / "procurement_clauses.csv", dtype=str, keep_default_na=False)
    clauses.loc[0, "lever_id"] = "no_such_lever"
    clauses.loc[1, "purchase_categories"] = "laptop;flux_capacitor"
    clauses.loc[2, "lever_level"] = "0.95"  # weee_collection reaches 0.4 at most
    clauses.loc[3, "purchase_categories"] = "ev_traction_motor;catalytic_converter"  # magnet_dismantling: no converters
    clauses.to_csv(folder / "procurement_clauses.csv", index=False)
    with pytest.raises(DataValidationError) as refused:
        ingestion.read_project_tables(folder)
    text = str(refused.value)
    assert "no_such_lever" in text and "unknown lever" in text
    assert "flux_capacitor" in text
    assert "must lie within the range of the lever weee_collection" in text
    assert "catalytic_converter" in text and "the lever magnet_dismantling does not act on these products" in text
