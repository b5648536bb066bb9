"""Export restrictions: what a country's cut of its supply removes from the city's material demand, at
which supply stage it binds, how much the city's own secondary supply could cover, and the sentences
that explain it. Shares are fractions 0..1, masses kg.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .exposure import STAGE_NAMES, STAGES, ExposureData
from .formatting import format_mass, format_share


def country_stage_shares(data: ExposureData, material: str, country: str) -> dict[str, float]:
    """The country's share 0..1 of world supply of ``material`` at every stage with data (0 where the
    country is not listed at that stage). Stages without data are left out."""
    return {stage: float(data.supply(material, stage)[1].get(country, 0.0)) for stage in data.stages(material)}


def binding_stage(stage_shares: Mapping[str, float], preferred: str | None = None) -> str | None:
    """The stage where the country's share is largest: a cut there removes the most material. Ties go
    to ``preferred`` (the EU bottleneck stage), then to the earlier stage. None if the share is 0 everywhere."""
    positive = {stage: share for stage, share in stage_shares.items() if share > 0}
    if not positive:
        return None
    largest = max(positive.values())
    tied = [stage for stage, share in positive.items() if share == largest]
    if preferred in tied:
        return preferred
    return min(tied, key=lambda stage: STAGES.index(stage) if stage in STAGES else len(STAGES))


@dataclass(frozen=True)
class Disruption:
    country_iso3: str
    materials: tuple[str, ...]
    cut: float  # share 0..1 of the country's supply that stops
    start_year: int
    duration_years: int

    def __post_init__(self):
        if not 0 <= self.cut <= 1:
            raise ValueError(f"The cut must be a share between 0 and 1; got {self.cut}.")
        if self.duration_years < 1:
            raise ValueError(f"The duration must be at least one year; got {self.duration_years}.")

    @property
    def years(self) -> list[int]:
        return list(range(self.start_year, self.start_year + self.duration_years))


def disruption_shortfall(data: ExposureData, disruption: Disruption, demand: pd.DataFrame, secondary: pd.DataFrame,
                         sectors: Mapping[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The city's shortfall in each disrupted year, counted at every supply stage, and how much its own
    secondary supply covers.

    Logic: material reaches the city through mining, then refining. A cut of the country's output at
    one stage removes demand x the country's share at that stage x the cut (other suppliers are
    assumed not to step in within the disruption; the city buys the world mix). Stages are in series,
    so the binding stage is the one with the largest loss, and the material's shortfall is that loss:
    the same kilogram can pass through the country at both stages (ore mined and refined there), so
    the stage losses are not added. A country that mines none of a material but refines most of it
    (China and cobalt) therefore still causes a shortfall, at processing.

    ``demand`` and ``secondary`` have rows year, product, material, kg (new products and secondary
    supply). Returns (shortfall: rows year, product, sector, material, stage = the binding stage,
    country_share = its share there, shortfall_kg, and shortfall_extraction_kg and
    shortfall_processing_kg for each stage, NaN where the stage has no data; coverage by year and
    material: shortfall, secondary supply, covered share 0..1 = min(1, secondary / shortfall))."""
    rows = []
    for material in disruption.materials:
        shares = country_stage_shares(data, material, disruption.country_iso3)
        preferred = data.materials.at[material, "bottleneck_stage"] if material in data.materials.index else None
        stage = binding_stage(shares, preferred)
        share = shares[stage] if stage else 0.0
        hit = demand[(demand["material"] == material) & demand["year"].isin(disruption.years)]
        for r in hit.itertuples():
            by_stage = [r.kg * shares[s] * disruption.cut if s in shares else np.nan for s in STAGES]
            rows.append((r.year, r.product, sectors[r.product], material, stage, share, r.kg * share * disruption.cut, *by_stage))
    shortfall = pd.DataFrame(rows, columns=["year", "product", "sector", "material", "stage", "country_share", "shortfall_kg",
                                            *[f"shortfall_{s}_kg" for s in STAGES]])
    own = secondary[secondary["material"].isin(disruption.materials) & secondary["year"].isin(disruption.years)]
    coverage = (shortfall.groupby(["year", "material"], as_index=False)["shortfall_kg"].sum()
                .merge(own.groupby(["year", "material"], as_index=False)["kg"].sum().rename(columns={"kg": "secondary_supply_kg"}),
                       on=["year", "material"], how="left").fillna({"secondary_supply_kg": 0.0}))
    # NaN where there is no shortfall: nothing to cover
    coverage["covered_share"] = (coverage["secondary_supply_kg"] / coverage["shortfall_kg"].where(coverage["shortfall_kg"] > 0)).clip(upper=1.0)
    return shortfall, coverage


def shortfall_by_stage(data: ExposureData, disruption: Disruption, demand: pd.DataFrame) -> pd.DataFrame:
    """Every disrupted material at every stage with data, over the disruption's years: rows material,
    stage, country_share (0..1), demand_kg, shortfall_kg = demand x share x cut, and binding (the
    stage whose loss is the material's shortfall in :func:`disruption_shortfall`)."""
    rows = []
    for material in disruption.materials:
        shares = country_stage_shares(data, material, disruption.country_iso3)
        preferred = data.materials.at[material, "bottleneck_stage"] if material in data.materials.index else None
        binding = binding_stage(shares, preferred)
        demand_kg = float(demand.loc[(demand["material"] == material) & demand["year"].isin(disruption.years), "kg"].sum())
        for stage in sorted(shares, key=lambda s: STAGES.index(s) if s in STAGES else len(STAGES)):
            rows.append((material, stage, shares[stage], demand_kg, demand_kg * shares[stage] * disruption.cut, stage == binding))
    return pd.DataFrame(rows, columns=["material", "stage", "country_share", "demand_kg", "shortfall_kg", "binding"])


@dataclass(frozen=True)
class DisruptionOutcome:
    """What a disruption does to the city. ``total_kg``: the baseline's shortfall over the disruption;
    ``by_product``: the baseline's rows of :func:`disruption_shortfall`; ``coverage``: its coverage rows for
    every run compared (column ``run``); ``by_stage``: :func:`shortfall_by_stage` of the baseline; ``explanation``:
    one sentence per material saying which stage binds and why."""

    total_kg: float
    by_product: pd.DataFrame
    coverage: pd.DataFrame
    by_stage: pd.DataFrame
    explanation: str


def disruption_outcome(data: ExposureData, disruption: Disruption, runs: Mapping[str, tuple[pd.DataFrame, pd.DataFrame]],
                       sectors: Mapping[str, str], country_name: str) -> DisruptionOutcome:
    """The disruption against each run: ``runs`` maps a label to its (new products, secondary supply) rows
    year, product, material, kg; the label "baseline" must be there (the shortfall and stages are its)."""
    coverage = []
    for label, (demand, secondary) in runs.items():
        shortfall, run_coverage = disruption_shortfall(data, disruption, demand, secondary, sectors)
        coverage.append(run_coverage.assign(run=label))
        if label == "baseline":
            baseline = shortfall
    by_stage = shortfall_by_stage(data, disruption, runs["baseline"][0])
    return DisruptionOutcome(float(baseline["shortfall_kg"].sum()), baseline, pd.concat(coverage, ignore_index=True), by_stage,
                             stage_explanation(by_stage, country_name))


def stage_explanation(by_stage: pd.DataFrame, country_name: str) -> str:
    """Per material of :func:`shortfall_by_stage`: the stage that binds, the country's share at each stage,
    and the mass the cut removes from the city's demand."""
    sentences = []
    for material, group in by_stage.groupby("material", sort=False):
        binding = group[group["binding"]]
        if binding.empty:
            sentences.append(f"{country_name} has no listed share of {material} at any stage (mining or refining), so this cut "
                             "removes none of it.")
            continue
        bound = binding.iloc[0]
        held = " and ".join(f"{format_share(r.country_share)} of world {STAGE_NAMES.get(r.stage, r.stage)}"
                            for r in group.sort_values("binding", ascending=False).itertuples())
        sentences.append(f"For {material}, {STAGE_NAMES.get(bound.stage, bound.stage)} binds: {country_name} holds {held}, "
                         f"so the cut removes {format_mass(bound.shortfall_kg)} of the city's {format_mass(bound.demand_kg)}.")
    return " ".join(sentences)
