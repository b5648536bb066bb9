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
from types import SimpleNamespace
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


def regions_of(cities: pd.DataFrame, districts: pd.DataFrame) -> pd.DataFrame:
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


def ownership_geographies(ownership: pd.DataFrame, products: pd.DataFrame, city: str, country: str) -> pd.DataFrame:
    """Which ownership figures a city's model uses, per product (the rule of ``_ownership``): rows
    product, name, level (``the city's own``, ``national`` or ``EU average``), geography, years
    (first-last anchor), confidence (weakest anchor), source_id."""
    levels = {city: "the city's own", country: "national", "EU": "EU average"}
    rows = []
    for product in products.itertuples(index=False):
        mine = ownership[ownership["product"] == product.product]
        for geography, level in levels.items():
            anchors = mine[mine["geography"] == geography]
            if not anchors.empty:
                rows.append((product.product, product.name, level, geography,
                             f"{int(anchors['year'].min())}-{int(anchors['year'].max())}",
                             weakest(anchors["confidence"]), join_sources(anchors["source_id"])))
                break
    return pd.DataFrame(rows, columns=["product", "name", "level", "geography", "years", "confidence", "source_id"])


def lifetime_model(dims: fd.DimensionSet, kind: str, mean: np.ndarray, spread: np.ndarray) -> fd.LifetimeModel:
    """A flodym lifetime model whose parameters vary along the last dimension of ``dims`` (products)
    and, where ``mean`` has two dimensions, along the one before it too."""
    param_dims = dims[dims.letters[1:]] if np.ndim(mean) > 1 else dims[dims.letters[-1],]
    mean = np.asarray(mean, dtype=float)
    spread = np.broadcast_to(np.asarray(spread, dtype=float), mean.shape)
    if kind == "weibull":
        return fd.WeibullLifetime(
            dims=dims,
            weibull_scale=fd.FlodymArray(dims=param_dims, values=weibull_scale_from_mean(mean, spread)),
            weibull_shape=fd.FlodymArray(dims=param_dims, values=np.array(spread)),
        )
    if kind == "normal":
        return fd.NormalLifetime(dims=dims, mean=fd.FlodymArray(dims=param_dims, values=mean),
                                 std=fd.FlodymArray(dims=param_dims, values=np.array(spread)))
    if kind == "fixed":
        return fd.FixedLifetime(dims=dims, mean=fd.FlodymArray(dims=param_dims, values=mean))
    raise ValueError(f"Unknown lifetime model {kind!r}; use weibull, normal or fixed.")


def model_dims(middle: int | None, products: list[str]) -> fd.DimensionSet:
    """Time x (regions or samples or lifetime variants, when ``middle`` is given) x products."""
    dims = [fd.Dimension(name="time", letter="t", items=[int(y) for y in YEARS])]
    if middle is not None:
        dims.append(fd.Dimension(name="variant", letter="r", items=list(range(middle))))
    dims.append(fd.Dimension(name="product", letter="g", items=list(products)))
    return fd.DimensionSet(dim_list=dims)


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


def hibernation_lifetime(products_table: pd.DataFrame) -> fd.LifetimeModel:
    """Residence time in drawers per product (exponential), on dims (time, product)."""
    dims = model_dims(None, list(products_table["product"]))
    mean = products_table["hibernation_mean_years"].to_numpy(float)
    return lifetime_model(dims, "weibull", mean, np.full(len(mean), HIBERNATION_WEIBULL_SHAPE))


def inflow_driven(lifetime: fd.LifetimeModel, inflow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inflow-driven stock on flodym's survival matrices: (outflow, stock), each (t, X, g).

    ``lifetime`` has dims (time, product) (or its pdf and sf per pair); the inflow (t, X, g) may carry
    any middle dimension (regions or Monte Carlo samples): outflow(t) = sum_c pdf(t, c) I(c),
    stock(t) = sum_c sf(t, c) I(c).
    """
    # Batched matrix products over g (BLAS): several times faster than the equivalent einsum for 1,000 samples.
    by_g = np.moveaxis(inflow, 2, 0)  # (g, c, x)
    outflow = np.moveaxis(np.moveaxis(lifetime.pdf, 2, 0) @ by_g, 0, 2)
    stock = np.moveaxis(np.moveaxis(lifetime.sf, 2, 0) @ by_g, 0, 2)
    return outflow, stock


def step_by_year(table: pd.DataFrame, keys: list[tuple], key_columns: list[str], value_column: str) -> np.ndarray:
    """Values valid 'from_year' on, as an array (t, len(keys)); before the first row: the first row."""
    out = np.zeros((len(YEARS), len(keys)))
    grouped = {k: g.sort_values("from_year") for k, g in table.groupby(key_columns)}
    for j, key in enumerate(keys):
        rows = grouped[tuple(key)]
        starts = rows["from_year"].to_numpy(dtype=float)
        idx = np.clip(np.searchsorted(starts, YEARS, side="right") - 1, 0, None)
        out[:, j] = rows[value_column].to_numpy(dtype=float)[idx]
    return out


@dataclass
class ChainInputs:
    """The parameters of the chain, as arrays over years (t), products (g) and (product, material)
    pairs (p). Built once from the tables; the Monte Carlo scales copies of them."""

    products: list[str]
    pairs: list[tuple[str, str]]
    g_of_pair: np.ndarray  # (p,) product index of each pair
    kg_per_unit: np.ndarray  # (t, p) kg of the material per unit of product made in year t
    hibernation_share: np.ndarray  # (t, g) share 0..1 of retiring units kept in drawers
    export_share: np.ndarray  # (t, g) share 0..1 of end-of-life units leaving the city
    collection_rate: np.ndarray  # (t, g) share 0..1 of the remaining end-of-life units collected
    recovery_yield: np.ndarray  # (t, p) share 0..1 of collected material recovered

    @property
    def content(self) -> "Content":
        return Content(self.g_of_pair, self.kg_per_unit)

    @classmethod
    def from_tables(cls, tables: dict[str, pd.DataFrame], city: str | None = None, country: str | None = None) -> "ChainInputs":
        """The chain's parameters; routing for ``city`` (its own rows, else its country's, else the EU's)."""
        products = list(tables["products"]["product"])
        content = tables["product_content"]
        pairs = list(dict.fromkeys(zip(content["product"], content["material"])))
        routing = routing_rows(tables["eol_routing"], city, country)
        per_product = [(p,) for p in products]
        return cls(
            products=products,
            pairs=pairs,
            g_of_pair=np.array([products.index(p) for p, _ in pairs], dtype=int),
            kg_per_unit=step_by_year(content, pairs, ["product", "material"], "grams_per_unit") / 1000.0,
            hibernation_share=step_by_year(routing, per_product, ["product"], "hibernation_share"),
            export_share=step_by_year(routing, per_product, ["product"], "export_reuse_share"),
            collection_rate=step_by_year(routing, per_product, ["product"], "collection_rate"),
            recovery_yield=step_by_year(tables["recovery_yields"], pairs, ["product", "material"], "recovery_yield"),
        )


def routing_rows(routing: pd.DataFrame, city: str | None, country: str | None) -> pd.DataFrame:
    """Per product, the routing rows of the most specific geography that has any: the city, its
    country, else the EU (the same rule as ownership)."""
    chosen = []
    for _, rows in routing.groupby("product", sort=False):
        for geography in (city, country, "EU"):
            mine = rows[rows["geography"] == geography]
            if geography is not None and not mine.empty:
                chosen.append(mine)
                break
    return pd.concat(chosen, ignore_index=True)


def material_chain(inflow_u: np.ndarray, outflow_u: np.ndarray, stock_u: np.ndarray, hib_lifetime: fd.LifetimeModel,
                   hibernation_share: np.ndarray, export_share: np.ndarray, collection_rate: np.ndarray,
                   g_of_pair: np.ndarray, content: "np.ndarray | MaterialInUse", recovery_yield: np.ndarray,
                   take_back_share: np.ndarray | None = None):
    """From units entering, leaving and in use (t, X, g) to every flow and stock of the chain in kg
    (t, X, p). Shares are (t, X or 1, g), yields (t, X or 1, p); ``content`` is either the material in
    use by cohort (MaterialInUse, (t, X, p)) or one content for every cohort in kg per unit ((X or 1, p)
    or (p,)), so the same code serves regions (the stored model), Monte Carlo samples and scenarios.

    Units leave use with the content of their cohort and keep it through drawers and waste handling,
    so every step after use is computed in kg per pair. ``take_back_share`` (t, X or 1, g): share of
    retiring units that a take-back campaign brings straight to separate collection instead of drawers
    (default none). Returns (flows: {(from, to): kg}, stocks: {process: kg}, unit_stocks: {process: units}).
    """
    if not isinstance(content, MaterialInUse):
        content = MaterialInUse(*(units[..., g_of_pair] * content for units in (inflow_u, outflow_u, stock_u)))
    take_back = take_back_share if take_back_share is not None else np.zeros_like(hibernation_share)

    def per_pair(share: np.ndarray) -> np.ndarray:
        return share[..., g_of_pair]

    hib_pairs = SimpleNamespace(pdf=hib_lifetime.pdf[..., g_of_pair], sf=hib_lifetime.sf[..., g_of_pair])
    outflow_kg = content.outflow_kg
    returned_kg = outflow_kg * per_pair(take_back)
    to_hibernation_kg = outflow_kg * per_pair(hibernation_share)
    from_hibernation_kg, hibernation_stock_kg = inflow_driven(hib_pairs, to_hibernation_kg)
    discarded_kg = outflow_kg - to_hibernation_kg - returned_kg + from_hibernation_kg  # reaches waste handling as usual
    eol_kg = discarded_kg + returned_kg
    export_kg = discarded_kg * per_pair(export_share)
    collected_kg = (discarded_kg - export_kg) * per_pair(collection_rate) + returned_kg
    secondary_kg = collected_kg * recovery_yield
    flows = {
        ("market", "use"): content.inflow_kg,
        ("use", "hibernation"): to_hibernation_kg,
        ("use", "end_of_life"): outflow_kg - to_hibernation_kg,  # includes units taken back
        ("hibernation", "end_of_life"): from_hibernation_kg,
        ("end_of_life", "export_reuse_abroad"): export_kg,
        ("end_of_life", "residual_waste"): eol_kg - export_kg - collected_kg,
        ("end_of_life", "separate_collection"): collected_kg,
        ("separate_collection", "recycling"): collected_kg,
        ("recycling", "secondary_supply"): secondary_kg,
        ("recycling", "recycling_loss"): collected_kg - secondary_kg,
    }
    _, hibernation_stock_u = inflow_driven(hib_lifetime, outflow_u * hibernation_share)
    stocks = {"use": content.stock_kg, "hibernation": hibernation_stock_kg}
    return flows, stocks, {"use": stock_u, "hibernation": hibernation_stock_u}


def target_stock_units(tables: dict[str, pd.DataFrame], regions: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Units that should be in use (t, r, g): ownership per driver x the driver; and its provenance."""
    products_table = tables["products"].reset_index(drop=True)
    ownership, provenance = _ownership(tables["ownership"], regions, list(products_table["product"]))
    driver_column = {"per_inhabitant": "population", "per_household": "households", "per_city": "city_share"}
    drivers = np.stack([regions[driver_column[d]].to_numpy(dtype=float) for d in products_table["stock_driver"]], axis=1)
    return ownership * drivers[None, :, :], provenance


@dataclass
class Content:
    """Material content by production year: ``kg_per_unit`` (t, p) is the kg of each pair's material
    in a unit made in year t; ``g_of_pair`` (p,) the product of each pair."""

    g_of_pair: np.ndarray
    kg_per_unit: np.ndarray


@dataclass
class MaterialInUse:
    """Material entering, leaving and in the stock in use (t, X, p), kg, each unit carrying the content
    of its production year (cohort)."""

    inflow_kg: np.ndarray
    outflow_kg: np.ndarray
    stock_kg: np.ndarray


def cohort_material(sf: np.ndarray, inflow_u: np.ndarray, content: Content, pairs: np.ndarray) -> MaterialInUse:
    """kg in use by cohort: stock(t) = sum_c sf(t, c) I(c) k(c) on flodym's survival matrix sf (t, c, X, g)
    for the products of ``pairs`` (indices into content); the outflow closes the balance,
    O(t) = I(t) k(t) - (S(t) - S(t-1)), which is the cohort-weighted outflow since S = sum_c sf I."""
    g = content.g_of_pair[pairs]
    k = content.kg_per_unit[:, pairs]  # (c, p)
    inflow_kg = inflow_u[..., g] * k[:, None, :]
    stock_kg = np.einsum("tcxp,cxp->txp", sf[..., g], inflow_kg)
    previous = np.concatenate([np.zeros_like(stock_kg[:1]), stock_kg[:-1]])
    return MaterialInUse(inflow_kg, inflow_kg - (stock_kg - previous), stock_kg)


def use_stock(products_table: pd.DataFrame, target: np.ndarray, lifetime_factor: np.ndarray | None = None,
              lifetime_factor_by_year: np.ndarray | None = None, content: Content | None = None):
    """Stock-driven model of the units in use, one flodym run per kind of lifetime distribution.

    ``target`` is (t, X, g). ``lifetime_factor`` (X, g), when given, scales each product's mean
    lifetime (and spread, for normal distributions) per variant X. ``lifetime_factor_by_year``
    (t, X, g), when given, extends lifetimes from a year on for every cohort still in use (repair:
    flodym's "nurture" factor, Krych et al. 2024). Returns inflow, outflow, stock (t, X, g), and with
    ``content`` also the material in use by cohort (MaterialInUse, (t, X, p)).
    """
    products_table = products_table.reset_index(drop=True)
    products = list(products_table["product"])
    n_x = target.shape[1]
    inflow, outflow, stock = (np.zeros_like(target, dtype=float) for _ in range(3))
    if content is not None:
        n_p = content.kg_per_unit.shape[1]
        material = MaterialInUse(*(np.zeros((target.shape[0], n_x, n_p)) for _ in range(3)))
    for kind, group in products_table.groupby("lifetime_model"):
        idx = group.index.to_numpy()
        mean = group["lifetime_mean_years"].to_numpy(float)
        spread = group["lifetime_spread"].to_numpy(float)
        if lifetime_factor is not None:
            mean = lifetime_factor[:, idx] * mean  # (X, g)
            spread = lifetime_factor[:, idx] * spread if kind == "normal" else np.broadcast_to(spread, mean.shape)
        dims = model_dims(n_x, [products[i] for i in idx])
        lifetime = lifetime_model(dims, kind, mean, spread)
        if lifetime_factor_by_year is not None and not np.allclose(lifetime_factor_by_year[..., idx], 1.0):
            lifetime.lt_factor_by_year = fd.FlodymArray(dims=dims, values=lifetime_factor_by_year[..., idx].copy())
        inflow[..., idx], outflow[..., idx], stock[..., idx] = stock_driven(dims, lifetime, target[..., idx])
        if content is not None:
            local = np.full(len(products), -1)
            local[idx] = np.arange(len(idx))
            pairs = np.flatnonzero(np.isin(content.g_of_pair, idx))
            part = cohort_material(lifetime.sf, inflow[..., idx],
                                   Content(local[content.g_of_pair], content.kg_per_unit), pairs)
            material.inflow_kg[..., pairs], material.outflow_kg[..., pairs], material.stock_kg[..., pairs] = \
                part.inflow_kg, part.outflow_kg, part.stock_kg
    if content is not None:
        return inflow, outflow, stock, material
    return inflow, outflow, stock


def run_city_model(tables: dict[str, pd.DataFrame]) -> ModelResult:
    """Run the model for every city in ``tables`` (as returned by ingestion.read_project_tables)."""
    products_table = tables["products"].reset_index(drop=True)
    regions = regions_of(tables["cities"], tables["districts"])
    target, ownership_prov = target_stock_units(tables, regions)
    inputs = ChainInputs.from_tables(tables)
    inflow_u, outflow_u, stock_u, material = use_stock(products_table, target, content=inputs.content)
    by_place = {place: ChainInputs.from_tables(tables, *place)
                for place in dict.fromkeys(zip(regions["city"], regions["country_iso3"]))}
    routing = [by_place[place] for place in zip(regions["city"], regions["country_iso3"])]

    def per_region(share: str) -> np.ndarray:  # (t, r, g)
        return np.stack([getattr(chain, share) for chain in routing], axis=1)

    flows_kg, stocks_kg, units = material_chain(
        inflow_u, outflow_u, stock_u, hibernation_lifetime(products_table),
        per_region("hibernation_share"), per_region("export_share"), per_region("collection_rate"),
        inputs.g_of_pair, material, inputs.recovery_yield[:, None, :],
    )

    provenance = _provenance(tables, regions, inputs.products, inputs.pairs, ownership_prov)
    report_flow = YEARS >= REPORT_START
    report_stock = YEARS >= REPORT_START - 1
    flows = _long_frame(regions, inputs.pairs, YEARS[report_flow], provenance, [
        (frm, to, stage, flows_kg[(frm, to)][report_flow]) for frm, to, stage in EDGES
    ], kind="flow")
    stocks = _long_frame(regions, inputs.pairs, YEARS[report_stock], provenance, [
        (process, None, stage, stocks_kg[process][report_stock]) for process, stage in STOCK_PROCESSES.items()
    ], kind="stock")
    unit_stocks = _unit_frame(regions, inputs.products, YEARS[report_stock], {
        process: values[report_stock] for process, values in units.items()
    })
    return ModelResult(flows=flows, stocks=stocks, unit_stocks=unit_stocks)


def _provenance(tables, regions, products, pairs, ownership_prov) -> dict[str, pd.DataFrame]:
    """Weakest confidence and union of sources per (region, pair) for each stage of the chain."""
    # Plain dicts of (labels, sources) looked up once per key: the loop below runs for every region and pair.
    def labelled(frame: pd.DataFrame, by) -> dict:
        return {key: (list(rows["confidence"]), list(rows["source_id"])) for key, rows in frame.groupby(by)}

    product_rows = tables["products"].set_index("product")[["confidence", "source_id"]].to_dict("index")
    content = tables["product_content"].groupby(["product", "material"]).agg(
        confidence=("confidence", weakest), source_id=("source_id", join_sources)).to_dict("index")
    yields = labelled(tables["recovery_yields"], ["product", "material"])
    own = {(int(r), int(g)): (confidence, source_id, bool(downscaled)) for r, g, confidence, source_id, downscaled
           in ownership_prov[["r", "g", "confidence", "source_id", "downscaled"]].itertuples(index=False)}
    routing: dict[tuple, dict] = {}
    stages: dict[str, list] = {"use": [], "routing": [], "recovery": []}
    for r, region in enumerate(regions.itertuples(index=False)):
        place = (region.city, region.country_iso3)
        if place not in routing:
            routing[place] = labelled(routing_rows(tables["eol_routing"], *place), "product")
        for p, (product, material) in enumerate(pairs):
            own_confidence, own_sources, downscaled = own[(r, products.index(product))]
            described, contained = product_rows[product], content[(product, material)]
            labels = [region.confidence, own_confidence, described["confidence"], contained["confidence"]]
            sources = [region.source_id, own_sources, described["source_id"], contained["source_id"]]
            stages["use"].append((r, p, weakest(labels), join_sources(sources), downscaled))
            routed_labels, routed_sources = routing[place][product]
            labels, sources = labels + routed_labels, sources + routed_sources
            stages["routing"].append((r, p, weakest(labels), join_sources(sources), downscaled))
            yield_labels, yield_sources = yields[(product, material)]
            labels, sources = labels + yield_labels, sources + yield_sources
            stages["recovery"].append((r, p, weakest(labels), join_sources(sources), downscaled))
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


@dataclass
class CityInputs:
    """One city's model inputs for a set of materials, at city level (districts share every parameter
    but population, and the model is linear in population, so their sum is exact). Scenario levers and
    the Monte Carlo modify copies of these arrays; the defaults of the last five change nothing."""

    city: str
    population: float
    products_table: pd.DataFrame  # only the products that carry the materials
    target: np.ndarray  # (t, 1, g) units that should be in use
    chain: ChainInputs  # restricted to those products and (product, material) pairs
    ownership_labels: np.ndarray  # (g,) confidence of each product's ownership figures
    lifetime_factor_by_year: np.ndarray  # (t, g) lifetime extension of every unit in use, from a year on
    reuse_share: np.ndarray  # (t, g) share 0..1 of retiring units reused in the city instead of new ones
    take_back_share: np.ndarray  # (t, g) share 0..1 of retiring units brought straight to collection
    recycled_content: np.ndarray  # (t, p) share 0..1 of recycled old scrap in new products
    utility: np.ndarray  # (t, p) lifetime and intensity of use against the average (MCI's X)

    def copy(self) -> "CityInputs":
        arrays = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(self).items() if k != "chain"}
        chain = ChainInputs(**{k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(self.chain).items()})
        return CityInputs(chain=chain, **arrays)


def city_inputs(tables: dict[str, pd.DataFrame], city: str, materials: list[str]) -> CityInputs:
    """Inputs of ``city`` for the pairs whose material is in ``materials``; ValueError in a sentence
    for an unknown city or materials no product contains."""
    cities = tables["cities"]
    if city not in set(cities["city"]):
        raise ValueError(f"Unknown city {city!r}; choose one of {', '.join(cities['city'])}.")
    country = cities.loc[cities["city"] == city, "country_iso3"].iloc[0]
    full = ChainInputs.from_tables(tables, city, country)
    selected = [i for i, (_, m) in enumerate(full.pairs) if m in set(materials)]
    if not selected:
        raise ValueError(f"No product in the model contains {', '.join(materials)}.")
    used_g = sorted({int(full.g_of_pair[i]) for i in selected})
    products_table = tables["products"].reset_index(drop=True).iloc[used_g].reset_index(drop=True)
    products = list(products_table["product"])
    pairs = [full.pairs[i] for i in selected]
    chain = ChainInputs(
        products=products, pairs=pairs, g_of_pair=np.array([products.index(p) for p, _ in pairs], dtype=int),
        kg_per_unit=full.kg_per_unit[:, selected], hibernation_share=full.hibernation_share[:, used_g],
        export_share=full.export_share[:, used_g], collection_rate=full.collection_rate[:, used_g],
        recovery_yield=full.recovery_yield[:, selected],
    )
    city_row = cities[cities["city"] == city]
    regions = regions_of(city_row, tables["districts"][tables["districts"]["city"] == city])
    target, provenance = target_stock_units(tables, regions)
    rir = tables["materials"].set_index("symbol")["eu_eol_rir_share"]
    n_t, n_g, n_p = len(YEARS), len(products), len(pairs)
    return CityInputs(
        city=city, population=float(city_row["population"].iloc[0]), products_table=products_table,
        target=target[..., used_g].sum(axis=1, keepdims=True), chain=chain,
        ownership_labels=provenance[provenance["r"] == 0].set_index("g").loc[used_g, "confidence"].to_numpy(),
        lifetime_factor_by_year=np.ones((n_t, n_g)), reuse_share=np.zeros((n_t, n_g)), take_back_share=np.zeros((n_t, n_g)),
        recycled_content=np.tile([float(rir[m]) for _, m in pairs], (n_t, 1)), utility=np.ones((n_t, n_p)),
    )


def run_city_inputs(inputs: CityInputs):
    """The central (deterministic) chain of one city's inputs: (flows, stocks) in kg, each (t, 1, p).

    Reuse: retiring units reused in the city replace new ones, so both the inflow of new units and
    the outflow to end of life fall by the reused units (the stock in use is unchanged).
    """
    c = inputs.chain
    inflow_u, outflow_u, stock_u, material = use_stock(
        inputs.products_table, inputs.target, lifetime_factor_by_year=inputs.lifetime_factor_by_year[:, None, :],
        content=c.content)
    reused_u = np.minimum(outflow_u * inputs.reuse_share[:, None, :], inflow_u)
    # A reused unit replaces a new one and stays in use: both flows fall by it (counted at the content
    # of that year's new units, so the stock in use is unchanged and the balance closes).
    reused_kg = reused_u[..., c.g_of_pair] * c.kg_per_unit[:, None, :]
    material = MaterialInUse(material.inflow_kg - reused_kg, material.outflow_kg - reused_kg, material.stock_kg)
    flows, stocks, _ = material_chain(
        inflow_u - reused_u, outflow_u - reused_u, stock_u, hibernation_lifetime(inputs.products_table),
        c.hibernation_share[:, None, :], c.export_share[:, None, :], c.collection_rate[:, None, :],
        c.g_of_pair, material, c.recovery_yield[:, None, :], inputs.take_back_share[:, None, :],
    )
    return flows, stocks
