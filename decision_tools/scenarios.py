"""Policy scenarios: the city's levers applied to the model, ranked by leverage, combined in a
portfolio under a budget, and the value-creation models companies could use.

A scenario is a set of lever levels (decision_tools.levers); running it reruns the city's model (central
values) for the chosen materials and gives every indicator by year.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, milp

from . import model, model_inputs
from .formatting import format_mass, format_share
from .levers import apply_levers, check_settings, levers_from_table
from .indicators import INDICATORS, material_weights, pair_weights
from .uncertainty import Simulation, indicator_samples, pair_mci


# Objectives a lever can be ranked on: key -> (label, unit).
OBJECTIVES: dict[str, tuple[str, str]] = {
    "secondary_supply_kg": ("Secondary supply", "kg per year"),
    "secondary_supply_share": ("Secondary-supply share", "share"),
    "risk_weighted_secondary_kg": ("Supply-risk-weighted secondary supply", "kg x EU supply risk per year"),
    "portfolio_mci": ("Material Circularity Indicator (portfolio)", "index"),
}


# Which way is better, per indicator the engine computes: +1 higher (secondary supply, rates, MCI),
# -1 lower (losses, hibernation, the gap to the benchmark, cost). indicators.INDICATORS has no direction
# field, so it lives here. Quantities with no better way (stocks, demand, urban mine) are left out.
BETTER: dict[str, int] = {
    **{key: +1 for key in OBJECTIVES},
    "collection_rate": +1, "recovery_efficiency": +1, "eol_recycling_rate": +1, "circular_material_use_rate": +1,
    "recycled_content": +1, "separately_collected_kg": +1,
    "hibernation_share": -1, "hibernating_stock_kg": -1, "lost_kg": -1,
    "cost_eur_per_year": -1,
}

# A change smaller than this (relative to the indicator's size, or absolutely for an indicator near zero)
# is floating-point noise, not an effect: -4e-13 kg from summing in another order means "no effect".
EFFECT_RELATIVE_TOLERANCE = 1e-9
EFFECT_ABSOLUTE_TOLERANCE = 1e-12
NO_EFFECT = "no effect on this indicator"
WRONG_WAY = "moves it the wrong way"
IMPROVES = "improves it"


def better_direction(key: str) -> int:
    """+1 when a higher value of the indicator is better, -1 when lower is; ValueError otherwise."""
    if key not in BETTER:
        raise ValueError(f"The indicator '{key}' has no better direction; choose one of: {', '.join(BETTER)}.")
    return BETTER[key]


def clean_effect(base: float, value: float) -> float:
    """value - base, with a change within floating-point noise of the two counted as exactly 0."""
    effect = value - base
    if abs(effect) <= max(EFFECT_ABSOLUTE_TOLERANCE, EFFECT_RELATIVE_TOLERANCE * max(abs(base), abs(value))):
        return 0.0
    return effect


def verdict(key: str, effect: float) -> str:
    """Whether a (cleaned) change improves the indicator, moves it the wrong way or does nothing."""
    signed = better_direction(key) * effect
    return IMPROVES if signed > 0 else WRONG_WAY if signed < 0 else NO_EFFECT


@dataclass
class Run:
    """One scenario run: the chain's quantities and the indicators computed from them."""

    settings: dict[str, float]
    simulation: Simulation
    cost_eur_per_year: float
    # The indicators of a year, once computed (ScenarioEngine.indicators): the engine remembers its runs, and
    # the ranking, the portfolio and every page view ask for the same years again.
    indicators_by_year: dict[int, dict[str, float]] = field(default_factory=dict, repr=False, compare=False)


class ScenarioEngine:
    """Scenarios for one city and a set of materials. The baseline inputs are prepared once, so each
    scenario only reruns the stock model and the chain (a few tens of milliseconds)."""

    MAX_REMEMBERED_RUNS = 512

    def __init__(self, tables: dict[str, pd.DataFrame], city: str, materials: list[str], weighting: str = "mass"):
        """``weighting`` (a key of indicators.WEIGHTINGS): how rates of several materials add up; kg stay by mass."""
        self.tables = tables
        self.city = city
        self.inputs = model_inputs.city_inputs(tables, city, materials)
        weights = material_weights(weighting, tables["materials"], tables["material_prices"])
        self.pair_weights = None if weighting == "mass" else pair_weights(self.inputs.chain.pairs, weights)
        self.levers = levers_from_table(tables["levers"])
        supply_risk = tables["materials"].set_index("symbol")["supply_risk"]
        self.pair_supply_risk = np.array([float(supply_risk[m]) for _, m in self.inputs.chain.pairs])
        self._runs: dict[tuple, Run] = {}
        self._runs_lock = threading.Lock()  # one engine serves every browser session of the city (ui.scenario_engine)
        self.baseline = self.run({})

    def cost(self, settings: Mapping[str, float]) -> float:
        return sum(self.levers[k].cost_eur_per_year(v, self.inputs.population) for k, v in settings.items())

    def run(self, settings: Mapping[str, float]) -> Run:
        """Run a scenario; runs are remembered (the same settings always give the same numbers), so
        the ranking and the portfolio cost their runs only once per engine."""
        settings = check_settings(self.levers, settings)
        key = tuple(sorted((k, v) for k, v in settings.items() if v != self.levers[k].default))
        with self._runs_lock:
            remembered = self._runs.get(key)
        if remembered is not None:
            return remembered
        computed = self._compute(settings)  # outside the lock: other sessions' runs go on meanwhile
        with self._runs_lock:
            if key not in self._runs and len(self._runs) >= self.MAX_REMEMBERED_RUNS:
                del self._runs[next(iter(self._runs))]  # forget the oldest
            return self._runs.setdefault(key, computed)

    def _compute(self, settings: dict[str, float]) -> Run:
        inputs = apply_levers(self.inputs, self.levers, settings)
        flows, stocks = model.run_city_inputs(inputs)
        simulation = Simulation.from_chain(inputs, flows, stocks, samples=1, seed=0, confidence={})
        return Run(settings=settings, simulation=simulation, cost_eur_per_year=self.cost(settings))

    def indicators(self, run: Run, year: int) -> dict[str, float]:
        """Every indicator of the year as a plain number (kg, kg per year, shares 0..1, index)."""
        remembered = run.indicators_by_year.get(year)
        if remembered is None:  # two sessions may compute the same year at once: the values are equal
            remembered = run.indicators_by_year.setdefault(year, self._indicators(run, year))
        return dict(remembered)

    def _indicators(self, run: Run, year: int) -> dict[str, float]:
        sim = run.simulation
        t = int(np.searchsorted(sim.years, year))
        values = {key: float(v[0]) for key, v in indicator_samples(sim, year, self.pair_weights).items()}
        for key, series in sim.totals.items():
            values[f"{key}_kg"] = float(series[0, t])
        values["risk_weighted_secondary_kg"] = float(sim.by_pair["secondary_supply"][0, t] @ self.pair_supply_risk)
        values["cost_eur_per_year"] = run.cost_eur_per_year
        return values

    def timeseries(self, run: Run) -> pd.DataFrame:
        """Indicators by year for the run (rows year, indicator, value)."""
        rows = []
        for year in run.simulation.years:
            for key, value in self.indicators(run, int(year)).items():
                rows.append({"year": int(year), "indicator": key, "value": value})
        return pd.DataFrame(rows)

    def objective(self, run: Run, key: str, year: int) -> float:
        if key not in OBJECTIVES:
            raise ValueError(f"Unknown objective '{key}'; choose one of: {', '.join(OBJECTIVES)}.")
        value = self.indicators(run, year)[key]
        return 0.0 if value != value else value  # an undefined share counts as nothing gained

    def leverage_ranking(self, key: str, year: int, progress: Callable[[float], None] | None = None) -> pd.DataFrame:
        """Each lever alone from its default to its maximum: the change of the objective in ``year``,
        absolutely and per 1,000 EUR of yearly cost, and its verdict (improves it, moves it the wrong
        way, no effect on this indicator; noise counts as no effect); sorted by the absolute change."""
        base = self.objective(self.baseline, key, year)
        rows = []
        for i, lever in enumerate(self.levers.values()):
            run = self.run({lever.lever_id: lever.maximum})
            effect = clean_effect(base, self.objective(run, key, year))
            cost = run.cost_eur_per_year
            rows.append({"lever_id": lever.lever_id, "lever": lever.name, "competence": lever.competence,
                         "effect": effect, "verdict": verdict(key, effect), "cost_eur_per_year": cost,
                         "effect_per_1000_eur": effect / cost * 1000 if cost > 0 else np.nan})
            if progress:
                progress((i + 1) / len(self.levers))
        return pd.DataFrame(rows).sort_values("effect", key=np.abs, ascending=False, kind="stable").reset_index(drop=True)

    def portfolio(self, key: str, year: int, budget_eur_per_year: float, steps: int = 4,
                  progress: Callable[[float], None] | None = None) -> "Portfolio":
        """Lever levels that improve the objective most within a yearly budget.

        Each lever may be set to one of ``steps`` levels between its default and maximum (or left
        alone); its effect at each level is measured by running it alone. Levels that do not improve
        the objective (no effect, within floating-point noise, or the wrong way) are never bought, and a
        lever none of whose levels improves it is listed as skipped with the reason. An exact
        mixed-integer program (scipy's HiGHS) picks at most one remaining level per lever so that the
        summed improvements are largest and the summed costs stay within the budget. The chosen set is
        then run together, since levers interact (more collection makes better recovery worth more)."""
        direction = better_direction(key)
        base = self.objective(self.baseline, key, year)
        options, skipped = [], []
        levers = list(self.levers.values())
        for i, lever in enumerate(levers):
            verdicts = set()
            for level in np.linspace(lever.default, lever.maximum, steps + 1)[1:]:
                run = self.run({lever.lever_id: float(level)})
                effect = clean_effect(base, self.objective(run, key, year))
                verdicts.add(verdict(key, effect))
                if direction * effect > 0:
                    options.append((lever.lever_id, float(level), effect, run.cost_eur_per_year))
            if IMPROVES not in verdicts:
                skipped.append({"lever_id": lever.lever_id, "lever": lever.name,
                                "reason": WRONG_WAY if WRONG_WAY in verdicts else NO_EFFECT})
            if progress:
                progress((i + 1) / len(levers))
        chosen = []
        if options:
            gains = np.array([direction * o[2] for o in options])
            costs = np.array([o[3] for o in options])
            one_per_lever = np.array([[1.0 if o[0] == lever.lever_id else 0.0 for o in options] for lever in levers])
            result = milp(
                c=-gains, integrality=np.ones(len(options)), bounds=Bounds(0, 1),
                constraints=[LinearConstraint(costs[None, :], -np.inf, budget_eur_per_year),
                             LinearConstraint(one_per_lever, 0, 1)],
            )
            chosen = [options[i] for i in np.flatnonzero(result.x > 0.5)] if result.success else []
        settings = {lever_id: level for lever_id, level, _, _ in chosen}
        combined = self.run(settings)
        table = pd.DataFrame([{"lever_id": lid, "lever": self.levers[lid].name, "level": level, "effect_alone": effect,
                               "cost_eur_per_year": cost, "effect_per_1000_eur": effect / cost * 1000 if cost > 0 else np.nan}
                              for lid, level, effect, cost in chosen],
                             columns=["lever_id", "lever", "level", "effect_alone", "cost_eur_per_year", "effect_per_1000_eur"])
        return Portfolio(objective=key, year=year, budget_eur_per_year=budget_eur_per_year, settings=settings,
                         choices=table.sort_values("effect_alone", key=lambda e: direction * e, ascending=False).reset_index(drop=True),
                         baseline_value=base, combined_value=self.objective(combined, key, year),
                         sum_of_single_effects=float(table["effect_alone"].sum()) if len(table) else 0.0,
                         cost_eur_per_year=combined.cost_eur_per_year,
                         skipped=pd.DataFrame(skipped, columns=["lever_id", "lever", "reason"]))

    def value_creation(self, product: str, year: int) -> pd.DataFrame:
        """The business models of data/business_models.csv applied to one product alone: material in
        new products (demand), demand avoided against linear use, secondary supply, MCI and the value
        of the material kept in use or recovered (EUR per year, at data/material_prices.csv)."""
        c = self.inputs.chain
        if product not in c.products:
            raise ValueError(f"Product '{product}' carries none of the chosen materials; choose one of: {', '.join(c.products)}.")
        g = c.products.index(product)
        p_mask = c.g_of_pair == g
        prices = self.tables["material_prices"].set_index("material")["price_eur_per_kg"]
        pair_price = np.array([float(prices[m]) for _, m in c.pairs])
        rows = []
        for bm in self.tables["business_models"].to_dict(orient="records"):
            inputs = self.inputs.copy()
            ramp = np.clip((model.YEARS - 2026 + 1) / 3, 0, 1)  # business models start in 2026 and take three years
            chain = inputs.chain
            inputs.lifetime_factor_by_year[:, g] *= 1 + ramp * bm["lifetime_extension"]
            inputs.reuse_share[:, g] = ramp * bm["reuse_share"]
            inputs.take_back_share[:, g] = ramp * bm["take_back_share"]
            chain.hibernation_share[:, g] *= 1 - ramp * bm["take_back_share"]
            if bm["collection_points"] < 0:  # linear: nothing collected, nothing taken back
                chain.collection_rate[:, g] = 0.0
            else:
                chain.collection_rate[:, g] = np.clip(chain.collection_rate[:, g] + ramp * bm["collection_points"], 0, 1)
            chain.recovery_yield[:, p_mask] = np.clip(chain.recovery_yield[:, p_mask] + ramp[:, None] * bm["yield_points"], 0, 1)
            inputs.target[:, 0, g] *= 1 - ramp * bm["units_needed_cut"]
            inputs.utility[:, p_mask] *= ((1 + ramp * bm["lifetime_extension"]) / (1 - ramp * bm["units_needed_cut"]))[:, None]
            flows, stocks = model.run_city_inputs(inputs)
            sim = Simulation.from_chain(inputs, flows, stocks, samples=1, seed=0, confidence={})
            t = int(np.searchsorted(sim.years, year))
            demand = sim.by_pair["new_products"][0, t, p_mask]
            secondary = sim.by_pair["secondary_supply"][0, t, p_mask]
            mci = pair_mci(sim, t)[0, p_mask]
            weights = np.where(np.isnan(mci), 0, demand)
            rows.append({"model_id": bm["model_id"], "business model": bm["name"], "description": bm["description"],
                         "demand_kg": float(demand.sum()), "secondary_supply_kg": float(secondary.sum()),
                         "mci": float(np.nansum(mci * weights) / weights.sum()) if weights.sum() > 0 else np.nan,
                         "_demand_by_pair": demand, "_secondary_by_pair": secondary,
                         "confidence": bm["confidence"]})
        frame = pd.DataFrame(rows)
        linear = frame.set_index("model_id").loc["linear"]
        frame["demand_avoided_kg"] = linear["demand_kg"] - frame["demand_kg"]
        frame["value_retained_eur_per_year"] = [
            float(((linear["_demand_by_pair"] - d) + s) @ pair_price[p_mask])
            for d, s in zip(frame["_demand_by_pair"], frame["_secondary_by_pair"])
        ]
        order = frame["model_id"].map({"linear": 0, "today": 1}).fillna(2)  # the two references first
        return frame.drop(columns=["_demand_by_pair", "_secondary_by_pair"]).iloc[order.argsort(kind="stable")].reset_index(drop=True)


@dataclass
class Portfolio:
    objective: str
    year: int
    budget_eur_per_year: float
    settings: dict[str, float]
    choices: pd.DataFrame
    baseline_value: float
    combined_value: float
    sum_of_single_effects: float
    cost_eur_per_year: float
    skipped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["lever_id", "lever", "reason"]))

    def skipped_text(self) -> str:
        """The levers never considered and why, in a sentence ("" when none was skipped)."""
        if self.skipped.empty:
            return ""
        label = OBJECTIVES[self.objective][0].lower()
        wrong = "lower" if better_direction(self.objective) > 0 else "raise"
        parts = [f"{', '.join(group['lever'])} ({'no effect on' if reason == NO_EFFECT else 'they ' + wrong} "
                 f"{label} in {self.year})" for reason, group in self.skipped.groupby("reason", sort=True)]
        return "Never bought: " + "; ".join(parts) + "."

    def explanation(self) -> str:
        """Why these levers, in plain words, and which were skipped."""
        label, unit = OBJECTIVES[self.objective]
        verb = "raises" if better_direction(self.objective) > 0 else "lowers"
        skipped = (" " + self.skipped_text()) if not self.skipped.empty else ""
        if self.choices.empty:
            return (f"No lever that {verb} {label.lower()} in {self.year} fits a yearly budget of "
                    f"{self.budget_eur_per_year:,.0f} EUR; the baseline stays.{skipped}")
        names = ", ".join(f"{r.lever} at {r.level:g}" for r in self.choices.itertuples())
        text = (f"Within {self.budget_eur_per_year:,.0f} EUR per year the solver picks {names}, costing "
                f"{self.cost_eur_per_year:,.0f} EUR per year at full roll-out. It ranks every level of every lever by what it "
                f"adds to {label.lower()} in {self.year} and chooses the combination with the largest total that the budget "
                f"allows. Together they move it from {self.baseline_value:,.4g} to {self.combined_value:,.4g} ({unit})")
        together = self.combined_value - self.baseline_value
        if abs(together - self.sum_of_single_effects) > 0.01 * max(abs(together), 1e-12):
            why = ("levers reinforcing each other (collecting more makes better recovery count more)"
                   if abs(together) > abs(self.sum_of_single_effects) else
                   "levers acting on the same units (a device kept longer is not collected that year, so fewer reach collection)")
            text += f"; one by one they would add {self.sum_of_single_effects:,.4g}, and the difference comes from {why}"
        return text + "." + skipped


INDICATOR_LABELS = {**{k: v.label for k, v in INDICATORS.items()}, **{k: v[0] for k, v in OBJECTIVES.items()}}


def indicator_label(key: str) -> str:
    """The words for a key of ScenarioEngine.indicators ("lost_kg" -> "Lost")."""
    return INDICATOR_LABELS.get(key, key.removesuffix("_kg").replace("_", " ").capitalize())


def format_indicator(key: str, value: float) -> str:
    """A value of ScenarioEngine.indicators as people read it: masses with a unit (flows per year), the
    cost in EUR per year, the MCI as an index, shares in percent."""
    if value != value:
        return "n/a"
    if key.endswith("_kg"):
        return format_mass(value) + ("" if key.endswith("stock_kg") else "/yr")
    if key == "cost_eur_per_year":
        return f"{value:,.0f} EUR/yr"
    if key == "portfolio_mci":
        return f"{value:.3f}"
    if key == "urban_mine_per_inhabitant":
        return format_mass(value)
    return format_share(value)


def indicator_comparison(baseline: Mapping[str, float], scenario: Mapping[str, float]) -> pd.DataFrame:
    """Every indicator of two runs side by side: rows indicator (words), key, baseline, scenario, change."""
    keys = list(scenario)
    table = pd.DataFrame({"indicator": [indicator_label(k) for k in keys], "key": keys,
                          "baseline": [baseline[k] for k in keys], "scenario": [scenario[k] for k in keys]})
    return table.assign(change=table["scenario"] - table["baseline"])


def objective_series(engine: ScenarioEngine, run: Run, key: str) -> pd.DataFrame:
    """One indicator by year for the baseline and the run: rows year, indicator, value, run ("baseline", "scenario")."""
    series = pd.concat([engine.timeseries(engine.baseline).assign(run="baseline"), engine.timeseries(run).assign(run="scenario")])
    return series[series["indicator"] == key].reset_index(drop=True)
