"""The Monte Carlo: the central case is the stored model, ranges widen with weaker labels, and the
same seed gives the same numbers."""

import numpy as np
import pytest

from decision_tools import uncertainty
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
    np.testing.assert_allclose(samples["gap_to_crma_benchmark"], 0.25 - samples["secondary_supply_share"])
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
