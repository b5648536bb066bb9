"""The stock model and the material chain against hand-worked cases."""

from pathlib import Path

import flodym as fd
import numpy as np
import pytest

from decision_tools import model, model_inputs, system
from decision_tools.ingestion import MODEL_TABLES, read_project_tables
from decision_tools.model import run_city_model
from decision_tools.stock_model import stock_driven, weibull_scale_from_mean


def _dims(years):
    return fd.DimensionSet(dim_list=[fd.Dimension(name="time", letter="t", items=list(years))])


def test_fixed_lifetime_stock_driven_hand_worked():
    # A stock of 10 units kept constant, each unit lasting 3 years: 10 bought in year 0, replaced
    # every third year; nothing leaves before year 3.
    dims = _dims(range(2000, 2010))
    lifetime = fd.FixedLifetime(dims=dims, mean=3)
    inflow, outflow, stock = stock_driven(dims, lifetime, np.full(10, 10.0))
    assert inflow.tolist() == [10, 0, 0, 10, 0, 0, 10, 0, 0, 10]
    assert outflow.tolist() == [0, 0, 0, 10, 0, 0, 10, 0, 0, 10]
    assert stock.tolist() == [10.0] * 10


def test_stock_driven_never_buys_negative_units():
    # The stock halves in one year, faster than 10-year products retire: no negative inflow; the
    # stock stays above the target, and the books still balance.
    dims = _dims(range(2000, 2012))
    lifetime = fd.FixedLifetime(dims=dims, mean=10)
    target = np.array([100.0] * 6 + [50.0] * 6)
    inflow, outflow, stock = stock_driven(dims, lifetime, target)
    assert (inflow >= 0).all()
    assert stock[6] == pytest.approx(100.0)
    change = np.diff(np.concatenate([[0.0], stock]))
    np.testing.assert_allclose(inflow - outflow, change, atol=1e-9)


def test_weibull_scale_from_mean():
    # shape 1 is the exponential distribution: scale equals the mean.
    assert weibull_scale_from_mean(np.array([3.0]), np.array([1.0]))[0] == pytest.approx(3.0)
    # shape 2: mean = scale * Gamma(1.5) = scale * 0.886227
    assert weibull_scale_from_mean(np.array([0.886227]), np.array([2.0]))[0] == pytest.approx(1.0, rel=1e-5)


TINY = {
    "sources.csv": "source_id,citation,publisher,year,url,note\nT,Test,Test,2026,,\n",
    "materials.csv": (
        "symbol,name,material_group,supply_risk,economic_importance,bottleneck_stage,eu_eol_rir_share,"
        "critical_2023,strategic_2024,role,source_id,confidence\n"
        "Co,Cobalt,battery,2.8,6.8,extraction,0.22,true,true,critical,T,medium\n"
    ),
    "products.csv": (
        "product,name,sector,unit,stock_driver,lifetime_model,lifetime_mean_years,lifetime_spread,"
        "hibernation_mean_years,source_id,confidence\n"
        "phone,Phone,ICT,device,per_inhabitant,fixed,1,0,2,T,low\n"
    ),
    "eol_routing.csv": (
        "product,from_year,hibernation_share,export_reuse_share,collection_rate,source_id,confidence,basis\n"
        "phone,1980,0.5,0.1,0.5,T,medium,\n"
    ),
    "product_content.csv": "product,material,grams_per_unit,source_id,confidence,basis\nphone,Co,10,T,high,\n",
    "recovery_yields.csv": (
        "product,material,from_year,recovery_yield,source_id,confidence,basis\n"
        "phone,Co,1980,0.8,T,high,\n"
    ),
    "cities.csv": "city,country_iso3,population,households,lat,lon,source_id,confidence,note\nTestville,FIN,1000,500,60,25,T,high,\n",
    "districts.csv": "city,district,population,lat,lon,source_id,confidence\n",
    "ownership.csv": "geography,product,year,units_per_driver,source_id,confidence,basis\nEU,phone,1980,1,T,illustrative,\n",
}


@pytest.fixture()
def tiny_tables(tmp_path: Path):
    for name, text in TINY.items():
        (tmp_path / name).write_text(text)
    return read_project_tables(tmp_path, MODEL_TABLES)


def test_chain_hand_worked_steady_state(tiny_tables):
    # 1000 inhabitants x 1 phone, each phone used one year: 1000 phones (10 kg Co) bought and
    # retired every year. Half go to drawers first; in steady state drawers release as much as they
    # receive, so end of life = 1000 phones = 10 kg. Export 10 % = 1 kg; of the other 9 kg half is
    # collected (4.5 kg) and half is residual (4.5 kg); 80 % of the collected is recovered: 3.6 kg.
    result = run_city_model(tiny_tables)
    flows = result.flows[result.flows["year"] == 2030].set_index(["from_process", "to_process"])["kg"]
    assert flows[("market", "use")] == pytest.approx(10.0)
    assert flows[("use", "hibernation")] == pytest.approx(5.0)
    assert flows[("use", "end_of_life")] == pytest.approx(5.0)
    assert flows[("hibernation", "end_of_life")] == pytest.approx(5.0, rel=1e-6)
    assert flows[("end_of_life", "export_reuse_abroad")] == pytest.approx(1.0, rel=1e-6)
    assert flows[("end_of_life", "separate_collection")] == pytest.approx(4.5, rel=1e-6)
    assert flows[("end_of_life", "residual_waste")] == pytest.approx(4.5, rel=1e-6)
    assert flows[("recycling", "secondary_supply")] == pytest.approx(3.6, rel=1e-6)
    assert flows[("recycling", "recycling_loss")] == pytest.approx(0.9, rel=1e-6)
    stocks = result.stocks[result.stocks["year"] == 2030].set_index("process")["kg"]
    assert stocks["use"] == pytest.approx(10.0)
    # provenance: the weakest input (ownership, illustrative) and the flag that it is an EU figure
    assert set(result.flows["confidence"]) == {"illustrative"}
    assert result.flows["downscaled"].all()


def _balance(result: model.ModelResult):
    keys = ["city", "district", "year", "product", "material"]
    flows = result.flows.fillna({"district": ""})
    stocks = result.stocks.fillna({"district": ""}).sort_values("year")
    stocks["change"] = stocks.groupby(keys[:2] + keys[3:] + ["process"])["kg"].diff()
    worst = 0.0
    for process in system.BALANCED_PROCESSES:
        inflow = flows[flows["to_process"] == process].groupby(keys)["kg"].sum()
        outflow = flows[flows["from_process"] == process].groupby(keys)["kg"].sum()
        change = stocks[stocks["process"] == process].set_index(keys)["change"].reindex(inflow.index).fillna(0.0)
        outflow = outflow.reindex(inflow.index)
        residual = (inflow - outflow - change).abs() / np.maximum(np.maximum(inflow, outflow), 1e-12)
        worst = max(worst, float(residual.max()))
    return worst


def test_mass_balance_closes_on_project_data(small_data_dir):
    result = run_city_model(read_project_tables(small_data_dir))
    assert (result.flows["kg"] >= 0).all()
    assert _balance(result) < 1e-9


def test_districts_sum_to_the_city(small_data_dir):
    tables = read_project_tables(small_data_dir)
    result = run_city_model(tables)
    ghent = result.stocks[(result.stocks["city"] == "Ghent") & (result.stocks["year"] == 2025)]
    assert ghent["district"].notna().all()
    phones = ghent[(ghent["product"] == "smartphone") & (ghent["material"] == "Co") & (ghent["process"] == "use")]["kg"].sum()
    # Ghent's inhabitants x 1.2286 phones (2025, interpolated) x 8 g
    ownership_2025 = 1.2 + (1.3 - 1.2) * 2 / 7
    population = float(tables["cities"].set_index("city").at["Ghent", "population"])
    content = tables["product_content"]
    grams = content.loc[(content["product"] == "smartphone") & (content["material"] == "Co"), "grams_per_unit"].item()
    assert phones == pytest.approx(population * ownership_2025 * float(grams) / 1000, rel=1e-6)


def _tiny(tmp_path: Path, **replace: str):
    for name, text in {**TINY, **replace}.items():
        (tmp_path / name).write_text(text)
    return read_project_tables(tmp_path, MODEL_TABLES)


def test_old_file_layouts_read_with_their_defaults(tiny_tables):
    # Files written before routing had a geography and content a production year still read.
    assert set(tiny_tables["eol_routing"]["geography"]) == {"EU"}
    assert set(tiny_tables["product_content"]["from_year"]) == {1950}


def test_content_follows_the_production_year(tmp_path):
    # 1000 phones in use, each used exactly one year: the phones bought in 2010 hold 20 g, those of
    # 2009 10 g. In 2010 the city buys 1000 new phones (20 kg), holds them (20 kg) and retires the
    # 2009 ones (10 kg: 5 kg to drawers, 5 kg to end of life); in 2011 it retires 20 kg.
    tables = _tiny(tmp_path, **{"product_content.csv": "product,material,from_year,grams_per_unit,source_id,confidence,basis\n"
                                                        "phone,Co,1980,10,T,high,\nphone,Co,2010,20,T,high,\n"})
    result = run_city_model(tables)
    flows = result.flows.set_index(["year", "from_process", "to_process"])["kg"]
    stocks = result.stocks.set_index(["year", "process"])["kg"]
    assert flows[(2010, "market", "use")] == pytest.approx(20.0)
    assert stocks[(2010, "use")] == pytest.approx(20.0)
    assert flows[(2010, "use", "hibernation")] + flows[(2010, "use", "end_of_life")] == pytest.approx(10.0)
    assert flows[(2011, "use", "hibernation")] + flows[(2011, "use", "end_of_life")] == pytest.approx(20.0)
    assert _balance(result) < 1e-9


@pytest.mark.parametrize("rows, collected_kg", [
    ("EU,phone,1980,0.5,0.1,0.5,T,medium,\n", 4.5),  # the EU's rate: 9 kg staying x 0.5
    ("EU,phone,1980,0.5,0.1,0.5,T,medium,\nFIN,phone,1980,0.5,0.1,0.2,T,medium,\n", 1.8),  # the country's
    ("EU,phone,1980,0.5,0.1,0.5,T,medium,\nFIN,phone,1980,0.5,0.1,0.2,T,medium,\n"
     "Testville,phone,1980,0.5,0.1,0.9,T,medium,\n", 8.1),  # the city's own
])
def test_routing_uses_the_most_specific_geography(tmp_path, rows, collected_kg):
    header = "geography,product,from_year,hibernation_share,export_reuse_share,collection_rate,source_id,confidence,basis\n"
    tables = _tiny(tmp_path, **{"eol_routing.csv": header + rows})
    result = run_city_model(tables)
    flows = result.flows[result.flows["year"] == 2030].set_index(["from_process", "to_process"])["kg"]
    assert flows[("end_of_life", "separate_collection")] == pytest.approx(collected_kg, rel=1e-6)
    inputs = model_inputs.city_inputs(tables, "Testville", ["Co"])
    assert inputs.chain.collection_rate[-1, 0] == pytest.approx(collected_kg / 9.0)


def test_ownership_geographies_name_the_level_each_product_uses(small_data_dir):
    tables = read_project_tables(small_data_dir)
    levels = model_inputs.ownership_geographies(tables["ownership"], tables["products"], "Ghent", "BEL").set_index("product")["level"]
    assert levels["wind_turbine"] == "the city's own"  # counted turbines in Ghent
    assert levels["ev_battery"] == "national"  # Statbel's fleet
    assert levels["smartphone"] == "EU average"
