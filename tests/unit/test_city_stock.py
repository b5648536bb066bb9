"""The city's own stock (decision_tools.city_stock): the register's count for a year, kg of material, the share of
the city's modelled stock and the units reaching end of use, worked by hand on small tables; the table's checks,
its upload kind and how an older database gets it."""

from __future__ import annotations

import math
import shutil

import duckdb
import pandas as pd
import pytest

from decision_tools import city_stock, ingestion, storage, upload_kinds
from decision_tools.validation_report import DataValidationError

REGISTER = pd.DataFrame([
    ("Town", "City of Town", "lamp", 2020, 100.0, "S1", "medium", "count"),
    ("Town", "City of Town", "lamp", 2025, 200.0, "S1", "medium", "count"),
    ("Town", "Town Energy Ltd", "lamp", 2023, 300.0, "S2", "low", "count"),
    ("Town", "City of Town", "phone", 2022, 50.0, "S3", "derived", "5 x 10"),
    ("Elsewhere", "City of Elsewhere", "lamp", 2020, 9999.0, "S4", "high", "not Town"),
], columns=["city", "owner", "product", "year", "units", "source_id", "confidence", "note"])
PRODUCTS = pd.DataFrame({"product": ["lamp", "phone"], "lifetime_mean_years": [10.0, 4.0]})
CONTENT = pd.DataFrame([("lamp", "Ga", 1950, 2.0), ("lamp", "Ga", 2024, 1.0), ("phone", "Co", 1950, 8.0)],
                       columns=["product", "material", "from_year", "grams_per_unit"])
MODELLED = {"lamp": 1000.0, "phone": 40.0}


def _row(stock, owner, product):
    units = stock.units
    return units[(units["owner"] == owner) & (units["product"] == product)].iloc[0]


def test_the_count_of_the_latest_year_at_or_before_the_year_is_used():
    # 2023: the city's lamps of 2020 (100), not those of 2025; the other city's rows never show.
    rows = city_stock.register_rows(REGISTER, "Town", 2023)
    assert set(rows["owner"]) == {"City of Town", "Town Energy Ltd"}
    lamps = rows[(rows["owner"] == "City of Town") & (rows["product"] == "lamp")].iloc[0]
    assert (lamps["units"], lamps["year_of_count"]) == (100.0, 2020)
    # 2030: the 2025 count; 2010, before any count: the first count held flat.
    later = city_stock.register_rows(REGISTER, "Town", 2030)
    assert later[(later["owner"] == "City of Town") & (later["product"] == "lamp")]["units"].item() == 200.0
    earlier = city_stock.register_rows(REGISTER, "Town", 2010)
    assert earlier[(earlier["owner"] == "City of Town") & (earlier["product"] == "lamp")]["units"].item() == 100.0


def test_a_hand_worked_municipal_stock():
    stock = city_stock.municipal_stock(REGISTER, "Town", 2023, PRODUCTS, CONTENT, MODELLED)
    lamps = _row(stock, "City of Town", "lamp")
    # 100 lamps of 1000 in the city: share 0.1; 100 / 10 years = 10 reach end of use a year.
    assert lamps["share_of_city_stock"] == pytest.approx(0.1)
    assert lamps["end_of_use_units_per_year"] == pytest.approx(10.0)
    assert not lamps["exceeds_model"]
    # Counted in 2020: the 2020 composition (2 g, not the 1 g of 2024 on): 100 x 2 g = 0.2 kg of Ga.
    ga = stock.with_material("Ga").set_index(["owner", "product"])["kg"]
    assert ga[("City of Town", "lamp")] == pytest.approx(0.2)
    # The company's 300 lamps counted in 2023: still the 2 g composition: 0.6 kg; share 0.3.
    assert ga[("Town Energy Ltd", "lamp")] == pytest.approx(0.6)
    assert _row(stock, "Town Energy Ltd", "lamp")["share_of_city_stock"] == pytest.approx(0.3)
    # A product without the material: 0 kg, not missing.
    assert ga[("City of Town", "phone")] == 0.0
    # 50 phones where the model holds 40: the share stops at 1 and says the model undercounts.
    phones = _row(stock, "City of Town", "phone")
    assert phones["share_of_city_stock"] == 1.0 and phones["exceeds_model"]
    assert phones["end_of_use_units_per_year"] == pytest.approx(12.5)
    assert stock.with_material("Co").set_index(["owner", "product"])["kg"][("City of Town", "phone")] == pytest.approx(0.4)
    # All owners together: (100 + 300) / 1000 lamps; phones capped at 1.
    assert city_stock.share_by_product(stock) == pytest.approx({"lamp": 0.4, "phone": 1.0})


def test_the_composition_follows_the_year_of_the_count():
    # 2030: the 2025 count of 200 lamps, made by 2025, at the 1 g composition of 2024 on: 0.2 kg.
    stock = city_stock.municipal_stock(REGISTER, "Town", 2030, PRODUCTS, CONTENT, MODELLED)
    assert stock.with_material("Ga").set_index(["owner", "product"])["kg"][("City of Town", "lamp")] == pytest.approx(0.2)
    assert _row(stock, "City of Town", "lamp")["share_of_city_stock"] == pytest.approx(0.2)


def test_a_city_without_a_register_has_no_rows_and_no_shares():
    stock = city_stock.municipal_stock(REGISTER, "Nowhere", 2030, PRODUCTS, CONTENT, MODELLED)
    assert stock.empty and stock.materials.empty
    assert city_stock.share_by_product(stock) == {}
    assert list(stock.with_material("Ga").columns) == [*city_stock.UNITS_COLUMNS, "kg"]


def test_a_product_the_model_holds_none_of_has_no_share():
    stock = city_stock.municipal_stock(REGISTER, "Town", 2023, PRODUCTS, CONTENT, {"lamp": 1000.0})
    assert math.isnan(_row(stock, "City of Town", "phone")["share_of_city_stock"])
    assert "phone" not in city_stock.share_by_product(stock)


def test_the_modelled_stock_is_ownership_times_the_driver():
    # 1000 inhabitants in 400 households; lamps 2 per household in 2020 and 4 in 2030 (3 in 2025: 1200 lamps);
    # phones 1 per inhabitant (1000).
    tables = {
        "cities": pd.DataFrame([("Town", "FIN", 1000, 400, "high", "S")],
                               columns=["city", "country_iso3", "population", "households", "confidence", "source_id"]),
        "districts": pd.DataFrame(columns=["city", "district", "population", "confidence", "source_id"]),
        "products": pd.DataFrame({"product": ["lamp", "phone"], "stock_driver": ["per_household", "per_inhabitant"]}),
        "ownership": pd.DataFrame([("EU", "lamp", 2020, 2.0, "low", "S"), ("EU", "lamp", 2030, 4.0, "low", "S"),
                                   ("FIN", "phone", 2020, 1.0, "low", "S")],
                                  columns=["geography", "product", "year", "units_per_driver", "confidence", "source_id"]),
    }
    assert city_stock.modelled_units_in_use(tables, "Town", 2025) == pytest.approx({"lamp": 1200.0, "phone": 1000.0})
    with pytest.raises(ValueError, match="Unknown city"):
        city_stock.modelled_units_in_use(tables, "Nowhere", 2025)


def test_the_project_register_is_read_and_shares_stay_within_0_and_1(small_data_dir):
    tables = ingestion.read_project_tables(small_data_dir)
    for city in tables["cities"]["city"]:
        stock = city_stock.city_stock_for(tables, city, 2030)
        shares = stock.units["share_of_city_stock"].dropna()
        assert ((shares >= 0) & (shares <= 1)).all()


def _write_register(folder, rows):
    frame = pd.DataFrame(rows, columns=["city", "owner", "product", "year", "units", "source_id", "confidence", "note"])
    frame.to_csv(folder / "city_owned_stock.csv", index=False)


def test_the_register_refuses_unknown_cities_and_products_and_negative_units(small_data_dir, tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(small_data_dir, folder)
    _write_register(folder, [
        ("Atlantis", "City of Atlantis", "smartphone", 2023, 10, "PROJECT_ASSUMPTION", "illustrative", ""),
        ("Ghent", "City of Ghent", "flux_capacitor", 2023, 10, "PROJECT_ASSUMPTION", "illustrative", ""),
    ])
    with pytest.raises(DataValidationError) as refused:
        ingestion.read_project_tables(folder)
    text = str(refused.value)
    assert "Atlantis" in text and "unknown city" in text
    assert "flux_capacitor" in text and "unknown product" in text
    _write_register(folder, [("Ghent", "City of Ghent", "smartphone", 2023, -5, "PROJECT_ASSUMPTION", "illustrative", "")])
    with pytest.raises(DataValidationError, match="units"):
        ingestion.read_project_tables(folder)
    _write_register(folder, [])  # no rows at all: a dataset without registers is valid
    assert ingestion.read_project_tables(folder)["city_owned_stock"].empty


def test_the_upload_kind_takes_its_template_and_dictionary_from_the_table():
    kind = upload_kinds.UPLOAD_KINDS["city_owned_stock"]
    assert (kind.table, kind.scope) == ("city_owned_stock", ("city", "owner", "product"))
    columns = upload_kinds.template_columns("city_owned_stock")
    assert columns == ["city", "owner", "product", "year", "units", "source_id", "confidence", "note"]
    assert upload_kinds.template("city_owned_stock").decode().strip() == ",".join(columns)
    dictionary = upload_kinds.data_dictionary("city_owned_stock").set_index("column")
    assert "at least 0" in dictionary.at["units", "rule"]
    assert dictionary.at["note", "required"] == "no"


def test_an_older_database_gets_the_register_when_opened_read_write(small_db, tmp_path):
    old = tmp_path / "old.duckdb"
    old.write_bytes(small_db.read_bytes())
    con = duckdb.connect(str(old))
    con.execute("DROP TABLE city_owned_stock")
    con.close()
    with pytest.raises(storage.DatabaseOutdatedError, match="lacks city_owned_stock"):
        storage.Store.open(old)
    with storage.Store.open(old, read_only=False) as store:
        register = store.table("city_owned_stock", 1)
    assert list(register.columns) == upload_kinds.template_columns("city_owned_stock")


@pytest.fixture(scope="module")
def register_db(tmp_path_factory, small_data_dir):
    """The small data with a register for Ghent: 1,000 PV modules of the city (none for Delft)."""
    folder = tmp_path_factory.mktemp("register_data")
    shutil.copytree(small_data_dir, folder, dirs_exist_ok=True)
    _write_register(folder, [("Ghent", "City of Ghent (test)", "pv_module", 2020, 1000, "PROJECT_ASSUMPTION",
                              "illustrative", "test")])
    db = tmp_path_factory.mktemp("register_db") / "register.duckdb"
    storage.build_database(db, folder)
    return db


def test_the_cli_prints_the_register_and_its_material(register_db, capsys):
    import json

    from decision_tools.cli import main

    assert main(["city-stock", "--db", str(register_db), "--city", "ghent", "--year", "2030", "--material", "Ag"]) == 0
    out = capsys.readouterr().out
    assert "What Ghent and its companies own, 2030" in out and "City of Ghent (test)" in out and "Ag" in out
    assert main(["city-stock", "--db", str(register_db), "--city", "Ghent", "--year", "2030", "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    (row,) = payload["stock"]
    assert (row["owner"], row["units"], row["year_of_count"]) == ("City of Ghent (test)", 1000.0, 2020)
    assert 0 < row["share_of_city_stock"] < 1
    assert {m["material"] for m in payload["materials_kg"]} >= {"Ag"}
    # A city without a register: a sentence saying how to add one, exit 0.
    assert main(["city-stock", "--db", str(register_db), "--city", "Delft", "--year", "2030"]) == 0
    assert "No asset register for Delft" in capsys.readouterr().out
    assert main(["city-stock", "--db", str(register_db), "--city", "Paris", "--year", "2030"]) == 2


def test_an_asset_register_uploads_and_unknown_cities_are_refused(current):
    from decision_tools import uploads

    good = ("city,owner,product,year,units,source_id,confidence,note\n"
            "Delft,City of Delft,pv_module,2024,500,PROJECT_ASSUMPTION,illustrative,test\n")
    check = uploads.check_upload("city_owned_stock", good.encode(), "register.csv", current)
    assert check.report.ok, check.report.problems
    register = check.tables["city_owned_stock"]
    assert ((register["city"] == "Delft") & (register["units"] == 500)).any()
    assert check.affected_cities == []  # the city model's numbers do not change
    bad = good.replace("Delft,City of Delft", "Atlantis,City of Atlantis")
    refused = uploads.check_upload("city_owned_stock", bad.encode(), "register.csv", current)
    assert not refused.report.ok and any("Atlantis" in p for p in refused.report.problems)
