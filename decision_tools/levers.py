"""The city's levers (data/levers.csv): what each one moves, and applying a set of lever levels to the
model's inputs.

A lever moves one model parameter for some products (and materials) from its start year on, ramping up
linearly over its ramp-up years, by its level (0 at its default). Shares stay within 0..1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import model, model_inputs
from .provenance import split_sources


@dataclass(frozen=True)
class Lever:
    lever_id: str
    name: str
    description: str
    parameter: str
    products: tuple[str, ...] | None  # None: every product
    materials: tuple[str, ...] | None  # None: every material
    unit: str
    minimum: float
    default: float
    maximum: float
    step: float
    competence: str
    who_acts: str
    start_year: int
    ramp_years: int
    cost_eur_per_inhabitant_at_max: float
    cost_confidence: str
    source_id: str
    confidence: str
    acting_level: str = "not recorded"  # EU, national, city or company: who can move it (decision_tools.rules)
    legal_basis: str = ""  # eu_instruments / targets ids behind it, ';'-separated; empty: the city's own choice

    def ramp(self) -> np.ndarray:
        """Share 0..1 of the lever's effect in each model year: 0 before the start year, then
        rising linearly to 1 over the ramp-up years."""
        return np.clip((model.YEARS - self.start_year + 1) / self.ramp_years, 0.0, 1.0)

    def cost_eur_per_year(self, level: float, population: float) -> float:
        """Yearly cost at full roll-out, linear in the level above the default (EUR per year)."""
        span = self.maximum - self.default
        return 0.0 if span <= 0 else self.cost_eur_per_inhabitant_at_max * population * (level - self.default) / span


def _codes(value: str) -> tuple[str, ...] | None:
    codes = tuple(split_sources(value))
    return None if codes in ((), ("all",)) else codes


def levers_from_table(table: pd.DataFrame) -> dict[str, Lever]:
    levers = {}
    for row in table.to_dict(orient="records"):
        row["products"], row["materials"] = _codes(row["products"]), _codes(row["materials"])
        for key in ("minimum", "default", "maximum", "step", "cost_eur_per_inhabitant_at_max"):
            row[key] = float(row[key])
        row["start_year"], row["ramp_years"] = int(row["start_year"]), int(row["ramp_years"])
        for key in ("acting_level", "legal_basis"):  # optional columns: missing or empty in older tables
            if key in row and not isinstance(row[key], str):
                row.pop(key)
        levers[row["lever_id"]] = Lever(**row)
    return levers


def check_settings(levers: Mapping[str, Lever], settings: Mapping[str, float]) -> dict[str, float]:
    """Lever levels as floats, or ValueError in a sentence for an unknown lever or a level out of range."""
    checked = {}
    for lever_id, value in settings.items():
        lever = levers.get(lever_id)
        if lever is None:
            raise ValueError(f"Unknown lever '{lever_id}'; choose one of: {', '.join(sorted(levers))}.")
        try:
            level = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"Lever '{lever_id}' needs a number; got {value!r}.") from None
        if not (lever.minimum - 1e-12 <= level <= lever.maximum + 1e-12):
            raise ValueError(f"Lever '{lever_id}' takes values from {lever.minimum:g} to {lever.maximum:g}; got {level:g}.")
        checked[lever_id] = level
    return checked


def apply_levers(inputs: model_inputs.CityInputs, levers: Mapping[str, Lever], settings: Mapping[str, float]) -> model_inputs.CityInputs:
    """A copy of ``inputs`` with each lever's parameter moved, for its products and materials only,
    from its start year on. Shares never leave 0..1; a lever at its default changes nothing."""
    out = inputs.copy()
    c = out.chain
    for lever_id, level in check_settings(levers, settings).items():
        lever = levers[lever_id]
        effect = lever.ramp()[:, None] * (level - lever.default)  # (t, 1)
        if not np.any(effect):
            continue
        g = np.array([lever.products is None or p in lever.products for p in c.products])
        p = np.array([(lever.products is None or prod in lever.products) and (lever.materials is None or mat in lever.materials)
                      for prod, mat in c.pairs])
        p_of_g = g[c.g_of_pair]
        if lever.parameter == "collection_rate":
            c.collection_rate[:, g] = np.clip(c.collection_rate[:, g] + effect, 0, 1)
        elif lever.parameter == "hibernation_return":
            returned = c.hibernation_share[:, g] * effect
            out.take_back_share[:, g] = np.clip(out.take_back_share[:, g] + returned, 0, 1)
            c.hibernation_share[:, g] = c.hibernation_share[:, g] - returned
        elif lever.parameter == "lifetime_extension":
            out.lifetime_factor_by_year[:, g] *= 1 + effect
            out.utility[:, p_of_g] *= 1 + effect
        elif lever.parameter == "reuse_share":
            out.reuse_share[:, g] = np.clip(out.reuse_share[:, g] + effect, 0, 1)
        elif lever.parameter == "recovery_yield":
            c.recovery_yield[:, p] = np.clip(c.recovery_yield[:, p] + effect, 0, 1)
        elif lever.parameter == "recycled_content":
            out.recycled_content[:, p] = np.clip(out.recycled_content[:, p] + effect, 0, 1)
        elif lever.parameter == "units_needed":
            out.target[:, 0, g] *= 1 - effect
            out.utility[:, p_of_g] /= 1 - effect  # the same service from fewer units: more intense use
        elif lever.parameter == "export_share":
            c.export_share[:, g] *= 1 - effect
        else:
            raise ValueError(f"Lever '{lever_id}' moves an unknown parameter {lever.parameter!r}.")
    return out
