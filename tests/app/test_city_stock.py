"""Overview page, "What the city itself owns": the city's asset register apart from the households' stock, with
the kg of the chosen material, the share of the city's stock and a download; a sentence for a city without one."""

import pandas as pd
import pytest

from decision_tools import storage
from tests.app.conftest import app_on_copy, database_with_register

REGISTER = [
    ("Ghent", "City of Ghent (test register)", "pv_module", 2020, 1000.0, "PROJECT_ASSUMPTION", "illustrative", "test"),
    ("Ghent", "Ghent Test Transport", "ev_battery", 2020, 50.0, "PROJECT_ASSUMPTION", "illustrative", "test"),
]


@pytest.fixture(scope="module")
def register_db(tmp_path_factory):
    """The small data with a register for Ghent (none for Delft)."""
    return database_with_register(tmp_path_factory, REGISTER)


@pytest.fixture()
def register_app(register_db, monkeypatch, tmp_path):
    return app_on_copy(register_db, monkeypatch, tmp_path)


def _section_table(at) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "Owner" in d.value.columns)


def test_the_overview_shows_what_the_city_itself_owns(register_app, register_db):
    at = register_app(city="Ghent", year="2030", material="Ag").run()
    assert not at.exception
    assert "What the city itself owns" in [h.value for h in at.subheader]
    table = _section_table(at)
    assert set(table["Owner"]) == {"City of Ghent (test register)", "Ghent Test Transport"}
    assert "Share of the city's stock (%)" in table.columns and "Counted in" in table.columns
    silver = next(c for c in table.columns if c.startswith("Silver"))
    pv = table.set_index("Owner").loc["City of Ghent (test register)"]
    assert pv[silver] not in ("0", "—")  # PV modules hold silver; the EV packs none
    keys = [b.key for b in at.get("download_button")]
    assert "dl_city_stock_csv" in keys and "dl_city_stock_xlsx" in keys
    # The share is the register over the city's modelled stock, as decision_tools.city_stock computes it.
    from decision_tools import city_stock

    with storage.Store.open(register_db) as store:
        expected = city_stock.city_stock_for(store.input_tables(1), "Ghent", 2030)
    share = expected.units.set_index("owner").at["City of Ghent (test register)", "share_of_city_stock"]
    assert 0 < share < 1
    assert pv["Share of the city's stock (%)"] == f"{share * 100:,.1f}"


def test_a_city_without_a_register_says_how_to_add_one(register_app):
    at = register_app(city="Delft", year="2030", material="Ag").run()
    assert not at.exception
    notices = " ".join(i.value for i in at.info)
    assert "No asset register uploaded for Delft: upload one on the Data page (kind city_owned_stock)." in notices
    assert not any("Owner" in d.value.columns for d in at.dataframe)
