"""Monte Carlo uncertainty: every input's confidence label becomes a spread, propagated through the
city model for one city, vectorised over samples.

Each uncertain input is multiplied by a factor drawn once per sample (so it holds for every year):
a LOGNORMAL factor with median 1 whose 5-95 % range is 1/F to F, F by confidence label
(provenance.CONFIDENCE_FACTOR: 3 for an order of magnitude); shares are clipped to 0..1 after scaling.

- units in use (ownership), per draw group: linear in the model, so scaled directly. Products that are
  parts of the same thing (products.csv ``draw_group``: an EV's battery and motor) share one draw, with
  the widest spread of the group; population and households are drawn only when the city's label is
  low or illustrative (a national statistic is exact for this purpose);
- mean lifetime, per draw group: the stock model is not linear in it, so it runs once per point of a
  grid of lifetime factors (+-3 standard deviations of log-lifetime, 9 points) and each sample interpolates;
- hibernation share, export share and collection rate, per product; content and recovery yield, per
  (product, material).

Besides the draws, every simulation carries its CENTRAL run (every factor 1): the stored model's numbers,
which every page shows as the value, with the draws' 5-95 % range beside it (a unit test checks it).

What the ranges leave out (STRUCTURAL_NOTE): they only spread the inputs within their labels.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import indicators as ind
from . import model, model_inputs, stock_model
from .provenance import CONFIDENCE_FACTOR, SAMPLED_CITY_LABELS, weakest
from .system import METRICS, REPORT_START

DEFAULT_SAMPLES = 1000
DEFAULT_SEED = 20261122  # fixed, so a link shows the same ranges every time
Z_90 = 1.6448536269514722  # standard normal 95 % quantile: exp(Z_90 sigma) = F is the 95 % of the factor
LIFETIME_GRID_Z = np.linspace(-3.0, 3.0, 9)  # index 4 is 0: the central lifetime, exactly
STRUCTURAL_NOTE = (
    "The ranges spread each input within its confidence label, nothing more. They do not include structural "
    "uncertainty: EU and national averages downscaled to the city as if its people behaved like the average, "
    "the form of the model (lifetime distributions, fixed transfer coefficients), products and uses that are not "
    "modelled at all, and correlations between inputs beyond the parts of one product (materials are drawn "
    "independently, so an aggregate's range is too narrow where they move together)."
)
QUANTITIES = ("in_use_stock", "hibernating_stock", "new_products", "end_of_life", "separately_collected",
              "secondary_supply", "lost")


@dataclass
class Simulation:
    """Samples (s, t) of each quantity for one city and a set of materials, kg (stocks) or kg per
    year (flows), years REPORT_START..2050; per pair (s, t, p) for product-level indicators."""

    city: str
    materials: tuple[str, ...]
    population: float
    years: np.ndarray
    samples: int
    seed: int
    totals: dict[str, np.ndarray]
    pairs: list[tuple[str, str]]
    by_pair: dict[str, np.ndarray]
    recycled_content: np.ndarray  # (t, p) share 0..1 of recycled old scrap in new products
    utility: np.ndarray  # (t, p) lifetime and intensity of use against the average (the MCI's X)
    confidence: dict[str, str] = field(default_factory=dict)  # weakest input label per quantity
    central: Simulation | None = None  # the run with every factor 1 (the stored model); None for a central run

    def rows(self, index) -> Simulation:
        """The same simulation restricted to some samples (a slice or index array)."""
        totals = {k: v[index] for k, v in self.totals.items()}
        return dataclasses.replace(self, samples=len(next(iter(totals.values()))), totals=totals,
                                   by_pair={k: v[index] for k, v in self.by_pair.items()}, central=None)

    @classmethod
    def from_chain(cls, inputs: model_inputs.CityInputs, flows: dict, stocks: dict, samples: int, seed: int,
                   confidence: dict[str, str]) -> "Simulation":
        """Collect the chain's arrays (t, s, p) into the quantities, for the reported years."""
        report = model.YEARS >= REPORT_START
        by_pair = {metric.key: stocks[metric.stock] if metric.stock else sum(flows[edge] for edge in metric.flows)
                   for metric in METRICS.values()}  # as declared in system.METRICS
        by_pair = {k: np.moveaxis(v[report], 0, 1) for k, v in by_pair.items()}  # (s, t, p)
        return cls(
            city=inputs.city, materials=tuple(dict.fromkeys(m for _, m in inputs.chain.pairs)),
            population=inputs.population, years=model.YEARS[report], samples=samples, seed=seed,
            totals={k: v.sum(axis=2) for k, v in by_pair.items()}, pairs=list(inputs.chain.pairs), by_pair=by_pair,
            recycled_content=inputs.recycled_content[report], utility=inputs.utility[report], confidence=confidence,
        )


def quantity_frame(sim: "Simulation", quantity: str, sample: int = 0) -> pd.DataFrame:
    """One quantity of one sample as long rows: year, product, material, kg."""
    values = sim.by_pair[quantity][sample]  # (t, p)
    products = [p for p, _ in sim.pairs]
    materials = [m for _, m in sim.pairs]
    return pd.DataFrame({
        "year": np.repeat(sim.years, len(sim.pairs)).astype(int),
        "product": np.tile(products, len(sim.years)),
        "material": np.tile(materials, len(sim.years)),
        "kg": values.reshape(-1),
    })


def sigma_of(labels) -> np.ndarray:
    """Standard deviation of log-factor per label: the 5-95 % range of exp(sigma z) is 1/F .. F."""
    return np.log(np.array([CONFIDENCE_FACTOR[label] for label in labels], dtype=float)) / Z_90


def lognormal_factor(rng: np.random.Generator, labels, samples: int, spread_scale: float = 1.0) -> np.ndarray:
    """(samples, len(labels)) lognormal factors with median 1, 5 % at 1/F and 95 % at F of each label."""
    sigma = sigma_of(labels) * spread_scale
    return np.exp(rng.standard_normal((samples, len(sigma))) * sigma)


def draw_groups(products_table: pd.DataFrame) -> np.ndarray:
    """Group index per product: products with the same ``draw_group`` share their ownership and lifetime
    draws; an empty group (or a table without the column) is the product's own group."""
    if "draw_group" in products_table.columns:
        named = products_table["draw_group"].astype("string").str.strip().fillna("")
    else:
        named = pd.Series([""] * len(products_table), dtype="string")
    keys = [g if g else f"product:{p}" for g, p in zip(named, products_table["product"])]
    order = list(dict.fromkeys(keys))
    return np.array([order.index(k) for k in keys], dtype=int)


def _group_sigma(labels, groups: np.ndarray) -> np.ndarray:
    """Per product: the widest sigma of its group, so every part of one thing gets the same factor."""
    sigma = sigma_of(labels)
    widest = np.zeros(int(groups.max()) + 1 if len(groups) else 0)
    np.maximum.at(widest, groups, sigma)
    return widest[groups]


def _labels_per(table: pd.DataFrame, keys: list, key_columns: list[str]) -> np.ndarray:
    grouped = table.groupby(key_columns)["confidence"].agg(weakest)
    return np.array([grouped[tuple(k) if len(key_columns) > 1 else k] for k in keys])


def simulate(tables: dict[str, pd.DataFrame], city: str, materials: list[str], samples: int = DEFAULT_SAMPLES,
             seed: int = DEFAULT_SEED, spread_scale: float = 1.0) -> Simulation:
    """Monte Carlo of the chain for one city and the given materials. ``spread_scale`` 0 gives the
    central model (every factor 1)."""
    return simulate_inputs(model_inputs.city_inputs(tables, city, materials), tables, samples, seed, spread_scale)


@dataclass
class Draws:
    """The Monte Carlo's factors, one row per sample; row 0 is the central run (factor 1, z 0)."""

    life_sigma: np.ndarray  # (g,) sigma of log-lifetime per product (shared within a draw group)
    units_in_use: np.ndarray  # (s, g) factor on units in use: ownership (per draw group) x population if drawn
    lifetime_z: np.ndarray  # (s, g) standard normal of log-lifetime, clipped to +-3 (per draw group)
    hibernation: np.ndarray  # (s, g)
    export: np.ndarray  # (s, g)
    collection: np.ndarray  # (s, g)
    content: np.ndarray  # (s, p)
    recovery_yield: np.ndarray  # (s, p)
    labels: dict[str, list[str]] = field(default_factory=dict)


def draw_factors(inputs: model_inputs.CityInputs, tables: dict[str, pd.DataFrame], samples: int, seed: int,
                 spread_scale: float = 1.0) -> Draws:
    """Every input's factor per sample (and the central row 0), from the confidence labels."""
    rng = np.random.default_rng(seed)
    c = inputs.chain
    products_table = inputs.products_table
    city_label = weakest(tables["cities"].loc[tables["cities"]["city"] == inputs.city, "confidence"])
    groups = draw_groups(products_table)
    n_groups = int(groups.max()) + 1
    life_labels = list(products_table["confidence"])

    def with_central(factors: np.ndarray, value: float = 1.0) -> np.ndarray:
        return np.vstack([np.full((1, factors.shape[1]), value), factors])

    own_sigma = _group_sigma(inputs.ownership_labels, groups) * spread_scale
    units = np.exp(rng.standard_normal((samples, n_groups))[:, groups] * own_sigma)  # shared per group
    if city_label in SAMPLED_CITY_LABELS:  # population and households: only when they are a weak guess
        units = units * lognormal_factor(rng, [city_label], samples, spread_scale)
    z_life = np.clip(rng.standard_normal((samples, n_groups))[:, groups], -3.0, 3.0)
    country = tables["cities"].set_index("city").at[inputs.city, "country_iso3"]
    routing = model_inputs.routing_rows(tables["eol_routing"], inputs.city, country)  # the rows this city uses
    routing_labels = list(_labels_per(routing, c.products, ["product"]))
    hib_f, export_f, collect_f = (lognormal_factor(rng, routing_labels, samples, spread_scale) for _ in range(3))
    content_labels = list(_labels_per(tables["product_content"], c.pairs, ["product", "material"]))
    yield_labels = list(_labels_per(tables["recovery_yields"], c.pairs, ["product", "material"]))
    content_f = lognormal_factor(rng, content_labels, samples, spread_scale)
    yield_f = lognormal_factor(rng, yield_labels, samples, spread_scale)
    return Draws(
        life_sigma=_group_sigma(life_labels, groups) * spread_scale, units_in_use=with_central(units),
        lifetime_z=with_central(z_life, 0.0), hibernation=with_central(hib_f), export=with_central(export_f),
        collection=with_central(collect_f), content=with_central(content_f), recovery_yield=with_central(yield_f),
        labels={"ownership": list(inputs.ownership_labels), "lifetime": life_labels, "city": [city_label],
                "routing": routing_labels, "content": content_labels, "recovery_yield": yield_labels},
    )


def simulate_inputs(inputs: model_inputs.CityInputs, tables: dict[str, pd.DataFrame], samples: int = DEFAULT_SAMPLES,
                    seed: int = DEFAULT_SEED, spread_scale: float = 1.0) -> Simulation:
    """Monte Carlo of prepared city inputs (see ``simulate``): the draws, and in ``central`` the run
    with every factor 1."""
    c = inputs.chain
    products_table = inputs.products_table
    draws = draw_factors(inputs, tables, samples, seed, spread_scale)

    # Lifetime grid: one stock model per lifetime factor exp(z sigma), sigma shared within a draw group.
    grid = np.exp(LIFETIME_GRID_Z[:, None] * draws.life_sigma[None, :])  # (k, g); row 4 is exactly 1
    grid_in, grid_out, grid_stock, grid_kg = stock_model.use_stock(
        products_table, np.repeat(inputs.target, len(LIFETIME_GRID_Z), axis=1), grid, content=c.content)
    stock_f, z_life = draws.units_in_use, draws.lifetime_z
    hib_f, export_f, collect_f = draws.hibernation, draws.export, draws.collection
    content_f, yield_f = draws.content, draws.recovery_yield

    # Interpolate the lifetime grid per sample and product: (t, s, g).
    position = (z_life - LIFETIME_GRID_Z[0]) / (LIFETIME_GRID_Z[1] - LIFETIME_GRID_Z[0])
    low = np.minimum(np.floor(position).astype(int), len(LIFETIME_GRID_Z) - 2)
    frac = position - low
    g_idx = np.arange(len(c.products))[None, :]

    def pick(grid_values):  # (t, k, g) -> (t, s, g)
        return (grid_values[:, low, g_idx] * (1 - frac) + grid_values[:, low + 1, g_idx] * frac) * stock_f

    def pick_pairs(grid_values):  # (t, k, p) -> (t, s, p): a pair follows its product's lifetime and stock draws
        gp = c.g_of_pair
        p_idx = np.arange(len(gp))[None, :]
        return (grid_values[:, low[:, gp], p_idx] * (1 - frac[:, gp]) + grid_values[:, low[:, gp] + 1, p_idx] * frac[:, gp]) \
            * stock_f[:, gp] * content_f

    material = stock_model.MaterialInUse(*(pick_pairs(v) for v in (grid_kg.inflow_kg, grid_kg.outflow_kg, grid_kg.stock_kg)))
    flows, stocks, _ = model.material_chain(model.ChainArrays(
        pick(grid_in), pick(grid_out), pick(grid_stock), material, stock_model.hibernation_lifetime(products_table),
        np.clip(c.hibernation_share[:, None, :] * hib_f, 0, 1),
        np.clip(c.export_share[:, None, :] * export_f, 0, 1),
        np.clip(c.collection_rate[:, None, :] * collect_f, 0, 1),
        np.clip(c.recovery_yield[:, None, :] * yield_f, 0, 1), c.g_of_pair,
    ))
    by = draws.labels
    labels = by["ownership"] + by["lifetime"] + by["content"] + by["city"]
    confidence = {
        "stock": weakest(labels),
        "routing": weakest(labels + by["routing"]),
        "recovery": weakest(labels + by["routing"] + by["recovery_yield"]),
    }
    everything = Simulation.from_chain(inputs, flows, stocks, samples + 1, seed, confidence)
    draws = everything.rows(slice(1, None))
    draws.central = everything.rows(slice(0, 1))
    return draws


def central_indicators(sim: Simulation, year: int, pair_weights=None) -> dict[str, float]:
    """Every indicator of the central run (every factor 1: the stored model) in ``year``, as floats."""
    central = sim.central if sim.central is not None else sim
    return {key: float(values[0]) for key, values in indicator_samples(central, year, pair_weights).items()}


def indicator_samples(sim: Simulation, year: int, pair_weights=None) -> dict[str, np.ndarray]:
    """Every indicator of ``indicators.INDICATORS`` for one year, as an array of samples (s,).

    ``pair_weights`` (p,), optional: a weight per (product, material) pair (``indicators.pair_weights``)
    for aggregates of several materials: every rate becomes sum(w x numerator) / sum(w x denominator),
    and the MCI and recycled content are weighted by w x material in new products. The urban mine per
    inhabitant stays in kg (by mass). None: by mass (every weight 1)."""
    t = int(np.searchsorted(sim.years, year))
    if not (0 <= t < len(sim.years) and sim.years[t] == year):
        raise ValueError(f"Year {year} is outside {sim.years[0]}-{sim.years[-1]}.")
    mass = {k: v[:, t] for k, v in sim.totals.items()}
    new_pairs = sim.by_pair["new_products"][:, t, :]
    if pair_weights is None:
        q, weight = mass, new_pairs
    else:
        w = np.asarray(pair_weights, dtype=float)
        q = {k: v[:, t, :] @ w for k, v in sim.by_pair.items()}
        weight = new_pairs * w
    share = ind.secondary_supply_share(q["secondary_supply"], q["new_products"])
    return {
        "collection_rate": ind.collection_rate(q["separately_collected"], q["end_of_life"]),
        "recovery_efficiency": ind.recovery_efficiency(q["secondary_supply"], q["separately_collected"]),
        "eol_recycling_rate": ind.eol_recycling_rate(q["secondary_supply"], q["end_of_life"]),
        "secondary_supply_share": share,
        "circular_material_use_rate": ind.circular_material_use_rate(q["secondary_supply"], q["new_products"]),
        "recycled_content": ind.mass_weighted_mean(np.broadcast_to(sim.recycled_content[t], new_pairs.shape), weight),
        "hibernation_share": ind.hibernation_share(q["hibernating_stock"], q["in_use_stock"]),
        "urban_mine_per_inhabitant": ind.stock_per_inhabitant(mass["in_use_stock"] + mass["hibernating_stock"], sim.population),
        "portfolio_mci": ind.mass_weighted_mean(pair_mci(sim, t), weight),
    }


def pair_mci(sim: Simulation, t: int) -> np.ndarray:
    """MCI per sample and (product, material) pair in year index ``t`` (s, p); NaN where a pair has
    no end-of-life flow yet (its collection share is undefined).

    F_R = recycled content (the material's EU EOL-RIR unless a lever raises it); C_R = separately
    collected / end of life; E_C = recovery efficiency (1 where nothing is collected: it does not
    matter then); E_F = 1, the methodology's value when unknown; X = the utility (1 unless repair or
    sharing levers raise lifetime or intensity of use).
    """
    eol = sim.by_pair["end_of_life"][:, t, :]
    collected = sim.by_pair["separately_collected"][:, t, :]
    secondary = sim.by_pair["secondary_supply"][:, t, :]
    collected_share = np.clip(ind.collection_rate(collected, eol), 0, 1)
    efficiency = np.clip(np.where(collected > 0, ind.recovery_efficiency(secondary, np.where(collected > 0, collected, 1.0)), 1.0), 0, 1)
    defined = ~np.isnan(collected_share)
    values = ind.material_circularity_indicator(
        np.ones_like(eol), recycled_feedstock=np.broadcast_to(sim.recycled_content[t], eol.shape),
        collected_for_recycling=np.where(defined, collected_share, 0.0), recycling_efficiency_eol=efficiency,
        lifetime_ratio=np.broadcast_to(sim.utility[t], eol.shape),
    )
    return np.where(defined, values, np.nan)


def summarise(samples: np.ndarray, axis: int = 0) -> dict[str, np.ndarray | float]:
    """Median and the 5-95 % range of samples along ``axis`` (NaNs ignored). Pages show the central
    run as the value (``central_indicators``), not this median."""
    with warnings.catch_warnings():  # an all-NaN slice (a rate undefined in that year) gives NaN, quietly
        warnings.simplefilter("ignore", RuntimeWarning)
        low, median, high = np.nanpercentile(np.asarray(samples, dtype=float), [5, 50, 95], axis=axis)
    as_value = (lambda x: float(x)) if np.ndim(median) == 0 else (lambda x: x)
    return {"median": as_value(median), "p05": as_value(low), "p95": as_value(high)}


def band(central: float, samples: np.ndarray) -> dict[str, float]:
    """One value as pages show it: the central run, with the 5-95 % range of the draws."""
    summary = summarise(samples)
    return {"central": float(central), "p05": summary["p05"], "p95": summary["p95"]}


def quantity_bands(sim: Simulation) -> pd.DataFrame:
    """Per year and quantity: the central run (the value pages show) and the draws' median, p05 and p95
    (kg), for charts with a band."""
    rows = []
    for key, values in sim.totals.items():
        summary = summarise(values)
        central = (sim.central or sim).totals[key][0]
        rows.append(pd.DataFrame({"year": sim.years, "metric": key, "central": central, "median": summary["median"],
                                  "p05": summary["p05"], "p95": summary["p95"]}))
    return pd.concat(rows, ignore_index=True)


def indicator_bands(sim: Simulation, keys: tuple[str, ...], pair_weights=None) -> pd.DataFrame:
    """Per year and indicator: the central run and the draws' p05, p95 (weighted as in ``indicator_samples``)."""
    rows = []
    for year in sim.years:
        samples = indicator_samples(sim, int(year), pair_weights)
        central = central_indicators(sim, int(year), pair_weights)
        for key in keys:
            rows.append({"year": int(year), "indicator": key, **band(central[key], samples[key])})
    return pd.DataFrame(rows)
