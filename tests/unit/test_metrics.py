"""The headline metrics are declared once (system.METRICS); the store's SQL, the Monte Carlo and the upload's
dry run derive their sums from the declarations and give the same numbers."""

import pytest

from decision_tools import model, storage, system, uncertainty, upload_effect


@pytest.fixture(scope="module")
def tables(small_db):
    with storage.Store.open(small_db) as store:
        yield store.input_tables(1)


def test_every_metric_is_one_stock_or_a_sum_of_the_systems_flows():
    assert set(system.METRIC_OF_STOCK) == set(system.STOCK_PROCESSES)
    assert system.METRIC_OF_FLOW[("hibernation", "end_of_life")] == "end_of_life"
    assert ("use", "hibernation") not in system.METRIC_OF_FLOW  # moving into drawers is in no headline flow
    with pytest.raises(ValueError, match="flows the system does not have"):
        system.Metric("x", "X", "x", flows=(("market", "recycling"),))
    with pytest.raises(ValueError, match="either one stock or a sum of flows"):
        system.Metric("x", "X", "x", stock="use", flows=(("market", "use"),))


def test_the_store_the_monte_carlo_and_the_dry_run_agree(store, tables):
    stored = store.metric_table(1, "Ghent", ["Co", "Nd"], 2030).set_index("metric")["kg"]
    sim = uncertainty.simulate(tables, "Ghent", ["Co", "Nd"], samples=2, spread_scale=0.0)
    t = list(sim.years).index(2030)
    assert set(stored.index) == set(system.METRICS) == set(sim.totals)
    for key in system.METRICS:
        assert sim.totals[key][0, t] == pytest.approx(stored[key], rel=1e-9, abs=1e-12), key
    ghent = {**tables, "cities": tables["cities"][tables["cities"]["city"] == "Ghent"],
             "districts": tables["districts"][tables["districts"]["city"] == "Ghent"]}
    dry_run = upload_effect._model_metrics(model.run_city_model(ghent), ["Co", "Nd"], [2030]).set_index("metric")["kg"]
    assert set(dry_run.index) == set(upload_effect.EFFECT_QUANTITIES)
    for key in upload_effect.EFFECT_QUANTITIES:
        assert dry_run[key] == pytest.approx(stored[key], rel=1e-9), key


def test_metrics_wide_has_every_metric_in_order_and_keeps_a_city_without_districts():
    import pandas as pd

    from decision_tools.results import metrics_wide

    rows = pd.DataFrame({"district": ["North", "North", None], "metric": ["end_of_life", "in_use_stock", "in_use_stock"],
                         "kg": [2.0, 5.0, 7.0]})
    wide = metrics_wide(rows, "district")
    assert list(wide.columns) == ["district", *system.METRICS]
    north = wide[wide["district"] == "North"].iloc[0]
    assert north["in_use_stock"] == 5.0 and north["end_of_life"] == 2.0 and north["lost"] == 0.0
    assert wide["district"].isna().sum() == 1  # the city modelled whole is a row, not dropped
    labelled = metrics_wide(rows, "district", labelled=True)
    assert list(labelled.columns)[1] == "In-use stock (kg)"
