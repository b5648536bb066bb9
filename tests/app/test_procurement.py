"""Policy page, "Procurement clauses": the section renders for what the city owns, a chosen clause changes the
settings table, the URL restores the choice, a bad value in the URL gives a notice, and the clauses save as a
scenario that "Saved scenarios side by side" lists."""

import pandas as pd
import pytest

from decision_tools import city_stock, procurement, scenarios, storage
from tests.app.conftest import app_on_copy, database_with_register
from tests.app.conftest import open_page as open_app_page

REGISTER = [
    ("Ghent", "City of Ghent (test register)", "pv_module", 2020, 20000.0, "PROJECT_ASSUMPTION", "illustrative", "test"),
    ("Ghent", "Ghent Test Transport", "ev_battery", 2020, 50.0, "PROJECT_ASSUMPTION", "illustrative", "test"),
]
PV = "PV module (400 W)"
SILVER = "Module recycling with silver recovery"
TAKE_BACK = "Take-back at end of use (modules and lamps)"


@pytest.fixture(scope="module")
def register_db(tmp_path_factory):
    return database_with_register(tmp_path_factory, REGISTER)


@pytest.fixture()
def app(register_db, monkeypatch, tmp_path):
    return app_on_copy(register_db, monkeypatch, tmp_path)


def open_page(app, user=None, **params):
    return open_app_page(app, "pages/policy.py", user, **params)


def _settings_table(at) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "Why" in d.value.columns)


def _expected(register_db, clause_ids):
    with storage.Store.open(register_db) as store:
        tables = store.input_tables(1)
    shares = city_stock.share_by_product(city_stock.city_stock_for(tables, "Ghent", 2035))
    engine = scenarios.ScenarioEngine(tables, "Ghent", ["Ag"])
    return procurement.translate(tables["procurement_clauses"], clause_ids, "pv_module", shares, engine.levers), engine


def test_the_section_renders_for_what_the_city_owns(app):
    at = open_page(app, city="Ghent", year="2035", material="Ag")
    assert not at.exception
    assert "Procurement clauses" in [h.value for h in at.subheader]
    assert set(at.selectbox(key="proc_category").options) == {PV, "EV traction battery (60 kWh)"}
    assert SILVER in at.multiselect(key="proc_clauses").options
    assert not any("Why" in d.value.columns for d in at.dataframe)  # no clause chosen yet


def test_a_chosen_clause_sets_its_lever_and_the_url_restores_it(app, register_db):
    at = open_page(app, city="Ghent", year="2035", material="Ag", proc_category=PV, proc_clauses=SILVER)
    assert not at.exception
    assert at.selectbox(key="proc_category").value == PV
    assert at.multiselect(key="proc_clauses").value == [SILVER]
    expected, engine = _expected(register_db, ["pv_silver_recovery"])
    (level,) = expected.settings.values()
    assert 0 < level < 0.6  # 0.6 at full coverage, times the city's share of the modules
    table = _settings_table(at)
    assert list(table["Lever"]) == [engine.levers["pv_recycling"].name]
    assert table["Lever set to"].iloc[0] != "0"
    # The indicators against the baseline: silver recovered rises with the clause.
    run = engine.run(expected.settings)
    assert engine.indicators(run, 2035)["secondary_supply_kg"] > engine.indicators(engine.baseline, 2035)["secondary_supply_kg"]
    shown = next(d.value for d in at.dataframe if "with the clauses (shown)" in d.value.columns)
    row = shown.set_index("indicator").loc[scenarios.indicator_label("secondary_supply_kg")]
    assert row["baseline (shown)"] != row["with the clauses (shown)"]
    keys = [b.key for b in at.get("download_button")]
    assert {"dl_clause_settings_csv", "dl_clause_indicators_csv", "dl_clauses_csv"} <= set(keys)


def test_another_clause_changes_the_settings_table(app):
    one = _settings_table(open_page(app, city="Ghent", year="2035", material="Ag", proc_category=PV, proc_clauses=SILVER))
    at = open_page(app, city="Ghent", year="2035", material="Ag", proc_category=PV, proc_clauses=[SILVER, TAKE_BACK])
    assert not at.exception
    two = _settings_table(at)
    assert len(two) == 2 and len(one) == 1
    assert set(two["Clause"]) == {SILVER, TAKE_BACK}


def test_bad_values_in_the_url_fall_back_with_a_notice(app):
    at = open_page(app, city="Ghent", year="2035", material="Ag", proc_category="<b>Unobtainium</b>",
                   proc_clauses=[SILVER, "no_such_clause"])
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "purchase category" in warnings and "<b>" not in warnings
    assert "'no\\_such\\_clause'" in warnings and "left out" in warnings  # escaped for Markdown
    assert at.selectbox(key="proc_category").value in at.selectbox(key="proc_category").options
    # The widgets drop the bad values from the link; the notice stays on the next run, until a clause is picked.
    at.run()
    assert "left out" in " ".join(w.value for w in at.warning)
    at.multiselect(key="proc_clauses").set_value([TAKE_BACK]).run()
    assert not at.exception
    assert not [w for w in at.warning if "left out" in w.value or "purchase category" in w.value]


def test_the_clauses_save_as_a_scenario_listed_for_comparison(app, register_db):
    at = open_page(app, "pat", city="Ghent", year="2035", material="Ag", proc_category=PV, proc_clauses=SILVER)
    name_input = next(t for t in at.main.text_input if t.label == "Scenario name")
    name_input.input("Silver clause")
    next(b for b in at.main.button if b.label == "Save as a scenario").click().run()
    assert not at.exception
    assert any("Saved “Silver clause”" in s.value and SILVER in s.value for s in at.success)
    assert "Silver clause" in at.multiselect(key="compare").options
    import os

    with storage.Store.open(os.environ[storage.DB_ENV_VAR], read_only=False) as store:  # as the app holds it
        saved = store.saved_scenarios().set_index("name").loc["Silver clause"]
    expected, _ = _expected(register_db, ["pv_silver_recovery"])
    assert saved["settings"] == pytest.approx(expected.settings)
    assert saved["note"] == f"Procurement clauses for {PV}: {SILVER}"


def test_a_city_without_a_register_says_so(app):
    at = open_page(app, city="Delft", year="2035", material="Ag")
    assert not at.exception
    assert any("No asset register uploaded for Delft" in i.value for i in at.info)
