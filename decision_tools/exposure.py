"""Supply-chain exposure: how concentrated the supply of each material is, how risky (EU supply-risk
method), which supplying countries the city's demand depends on, what a disruption would do, and how
much of it the city's own secondary supply could cover.

Formulas (reference METHODS.md, section 3): Herfindahl-Hirschman index; governance-weighted HHI and
the EU supply risk (European Commission / JRC 2017 method, Regulation (EU) 2024/1252 Annex II); a
GeoPolRisk-style score (Gemechu et al. 2015); by-product dependence (Nassar, Graedel and Harper 2015);
the CRMA's 65 % single-country benchmark (art. 5). Shares are fractions 0..1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

SINGLE_COUNTRY_BENCHMARK = 0.65  # CRMA art. 5(2): at most 65 % of EU consumption from one third country
REST_OF_WORLD = "ROW"
STAGES = ("extraction", "processing")  # the supply stages in the data, in the order material passes them
STAGE_NAMES = {"extraction": "mining (extraction)", "processing": "refining (processing)"}


def _values(shares: Sequence[float] | Mapping[str, float]) -> np.ndarray:
    values = np.asarray(list(shares.values()) if isinstance(shares, Mapping) else list(shares), dtype=float)
    if values.size == 0:
        raise ValueError("No shares given.")
    if np.any(np.isnan(values)) or np.any(values < 0) or np.any(values > 1):
        raise ValueError(f"Shares must be fractions between 0 and 1; got {list(np.round(values, 6))}.")
    return values


def hhi(shares: Sequence[float] | Mapping[str, float], normalise: bool = False) -> float:
    """Herfindahl-Hirschman index: the sum of squared supply shares (fractions), 0..1.

    The shares must sum to 1 within 1e-6, unless ``normalise`` rescales them to do so."""
    values = _values(shares)
    total = values.sum()
    if normalise:
        if total <= 0:
            raise ValueError("Cannot normalise shares that sum to 0.")
        values = values / total
    elif abs(total - 1.0) > 1e-6:
        raise ValueError(f"Shares sum to {total:.6g}, not 1; pass normalise=True to rescale them.")
    return float(np.sum(values ** 2))


def governance_weighted_hhi(shares: Mapping[str, float], governance: Mapping[str, float],
                            trade_factors: Mapping[str, float] | None = None) -> float:
    """Sum over countries of share^2 x governance x trade factor (EU method's HHI_WGI,t).

    Governance on 0..10 (10 = worst); the trade factor is 1 unless given (above 1 for export
    restrictions, 0.8 for partners with an EU trade agreement)."""
    _values(shares)
    total = 0.0
    for country, share in shares.items():
        if country not in governance:
            raise ValueError(f"No governance figure for {country}; give one for every supplying country.")
        g = float(governance[country])
        if not 0 <= g <= 10:
            raise ValueError(f"Governance of {country} must lie between 0 and 10; got {g}.")
        t = 1.0 if trade_factors is None else float(trade_factors.get(country, 1.0))
        total += float(share) ** 2 * g * t
    return total


def eu_supply_risk(hhi_wgi_global: float, hhi_wgi_eu_sourcing: float, import_reliance: float, eol_rir: float,
                   substitution_index: float) -> float:
    """EU supply risk (2017 method): SR = [HHI_WGI,t(global) x IR/2 + HHI_WGI,t(EU sourcing) x (1 - IR/2)]
    x (1 - EOL-RIR) x SI_SR, with IR, EOL-RIR and SI_SR as fractions 0..1."""
    for name, value in (("import_reliance", import_reliance), ("eol_rir", eol_rir), ("substitution_index", substitution_index)):
        if not 0 <= value <= 1:
            raise ValueError(f"{name} must be a share between 0 and 1; got {value}.")
    for name, value in (("hhi_wgi_global", hhi_wgi_global), ("hhi_wgi_eu_sourcing", hhi_wgi_eu_sourcing)):
        if value < 0:
            raise ValueError(f"{name} must not be negative; got {value}.")
    return (hhi_wgi_global * import_reliance / 2 + hhi_wgi_eu_sourcing * (1 - import_reliance / 2)) \
        * (1 - eol_rir) * substitution_index


def geopolrisk_score(shares: Mapping[str, float], stability: Mapping[str, float]) -> float:
    """GeoPolRisk-style score of a supply mix: HHI x sum_i (share_i x g_i), with g_i the normalised
    political-stability WGI of supplier i (0 stable .. 1). The city imports everything, so its import
    shares are the world's supply shares (domestic production p = 0)."""
    return hhi(shares, normalise=True) * sum(float(s) * float(stability[c]) for c, s in shares.items())


@dataclass
class ExposureData:
    """The exposure tables of one dataset version, indexed for lookups."""

    shares: pd.DataFrame  # material, stage, country_iso3, share, source_id, confidence, note
    published_hhi: pd.DataFrame  # material, stage -> hhi_published
    countries: pd.DataFrame  # indexed by country_iso3: name, lat, lon, wgi_pv_norm (filled), stability_known
    materials: pd.DataFrame  # indexed by symbol: the modelled materials
    eu: pd.DataFrame  # EU criticality of every assessed material
    by_products: pd.DataFrame  # indexed by material: host_metals

    @classmethod
    def from_tables(cls, tables: Mapping[str, pd.DataFrame]) -> ExposureData:
        countries = tables["countries"].set_index("country_iso3").copy()
        countries["stability_known"] = countries["wgi_pv_norm"].notna()
        countries["wgi_pv_norm"] = countries["wgi_pv_norm"].astype(float).fillna(float(countries["wgi_pv_norm"].median()))
        return cls(shares=tables["supplier_shares"], published_hhi=tables["production_concentration"].set_index(["material", "stage"]),
                   countries=countries, materials=tables["materials"].set_index("symbol"), eu=tables["eu_criticality"],
                   by_products=tables["by_products"].set_index("material"))

    def stages(self, material: str) -> list[str]:
        return sorted(set(self.shares.loc[self.shares["material"] == material, "stage"]))

    def supply(self, material: str, stage: str | None = None) -> tuple[str | None, pd.Series]:
        """Shares by country at the given stage (default: the material's bottleneck stage, else the
        stage with data). Returns (stage used, shares indexed by country; ROW = the rest)."""
        stages = self.stages(material)
        if not stages:
            return None, pd.Series(dtype=float)
        wanted = stage or self.materials.at[material, "bottleneck_stage"]
        used = wanted if wanted in stages else stages[0]
        rows = self.shares[(self.shares["material"] == material) & (self.shares["stage"] == used)]
        return used, rows.set_index("country_iso3")["share"].astype(float)

    def governance(self) -> dict[str, float]:
        """Governance on 0..10 (10 worst) from political stability: 10 x WGI PV (normalised)."""
        return {iso: 10.0 * float(v) for iso, v in self.countries["wgi_pv_norm"].items()}


def _named(shares: pd.Series) -> pd.Series:
    """Shares without the unspecified rest of the world (spread over many small suppliers)."""
    return shares.drop(REST_OF_WORLD, errors="ignore")


def concentration(data: ExposureData, material: str) -> pd.DataFrame:
    """Per stage with data: the largest supplier and its share, HHI of the listed shares (a lower bound:
    the rest of the world counts as many small suppliers), the published HHI over all countries where
    known, the governance-weighted HHI, the GeoPolRisk-style score, and the CRMA 65 % flag."""
    rows = []
    governance = data.governance()
    stability = data.countries["wgi_pv_norm"].to_dict()
    for stage in data.stages(material):
        _, shares = data.supply(material, stage)
        named = _named(shares)
        top = named.idxmax()
        published = data.published_hhi["hhi_published"].get((material, stage), np.nan)
        rows.append({
            "stage": stage, "largest_supplier": top, "largest_share": float(named[top]),
            "hhi_listed": float(np.sum(named.to_numpy() ** 2)), "hhi_published": float(published),
            "governance_weighted_hhi": governance_weighted_hhi(named.to_dict(), governance),
            "geopolrisk_score": geopolrisk_score(named.to_dict(), stability) * float(named.sum()),
            "above_65_percent": bool(named[top] > SINGLE_COUNTRY_BENCHMARK),
            "bottleneck": stage == data.materials.at[material, "bottleneck_stage"],
        })
    return pd.DataFrame(rows)


def recompute_supply_risk(data: ExposureData, material: str) -> dict | None:
    """The EU supply risk of ``material`` recomputed from the project's shares, beside the published
    figure, with the reasons they differ. None where the inputs do not allow it."""
    eu = data.eu.dropna(subset=["symbol"]).set_index("symbol")
    if material not in eu.index or not data.stages(material):
        return None
    row = eu.loc[material]
    stage, shares = data.supply(material)
    if pd.isna(row["si_sr"]):
        return None
    named = _named(shares).to_dict()
    gw = governance_weighted_hhi(named, data.governance())
    ir_column = f"import_reliance_{stage}"
    import_reliance = float(row[ir_column]) if pd.notna(row[ir_column]) else 1.0
    recomputed = eu_supply_risk(gw, gw, import_reliance, float(row["eol_rir_share"]), float(row["si_sr"]))
    reasons = [
        "governance here is political stability only (the EU method averages all six World Governance Indicators)",
        "the EU sourcing mix is not in the project data, so the global mix stands in for it",
        f"only the largest {'producers' if stage == 'extraction' else 'refiners'} are known; the rest counts as many small suppliers",
        "the EU study uses a five-year average of supply, the project one recent year",
    ]
    if stage != row["bottleneck_stage"]:
        reasons.insert(0, f"the EU bottleneck is {row['bottleneck_stage']}, but the project has shares for {stage} only")
    return {"material": material, "stage": stage, "published": float(row["supply_risk"]), "recomputed": recomputed,
            "governance_weighted_hhi": gw, "import_reliance": import_reliance, "eol_rir": float(row["eol_rir_share"]),
            "substitution_index": float(row["si_sr"]), "reasons": reasons}


def supply_risk_with_eol_rir(published_sr: float, published_eol_rir: float, new_eol_rir: float) -> float:
    """What-if: the EU supply risk if the end-of-life recycling input rate were ``new_eol_rir`` (SR is
    proportional to 1 - EOL-RIR, all else equal)."""
    if not 0 <= new_eol_rir <= 1 or not 0 <= published_eol_rir < 1:
        raise ValueError("EOL-RIR values must be shares between 0 and 1 (the published one below 1).")
    return published_sr * (1 - new_eol_rir) / (1 - published_eol_rir)


def city_exposure(data: ExposureData, demand: pd.DataFrame, sectors: Mapping[str, str], stage: str | None = None) -> pd.DataFrame:
    """The city's demand for each material in new products (rows product, material, kg) split across
    supplying countries at one stage: ``stage`` ("extraction" or "processing"; default the material's
    EU bottleneck stage) where the material has shares for it, else the stage with data. Rows product,
    sector, material, stage (the stage used), country_iso3, kg, with a GeoPolRisk-style score of the
    material's supply mix at that stage and a flag for by-product metals."""
    if stage is not None and stage not in STAGES:
        raise ValueError(f"The stage must be one of {', '.join(STAGES)}; got '{stage}'.")
    stability = data.countries["wgi_pv_norm"].to_dict()
    rows = []
    for (product, material), kg in demand.groupby(["product", "material"])["kg"].sum().items():
        used, shares = data.supply(material, stage)
        if used is None:
            rows.append((product, sectors[product], material, None, None, float(kg), np.nan, material in data.by_products.index))
            continue
        named = _named(shares)
        score = geopolrisk_score(named.to_dict(), stability) * float(named.sum()) if len(named) else np.nan
        for country, share in shares.items():
            rows.append((product, sectors[product], material, used, country, float(kg) * float(share), score,
                         material in data.by_products.index))
    return pd.DataFrame(rows, columns=["product", "sector", "material", "stage", "country_iso3", "kg", "geopolrisk_score",
                                       "by_product"])


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


def single_country_checks(data: ExposureData) -> pd.DataFrame:
    """CRMA check for every modelled material and stage: the largest single country's share of world
    supply against the 65 % benchmark (the CRMA counts EU consumption; world supply stands in)."""
    frames = [concentration(data, m).assign(material=m) for m in sorted(set(data.shares["material"]))]
    table = pd.concat(frames, ignore_index=True)
    return table[["material", "stage", "largest_supplier", "largest_share", "above_65_percent"]].sort_values(
        "largest_share", ascending=False).reset_index(drop=True)
