"""What one Monte Carlo of a city says for a year: each indicator's central value with its 5-95 % range,
the quantities' ranges over time, and the Material Circularity Indicator by product.

Computed once per city, scope, weighting and year (the pages cache the result), so drawing the
Indicators page is not the place where the draws are summarised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import uncertainty
from .indicators import mass_weighted_mean


@dataclass(frozen=True)
class YearRanges:
    """``cards``: indicator key -> {"central", "p05", "p95"} (shares 0..1, kg per inhabitant);
    ``quantities``: uncertainty.quantity_bands (kg per year or kg, every year); ``mci_by_product``:
    product, central, p05, p95 (MCI 0..1), products with no end of life yet left out."""

    cards: dict[str, dict[str, float]]
    quantities: pd.DataFrame
    mci_by_product: pd.DataFrame


def year_ranges(sim: uncertainty.Simulation, year: int, pair_weights=None) -> YearRanges:
    """The ranges of ``year``; ``pair_weights`` as in ``uncertainty.indicator_samples`` (None: by mass)."""
    samples = uncertainty.indicator_samples(sim, year, pair_weights)
    central = uncertainty.central_indicators(sim, year, pair_weights)
    cards = {key: uncertainty.band(central[key], samples[key]) for key in samples}
    return YearRanges(cards, uncertainty.quantity_bands(sim), mci_by_product(sim, year, pair_weights))


def mci_by_product(sim: uncertainty.Simulation, year: int, pair_weights=None) -> pd.DataFrame:
    """Per product: the MCI of the central run and the 5-95 % range of the draws, its materials weighted
    by material in new products (times ``pair_weights`` when given). Rounded to 3 decimals."""
    t = int(list(sim.years).index(year))
    weight = 1.0 if pair_weights is None else np.asarray(pair_weights, dtype=float)
    central = sim.central or sim
    pair_values, central_values = uncertainty.pair_mci(sim, t), uncertainty.pair_mci(central, t)
    new_mass = sim.by_pair["new_products"][:, t, :] * weight
    central_mass = central.by_pair["new_products"][:, t, :] * weight
    rows = []
    for product in sorted({p for p, _ in sim.pairs}):
        columns = [i for i, (p, _) in enumerate(sim.pairs) if p == product]
        per_sample = mass_weighted_mean(pair_values[:, columns], new_mass[:, columns], axis=1)
        band = uncertainty.band(mass_weighted_mean(central_values[:, columns], central_mass[:, columns], axis=1)[0], per_sample)
        if not pd.isna(band["central"]):
            rows.append({"product": product, **band})
    return pd.DataFrame(rows, columns=["product", "central", "p05", "p95"]).round(3)
