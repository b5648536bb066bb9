"""Levers move exactly their parameter; collection and recovery never lower secondary supply; the
ranking, the portfolio and the value-creation models behave."""

import numpy as np
import pandas as pd
import pytest

from decision_tools import levers, model, model_inputs, scenarios, storage


@pytest.fixture(scope="module")
def tables(small_db):
    with storage.Store.open(small_db) as store:
        yield store.input_tables(1)


@pytest.fixture(scope="module")
def critical(tables):
    return list(tables["materials"].loc[tables["materials"]["critical_2023"].astype(bool), "symbol"])


@pytest.fixture(scope="module")
def engine(tables, critical):
    return scenarios.ScenarioEngine(tables, "Ghent", critical)


# Which arrays of CityInputs each kind of lever may change.
MOVES = {
    "collection_rate": {"chain.collection_rate"},
    "hibernation_return": {"chain.hibernation_share", "take_back_share"},
    "lifetime_extension": {"lifetime_factor_by_year", "utility"},
    "reuse_share": {"reuse_share"},
    "recovery_yield": {"chain.recovery_yield"},
    "recycled_content": {"recycled_content"},
    "units_needed": {"target", "utility"},
    "export_share": {"chain.export_share"},
}


def _arrays(inputs: model_inputs.CityInputs) -> dict[str, np.ndarray]:
    out = {k: v for k, v in vars(inputs).items() if isinstance(v, np.ndarray) and v.dtype.kind == "f"}
    out.update({f"chain.{k}": v for k, v in vars(inputs.chain).items() if isinstance(v, np.ndarray) and v.dtype.kind == "f"})
    return out


def test_each_lever_moves_its_parameter_and_nothing_else(engine):
    base = _arrays(engine.inputs)
    chain = engine.inputs.chain
    for lever in engine.levers.values():
        moved = _arrays(levers.apply_levers(engine.inputs, engine.levers, {lever.lever_id: lever.maximum}))
        changed = {name for name in base if not np.array_equal(base[name], moved[name])}
        assert changed, f"{lever.lever_id} changes nothing"
        assert changed <= MOVES[lever.parameter], f"{lever.lever_id} also changes {changed - MOVES[lever.parameter]}"
        before_start = model.YEARS < lever.start_year
        for name in changed:
            difference = base[name] != moved[name]
            assert not difference[before_start].any(), f"{lever.lever_id} acts before {lever.start_year}"
            # only the lever's products (and materials) are touched
            columns = np.flatnonzero(difference.reshape(len(model.YEARS), -1).any(axis=0))
            width = base[name].reshape(len(model.YEARS), -1).shape[1]
            if width == len(chain.products):
                touched = {chain.products[i] for i in columns}
            else:
                touched = {chain.pairs[i][0] for i in columns}
                if lever.materials is not None:
                    assert {chain.pairs[i][1] for i in columns} <= set(lever.materials)
            if lever.products is not None:
                assert touched <= set(lever.products), f"{lever.lever_id} touches {touched}"


def test_levers_at_their_default_change_nothing(engine, store):
    run = engine.run({lever_id: lever.default for lever_id, lever in engine.levers.items()})
    np.testing.assert_array_equal(run.simulation.totals["secondary_supply"], engine.baseline.simulation.totals["secondary_supply"])
    assert run.cost_eur_per_year == 0
    # and the baseline is the stored model
    t = list(engine.baseline.simulation.years).index(2030)
    materials = sorted({m for _, m in engine.inputs.chain.pairs})
    stored = store.metric_table(1, "Ghent", materials, 2030).set_index("metric").at["secondary_supply", "kg"]
    assert engine.baseline.simulation.totals["secondary_supply"][0, t] == pytest.approx(stored, rel=1e-9)


@pytest.mark.parametrize("parameter", ["collection_rate", "recovery_yield", "hibernation_return"])
@pytest.mark.parametrize("city", ["Ghent", "Delft"])
def test_collection_and_recovery_never_lower_secondary_supply(tables, critical, parameter, city):
    engine = scenarios.ScenarioEngine(tables, city, critical)
    for lever in (lv for lv in engine.levers.values() if lv.parameter == parameter):
        previous = engine.baseline.simulation.by_pair["secondary_supply"]
        for level in np.linspace(lever.default, lever.maximum, 4)[1:]:
            current = engine.run({lever.lever_id: float(level)}).simulation.by_pair["secondary_supply"]
            assert (current >= previous - 1e-9).all(), f"{lever.lever_id} at {level} lowers secondary supply"
            previous = current


def test_settings_are_checked_in_sentences(engine):
    with pytest.raises(ValueError, match="Unknown lever 'teleport'; choose one of: battery_partnership"):
        engine.run({"teleport": 1})
    with pytest.raises(ValueError, match="Lever 'weee_collection' takes values from 0 to 0.4; got 0.9"):
        engine.run({"weee_collection": 0.9})
    with pytest.raises(ValueError, match="needs a number"):
        engine.run({"weee_collection": "lots"})


def test_cost_is_linear_in_the_level(engine):
    lever = engine.levers["weee_collection"]
    full = lever.cost_eur_per_year(lever.maximum, engine.inputs.population)
    assert full == pytest.approx(lever.cost_eur_per_inhabitant_at_max * engine.inputs.population)
    assert lever.cost_eur_per_year(lever.maximum / 2, engine.inputs.population) == pytest.approx(full / 2)


def test_leverage_ranking_is_sorted_and_complete(engine):
    ranking = engine.leverage_ranking("secondary_supply_kg", 2040)
    assert set(ranking["lever_id"]) == set(engine.levers)
    assert list(ranking["effect"].abs()) == sorted(ranking["effect"].abs(), reverse=True)
    assert ranking.set_index("lever_id").at["battery_partnership", "effect"] > 0


def test_portfolio_respects_the_budget_and_explains_itself(engine):
    portfolio = engine.portfolio("secondary_supply_kg", 2040, 300_000)
    assert 0 < portfolio.cost_eur_per_year <= 300_000
    assert portfolio.choices["lever_id"].is_unique
    assert portfolio.combined_value > portfolio.baseline_value
    assert "Within 300,000 EUR per year the solver picks" in portfolio.explanation()
    nothing = engine.portfolio("secondary_supply_kg", 2040, 0)
    assert nothing.settings == {} and "the baseline stays" in nothing.explanation()


def test_value_creation_models(engine):
    models = engine.value_creation("ev_battery", 2040)
    assert list(models["model_id"][:2]) == ["linear", "today"]  # the two references first, then the models
    models = models.set_index("model_id")
    assert models.at["linear", "secondary_supply_kg"] == 0
    assert models.at["linear", "demand_avoided_kg"] == 0 and models.at["linear", "value_retained_eur_per_year"] == 0
    assert models.at["today", "demand_avoided_kg"] == pytest.approx(0, abs=1e-6)
    assert models.at["recycling", "secondary_supply_kg"] > models.at["today", "secondary_supply_kg"]
    assert models.at["repair", "demand_avoided_kg"] > 0 and models.at["product_as_a_service", "demand_avoided_kg"] > 0
    # linear use only gains from the recycled content bought in with new products (MCI = 0.1 + 0.45 F_R)
    assert 0.1 <= models.at["linear", "mci"] < models.at["today", "mci"] < models.at["recycling", "mci"]
    with pytest.raises(ValueError, match="carries none of the chosen materials"):
        scenarios.ScenarioEngine(engine.tables, "Ghent", ["Pt"]).value_creation("laptop", 2040)


# No false signals (issue 14, item 8): noise is no effect; levers that do nothing or harm are never bought.

def test_noise_counts_as_no_effect_and_direction_decides_the_verdict():
    assert scenarios.clean_effect(1000.0, 1000.0 - 4e-13) == 0.0
    assert scenarios.clean_effect(0.0, -4e-13) == 0.0
    assert scenarios.clean_effect(1000.0, 1000.5) == 0.5
    assert scenarios.verdict("secondary_supply_kg", 0.5) == scenarios.IMPROVES
    assert scenarios.verdict("secondary_supply_kg", -0.5) == scenarios.WRONG_WAY
    assert scenarios.verdict("secondary_supply_kg", 0.0) == "no effect on this indicator"
    assert scenarios.verdict("hibernation_share", -0.01) == scenarios.IMPROVES  # lower is better
    assert scenarios.verdict("lost_kg", 3.0) == scenarios.WRONG_WAY
    with pytest.raises(ValueError, match="has no better direction"):
        scenarios.better_direction("in_use_stock_kg")


def _levers(tables, rows):
    """The levers table cut to hand-made rows: (lever_id, parameter, products, materials, maximum, cost at max)."""
    template = tables["levers"].iloc[0]
    frame = tables["levers"].iloc[[0] * len(rows)].reset_index(drop=True).copy()
    for i, (lever_id, parameter, products, materials, maximum, cost) in enumerate(rows):
        frame.loc[i, ["lever_id", "name", "parameter", "products", "materials"]] = [lever_id, f"Lever {lever_id}", parameter,
                                                                                    products, materials]
        frame.loc[i, ["maximum", "step", "cost_eur_per_inhabitant_at_max"]] = [maximum, maximum / 4, cost]
        frame.loc[i, ["start_year", "ramp_years"]] = [2026, 1]
    assert template["default"] == 0
    return {**tables, "levers": frame}


@pytest.fixture(scope="module")
def cobalt_engine(tables):
    """Cobalt in Ghent with three hand-made levers: more collection of laptops (raises secondary supply),
    better recovery of palladium only (cobalt is untouched: exactly no effect) and fewer laptops needed
    (fewer reach end of life: lowers secondary supply)."""
    return scenarios.ScenarioEngine(_levers(tables, [
        ("collect", "collection_rate", "laptop", "all", 0.2, 1.0),
        ("palladium_only", "recovery_yield", "laptop", "Pd", 0.2, 0.01),
        ("fewer_laptops", "units_needed", "laptop", "all", 0.3, 0.01),
    ]), "Ghent", ["Co"])


def test_portfolio_never_buys_a_lever_without_effect_or_the_wrong_way(cobalt_engine):
    portfolio = cobalt_engine.portfolio("secondary_supply_kg", 2040, 100_000_000)  # a budget that buys everything
    assert set(portfolio.settings) == {"collect"}
    reasons = portfolio.skipped.set_index("lever_id")["reason"]
    assert reasons.to_dict() == {"palladium_only": "no effect on this indicator", "fewer_laptops": scenarios.WRONG_WAY}
    text = portfolio.explanation()
    assert "Never bought: " in text and "Lever palladium_only (no effect on secondary supply in 2040)" in text
    assert "Lever fewer_laptops (they lower secondary supply in 2040)" in text


def test_floating_point_noise_is_never_bought(cobalt_engine, monkeypatch):
    """A lever whose measured effect is +-4e-13 kg (summing in another order) has no effect: not bought,
    skipped, and shown as exactly 0 with 'no effect on this indicator' in the ranking."""
    real = scenarios.ScenarioEngine.objective

    def noisy(self, run, key, year):
        value = real(self, run, key, year)
        level = run.settings.get("palladium_only", 0.0)
        return value + (4e-13 if level > 0.1 else -4e-13 if level > 0 else 0.0)

    monkeypatch.setattr(scenarios.ScenarioEngine, "objective", noisy)
    portfolio = cobalt_engine.portfolio("secondary_supply_kg", 2040, 100_000_000)
    assert "palladium_only" not in portfolio.settings
    assert "palladium_only" in set(portfolio.skipped["lever_id"])
    ranking = cobalt_engine.leverage_ranking("secondary_supply_kg", 2040).set_index("lever_id")
    assert ranking.at["palladium_only", "effect"] == 0.0
    assert ranking.at["palladium_only", "verdict"] == "no effect on this indicator"
    assert ranking.at["fewer_laptops", "verdict"] == scenarios.WRONG_WAY and ranking.at["fewer_laptops", "effect"] < 0
    assert ranking.at["collect", "verdict"] == scenarios.IMPROVES and ranking.at["collect", "effect"] > 0


def test_no_improving_lever_keeps_the_baseline_and_says_why(tables):
    engine = scenarios.ScenarioEngine(_levers(tables, [("palladium_only", "recovery_yield", "laptop", "Pd", 0.2, 0.01)]),
                                      "Ghent", ["Co"])
    portfolio = engine.portfolio("secondary_supply_kg", 2040, 100_000_000)
    assert portfolio.settings == {} and portfolio.choices.empty
    assert portfolio.explanation().startswith("No lever that raises secondary supply in 2040 fits a yearly budget")
    assert "Never bought: Lever palladium_only (no effect on secondary supply in 2040)." in portfolio.explanation()


@pytest.mark.parametrize("combined, why", [(130.0, "reinforcing each other"), (110.0, "acting on the same units")])
def test_the_portfolio_explains_the_difference_the_right_way_round(combined, why):
    # Two levers adding 10 and 10 alone: together 30 is reinforcement, together 10 is overlap (the
    # browser review found an overlap explained as a synergy).
    choices = pd.DataFrame({"lever": ["Collection", "Repair"], "level": [0.1, 0.2]})
    portfolio = scenarios.Portfolio("secondary_supply_kg", 2035, 1000.0, {}, choices, 100.0, combined, 20.0, 900.0)
    assert why in portfolio.explanation()


def test_one_engine_serves_concurrent_sessions(tables, critical, monkeypatch):
    """ui.scenario_engine shares one engine between every browser session of a city: runs asked for by many
    threads at once, with a small memory, all come back right and the memory stays bounded."""
    import sys
    import threading

    engine = scenarios.ScenarioEngine(tables, "Ghent", critical)
    engine.MAX_REMEMBERED_RUNS = 3
    monkeypatch.setattr(engine, "_compute", lambda settings: scenarios.Run(settings=settings, simulation=None,
                                                                           cost_eur_per_year=float(len(settings))))
    lever = next(iter(engine.levers.values()))
    levels = [lever.default + (lever.maximum - lever.default) * i / 50 for i in range(1, 51)]
    errors: list[BaseException] = []

    def session(offset: int) -> None:
        try:
            for i in range(400):
                level = levels[(i + offset) % len(levels)]
                assert engine.run({lever.lever_id: level}).settings[lever.lever_id] == level
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=session, args=(offset,)) for offset in range(8)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: the races show within a few hundred runs
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    assert len(engine._runs) <= engine.MAX_REMEMBERED_RUNS


def test_a_runs_indicators_are_computed_once_per_year_and_callers_get_copies(engine, monkeypatch):
    run = engine.run({next(iter(engine.levers)): next(iter(engine.levers.values())).maximum})
    first = engine.indicators(run, 2030)
    first["collection_rate"] = -1.0  # a caller changing its copy changes nothing remembered
    calls = []
    monkeypatch.setattr(engine, "_indicators", lambda *args: calls.append(args) or {})
    again = engine.indicators(run, 2030)
    assert calls == [] and again["collection_rate"] != -1.0  # remembered, not recomputed


def test_indicator_words_and_values_as_people_read_them():
    assert scenarios.indicator_label("secondary_supply_kg") == "Secondary supply"
    assert scenarios.indicator_label("lost_kg") == "Lost"  # no label: the key in words
    assert scenarios.format_indicator("lost_kg", 1234.5) == "1.23 t/yr"
    assert scenarios.format_indicator("in_use_stock_kg", 1234.5) == "1.23 t"  # a stock, not a flow
    assert scenarios.format_indicator("cost_eur_per_year", 12345.6) == "12,346 EUR/yr"
    assert scenarios.format_indicator("portfolio_mci", 0.12345) == "0.123"
    assert scenarios.format_indicator("collection_rate", 0.253) == "25.3 %"
    assert scenarios.format_indicator("collection_rate", float("nan")) == "n/a"


def test_indicator_comparison_and_objective_series(engine):
    lever = next(iter(engine.levers.values()))
    run = engine.run({lever.lever_id: lever.maximum})
    base, moved = engine.indicators(engine.baseline, 2035), engine.indicators(run, 2035)
    table = scenarios.indicator_comparison(base, moved).set_index("key")
    assert table.at["cost_eur_per_year", "change"] == pytest.approx(run.cost_eur_per_year)  # the baseline costs nothing
    assert table.at["secondary_supply_kg", "indicator"] == "Secondary supply"
    series = scenarios.objective_series(engine, run, "secondary_supply_kg")
    assert set(series["run"]) == {"baseline", "scenario"} and set(series["indicator"]) == {"secondary_supply_kg"}
    at_2035 = series[series["year"] == 2035].set_index("run")["value"]
    assert at_2035["scenario"] == pytest.approx(moved["secondary_supply_kg"])
    assert at_2035["baseline"] == pytest.approx(base["secondary_supply_kg"])
