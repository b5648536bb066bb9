"""The comparison with published figures: verdict rule, ratios, like-for-like scope, and every row compared."""

import math

import pandas as pd
import pytest

from decision_tools import validation
from decision_tools.validation import CONSISTENT, NO_MODEL_VALUE, OFF
from tests.conftest import PROJECT_DIR


@pytest.mark.parametrize("ratio, expected", [
    (1.0, CONSISTENT), (0.5, CONSISTENT), (2.0, CONSISTENT), (0.49, OFF), (2.01, OFF), (0.01, OFF),
    (math.nan, NO_MODEL_VALUE), (math.inf, NO_MODEL_VALUE), (None, NO_MODEL_VALUE),
])
def test_verdict_rule_is_a_factor_two_either_way(ratio, expected):
    assert validation.verdict(ratio) == expected


def _figures(*rows) -> pd.DataFrame:
    columns = ["figure_id", "description", "geography", "year", "value", "unit", "model_quantity", "scope",
               "scope_note", "note", "source_id", "confidence"]
    return pd.DataFrame([dict(zip(columns, row)) for row in rows], columns=columns)


def test_compare_gives_ratio_verdict_scope_and_why_a_value_is_missing():
    figures = _figures(
        ("a", "A", "EU", 2022, 20.0, "kg per inhabitant per year", "q", "part", "5 products of all EEE", "scope note", "S1", "medium"),
        ("b", "B", "FIN", 2022, 0.4, "share 0..1", "q", "same", "same thing", "", "S2", "low"),
        ("c", "C", "POL", 2022, 0.5, "share 0..1", "q", "same", "same thing", None, "S3", "low"),
    )
    table = validation.compare(figures, {"a": 5.0, "b": 0.5}, {"a": "how a"}, {"c": "No modelled city lies in POL"})
    assert list(table["figure_id"]) == ["a", "b", "c"]
    a, b, c = (table.iloc[i] for i in range(3))
    assert a["ratio"] == pytest.approx(0.25) and a["verdict"] == OFF
    assert a["scope"].startswith("model covers part of it") and a["model value is"] == "how a"
    assert b["ratio"] == pytest.approx(1.25) and b["verdict"] == CONSISTENT and b["scope"].startswith("same scope")
    assert math.isnan(c["model value"]) and c["verdict"] == NO_MODEL_VALUE
    assert c["note"].startswith("No modelled city lies in POL")


def test_cities_for_each_kind_of_geography():
    country = {"Helsinki": "FIN", "Espoo": "FIN", "Ghent": "BEL"}
    assert validation.cities_for("EU", country) == ["Espoo", "Ghent", "Helsinki"]
    assert validation.cities_for("EU27+4", country) == ["Espoo", "Ghent", "Helsinki"]
    assert validation.cities_for("Europe", country) == ["Espoo", "Ghent", "Helsinki"]
    assert validation.cities_for("FIN", country) == ["Espoo", "Helsinki"]
    assert validation.cities_for("Ghent", country) == ["Ghent"]
    assert validation.cities_for("POL", country) == []


class FakeStore:
    """A store over hand-made tables: one city of 1000 inhabitants, a phone, an EV battery and a converter."""

    def __init__(self):
        # metric, city, product, material, kg (one year)
        self.rows = pd.DataFrame([
            ("end_of_life", "Town", "smartphone", "Co", 5.0),     # 5 kg / 10 g = 500 phones
            ("end_of_life", "Town", "smartphone", "Nd", 0.05),    # 0.05 kg / 0.1 g = the same 500 phones
            ("separately_collected", "Town", "smartphone", "Co", 2.0),  # 200 phones
            ("separately_collected", "Town", "smartphone", "Nd", 0.02),
            ("end_of_life", "Town", "ev_battery", "Co", 40.0),    # a vehicle part: not EEE
            ("in_use_stock", "Town", "ev_battery", "Co", 80.0),   # 80 kg / 4000 g = 20 packs
            ("in_use_stock", "Town", "catalytic_converter", "Pt", 0.6),  # 0.6 kg / 1.5 g = 400 converters
            ("in_use_stock", "Town", "smartphone", "Nd", 0.12),   # 1200 phones, 120 g of Nd
        ], columns=["metric", "city", "product", "material", "kg"])
        self.calls = 0

    def cities(self, version_id):
        return pd.DataFrame({"city": ["Town"], "country_iso3": ["FIN"], "population": [1000]})

    def materials(self, version_id):
        return pd.DataFrame({"symbol": ["Co", "Nd", "Pt"]})

    def year_range(self, version_id):
        return 2000, 2050

    def table(self, name, version_id):
        if name == "product_content":
            return pd.DataFrame([("smartphone", "Co", 10.0), ("smartphone", "Nd", 0.1), ("ev_battery", "Co", 4000.0),
                                 ("catalytic_converter", "Pt", 1.5)], columns=["product", "material", "grams_per_unit"])
        if name == "ewc_crosswalk":
            return pd.DataFrame({"product": ["smartphone", "ev_battery"], "unit_mass_kg": [0.2, 400.0]})
        if name == "external_figures":
            return self.figures
        raise KeyError(name)

    def metric_table(self, version_id, city, materials, year=None, by=()):
        self.calls += 1
        rows = self.rows[self.rows["material"].isin(materials)]
        return rows.groupby(["metric", *by], as_index=False)["kg"].sum()


def _value(store, quantity):
    view = validation.ModelView(store, 1)
    return validation.QUANTITIES[quantity].compute(view, ["Town"], 2022)


def test_like_for_like_eee_counts_only_eee_products_in_kg_of_product():
    store = FakeStore()
    # 500 phones x 0.2 kg over 1000 inhabitants; the EV battery (400 kg each) is not EEE
    assert _value(store, "eee_eol_product_kg_per_inhabitant") == pytest.approx(0.1)
    assert _value(store, "eee_collected_product_kg_per_inhabitant") == pytest.approx(0.04)
    assert _value(store, "eee_collection_rate") == pytest.approx(0.4)
    # materials, not products: 5 kg Co + 0.05 kg Nd in phones, per inhabitant
    assert _value(store, "eee_eol_material_kg_per_inhabitant") == pytest.approx(0.00505)
    assert _value(store, "portable_battery_collection_rate") == pytest.approx(0.4)


def test_fleet_and_stock_quantities_from_units_in_use():
    store = FakeStore()
    assert _value(store, "cars_per_inhabitant") == pytest.approx(420 / 1000)  # 400 converters + 20 packs
    assert _value(store, "bev_share_of_cars") == pytest.approx(20 / 420)
    assert _value(store, "nd_in_use_g_per_inhabitant") == pytest.approx(0.12)  # 120 g over 1000 people
    assert _value(store, "pv_w_per_inhabitant") != _value(store, "pv_w_per_inhabitant")  # no PV module: NaN


def test_validation_table_on_hand_made_store_and_its_filters():
    store = FakeStore()
    store.figures = _figures(
        ("cars", "Cars", "FIN", 2022, 0.5, "cars per inhabitant", "cars_per_inhabitant", "same", "s", "n", "S", "medium"),
        ("pol", "Cars PL", "POL", 2022, 0.5, "cars per inhabitant", "cars_per_inhabitant", "same", "s", "n", "S", "medium"),
        ("old", "Cars 1990", "EU", 1990, 0.5, "cars per inhabitant", "cars_per_inhabitant", "same", "s", "n", "S", "medium"),
        ("odd", "Unknown", "EU", 2022, 1.0, "x", "no_such_quantity", "same", "s", "n", "S", "medium"),
    )
    table = validation.validation_table(store, 1).set_index("figure_id")
    assert table.at["cars", "model value"] == pytest.approx(0.42)
    assert table.at["cars", "ratio"] == pytest.approx(0.84) and table.at["cars", "verdict"] == CONSISTENT
    assert table.loc[["pol", "old", "odd"], "verdict"].eq(NO_MODEL_VALUE).all()
    assert "No modelled city lies in POL" in table.at["pol", "note"]
    assert "2000-2050" in table.at["old", "note"] and "no_such_quantity" in table.at["odd", "note"]
    assert list(validation.validation_table(store, 1, city="Town")["figure_id"]) == ["cars", "old", "odd"]
    assert list(validation.validation_table(store, 1, year=1990)["figure_id"]) == ["old"]
    with pytest.raises(ValueError, match="Unknown city"):
        validation.validation_table(store, 1, city="Nowhere")


def test_for_display_shows_shares_in_percent_only():
    table = pd.DataFrame({"published value": [0.4, 20.0], "model value": [0.5, 1.0], "unit": ["share 0..1", "kg"]})
    shown = validation.for_display(table)
    assert list(shown["published value"]) == [40.0, 20.0] and list(shown["unit"]) == ["%", "kg"]
    assert list(table["published value"]) == [0.4, 20.0]  # the table itself is unchanged


def test_project_figures_name_known_quantities_in_their_units_and_explain_themselves():
    figures = pd.read_csv(PROJECT_DIR / "data" / "external_figures.csv", keep_default_na=False)
    assert len(figures) > 0
    for row in figures.itertuples():
        assert row.model_quantity in validation.QUANTITIES, row.figure_id
        assert row.unit == validation.QUANTITIES[row.model_quantity].unit, row.figure_id
        assert row.note.strip() and row.scope_note.strip(), row.figure_id  # any row may end up off by 2x
        if row.unit == "share 0..1":
            assert 0 <= row.value <= 1, row.figure_id


def test_every_external_figure_is_compared_on_the_test_database(store):
    version = store.current_version()
    figures = store.table("external_figures", version)
    table = validation.validation_table(store, version)
    assert list(table["figure_id"]) == list(figures["figure_id"])
    assert set(table["verdict"]) <= {CONSISTENT, OFF, NO_MODEL_VALUE}
    compared = table[table["verdict"] != NO_MODEL_VALUE]
    assert len(compared) > 0
    assert (compared["ratio"] - compared["model value"] / compared["published value"]).abs().max() < 1e-12
    # the test cities (Ghent, Delft) lie in BEL and NLD, so Finnish and Polish rows have no model value
    by_geography = table.set_index("figure_id")["geography"]
    for figure_id, verdict in table.set_index("figure_id")["verdict"].items():
        if by_geography[figure_id] in ("FIN", "POL"):
            assert verdict == NO_MODEL_VALUE
    off = table[table["verdict"] == OFF]
    assert off["note"].str.len().gt(0).all()


def test_measured_flows_stand_beside_the_models_kg_of_the_same_flow_never_divided():
    measured = pd.DataFrame({"year": [2022, 2022, 2022, 2049], "category": ["smartphone", "smartphone", "WEEE cat. 4", "smartphone"],
                             "flow": ["collected", "exported", "collected", "collected"], "kg": [1000.0, 50.0, 9000.0, 1.0],
                             "confidence": "medium", "source_id": "X", "note": ""})
    rows = pd.DataFrame({"metric": ["separately_collected", "separately_collected", "lost", "lost"],
                         "route": [None, None, "export_reuse_abroad", "residual_waste"],
                         "product": ["smartphone", "smartphone", "smartphone", "smartphone"], "kg": [0.5, 0.25, 0.1, 0.3]})
    table = validation.measured_beside_model(measured, {2022: rows}, {"smartphone": "Smartphone"})
    model = table.set_index(["year", "category", "flow"])["model: kg of modelled materials in it"]
    assert model[(2022, "smartphone", "collected")] == pytest.approx(0.75)  # every material of the product, summed
    assert model[(2022, "smartphone", "exported")] == pytest.approx(0.1)  # the export route only, not residual waste
    assert math.isnan(model[(2022, "WEEE cat. 4", "collected")])  # not a modelled product
    assert math.isnan(model[(2049, "smartphone", "collected")])  # no model rows for that year
    assert table.loc[table["category"] == "WEEE cat. 4", "modelled product"].item() == "not a modelled product"
