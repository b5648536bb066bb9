"""Circularity indicators: pure functions on masses (kg) and shares (fractions 0..1).

Each works on floats and, element-wise, on numpy arrays (Monte Carlo samples). Definitions and
their sources are in reference METHODS.md, section 2, and on the app's Methods page:

- recycling rates: UNEP International Resource Panel (2011), Recycling Rates of Metals
- end-of-life recycling input rate (EOL-RIR): European Commission CRM methodology (city analogue here)
- circular material use rate: Eurostat (city analogue here)
- Material Circularity Indicator: Ellen MacArthur Foundation and Granta Design, Circularity
  Indicators methodology (2015, updated 2019)
- 25 % recycling benchmark: Critical Raw Materials Act, Regulation (EU) 2024/1252, art. 5
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .provenance import join_sources, weakest


def _ratio(numerator, denominator):
    """numerator / denominator, NaN where the denominator is zero (an undefined rate, not 0 %)."""
    numerator = np.asarray(numerator, dtype=float)
    denominator = np.asarray(denominator, dtype=float)
    out = np.divide(numerator, denominator, out=np.full(np.broadcast(numerator, denominator).shape, np.nan),
                    where=denominator != 0)
    return out.item() if out.ndim == 0 else out


def collection_rate(collected_kg, end_of_life_kg):
    """Share of end-of-life material that is separately collected (0..1)."""
    return _ratio(collected_kg, end_of_life_kg)


def recovery_efficiency(secondary_supply_kg, collected_kg):
    """Share of collected material recovered by pre- and end-processing (0..1)."""
    return _ratio(secondary_supply_kg, collected_kg)


def eol_recycling_rate(secondary_supply_kg, end_of_life_kg):
    """End-of-life recycling rate: metal recycled from end-of-life scrap / metal in it (UNEP IRP 2011);
    equals collection rate x processing yield."""
    return _ratio(secondary_supply_kg, end_of_life_kg)


def recycled_content(secondary_input_kg, total_input_kg):
    """Recycled content: secondary metal / all metal input to production (UNEP IRP 2011)."""
    return _ratio(secondary_input_kg, total_input_kg)


def hibernation_share(hibernating_kg, in_use_kg):
    """Share of the urban mine kept unused at home: hibernating / (in use + hibernating)."""
    return _ratio(hibernating_kg, np.asarray(in_use_kg, dtype=float) + np.asarray(hibernating_kg, dtype=float))


def secondary_supply_share(secondary_supply_kg, new_products_kg):
    """The city's analogue of the EU EOL-RIR: secondary supply from its end-of-life products / the
    material in new products entering use in the city."""
    return _ratio(secondary_supply_kg, new_products_kg)


def circular_material_use_rate(secondary_supply_kg, new_products_kg):
    """City analogue of Eurostat's CMU rate: secondary material / (material demand + secondary material)."""
    secondary = np.asarray(secondary_supply_kg, dtype=float)
    return _ratio(secondary, np.asarray(new_products_kg, dtype=float) + secondary)


def stock_per_inhabitant(stock_kg, population):
    """Urban-mine stock (in use + hibernating) per inhabitant, kg."""
    return _ratio(stock_kg, population)


def _check_share(name: str, value) -> None:
    array = np.asarray(value, dtype=float)
    if np.any(np.isnan(array)) or np.any(array < 0) or np.any(array > 1):
        raise ValueError(f"{name} must be a share between 0 and 1; got {value!r}.")


def material_circularity_indicator(mass_kg, recycled_feedstock=0.0, reused_feedstock=0.0,
                                   collected_for_recycling=0.0, collected_for_reuse=0.0,
                                   recycling_efficiency_eol=1.0, recycling_efficiency_feedstock=1.0,
                                   lifetime_ratio=1.0, intensity_ratio=1.0):
    """Material Circularity Indicator (Ellen MacArthur Foundation and Granta Design, 2015/2019) of a
    product of mass M; all shares are fractions 0..1, for metals (no biological or energy recovery):

        V   = M (1 - F_R - F_U)                  virgin feedstock
        W0  = M (1 - C_R - C_U)                  unrecoverable waste
        W_C = M (1 - E_C) C_R                    waste from recycling the product at end of life
        W_F = M (1 - E_F) F_R / E_F              waste from producing the recycled feedstock
        W   = W0 + (W_F + W_C) / 2
        LFI = (V + W) / (2M + (W_F - W_C) / 2)   linear flow index
        X   = (L / L_av) (U / U_av),  F(X) = 0.9 / X
        MCI = max(0, 1 - LFI F(X))

    Fully linear with average utility gives 0.1; fully restorative (F_R = C_R = E_C = E_F = 1) gives 1.
    Works element-wise on arrays; invalid inputs raise ValueError with a sentence saying which.
    """
    mass = np.asarray(mass_kg, dtype=float)
    if np.any(~(mass > 0)):
        raise ValueError(f"mass_kg must be positive; got {mass_kg!r}.")
    shares = {
        "recycled_feedstock": recycled_feedstock, "reused_feedstock": reused_feedstock,
        "collected_for_recycling": collected_for_recycling, "collected_for_reuse": collected_for_reuse,
        "recycling_efficiency_eol": recycling_efficiency_eol,
        "recycling_efficiency_feedstock": recycling_efficiency_feedstock,
    }
    for name, value in shares.items():
        _check_share(name, value)
    f_r, f_u = np.asarray(recycled_feedstock, float), np.asarray(reused_feedstock, float)
    c_r, c_u = np.asarray(collected_for_recycling, float), np.asarray(collected_for_reuse, float)
    e_c, e_f = np.asarray(recycling_efficiency_eol, float), np.asarray(recycling_efficiency_feedstock, float)
    if np.any(f_r + f_u > 1 + 1e-12):
        raise ValueError("recycled_feedstock + reused_feedstock must not exceed 1 (they are shares of the same feedstock).")
    if np.any(c_r + c_u > 1 + 1e-12):
        raise ValueError("collected_for_recycling + collected_for_reuse must not exceed 1 (they are shares of the same waste).")
    if np.any((e_f == 0) & (f_r > 0)):
        raise ValueError("recycling_efficiency_feedstock is 0 while recycled_feedstock is above 0: recycled feedstock cannot be produced.")
    for name, value in (("lifetime_ratio", lifetime_ratio), ("intensity_ratio", intensity_ratio)):
        if np.any(~(np.asarray(value, dtype=float) > 0)):
            raise ValueError(f"{name} must be positive; got {value!r}.")

    virgin = mass * (1 - f_r - f_u)
    unrecoverable = mass * (1 - c_r - c_u)
    waste_recycling_eol = mass * (1 - e_c) * c_r
    waste_feedstock = np.divide(mass * (1 - e_f) * f_r, e_f, out=np.zeros(np.broadcast(mass, e_f, f_r).shape), where=f_r > 0)
    waste = unrecoverable + (waste_feedstock + waste_recycling_eol) / 2
    linear_flow_index = (virgin + waste) / (2 * mass + (waste_feedstock - waste_recycling_eol) / 2)
    utility = np.asarray(lifetime_ratio, float) * np.asarray(intensity_ratio, float)
    mci = np.maximum(0.0, 1 - linear_flow_index * 0.9 / utility)
    return mci.item() if mci.ndim == 0 else mci


def mass_weighted_mean(values, masses, axis=-1):
    """Portfolio value: mean of ``values`` weighted by ``masses`` (kg) along ``axis``; NaN values
    (undefined for a product) are left out."""
    values = np.asarray(values, dtype=float)
    masses = np.where(np.isnan(values), 0.0, np.asarray(masses, dtype=float))
    total = masses.sum(axis=axis)
    weighted = np.nansum(values * masses, axis=axis)
    return _ratio(weighted, total)


# Weightings of an aggregate of several materials: key -> (label shown beside every aggregate number,
# what a unit of weight is). Mass sums kg, so bulk metals (graphite, nickel, copper) dominate; value
# weighs each kg by its price; supply risk by the EU's supply-risk score (2023 criticality study).
WEIGHTINGS: dict[str, tuple[str, str]] = {
    "mass": ("by mass", "every kg counts the same"),
    "value": ("by value", "each kg weighted by its 2024 price, EUR per kg (material prices table)"),
    "supply_risk": ("by EU supply risk", "each kg weighted by the material's EU supply risk (materials table, 2023)"),
}


def material_weights(weighting: str, materials: pd.DataFrame, prices: pd.DataFrame | None = None) -> dict[str, float]:
    """Weight per material symbol for ``weighting`` (a key of WEIGHTINGS): 1 by mass, the price in EUR
    per kg by value (``prices``: material, price_eur_per_kg), the supply risk by supply risk
    (``materials``: symbol, supply_risk). ValueError in a sentence for an unknown weighting."""
    symbols = [str(s) for s in materials["symbol"]]
    if weighting == "mass":
        return {s: 1.0 for s in symbols}
    if weighting == "supply_risk":
        return {str(s): float(r) for s, r in zip(materials["symbol"], materials["supply_risk"])}
    if weighting == "value":
        if prices is None:
            raise ValueError("Weighting by value needs the material prices table.")
        price = {str(m): float(v) for m, v in zip(prices["material"], prices["price_eur_per_kg"])}
        return {s: price[s] for s in symbols if s in price}
    raise ValueError(f"Unknown weighting {weighting!r}; choose one of {', '.join(WEIGHTINGS)}.")


def pair_weights(pairs: Sequence[tuple[str, str]], weights: Mapping[str, float]) -> np.ndarray:
    """The weight of each (product, material) pair's material; ValueError naming materials without one."""
    missing = sorted({m for _, m in pairs if m not in weights})
    if missing:
        raise ValueError(f"No weight for {', '.join(missing)}: add a price (material prices table) or a "
                         "supply risk (materials table) for it, or weigh by mass.")
    return np.array([float(weights[m]) for _, m in pairs])


def weighted_ratio(numerator_kg, denominator_kg, weights):
    """An aggregate rate over materials (last axis): sum(w x numerator) / sum(w x denominator); NaN where
    the weighted denominator is zero. By mass (every w 1) it is the ratio of the summed kg."""
    w = np.asarray(weights, dtype=float)
    return _ratio(np.sum(np.asarray(numerator_kg, dtype=float) * w, axis=-1),
                  np.sum(np.asarray(denominator_kg, dtype=float) * w, axis=-1))


def weighted_kg(frame: pd.DataFrame, weights: Mapping[str, float]) -> pd.Series:
    """The ``kg`` column of rows with a ``material`` column, each multiplied by its material's weight
    (for aggregate rates from stored tables: sum the result, then divide as ``weighted_ratio`` does)."""
    missing = sorted(set(frame["material"]) - set(weights))
    if missing:
        raise ValueError(f"No weight for {', '.join(map(str, missing))}.")
    return frame["kg"].astype(float) * frame["material"].map(weights).astype(float)


def critical_materials(materials: pd.DataFrame) -> tuple[str, ...]:
    """The symbols of "all critical raw materials": those flagged ``critical_2023`` in the materials table (the EU
    list as the Critical Raw Materials Act adopted it), in the table's order. Every page and the CLI use this."""
    return tuple(materials.loc[materials["critical_2023"].astype(bool), "symbol"])


def aggregate_scope_note(materials: pd.DataFrame) -> str:
    """One sentence on what "all critical raw materials" holds (the materials flagged critical_2023),
    naming those whose ``role`` is not plainly critical, such as copper, so every page says the same."""
    flagged = materials[materials["symbol"].isin(critical_materials(materials))]
    special = flagged[flagged["role"].astype(str) != "critical"]
    text = (f"All critical raw materials: the {len(flagged)} materials on the EU critical list as the Critical Raw "
            "Materials Act adopted it (Regulation (EU) 2024/1252, Annex II)")
    if special.empty:
        return text + "."
    named = "; ".join(f"{row['name'].lower()} (EU supply risk {float(row['supply_risk']):.1f}): {row['role']}"
                      for _, row in special.iterrows())
    return f"{text}, including {named}. It is counted in the aggregate, as the list does."


@dataclass(frozen=True)
class Indicator:
    key: str
    label: str
    unit: str  # "share" (0..1, shown as %), "kg_per_inhabitant", "index"
    explanation: str  # one plain-language line
    definition: str
    source: str


INDICATORS: dict[str, Indicator] = {i.key: i for i in (
    Indicator("collection_rate", "Collection rate", "share",
              "Of the material reaching end of life, the share separately collected.",
              "separately collected / end of life generated", "UNEP IRP 2011"),
    Indicator("recovery_efficiency", "Recovery efficiency", "share",
              "Of what is collected, the share that recycling turns back into raw material.",
              "secondary supply / separately collected", "UNEP IRP 2011 (processing yield)"),
    Indicator("eol_recycling_rate", "End-of-life recycling rate", "share",
              "Of the material reaching end of life, the share that comes back as raw material.",
              "secondary supply / end of life generated = collection rate x processing yield", "UNEP IRP 2011"),
    Indicator("secondary_supply_share", "Secondary-supply share", "share",
              "The city's own recovered material relative to what it puts into new products (a city EOL-RIR).",
              "secondary supply / material in new products entering use", "European Commission EOL-RIR, city analogue"),
    Indicator("circular_material_use_rate", "Circular material use rate", "share",
              "Secondary material as a share of all material the city uses (Eurostat's CMU rate, city analogue).",
              "secondary supply / (new products + secondary supply)", "Eurostat CMU, city analogue"),
    Indicator("recycled_content", "Recycled content of new products", "share",
              "Share of the material in new products that comes from recycled old scrap, taken as the EU end-of-life recycling input rate.",
              "EU EOL-RIR of the material (products are made elsewhere)", "European Commission CRM study 2023"),
    Indicator("hibernation_share", "Hibernation share", "share",
              "Share of the urban mine lying unused in drawers at home.",
              "hibernating stock / (in-use + hibernating stock)", "project definition"),
    Indicator("urban_mine_per_inhabitant", "Urban mine per inhabitant", "kg_per_inhabitant",
              "Material in products in use or hibernating, per inhabitant.",
              "(in-use + hibernating stock) / population", "project definition"),
    Indicator("portfolio_mci", "Material Circularity Indicator (portfolio)", "index",
              "From 0.1 (take, make, dispose) to 1 (fully restorative), mass-weighted over the city's products.",
              "EMF MCI per product and material, weighted by material in new products", "Ellen MacArthur Foundation 2019"),
)}


# The city model's stage each indicator's numbers come from (uncertainty.Simulation.confidence holds the
# weakest input label per stage), and the stored metric whose sources stand for that stage.
INDICATOR_STAGE: dict[str, str] = {"collection_rate": "routing", "hibernation_share": "routing",
                                   "urban_mine_per_inhabitant": "stock", "recycled_content": "stock"}  # others: recovery
STAGE_METRIC: dict[str, str] = {"stock": "in_use_stock", "routing": "separately_collected", "recovery": "secondary_supply"}


@dataclass(frozen=True)
class CardProvenance:
    """What an indicator card says about where its number comes from."""

    confidence: str  # the weakest label of the inputs the number is computed from
    source_ids: str  # ';'-separated, the union of those inputs' sources
    downscaled: bool  # it rests on the city's ownership figures, some scaled from national or EU ones


def card_provenance(key: str, stage_confidence: Mapping[str, str], metric_sources: Mapping[str, str],
                    materials: pd.DataFrame, several_materials: bool, downscaled: bool) -> CardProvenance:
    """The confidence and sources an indicator card shows: the weakest label and the union of the sources of
    the inputs its number is actually computed from (provenance.weakest, as every computed figure).

    - The city rates and masses: the model stage they come from (``INDICATOR_STAGE``; ``stage_confidence``
      per stage, ``metric_sources`` per stored metric, ``STAGE_METRIC``); ``downscaled`` as given.
    - Recycled content: the EU end-of-life recycling input rate of each material in ``materials`` (rows with
      confidence, source_id). Averaged over ``several_materials`` it is weighted by the material in new
      products, so the stock stage counts too; for one material it is that rate alone, with no city input.
    - The portfolio MCI: the recovery stage and, as its recycled feedstock, the same rates."""
    rates = (list(materials["confidence"]), [s for s in materials["source_id"] if isinstance(s, str)])
    stage = INDICATOR_STAGE.get(key, "recovery")
    stage_sources = metric_sources.get(STAGE_METRIC[stage])
    city = ([stage_confidence[stage]], [stage_sources] if isinstance(stage_sources, str) else [])
    if key == "recycled_content":
        labels, sources = (rates[0] + city[0], rates[1] + city[1]) if several_materials else rates
        return CardProvenance(weakest(labels), join_sources(sources), downscaled and several_materials)
    if key == "portfolio_mci":
        return CardProvenance(weakest(city[0] + rates[0]), join_sources(city[1] + rates[1]), downscaled)
    return CardProvenance(city[0][0], join_sources(city[1]), downscaled)


def city_comparison(by_city_kg: pd.DataFrame, population: pd.Series, by_city_material_kg: pd.DataFrame | None = None,
                    weights: Mapping[str, float] | None = None) -> pd.DataFrame:
    """The cities side by side: urban mine, end of life and secondary supply in g per inhabitant (masses summed
    in kg), and four rates (shares 0..1). ``by_city_kg``: long rows city, metric, kg; ``population`` by city.
    With ``weights`` (material -> weight) and the same rows per material (``by_city_material_kg``: city,
    material, metric, kg), the rates weigh the materials: sum(w x numerator) / sum(w x denominator) per city."""
    masses = by_city_kg.pivot_table(index="city", columns="metric", values="kg")
    rates = masses if weights is None else by_city_material_kg.assign(kg=weighted_kg(by_city_material_kg, weights)).pivot_table(
        index="city", columns="metric", values="kg", aggfunc="sum")
    grams_per_inhabitant = 1000 / population
    return pd.DataFrame({
        "urban mine (g per inhabitant)": (masses["in_use_stock"] + masses["hibernating_stock"]) * grams_per_inhabitant,
        "end of life (g per inhabitant per year)": masses["end_of_life"] * grams_per_inhabitant,
        "secondary supply (g per inhabitant per year)": masses["secondary_supply"] * grams_per_inhabitant,
        "collection rate": collection_rate(rates["separately_collected"], rates["end_of_life"]),
        "end-of-life recycling rate": eol_recycling_rate(rates["secondary_supply"], rates["end_of_life"]),
        "secondary-supply share": secondary_supply_share(rates["secondary_supply"], rates["new_products"]),
        "circular material use rate": circular_material_use_rate(rates["secondary_supply"], rates["new_products"]),
    }).reset_index()
