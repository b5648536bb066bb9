"""The city model: how many products a city holds, when they retire, and where their materials go.

Two steps (reference METHODS.md, section 1):

1. A stock-driven dynamic stock model per region (a district, or the whole city where no districts
   are known) and product, 1980-2050, with flodym: the stock in use is ownership per driver
   (inhabitant, household or city) x the driver; inflows and outflows follow from the lifetime
   distribution. Retired units go to hibernation (drawers) for a share, modelled as a second,
   inflow-driven stock with an exponential residence time, or are discarded directly.
2. The material chain, in kg of each material, with transfer coefficients that sum to one:
   end-of-life discards -> export/reuse abroad | domestic; domestic -> separate collection | residual
   waste; separate collection -> recycling -> secondary supply | recycling losses.

Every process balances: inflow - outflow - stock change = 0. The first 20 years are a spin-up so
that the stock of 2000 has a realistic age structure; results are reported from 2000.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gamma

import flodym as fd
import numpy as np
import pandas as pd

from .provenance import join_sources, weakest
from .system import EDGES, REPORT_END, REPORT_START, STOCK_PROCESSES

SIMULATION_START = 1980  # 1980-1999 is spin-up, so that the stock of 2000 has an age structure
YEARS = np.arange(SIMULATION_START, REPORT_END + 1)

HIBERNATION_WEIBULL_SHAPE = 1.0  # exponential: a drawer device is discarded with constant yearly odds


@dataclass
class ModelResult:
    """Long tables, ready for the store. Masses in kg, years REPORT_START..REPORT_END
    (stocks from REPORT_START - 1 so that every reported year's stock change can be checked)."""

    flows: pd.DataFrame  # city, district, year, product, material, from_process, to_process, kg, provenance
    stocks: pd.DataFrame  # city, district, year, product, material, process, kg, provenance
    unit_stocks: pd.DataFrame  # city, district, year, product, process, units


def weibull_scale_from_mean(mean_years: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """Weibull scale parameter whose distribution has the given mean: scale = mean / Gamma(1 + 1/k)."""
    return np.asarray(mean_years, dtype=float) / np.vectorize(lambda k: gamma(1.0 + 1.0 / k))(shape)


def _regions(cities: pd.DataFrame, districts: pd.DataFrame) -> pd.DataFrame:
    """One row per modelled region: a city's districts where known, else the city as a whole."""
    rows = []
    for city in cities.itertuples(index=False):
        mine = districts[districts["city"] == city.city]
        if mine.empty:
            rows.append((city.city, None, city.country_iso3, float(city.population), float(city.households), 1.0,
                         city.confidence, city.source_id))
            continue
        total = float(mine["population"].sum())
        for d in mine.itertuples(index=False):
            share = float(d.population) / total
            rows.append((
                city.city, d.district, city.country_iso3, float(city.population) * share,
                float(city.households) * share, share,
                weakest([city.confidence, d.confidence]), join_sources([city.source_id, d.source_id]),
            ))
    return pd.DataFrame(rows, columns=[
        "city", "district", "country_iso3", "population", "households", "city_share", "confidence", "source_id",
    ])


def _ownership(ownership: pd.DataFrame, regions: pd.DataFrame, products: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Units per driver (t, r, g), interpolated linearly between anchor years and flat outside them.

    The most specific geography wins: the city, then its country, then the EU average. Returns the
    provenance per (region, product), including whether the figure is downscaled.
    """
    values = np.zeros((len(YEARS), len(regions), len(products)))
    provenance = []
    groups = {key: g.sort_values("year") for key, g in ownership.groupby(["geography", "product"])}
    for r, region in enumerate(regions.itertuples(index=False)):
        for g, product in enumerate(products):
            for geography in (region.city, region.country_iso3, "EU"):
                anchors = groups.get((geography, product))
                if anchors is not None:
                    break
            values[:, r, g] = np.interp(YEARS, anchors["year"].astype(float), anchors["units_per_driver"].astype(float))
            provenance.append((r, g, weakest(anchors["confidence"]), join_sources(anchors["source_id"]),
                               geography != region.city, geography))
    return values, pd.DataFrame(provenance, columns=["r", "g", "confidence", "source_id", "downscaled", "geography"])


def _lifetime_model(dims: fd.DimensionSet, kind: str, mean: np.ndarray, spread: np.ndarray) -> fd.LifetimeModel:
    per_product = dims["g",]
    if kind == "weibull":
        return fd.WeibullLifetime(
            dims=dims,
            weibull_scale=fd.FlodymArray(dims=per_product, values=weibull_scale_from_mean(mean, spread)),
            weibull_shape=fd.FlodymArray(dims=per_product, values=np.asarray(spread, dtype=float)),
        )
    if kind == "normal":
        return fd.NormalLifetime(
            dims=dims,
            mean=fd.FlodymArray(dims=per_product, values=np.asarray(mean, dtype=float)),
            std=fd.FlodymArray(dims=per_product, values=np.asarray(spread, dtype=float)),
        )
    if kind == "fixed":
        return fd.FixedLifetime(dims=dims, mean=fd.FlodymArray(dims=per_product, values=np.asarray(mean, dtype=float)))
    raise ValueError(f"Unknown lifetime model {kind!r}; use weibull, normal or fixed.")


def _dims(n_regions: int, products: list[str]) -> fd.DimensionSet:
    return fd.DimensionSet(dim_list=[
        fd.Dimension(name="time", letter="t", items=[int(y) for y in YEARS]),
        fd.Dimension(name="region", letter="r", items=list(range(n_regions))),
        fd.Dimension(name="product", letter="g", items=list(products)),
    ])


def stock_driven(dims: fd.DimensionSet, lifetime: fd.LifetimeModel, stock: np.ndarray) -> tuple[np.ndarray, ...]:
    """Stock-driven dynamic stock model without negative inflows.

    Solves I(t) = (S(t) - sum_{c<t} I(c) sf(t, c)) / sf(t, t) year by year on flodym's survival
    matrix, but never lets I(t) fall below zero (the known pitfall when the stock falls faster than
    products retire: then the stock stays above the target until retirements catch up). flodym's
    inflow-driven model then gives the stock and outflows, which balance exactly.
    Returns (inflow, outflow, stock) with the shape of ``stock`` (time first).
    """
    sf = lifetime.sf  # (t, cohort, ...)
    inflow = np.zeros_like(stock, dtype=float)
    for i in range(stock.shape[0]):
        remaining = np.einsum("c...,c...->...", sf[i, :i], inflow[:i])
        inflow[i] = np.maximum(0.0, (stock[i] - remaining) / sf[i, i])
    dsm = fd.InflowDrivenDSM(dims=dims, lifetime_model=lifetime, inflow=fd.StockArray(dims=dims, values=inflow))
    dsm.compute()
    return inflow, dsm.outflow.values.copy(), dsm.stock.values.copy()


def inflow_driven(dims: fd.DimensionSet, lifetime: fd.LifetimeModel, inflow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """flodym inflow-driven model; returns (outflow, stock)."""
    dsm = fd.InflowDrivenDSM(dims=dims, lifetime_model=lifetime, inflow=fd.StockArray(dims=dims, values=inflow))
    dsm.compute()
    return dsm.outflow.values.copy(), dsm.stock.values.copy()


def _step_by_year(table: pd.DataFrame, keys: list[tuple], key_columns: list[str], value_column: str) -> np.ndarray:
    """Values valid 'from_year' on, as an array (t, len(keys)); before the first row: the first row."""
    out = np.zeros((len(YEARS), len(keys)))
    grouped = {k: g.sort_values("from_year") for k, g in table.groupby(key_columns)}
    for j, key in enumerate(keys):
        rows = grouped[tuple(key)]
        starts = rows["from_year"].to_numpy(dtype=float)
        idx = np.clip(np.searchsorted(starts, YEARS, side="right") - 1, 0, None)
        out[:, j] = rows[value_column].to_numpy(dtype=float)[idx]
    return out


def run_city_model(tables: dict[str, pd.DataFrame]) -> ModelResult:
    """Run the model for every city in ``tables`` (as returned by ingestion.read_project_tables)."""
    products_table = tables["products"].reset_index(drop=True)
    products = list(products_table["product"])
    regions = _regions(tables["cities"], tables["districts"])
    n_r, n_g = len(regions), len(products)

    ownership, ownership_prov = _ownership(tables["ownership"], regions, products)
    driver_column = {"per_inhabitant": "population", "per_household": "households", "per_city": "city_share"}
    drivers = np.stack([regions[driver_column[d]].to_numpy(dtype=float) for d in products_table["stock_driver"]], axis=1)
    target_stock = ownership * drivers[None, :, :]

    # Units: use stock, per lifetime model kind (one flodym lifetime class per run).
    inflow_u = np.zeros((len(YEARS), n_r, n_g))
    outflow_u = np.zeros_like(inflow_u)
    stock_u = np.zeros_like(inflow_u)
    for kind, group in products_table.groupby("lifetime_model"):
        idx = group.index.to_numpy()
        dims = _dims(n_r, [products[i] for i in idx])
        lifetime = _lifetime_model(dims, kind, group["lifetime_mean_years"].to_numpy(float), group["lifetime_spread"].to_numpy(float))
        inflow_u[..., idx], outflow_u[..., idx], stock_u[..., idx] = stock_driven(dims, lifetime, target_stock[..., idx])

    # Units: hibernation and end-of-life routing.
    routing = tables["eol_routing"]
    hibernation_share = _step_by_year(routing, [(p,) for p in products], ["product"], "hibernation_share")[:, None, :]
    export_share = _step_by_year(routing, [(p,) for p in products], ["product"], "export_reuse_share")[:, None, :]
    collection_rate = _step_by_year(routing, [(p,) for p in products], ["product"], "collection_rate")[:, None, :]
    to_hibernation_u = outflow_u * hibernation_share
    direct_discard_u = outflow_u - to_hibernation_u
    dims = _dims(n_r, products)
    shape = np.full(n_g, HIBERNATION_WEIBULL_SHAPE)
    hib_lifetime = _lifetime_model(dims, "weibull", products_table["hibernation_mean_years"].to_numpy(float), shape)
    from_hibernation_u, hibernation_stock_u = inflow_driven(dims, hib_lifetime, to_hibernation_u)

    # Materials: one column per (product, material) pair that has a content figure.
    content = tables["product_content"].reset_index(drop=True)
    pairs = list(zip(content["product"], content["material"]))
    g_of_pair = np.array([products.index(p) for p, _ in pairs])
    kg_per_unit = content["grams_per_unit"].to_numpy(float) / 1000.0
    recovery_yield = _step_by_year(tables["recovery_yields"], pairs, ["product", "material"], "recovery_yield")[:, None, :]

    def to_kg(units: np.ndarray) -> np.ndarray:
        return units[..., g_of_pair] * kg_per_unit

    eol_u = direct_discard_u + from_hibernation_u
    export_u = eol_u * export_share
    collected_u = (eol_u - export_u) * collection_rate
    residual_u = eol_u - export_u - collected_u
    collected_kg = to_kg(collected_u)
    secondary_kg = collected_kg * recovery_yield
    flows_kg = {
        ("market", "use"): to_kg(inflow_u),
        ("use", "hibernation"): to_kg(to_hibernation_u),
        ("use", "end_of_life"): to_kg(direct_discard_u),
        ("hibernation", "end_of_life"): to_kg(from_hibernation_u),
        ("end_of_life", "export_reuse_abroad"): to_kg(export_u),
        ("end_of_life", "residual_waste"): to_kg(residual_u),
        ("end_of_life", "separate_collection"): collected_kg,
        ("separate_collection", "recycling"): collected_kg,
        ("recycling", "secondary_supply"): secondary_kg,
        ("recycling", "recycling_loss"): collected_kg - secondary_kg,
    }
    stocks_kg = {"use": to_kg(stock_u), "hibernation": to_kg(hibernation_stock_u)}

    provenance = _provenance(tables, regions, products, pairs, ownership_prov)
    report_flow = YEARS >= REPORT_START
    report_stock = YEARS >= REPORT_START - 1
    flows = _long_frame(regions, pairs, YEARS[report_flow], provenance, [
        (frm, to, stage, flows_kg[(frm, to)][report_flow]) for frm, to, stage in EDGES
    ], kind="flow")
    stocks = _long_frame(regions, pairs, YEARS[report_stock], provenance, [
        (process, None, stage, stocks_kg[process][report_stock]) for process, stage in STOCK_PROCESSES.items()
    ], kind="stock")
    unit_stocks = _unit_frame(regions, products, YEARS[report_stock], {
        "use": stock_u[report_stock], "hibernation": hibernation_stock_u[report_stock],
    })
    return ModelResult(flows=flows, stocks=stocks, unit_stocks=unit_stocks)


def _provenance(tables, regions, products, pairs, ownership_prov) -> dict[str, pd.DataFrame]:
    """Weakest confidence and union of sources per (region, pair) for each stage of the chain."""
    product_rows = tables["products"].set_index("product")
    content = tables["product_content"].set_index(["product", "material"])
    routing = tables["eol_routing"].groupby("product")
    yields = tables["recovery_yields"].groupby(["product", "material"])
    own = ownership_prov.set_index(["r", "g"])
    stages: dict[str, list] = {"use": [], "routing": [], "recovery": []}
    for r, region in enumerate(regions.itertuples(index=False)):
        for p, (product, material) in enumerate(pairs):
            g = products.index(product)
            o = own.loc[(r, g)]
            labels = [region.confidence, o["confidence"], product_rows.at[product, "confidence"], content.at[(product, material), "confidence"]]
            sources = [region.source_id, o["source_id"], product_rows.at[product, "source_id"], content.at[(product, material), "source_id"]]
            stages["use"].append((r, p, weakest(labels), join_sources(sources), bool(o["downscaled"])))
            rows = routing.get_group(product)
            labels, sources = labels + list(rows["confidence"]), sources + list(rows["source_id"])
            stages["routing"].append((r, p, weakest(labels), join_sources(sources), bool(o["downscaled"])))
            rows = yields.get_group((product, material))
            labels, sources = labels + list(rows["confidence"]), sources + list(rows["source_id"])
            stages["recovery"].append((r, p, weakest(labels), join_sources(sources), bool(o["downscaled"])))
    columns = ["r", "p", "confidence", "source_ids", "downscaled"]
    return {stage: pd.DataFrame(rows, columns=columns) for stage, rows in stages.items()}


def _long_frame(regions, pairs, years, provenance, blocks, kind: str) -> pd.DataFrame:
    """Flatten arrays (t, r, p) into long rows with their region, pair and provenance columns."""
    n_t, n_r, n_p = len(years), len(regions), len(pairs)
    r_idx = np.tile(np.repeat(np.arange(n_r), n_p), n_t)
    p_idx = np.tile(np.arange(n_p), n_t * n_r)
    base = pd.DataFrame({
        "city": regions["city"].to_numpy()[r_idx],
        "district": regions["district"].to_numpy()[r_idx],
        "year": np.repeat(years, n_r * n_p).astype(int),
        "product": np.array([p for p, _ in pairs])[p_idx],
        "material": np.array([m for _, m in pairs])[p_idx],
    })
    frames = []
    for first, second, stage, values in blocks:
        prov = provenance[stage]
        pos = r_idx * n_p + p_idx  # provenance rows are ordered by (r, p)
        frame = base.copy()
        if kind == "flow":
            frame["from_process"], frame["to_process"] = first, second
        else:
            frame["process"] = first
        frame["kg"] = values.reshape(-1)
        frame["confidence"] = prov["confidence"].to_numpy()[pos]
        frame["source_ids"] = prov["source_ids"].to_numpy()[pos]
        frame["downscaled"] = prov["downscaled"].to_numpy()[pos]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _unit_frame(regions, products, years, stocks: dict[str, np.ndarray]) -> pd.DataFrame:
    n_t, n_r, n_g = len(years), len(regions), len(products)
    r_idx = np.tile(np.repeat(np.arange(n_r), n_g), n_t)
    g_idx = np.tile(np.arange(n_g), n_t * n_r)
    frames = []
    for process, values in stocks.items():
        frames.append(pd.DataFrame({
            "city": regions["city"].to_numpy()[r_idx],
            "district": regions["district"].to_numpy()[r_idx],
            "year": np.repeat(years, n_r * n_g).astype(int),
            "product": np.array(products)[g_idx],
            "process": process,
            "units": values.reshape(-1),
        }))
    return pd.concat(frames, ignore_index=True)
