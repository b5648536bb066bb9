"""The product groups added for issue 17 (e-bike battery and motor, heat pump, tablet, flat-panel TV): they are in
the built database's model run, hold stock wherever their ownership reaches, cite listed sources, and balance."""

from __future__ import annotations

import pandas as pd
import pytest

from decision_tools.cli.db_commands import MAX_RELATIVE_RESIDUAL
from decision_tools.ingestion import read_project_tables
from decision_tools.model import run_city_model
from decision_tools.provenance import split_sources
from tests.conftest import PROJECT_DIR, write_small_data

NEW_PRODUCTS = ("ebike_battery", "ebike_motor", "heat_pump", "tablet", "flat_panel_tv")
LABELS = {"high", "medium", "low", "derived", "illustrative"}
# One city per country of the project data: every country has its own ownership rows for the new products.
ONE_CITY_PER_COUNTRY = ("Helsinki", "Ghent", "Delft", "Krakow")


@pytest.fixture(scope="module")
def project_tables():
    """The project's own tables (read-only)."""
    return read_project_tables(PROJECT_DIR / "data")


@pytest.fixture(scope="module")
def four_country_run(tmp_path_factory):
    """The model run of one city in each of the four countries, with the tables it ran on."""
    tables = read_project_tables(write_small_data(tmp_path_factory.mktemp("four"), ONE_CITY_PER_COUNTRY))
    return tables, run_city_model(tables)


def test_new_products_are_in_the_built_databases_model_run(store):
    balance = store.mass_balance()
    assert set(NEW_PRODUCTS) <= set(balance["product"])


def test_mass_balance_closes_for_the_new_products(store):
    balance = store.mass_balance()
    mine = balance[balance["product"].isin(NEW_PRODUCTS)]
    assert not mine.empty
    assert (mine["relative_residual"] <= MAX_RELATIVE_RESIDUAL).all()


@pytest.mark.parametrize("product", NEW_PRODUCTS)
def test_stock_is_positive_in_every_country_with_ownership(four_country_run, product):
    _, result = four_country_run
    in_use = result.stocks[(result.stocks["product"] == product) & (result.stocks["process"] == "use")
                           & (result.stocks["year"] == 2024)]
    by_city = in_use.groupby("city")["kg"].sum()
    for city in ONE_CITY_PER_COUNTRY:
        assert by_city.get(city, 0.0) > 0.0, f"{product} has no stock in {city}"


def test_heat_pump_stock_is_ownership_times_households_times_content(four_country_run):
    # Helsinki 2024: Finland's 0.512 heat pumps per household (EHPA, end 2023, held flat after) x the city's
    # households x 12.7 g Nd per heat pump (one content row: every vintage holds the same).
    tables, result = four_country_run
    ownership = tables["ownership"]
    finland = ownership[(ownership["product"] == "heat_pump") & (ownership["geography"] == "FIN")].sort_values("year")
    assert int(finland["year"].iloc[-1]) <= 2024  # the last anchor, held flat to 2024
    per_household = float(finland["units_per_driver"].iloc[-1])
    households = float(tables["cities"].set_index("city").at["Helsinki", "households"])
    content = tables["product_content"]
    grams = float(content[(content["product"] == "heat_pump") & (content["material"] == "Nd")]["grams_per_unit"].item())
    stocks = result.stocks
    nd = stocks[(stocks["city"] == "Helsinki") & (stocks["product"] == "heat_pump") & (stocks["material"] == "Nd")
                & (stocks["process"] == "use") & (stocks["year"] == 2024)]["kg"].sum()
    assert nd == pytest.approx(households * per_household * grams / 1000, rel=1e-6)


def test_every_city_has_ownership_for_the_new_products(project_tables):
    # The model needs a figure in each city's chain (the city, its country, the EU); without one it fails.
    ownership = project_tables["ownership"]
    for city in project_tables["cities"].itertuples(index=False):
        for product in NEW_PRODUCTS:
            mine = ownership[(ownership["product"] == product)
                             & ownership["geography"].isin([city.city, city.country_iso3, "EU"])]
            assert not mine.empty, f"{product} has no ownership figure for {city.city}"


@pytest.mark.parametrize("table", ["product_content", "ownership", "recovery_yields", "eol_routing", "products"])
def test_rows_of_the_new_products_cite_listed_sources_and_a_confidence(project_tables, table):
    known = set(project_tables["sources"]["source_id"])
    rows = project_tables[table][project_tables[table]["product"].isin(NEW_PRODUCTS)]
    assert set(rows["product"]) == set(NEW_PRODUCTS)
    for row in rows.itertuples(index=False):
        cited = split_sources(row.source_id)
        assert cited, f"{table}: a {row.product} row cites no source"
        assert set(cited) <= known, f"{table}: {row.product} cites unlisted {set(cited) - known}"
        assert row.confidence in LABELS


def test_every_content_row_has_a_recovery_yield(project_tables):
    content = project_tables["product_content"]
    yields = project_tables["recovery_yields"]
    mine = content[content["product"].isin(NEW_PRODUCTS)]
    pairs = set(zip(yields["product"], yields["material"]))
    assert set(zip(mine["product"], mine["material"])) <= pairs


def test_new_products_carry_only_tracked_materials(project_tables):
    content = project_tables["product_content"]
    tracked = set(project_tables["materials"]["symbol"])
    assert set(content[content["product"].isin(NEW_PRODUCTS)]["material"]) <= tracked


def test_each_new_product_states_its_waste_regime():
    regimes = pd.read_csv(PROJECT_DIR / "data" / "product_regimes.csv", dtype=str, keep_default_na=False)
    stated = regimes.set_index("product")
    assert set(NEW_PRODUCTS) <= set(stated.index)
    assert stated.at["ebike_battery", "regimes"] == "Batteries Regulation"
    assert stated.at["heat_pump", "weee_category"] == "1"


def test_tablet_stock_is_ownership_times_households_times_content(four_country_run):
    # Krakow 2024: Poland's 0.354 tablets per household (GUS, 2022, held flat after) x the city's households
    # x 33.2 g Co per tablet (one content row: every vintage holds the same).
    tables, result = four_country_run
    ownership = tables["ownership"]
    poland = ownership[(ownership["product"] == "tablet") & (ownership["geography"] == "POL")].sort_values("year")
    assert int(poland["year"].iloc[-1]) <= 2024
    per_household = float(poland["units_per_driver"].iloc[-1])
    households = float(tables["cities"].set_index("city").at["Krakow", "households"])
    content = tables["product_content"]
    grams = float(content[(content["product"] == "tablet") & (content["material"] == "Co")]["grams_per_unit"].item())
    stocks = result.stocks
    co = stocks[(stocks["city"] == "Krakow") & (stocks["product"] == "tablet") & (stocks["material"] == "Co")
                & (stocks["process"] == "use") & (stocks["year"] == 2024)]["kg"].sum()
    assert co == pytest.approx(households * per_household * grams / 1000, rel=1e-6)


def test_tablet_cobalt_and_lithium_follow_their_stated_arithmetic(project_tables):
    # 28.6 Wh (iPad 10th generation) / (0.140 Ah per g x 3.7 V = 0.518 Wh per g of LiCoO2) = 55.2 g LiCoO2;
    # Co 58.93 / 97.87 of it = 33.2 g, Li 6.94 / 97.87 of it = 3.9 g.
    content = project_tables["product_content"]
    tablet = content[content["product"] == "tablet"].set_index("material")["grams_per_unit"].astype(float)
    licoo2_g = 28.6 / (0.140 * 3.7)
    assert tablet["Co"] == pytest.approx(licoo2_g * 58.93 / 97.87, abs=0.05)
    assert tablet["Li"] == pytest.approx(licoo2_g * 6.94 / 97.87, abs=0.05)


def test_tablet_is_in_the_weee_and_portable_battery_targets(project_tables):
    targets = pd.read_csv(PROJECT_DIR / "data" / "targets.csv", dtype=str, keep_default_na=False).set_index("target_id")
    for target_id in ("weee_collection_2019", "weee_collection_generated_2019", "batt_portable_collection_2023",
                      "batt_li_recovery_2027", "batt_co_ni_recovery_2031"):
        assert "tablet" in targets.at[target_id, "products"].split(";"), target_id
    regimes = pd.read_csv(PROJECT_DIR / "data" / "product_regimes.csv", dtype=str, keep_default_na=False)
    stated = regimes.set_index("product")
    assert stated.at["tablet", "weee_category"] == "2"
    assert "Batteries Regulation" in stated.at["tablet", "regimes"].split(";")


def test_flat_panel_tv_phosphor_follows_the_ccfl_share_by_production_year(project_tables):
    # Oeko-Institut 2012, Table 5: 15 tubes x 4 g x 2.1 % phosphor x 8.72 % Y = 0.110 g Y per CCFL-lit TV;
    # TVs made in 2012 were 29 % CCFL-lit (IHS), those made from 2014 none.
    content = project_tables["product_content"]
    tv_y = content[(content["product"] == "flat_panel_tv") & (content["material"] == "Y")]
    by_year = tv_y.set_index("from_year")["grams_per_unit"].astype(float)
    full = 15 * 4 * 0.021 * 0.0872
    assert by_year[1950] == pytest.approx(full, abs=0.0005)
    assert by_year[2012] == pytest.approx(full * 0.29, abs=0.0005)
    assert by_year[2014] == 0.0
    assert list(by_year.sort_index()) == sorted(by_year, reverse=True)  # never rises with the production year


def test_tv_units_made_in_different_years_keep_their_own_phosphor(four_country_run):
    # A TV made in 2008 holds 0.110 g Y, one made in 2015 none: the Y per TV in use falls as old sets retire.
    _, result = four_country_run
    stocks = result.stocks
    y_use = stocks[(stocks["city"] == "Delft") & (stocks["product"] == "flat_panel_tv") & (stocks["material"] == "Y")
                   & (stocks["process"] == "use")].groupby("year")["kg"].sum()
    assert y_use.loc[2012] > 0.0
    assert y_use.loc[2040] < y_use.loc[2012]
