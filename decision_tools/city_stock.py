"""The city's own stock: what the municipality and its companies own (data/city_owned_stock.csv, the upload kind
``city_owned_stock``), set apart from the households' stock because that is where the city acts directly
(procurement, its own take-back and maintenance contracts).

This module owns reading the register for a city and year (``register_rows``), the city's whole modelled stock
of each product in units (``modelled_units_in_use``), the composition in force in a year (``grams_in_force``)
and the municipal stock with its material, its share of the city's stock and the units reaching end of use
(``municipal_stock``, ``share_by_product``). It never imports streamlit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .model_inputs import regions_of, target_stock_units
from .stock_model import YEARS

END_OF_USE_LABEL = "estimate: units / mean lifetime (the fleet replaced at a steady pace)"
UNITS_COLUMNS = ["owner", "product", "year_of_count", "units", "modelled_units", "share_of_city_stock",
                 "exceeds_model", "end_of_use_units_per_year", "source_id", "confidence", "note"]
MATERIAL_COLUMNS = ["owner", "product", "material", "grams_per_unit", "kg"]


def register_rows(register: pd.DataFrame, city: str, year: int) -> pd.DataFrame:
    """The register's count of each owner and product of ``city`` for ``year``: the count of the latest year at
    or before ``year``; before an owner's first count, that first count (held flat, as ownership figures are
    outside their anchor years). The year the count is for is kept as ``year_of_count``."""
    mine = register[register["city"] == city]
    rows = []
    for _, counts in mine.groupby(["owner", "product"], sort=True):
        counts = counts.sort_values("year")
        earlier = counts[counts["year"] <= year]
        rows.append(earlier.iloc[-1] if not earlier.empty else counts.iloc[0])
    if not rows:
        return pd.DataFrame(columns=[*register.columns, "year_of_count"]).drop(columns=["year"])
    return pd.DataFrame(rows).rename(columns={"year": "year_of_count"}).reset_index(drop=True)


def modelled_units_in_use(tables: Mapping[str, pd.DataFrame], city: str, year: int) -> dict[str, float]:
    """The city's whole modelled stock in use of every product (units) in ``year`` (held at the model's first or
    last year outside its range): ownership per driver x the driver, summed over the city's districts."""
    cities = tables["cities"]
    if city not in set(cities["city"]):
        raise ValueError(f"Unknown city {city!r}; choose one of {', '.join(cities['city'])}.")
    regions = regions_of(cities[cities["city"] == city], tables["districts"][tables["districts"]["city"] == city])
    target, _ = target_stock_units(dict(tables), regions)  # (t, r, g)
    t = int(np.clip(np.searchsorted(YEARS, year), 0, len(YEARS) - 1))
    units = target[t].sum(axis=0)
    return {product: float(u) for product, u in zip(tables["products"]["product"], units)}


def grams_in_force(content: pd.DataFrame, year: int) -> pd.DataFrame:
    """Per product and material, the grams per unit of the composition in force in ``year``: the row with the
    latest from_year at or before it (before the first row: the first, as the model does)."""
    rows = []
    for (product, material), versions in content.groupby(["product", "material"], sort=True):
        versions = versions.sort_values("from_year")
        earlier = versions[versions["from_year"] <= year]
        chosen = earlier.iloc[-1] if not earlier.empty else versions.iloc[0]
        rows.append((product, material, float(chosen["grams_per_unit"])))
    return pd.DataFrame(rows, columns=["product", "material", "grams_per_unit"])


@dataclass
class CityStock:
    """The municipal stock of a city in a year. ``units``: one row per owner and product (UNITS_COLUMNS; shares
    0..1); ``materials``: kg of each material per owner and product (MATERIAL_COLUMNS)."""

    city: str
    year: int
    units: pd.DataFrame
    materials: pd.DataFrame

    @property
    def empty(self) -> bool:
        return self.units.empty

    def with_material(self, material: str) -> pd.DataFrame:
        """``units`` with the kg of one material in each row's units (0 where the product holds none)."""
        kg = self.materials[self.materials["material"] == material].set_index(["owner", "product"])["kg"]
        keys = pd.MultiIndex.from_frame(self.units[["owner", "product"]])
        return self.units.assign(kg=kg.reindex(keys).fillna(0.0).to_numpy(dtype=float))


def municipal_stock(register: pd.DataFrame, city: str, year: int, products: pd.DataFrame, content: pd.DataFrame,
                    modelled_units: Mapping[str, float]) -> CityStock:
    """What the city and its companies own in ``year`` (``register_rows``), with per owner and product:
    - kg of each material = units x grams per unit / 1000, at the composition in force in the year the count is
      for (or in ``year`` when that is earlier: the units were made by then);
    - the share of the city's whole modelled stock of that product (0..1; the owners' units over
      ``modelled_units``; capped at 1 with ``exceeds_model`` set when the register counts more than the model
      holds, which means the model undercounts that product in the city; NaN when the model holds none);
    - the units reaching end of use per year, estimated as units / mean lifetime (END_OF_USE_LABEL)."""
    rows = register_rows(register, city, year)
    if rows.empty:
        return CityStock(city, year, pd.DataFrame(columns=UNITS_COLUMNS), pd.DataFrame(columns=MATERIAL_COLUMNS))
    lifetime = products.set_index("product")["lifetime_mean_years"].astype(float)
    units = rows["units"].astype(float)
    modelled = rows["product"].map(lambda p: float(modelled_units.get(p, 0.0)))
    with np.errstate(divide="ignore", invalid="ignore"):
        raw_share = np.where(modelled > 0, units / modelled.where(modelled > 0, np.nan), np.nan)
    table = pd.DataFrame({
        "owner": rows["owner"], "product": rows["product"], "year_of_count": rows["year_of_count"].astype(int),
        "units": units, "modelled_units": modelled,
        "share_of_city_stock": np.minimum(raw_share, 1.0),
        "exceeds_model": np.nan_to_num(raw_share, nan=0.0) > 1.0,
        "end_of_use_units_per_year": units / rows["product"].map(lifetime).astype(float),
        "source_id": rows["source_id"], "confidence": rows["confidence"],
        "note": rows["note"] if "note" in rows.columns else "",
    })[UNITS_COLUMNS].reset_index(drop=True)
    # The units counted in year_of_count were made by then (and those in use in ``year`` by ``year``): each row
    # takes the composition in force in the earlier of the two, the nearest to when its units were made.
    content = content[content["product"].isin(set(table["product"]))]
    made_by = np.minimum(table["year_of_count"].to_numpy(dtype=int), int(year))
    parts = [table.loc[made_by == y, ["owner", "product", "units"]].merge(grams_in_force(content, int(y)), on="product",
                                                                         how="inner")
             for y in sorted(set(made_by))]
    materials = pd.concat(parts, ignore_index=True)
    materials["kg"] = materials["units"] * materials["grams_per_unit"] / 1000.0
    return CityStock(city, year, table, materials[MATERIAL_COLUMNS].reset_index(drop=True))


def share_by_product(stock: CityStock) -> dict[str, float]:
    """The city's own share (0..1) of its whole modelled stock of each product it owns, all owners together
    (capped at 1; a product the model holds none of is left out)."""
    if stock.empty:
        return {}
    grouped = stock.units.groupby("product").agg(units=("units", "sum"), modelled=("modelled_units", "first"))
    grouped = grouped[grouped["modelled"] > 0]
    return {product: float(min(row.units / row.modelled, 1.0)) for product, row in grouped.iterrows()}


def city_stock_for(tables: Mapping[str, pd.DataFrame], city: str, year: int) -> CityStock:
    """``municipal_stock`` of ``city`` in ``year`` from a version's input tables."""
    register = tables.get("city_owned_stock")
    if register is None:
        register = pd.DataFrame(columns=["city", "owner", "product", "year", "units", "source_id", "confidence", "note"])
    return municipal_stock(register, city, year, tables["products"], tables["product_content"],
                           modelled_units_in_use(tables, city, year))
