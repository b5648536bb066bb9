"""Supply-chain exposure: how concentrated the supply of each material is, how risky (EU supply-risk
method) and which supplying countries the city's demand depends on (an export restriction's effect:
decision_tools.disruption).

Formulas (reference METHODS.md, section 3): Herfindahl-Hirschman index; governance-weighted HHI and
the EU supply risk (European Commission / JRC 2017 method, Regulation (EU) 2024/1252 Annex II); a
GeoPolRisk-style score (Gemechu et al. 2015); by-product dependence (Nassar, Graedel and Harper 2015);
the CRMA's 65 % single-country benchmark (art. 5). Shares are fractions 0..1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

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

    @cached_property
    def _shares_by_material(self) -> dict[str, dict[str, pd.Series]]:
        """material -> stage -> shares by country, built once (pages ask for them tens of times per view)."""
        return {material: {stage: rows.set_index("country_iso3")["share"].astype(float)
                           for stage, rows in by_material.groupby("stage", sort=True)}
                for material, by_material in self.shares.groupby("material")}

    def stages(self, material: str) -> list[str]:
        return list(self._shares_by_material.get(material, {}))

    def supply(self, material: str, stage: str | None = None) -> tuple[str | None, pd.Series]:
        """Shares by country at the given stage (default: the material's bottleneck stage, else the
        stage with data). Returns (stage used, shares indexed by country; ROW = the rest)."""
        stages = self.stages(material)
        if not stages:
            return None, pd.Series(dtype=float)
        wanted = stage or self.materials.at[material, "bottleneck_stage"]
        used = wanted if wanted in stages else stages[0]
        return used, self._shares_by_material[material][used].copy()  # a copy: callers may change theirs

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


UNSPECIFIED = "rest of world (unspecified)"


def supplier_shares(data: ExposureData, material: str) -> pd.DataFrame:
    """Every stage's supplying countries of ``material``: rows stage, country (its name), share 0..1."""
    names = data.countries["name"].to_dict()
    rows = [(stage, names.get(country, UNSPECIFIED), float(share))
            for stage in data.stages(material) for country, share in data.supply(material, stage)[1].items()]
    return pd.DataFrame(rows, columns=["stage", "country", "share"])


def supply_risk_curve(published_sr: float, published_eol_rir: float, up_to: float = 0.6, points: int = 61) -> pd.DataFrame:
    """The EU supply risk as the end-of-life recycling input rate rises from 0 to ``up_to``, everything else
    as published (:func:`supply_risk_with_eol_rir`): rows eol_rir, supply_risk."""
    rates = np.linspace(0.0, up_to, points)
    return pd.DataFrame({"eol_rir": rates,
                         "supply_risk": [supply_risk_with_eol_rir(published_sr, published_eol_rir, float(r)) for r in rates]})


def demand_by_country(exposed: pd.DataFrame, countries: pd.DataFrame) -> pd.DataFrame:
    """The city's demand (rows of :func:`city_exposure`) summed by supplying country, largest first: rows
    country_iso3, kg, name, share 0..1 of the demand, lat, lon (empty for the rest of the world) and the
    country's political stability 0..1 (WGI, normalised)."""
    by_country = exposed.groupby("country_iso3", as_index=False)["kg"].sum()
    places = countries[["name", "lat", "lon", "wgi_pv_norm"]].rename(columns={"wgi_pv_norm": "stability"})
    table = by_country.merge(places, left_on="country_iso3", right_index=True, how="left")
    table["name"] = table["name"].fillna(UNSPECIFIED)
    table["share"] = table["kg"] / table["kg"].sum()
    return table.sort_values("kg", ascending=False).reset_index(drop=True)


def demand_by_product(exposed: pd.DataFrame, product_names: Mapping[str, str]) -> pd.DataFrame:
    """The city's demand (rows of :func:`city_exposure`) by sector, product (its name) and material, largest
    first, with the material's GeoPolRisk-style score and by-product flag."""
    table = (exposed.groupby(["sector", "product", "material"], as_index=False)
             .agg(kg=("kg", "sum"), geopolrisk_score=("geopolrisk_score", "first"), by_product=("by_product", "first")))
    table["product"] = table["product"].map(product_names)
    return table.sort_values("kg", ascending=False).reset_index(drop=True)


def single_country_checks(data: ExposureData) -> pd.DataFrame:
    """CRMA check for every modelled material and stage: the largest single country's share of world
    supply against the 65 % benchmark (the CRMA counts EU consumption; world supply stands in)."""
    frames = [concentration(data, m).assign(material=m) for m in sorted(set(data.shares["material"]))]
    table = pd.concat(frames, ignore_index=True)
    return table[["material", "stage", "largest_supplier", "largest_share", "above_65_percent"]].sort_values(
        "largest_share", ascending=False).reset_index(drop=True)
