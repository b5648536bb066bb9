"""The Monte Carlo: the central case is the stored model, ranges widen with weaker labels, and the
same seed gives the same numbers."""

import numpy as np
import pandas as pd
import pytest

from decision_tools import model_inputs, uncertainty
from decision_tools.provenance import CONFIDENCE_FACTOR
from decision_tools.uncertainty import indicator_samples, simulate, summarise


@pytest.fixture(scope="module")
def tables(small_db):
    from decision_tools import storage
    with storage.Store.open(small_db) as store:
        yield store.input_tables(1)


def test_central_case_equals_the_stored_model(tables, store):
    sim = simulate(tables, "Ghent", ["Co"], samples=2, spread_scale=0.0)
    t = list(sim.years).index(2030)
    stored = store.headline(1, "Ghent", 2030, "Co")
    for key in uncertainty.QUANTITIES:
        assert sim.totals[key][0, t] == pytest.approx(stored[key].kg, rel=1e-9), key


def test_every_simulation_carries_its_central_run_which_is_the_stored_model(tables, store):
    sim = simulate(tables, "Ghent", ["Co"], samples=300)
    t = list(sim.years).index(2030)
    stored = store.headline(1, "Ghent", 2030, "Co")
    assert sim.samples == 300 and sim.totals["end_of_life"].shape[0] == 300  # the central run is not a draw
    for key in uncertainty.QUANTITIES:
        assert sim.central.totals[key][0, t] == pytest.approx(stored[key].kg, rel=1e-9), key
    central = uncertainty.central_indicators(sim, 2030)
    assert central["eol_recycling_rate"] == pytest.approx(stored["secondary_supply"].kg / stored["end_of_life"].kg, rel=1e-9)
    # Clipped shares pull the draws' median away from the central run: pages show the central run.
    median = summarise(indicator_samples(sim, 2030)["eol_recycling_rate"])["median"]
    assert abs(median - central["eol_recycling_rate"]) > 1e-3
    bands = uncertainty.quantity_bands(sim)
    row = bands[(bands["metric"] == "end_of_life") & (bands["year"] == 2030)].iloc[0]
    assert row["central"] == pytest.approx(stored["end_of_life"].kg, rel=1e-9)
    rates = uncertainty.indicator_bands(sim, ("eol_recycling_rate",))
    assert rates.set_index("year").at[2030, "central"] == pytest.approx(central["eol_recycling_rate"])


@pytest.mark.parametrize("label", ["high", "medium", "derived", "low", "illustrative"])
def test_lognormal_factor_has_median_one_and_its_5_95_range_at_1_over_f_and_f(label):
    factor = CONFIDENCE_FACTOR[label]
    draws = uncertainty.lognormal_factor(np.random.default_rng(3), [label], 200_000)[:, 0]
    p05, p50, p95 = np.percentile(draws, [5, 50, 95])
    assert p05 == pytest.approx(1 / factor, rel=0.01)
    assert p50 == pytest.approx(1.0, rel=0.01)
    assert p95 == pytest.approx(factor, rel=0.01)
    assert draws.min() > 0  # never negative, unlike a normal with a wide spread


def test_an_order_of_magnitude_label_spans_a_factor_of_three_each_way():
    assert CONFIDENCE_FACTOR["illustrative"] == 3.0
    assert CONFIDENCE_FACTOR["high"] < CONFIDENCE_FACTOR["medium"] < CONFIDENCE_FACTOR["derived"] \
        < CONFIDENCE_FACTOR["low"] < CONFIDENCE_FACTOR["illustrative"]


def _with_city_label(tables, label):
    return tables | {"cities": tables["cities"].assign(confidence=label)}


def test_population_is_not_drawn_for_a_derived_or_medium_city_label(tables):
    # A national statistic is exact for this purpose: the same seed gives the very same draws whether the
    # city row is high, medium or derived; only low or illustrative add a population factor.
    def stock(label):
        return simulate(_with_city_label(tables, label), "Delft", ["Co"], samples=300, seed=5).totals["in_use_stock"]

    exact = stock("high")
    np.testing.assert_array_equal(stock("derived"), exact)
    np.testing.assert_array_equal(stock("medium"), exact)
    t = 30
    low = simulate(_with_city_label(tables, "low"), "Delft", ["Co"], samples=300, seed=5).totals["in_use_stock"][:, t]
    assert np.std(np.log(low)) > np.std(np.log(exact[:, t]))


def test_parts_of_one_thing_share_their_units_in_use_and_lifetime_draws(tables):
    inputs = model_inputs.city_inputs(tables, "Ghent", ["Nd", "Li"])  # EV motor (Nd) and battery (Li)
    products = list(inputs.products_table["product"])
    battery, motor = products.index("ev_battery"), products.index("ev_traction_motor")
    draws = uncertainty.draw_factors(inputs, tables, samples=500, seed=11)
    np.testing.assert_array_equal(draws.units_in_use[:, battery], draws.units_in_use[:, motor])
    np.testing.assert_array_equal(draws.lifetime_z[:, battery], draws.lifetime_z[:, motor])
    assert draws.life_sigma[battery] == draws.life_sigma[motor]
    assert np.std(draws.units_in_use[:, battery]) > 0
    others = [i for i, p in enumerate(products) if p not in ("ev_battery", "ev_traction_motor")]
    assert others and not np.array_equal(draws.units_in_use[:, others[0]], draws.units_in_use[:, battery])
    # Row 0 is the central run: every factor 1, lifetime at its mean.
    assert np.all(draws.units_in_use[0] == 1) and np.all(draws.lifetime_z[0] == 0) and np.all(draws.content[0] == 1)
    # Without the column (an older file) every product is its own group.
    old = tables | {"products": tables["products"].drop(columns=["draw_group"])}
    old_inputs = model_inputs.city_inputs(old, "Ghent", ["Nd", "Li"])
    old_draws = uncertainty.draw_factors(old_inputs, old, samples=500, seed=11)
    assert not np.array_equal(old_draws.units_in_use[:, battery], old_draws.units_in_use[:, motor])


def test_draw_groups_from_the_products_table():
    table = pd.DataFrame({"product": ["a", "b", "c", "d"], "draw_group": ["car", None, "car", ""]})
    groups = uncertainty.draw_groups(table)
    assert groups[0] == groups[2] and len({groups[0], groups[1], groups[3]}) == 3
    assert len(set(uncertainty.draw_groups(table.drop(columns=["draw_group"])))) == 4


def _two_material_simulation(secondary_kg, end_of_life_kg):
    """A hand-made simulation of one year, one sample and two (product, material) pairs."""
    def block(values):
        return np.array(values, dtype=float)[None, None, :]  # (s, t, p)

    zeros = block([0.0, 0.0])
    by_pair = {"in_use_stock": block([100.0, 100.0]), "hibernating_stock": zeros, "new_products": block([10.0, 10.0]),
               "end_of_life": block(end_of_life_kg), "separately_collected": block(end_of_life_kg),
               "secondary_supply": block(secondary_kg), "lost": zeros}
    return uncertainty.Simulation(
        city="X", materials=("A", "B"), population=10.0, years=np.array([2030]), samples=1, seed=0,
        totals={k: v.sum(axis=2) for k, v in by_pair.items()}, pairs=[("p", "A"), ("p", "B")], by_pair=by_pair,
        recycled_content=np.array([[0.0, 0.0]]), utility=np.ones((1, 2)))


def test_weighted_rates_of_two_materials_by_hand():
    # A: 1 kg recovered of 10 kg at end of life (10 %); B: 9 of 10 (90 %).
    sim = _two_material_simulation([1.0, 9.0], [10.0, 10.0])
    by_mass = indicator_samples(sim, 2030)
    assert by_mass["eol_recycling_rate"][0] == pytest.approx(10 / 20)
    # B weighs 3 (say EUR 3 per kg against 1): (1 x 1 + 3 x 9) / (1 x 10 + 3 x 10) = 28 / 40.
    weighted = indicator_samples(sim, 2030, pair_weights=np.array([1.0, 3.0]))
    assert weighted["eol_recycling_rate"][0] == pytest.approx(28 / 40)
    assert weighted["secondary_supply_share"][0] == pytest.approx(28 / 40)  # new products 10 and 10 kg
    assert weighted["urban_mine_per_inhabitant"][0] == pytest.approx(20.0)  # kg stay by mass: 200 kg / 10
    assert uncertainty.central_indicators(sim, 2030, np.array([1.0, 3.0]))["eol_recycling_rate"] == pytest.approx(0.7)


def test_ranges_bracket_the_central_value_and_are_reproducible(tables):
    sim = simulate(tables, "Delft", ["Co"], samples=400, seed=7)
    again = simulate(tables, "Delft", ["Co"], samples=400, seed=7)
    np.testing.assert_array_equal(sim.totals["secondary_supply"], again.totals["secondary_supply"])
    central = simulate(tables, "Delft", ["Co"], samples=1, spread_scale=0.0)
    t = list(sim.years).index(2030)
    band = summarise(sim.totals["secondary_supply"][:, t])
    assert band["p05"] < central.totals["secondary_supply"][0, t] < band["p95"]
    assert band["p05"] < band["median"] < band["p95"]


def test_weaker_labels_give_wider_ranges(tables):
    narrow = tables | {"product_content": tables["product_content"].assign(confidence="high"),
                       "ownership": tables["ownership"].assign(confidence="high"),
                       "products": tables["products"].assign(confidence="high"),
                       "eol_routing": tables["eol_routing"].assign(confidence="high"),
                       "recovery_yields": tables["recovery_yields"].assign(confidence="high")}
    t = 30

    def width(t_tables):
        values = simulate(t_tables, "Delft", ["Co"], samples=500, seed=1).totals["in_use_stock"][:, t]
        band = summarise(values)
        return (band["p95"] - band["p05"]) / band["median"]

    assert width(narrow) < 0.5 * width(tables)


def test_indicator_samples_are_consistent(tables):
    sim = simulate(tables, "Ghent", ["Co"], samples=200)
    samples = indicator_samples(sim, 2030)
    np.testing.assert_allclose(samples["eol_recycling_rate"], samples["collection_rate"] * samples["recovery_efficiency"])
    assert np.all((samples["portfolio_mci"] >= 0.1 - 1e-9) & (samples["portfolio_mci"] <= 1))
    assert set(samples) == set(uncertainty.ind.INDICATORS)


def test_unknown_city_and_absent_material_are_sentences(tables):
    with pytest.raises(ValueError, match="Unknown city 'Atlantis'"):
        simulate(tables, "Atlantis", ["Co"], samples=2)
    with pytest.raises(ValueError, match="No product in the model contains Ge"):
        simulate(tables, "Ghent", ["Ge"], samples=2)
    sim = simulate(tables, "Ghent", ["Co"], samples=2)
    with pytest.raises(ValueError, match="Year 1990 is outside"):
        indicator_samples(sim, 1990)
