"""The model's inputs, read from the project tables: the regions (districts, or the city whole), the units
that should be in use (ownership x driver, from the most specific geography), the chain's parameters by
year (content, routing, recovery), and one city's inputs for a set of materials, which scenario levers
and the Monte Carlo change copies of."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .provenance import join_sources, weakest
from .stock_model import YEARS, Content

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

    The most specific geography wins: the city, then its country, then the EU average. A product with no figure
    in a city's chain is not counted there (zero units, labelled illustrative with no source): the upload check
    warns about it (cross_checks) and the Overview lists it. Returns the provenance per (region, product),
    including whether the figure is downscaled.
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
            else:
                provenance.append((r, g, "illustrative", "", False, None))
                continue
            values[:, r, g] = np.interp(YEARS, anchors["year"].astype(float), anchors["units_per_driver"].astype(float))
            provenance.append((r, g, weakest(anchors["confidence"]), join_sources(anchors["source_id"]),
                               geography != region.city, geography))
    return values, pd.DataFrame(provenance, columns=["r", "g", "confidence", "source_id", "downscaled", "geography"])


NO_OWNERSHIP_FIGURE = "no figure: not counted"  # a product with no ownership row in a city's chain


def ownership_geographies(ownership: pd.DataFrame, products: pd.DataFrame, city: str, country: str) -> pd.DataFrame:
    """Which ownership figures a city's model uses, per product (the rule of ``_ownership``): rows
    product, name, level (``the city's own``, ``national``, ``EU average`` or NO_OWNERSHIP_FIGURE), geography, years
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
        else:
            rows.append((product.product, product.name, NO_OWNERSHIP_FIGURE, "", "", "illustrative", ""))
    return pd.DataFrame(rows, columns=["product", "name", "level", "geography", "years", "confidence", "source_id"])


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


def target_stock_units(tables: dict[str, pd.DataFrame], regions: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Units that should be in use (t, r, g): ownership per driver x the driver; and its provenance."""
    products_table = tables["products"].reset_index(drop=True)
    ownership, provenance = _ownership(tables["ownership"], regions, list(products_table["product"]))
    driver_column = {"per_inhabitant": "population", "per_household": "households", "per_city": "city_share"}
    drivers = np.stack([regions[driver_column[d]].to_numpy(dtype=float) for d in products_table["stock_driver"]], axis=1)
    return ownership * drivers[None, :, :], provenance


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
