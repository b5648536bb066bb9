"""Monte Carlo uncertainty: every input's confidence label becomes a spread, propagated through the
city model for one city, vectorised over samples.

Each uncertain input is multiplied by a factor drawn once per sample (so it holds for every year):
a normal factor with mean 1 whose 5-95 % range is +-spread (spread by confidence label, see
provenance.CONFIDENCE_SPREAD), never below 0.01; shares are clipped to 0..1 after scaling.

- units in use (ownership and population), per product: linear in the model, so scaled directly;
- mean lifetime, per product: the stock model is not linear in it, so it runs once per point of a
  grid of lifetime factors (+-3 standard deviations, 9 points) and each sample interpolates;
- hibernation share, export share and collection rate, per product; content and recovery yield, per
  (product, material).

With every factor set to 1 the result equals the stored model (a unit test checks it).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import indicators as ind
from . import model
from .provenance import CONFIDENCE_SPREAD, weakest
from .system import REPORT_START

DEFAULT_SAMPLES = 1000
DEFAULT_SEED = 20261122  # fixed, so a link shows the same ranges every time
Z_90 = 1.6448536269514722  # standard normal quantile: +-spread is the 5-95 % range
LIFETIME_GRID_Z = np.linspace(-3.0, 3.0, 9)
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

    @classmethod
    def from_chain(cls, inputs: model.CityInputs, flows: dict, stocks: dict, samples: int, seed: int,
                   confidence: dict[str, str]) -> "Simulation":
        """Collect the chain's arrays (t, s, p) into the quantities, for the reported years."""
        report = model.YEARS >= REPORT_START
        by_pair = {
            "in_use_stock": stocks["use"], "hibernating_stock": stocks["hibernation"],
            "new_products": flows[("market", "use")],
            "end_of_life": flows[("use", "end_of_life")] + flows[("hibernation", "end_of_life")],
            "separately_collected": flows[("end_of_life", "separate_collection")],
            "secondary_supply": flows[("recycling", "secondary_supply")],
            "lost": flows[("end_of_life", "residual_waste")] + flows[("end_of_life", "export_reuse_abroad")]
                    + flows[("recycling", "recycling_loss")],
        }
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


def _factor(rng: np.random.Generator, labels: np.ndarray, samples: int) -> np.ndarray:
    """(samples, len(labels)) multiplicative factors with the spread of each label."""
    spreads = np.array([CONFIDENCE_SPREAD[label] for label in labels])
    return np.maximum(0.01, 1.0 + rng.standard_normal((samples, len(labels))) * spreads / Z_90)


def _labels_per(table: pd.DataFrame, keys: list, key_columns: list[str]) -> np.ndarray:
    grouped = table.groupby(key_columns)["confidence"].agg(weakest)
    return np.array([grouped[tuple(k) if len(key_columns) > 1 else k] for k in keys])


def simulate(tables: dict[str, pd.DataFrame], city: str, materials: list[str], samples: int = DEFAULT_SAMPLES,
             seed: int = DEFAULT_SEED, spread_scale: float = 1.0) -> Simulation:
    """Monte Carlo of the chain for one city and the given materials. ``spread_scale`` 0 gives the
    central model (every factor 1)."""
    return simulate_inputs(model.city_inputs(tables, city, materials), tables, samples, seed, spread_scale)


def simulate_inputs(inputs: model.CityInputs, tables: dict[str, pd.DataFrame], samples: int = DEFAULT_SAMPLES,
                    seed: int = DEFAULT_SEED, spread_scale: float = 1.0) -> Simulation:
    """Monte Carlo of prepared city inputs (see ``simulate``)."""
    rng = np.random.default_rng(seed)
    c = inputs.chain
    products_table = inputs.products_table
    city_labels = [weakest(tables["cities"].loc[tables["cities"]["city"] == inputs.city, "confidence"])]

    # Lifetime grid: one stock model per lifetime factor.
    life_labels = products_table["confidence"].to_numpy()
    life_sigma = np.array([CONFIDENCE_SPREAD[label] for label in life_labels]) / Z_90 * spread_scale
    grid = np.maximum(0.2, 1.0 + LIFETIME_GRID_Z[:, None] * life_sigma[None, :])  # (k, g)
    grid_in, grid_out, grid_stock = model.use_stock(products_table, np.repeat(inputs.target, len(LIFETIME_GRID_Z), axis=1), grid)

    # Draws, one per sample and input.
    def factor(labels):
        return 1.0 + (_factor(rng, labels, samples) - 1.0) * spread_scale

    stock_f = factor(inputs.ownership_labels) * factor(np.array(city_labels))  # (s, g)
    z_life = np.clip(rng.standard_normal((samples, len(c.products))) * spread_scale, -3.0, 3.0)
    routing_labels = _labels_per(tables["eol_routing"], c.products, ["product"])
    hib_f, export_f, collect_f = factor(routing_labels), factor(routing_labels), factor(routing_labels)
    content_labels = _labels_per(tables["product_content"], c.pairs, ["product", "material"])
    yield_labels = _labels_per(tables["recovery_yields"], c.pairs, ["product", "material"])
    content_f, yield_f = factor(content_labels), factor(yield_labels)

    # Interpolate the lifetime grid per sample and product: (t, s, g).
    position = (z_life - LIFETIME_GRID_Z[0]) / (LIFETIME_GRID_Z[1] - LIFETIME_GRID_Z[0])
    low = np.minimum(np.floor(position).astype(int), len(LIFETIME_GRID_Z) - 2)
    frac = position - low
    g_idx = np.arange(len(c.products))[None, :]

    def pick(grid_values):  # (t, k, g) -> (t, s, g)
        return (grid_values[:, low, g_idx] * (1 - frac) + grid_values[:, low + 1, g_idx] * frac) * stock_f

    flows, stocks, _ = model.material_chain(
        pick(grid_in), pick(grid_out), pick(grid_stock), model.hibernation_lifetime(products_table),
        np.clip(c.hibernation_share[:, None, :] * hib_f, 0, 1),
        np.clip(c.export_share[:, None, :] * export_f, 0, 1),
        np.clip(c.collection_rate[:, None, :] * collect_f, 0, 1),
        c.g_of_pair, c.kg_per_unit * content_f, np.clip(c.recovery_yield[:, None, :] * yield_f, 0, 1),
    )
    labels = list(inputs.ownership_labels) + list(life_labels) + list(content_labels) + city_labels
    confidence = {
        "stock": weakest(labels),
        "routing": weakest(labels + list(routing_labels)),
        "recovery": weakest(labels + list(routing_labels) + list(yield_labels)),
    }
    return Simulation.from_chain(inputs, flows, stocks, samples, seed, confidence)


def indicator_samples(sim: Simulation, year: int) -> dict[str, np.ndarray]:
    """Every indicator of ``indicators.INDICATORS`` for one year, as an array of samples (s,)."""
    t = int(np.searchsorted(sim.years, year))
    if not (0 <= t < len(sim.years) and sim.years[t] == year):
        raise ValueError(f"Year {year} is outside {sim.years[0]}-{sim.years[-1]}.")
    q = {k: v[:, t] for k, v in sim.totals.items()}
    new_pairs = sim.by_pair["new_products"][:, t, :]
    share = ind.secondary_supply_share(q["secondary_supply"], q["new_products"])
    return {
        "collection_rate": ind.collection_rate(q["separately_collected"], q["end_of_life"]),
        "recovery_efficiency": ind.recovery_efficiency(q["secondary_supply"], q["separately_collected"]),
        "eol_recycling_rate": ind.eol_recycling_rate(q["secondary_supply"], q["end_of_life"]),
        "secondary_supply_share": share,
        "gap_to_crma_benchmark": ind.gap_to_benchmark(share),
        "circular_material_use_rate": ind.circular_material_use_rate(q["secondary_supply"], q["new_products"]),
        "recycled_content": ind.mass_weighted_mean(np.broadcast_to(sim.recycled_content[t], new_pairs.shape), new_pairs),
        "hibernation_share": ind.hibernation_share(q["hibernating_stock"], q["in_use_stock"]),
        "urban_mine_per_inhabitant": ind.stock_per_inhabitant(q["in_use_stock"] + q["hibernating_stock"], sim.population),
        "portfolio_mci": ind.mass_weighted_mean(pair_mci(sim, t), new_pairs),
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
    """Median and the 5-95 % range of samples along ``axis`` (NaNs ignored)."""
    with warnings.catch_warnings():  # an all-NaN slice (a rate undefined in that year) gives NaN, quietly
        warnings.simplefilter("ignore", RuntimeWarning)
        low, median, high = np.nanpercentile(np.asarray(samples, dtype=float), [5, 50, 95], axis=axis)
    as_value = (lambda x: float(x)) if np.ndim(median) == 0 else (lambda x: x)
    return {"median": as_value(median), "p05": as_value(low), "p95": as_value(high)}


def quantity_bands(sim: Simulation) -> pd.DataFrame:
    """Per year and quantity: median, p05, p95 (kg), for charts with an uncertainty band."""
    rows = []
    for key, values in sim.totals.items():
        band = summarise(values)
        rows.append(pd.DataFrame({"year": sim.years, "metric": key, "median": band["median"],
                                  "p05": band["p05"], "p95": band["p95"]}))
    return pd.concat(rows, ignore_index=True)


def indicator_bands(sim: Simulation, keys: tuple[str, ...]) -> pd.DataFrame:
    """Per year and indicator: median, p05, p95."""
    rows = []
    for year in sim.years:
        samples = indicator_samples(sim, int(year))
        for key in keys:
            band = summarise(samples[key])
            rows.append({"year": int(year), "indicator": key, **band})
    return pd.DataFrame(rows)
