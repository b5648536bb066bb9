"""How the model's results compare with published figures (``external_figures.csv``) and stand beside a
city's measured flows (``measured_flows.csv``, ``measured_beside_model``).

This module owns the comparison: for every published figure it computes the same quantity from the
model's results for the same geography and year (``QUANTITIES``), the ratio model / published and a
verdict (``VERDICT_RULE``). It never changes the model; it only reads a dataset version from the store.

Like for like: each quantity says what the model counts (which products, which unit). The model keeps
material masses, not units or product masses, so units come from a material's mass divided by its
grams per unit (the model is linear in units, so this is exact), and product masses from the unit
masses in ``ewc_crosswalk`` (illustrative).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

CONSISTENT_LOW, CONSISTENT_HIGH = 0.5, 2.0
CONSISTENT, OFF, NO_MODEL_VALUE = "consistent", "off by more than 2x", "no model value"
VERDICT_RULE = (
    f"The ratio is the model's value divided by the published one. Within {CONSISTENT_LOW:g}-{CONSISTENT_HIGH:g} "
    f"(at most a factor 2 either way) the verdict is \"{CONSISTENT}\", otherwise \"{OFF}\", and the note says why: "
    "the scopes differ (scope \"part\": the model counts only part of what the published figure counts, so it "
    "should lie below it) or the model has a problem. Nothing is tuned to make the ratios look good."
)
# The geographies that mean "every modelled city" (anything else must be a country code or a city).
WIDE_GEOGRAPHIES = frozenset({"EU", "EU27", "EU-27", "EU27+4", "EU28", "EU-28", "EUROPE"})

# Products in the scope of the WEEE Directive (PV panels are, since 2012); the model's other products are
# vehicle parts and wind turbines. Products a dataset lacks are skipped.
EEE_PRODUCTS = ("smartphone", "laptop", "desktop_hdd", "led_lamp", "pv_module")
PORTABLE_BATTERY_PRODUCTS = ("smartphone", "laptop")  # the model's products with a portable battery inside
CAR_PRODUCTS = ("catalytic_converter", "ev_battery")  # one per combustion car, one per battery-electric car
PV_MODULE_W = 400.0  # products.csv: "PV module (400 W)"


@dataclass(frozen=True)
class Quantity:
    """A model result that published figures are compared with."""

    label: str
    unit: str
    basis: str  # how the model value is computed, in words
    compute: Callable[[ModelView, list[str], int], float]


class ModelView:
    """The model's results of one dataset version, read once per year and kept for every figure."""

    def __init__(self, store, version_id: int):
        self.store = store
        self.version_id = version_id
        cities = store.cities(version_id)
        self.population = dict(zip(cities["city"], cities["population"].astype(float)))
        self.country = dict(zip(cities["city"], cities["country_iso3"]))
        content = store.table("product_content", version_id)
        self.grams = {(r.product, r.material): float(r.grams_per_unit) for r in content.itertuples()}
        # Each product's units are read through its heaviest material (any material would give the same).
        self.unit_material = (content.sort_values("grams_per_unit", ascending=False)
                              .drop_duplicates("product").set_index("product")["material"].to_dict())
        crosswalk = store.table("ewc_crosswalk", version_id)
        self.unit_mass_kg = crosswalk.groupby("product")["unit_mass_kg"].first().astype(float).to_dict()
        self.materials = list(store.materials(version_id)["symbol"])
        self.first_year, self.last_year = store.year_range(version_id)
        self._cache: dict[tuple, pd.DataFrame] = {}

    def _metric(self, materials: tuple[str, ...], year: int) -> pd.DataFrame:
        """kg per metric, city and product for the materials in the year (summed over the materials)."""
        key = (materials, year)
        if key not in self._cache:
            frame = self.store.metric_table(self.version_id, None, list(materials), year, by=("city", "product"))
            self._cache[key] = frame[["metric", "city", "product", "kg"]]
        return self._cache[key]

    def material_kg(self, metric: str, cities: list[str], year: int, products=None, materials=None) -> float:
        """kg of the materials (default: all) in the products (default: all) of the cities, for one metric."""
        frame = self._metric(tuple(materials or self.materials), year)
        rows = frame[(frame["metric"] == metric) & frame["city"].isin(cities)]
        if products is not None:
            rows = rows[rows["product"].isin(products)]
        return float(rows["kg"].sum())

    def units(self, metric: str, cities: list[str], year: int, product: str) -> float:
        """Units of a product in a metric (in use, reaching end of life, collected): a material's kg / its g per unit."""
        material = self.unit_material.get(product)
        if material is None or not self.grams.get((product, material)):
            return math.nan
        kg = self.material_kg(metric, cities, year, [product], [material])
        return kg * 1000.0 / self.grams[(product, material)]

    def product_kg(self, metric: str, cities: list[str], year: int, products) -> float:
        """kg of product (units x unit mass) over the products that have a unit mass; NaN if none has one."""
        weighed = [p for p in products if p in self.unit_mass_kg and p in self.unit_material]
        if not weighed:
            return math.nan
        return sum(self.units(metric, cities, year, p) * self.unit_mass_kg[p] for p in weighed)

    def inhabitants(self, cities: list[str]) -> float:
        return sum(self.population[c] for c in cities)


def _per_inhabitant(value: float, view: ModelView, cities: list[str]) -> float:
    people = view.inhabitants(cities)
    return value / people if people else math.nan


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


def _eee(view: ModelView) -> list[str]:
    return [p for p in EEE_PRODUCTS if p in view.unit_material]


QUANTITIES: dict[str, Quantity] = {
    "eee_eol_product_kg_per_inhabitant": Quantity(
        "EEE reaching end of life", "kg per inhabitant per year",
        "units of smartphones, laptops, hard disk drives, LED lamps and PV modules reaching end of life x their "
        "unit mass (ewc_crosswalk), per inhabitant",
        lambda v, c, y: _per_inhabitant(v.product_kg("end_of_life", c, y, _eee(v)), v, c)),
    "eee_collected_product_kg_per_inhabitant": Quantity(
        "EEE separately collected", "kg per inhabitant per year",
        "units of the same 5 EEE products separately collected x their unit mass, per inhabitant",
        lambda v, c, y: _per_inhabitant(v.product_kg("separately_collected", c, y, _eee(v)), v, c)),
    "eee_eol_material_kg_per_inhabitant": Quantity(
        "Modelled materials in EEE reaching end of life", "kg per inhabitant per year",
        "kg of every modelled material in the 5 EEE products reaching end of life, per inhabitant",
        lambda v, c, y: _per_inhabitant(v.material_kg("end_of_life", c, y, _eee(v)), v, c)),
    "eee_collection_rate": Quantity(
        "EEE collection rate", "share 0..1",
        "mass of the 5 EEE products separately collected / mass reaching end of life, in the year",
        lambda v, c, y: _ratio(v.product_kg("separately_collected", c, y, _eee(v)),
                               v.product_kg("end_of_life", c, y, _eee(v)))),
    "cars_per_inhabitant": Quantity(
        "Cars in use", "cars per inhabitant",
        "catalytic converters plus EV battery packs in use at the end of the year, per inhabitant",
        lambda v, c, y: _per_inhabitant(sum(v.units("in_use_stock", c, y, p) for p in CAR_PRODUCTS), v, c)),
    "bev_share_of_cars": Quantity(
        "Battery-electric share of cars", "share 0..1",
        "EV battery packs in use / (catalytic converters + EV battery packs in use)",
        lambda v, c, y: _ratio(v.units("in_use_stock", c, y, "ev_battery"),
                               sum(v.units("in_use_stock", c, y, p) for p in CAR_PRODUCTS))),
    "pv_w_per_inhabitant": Quantity(
        "PV capacity", "W per inhabitant",
        f"PV modules in use at the end of the year x {PV_MODULE_W:g} W, per inhabitant",
        lambda v, c, y: _per_inhabitant(v.units("in_use_stock", c, y, "pv_module") * PV_MODULE_W, v, c)),
    "nd_in_use_g_per_inhabitant": Quantity(
        "Neodymium in use", "g per inhabitant",
        "g of Nd in every modelled product in use at the end of the year, per inhabitant",
        lambda v, c, y: _per_inhabitant(v.material_kg("in_use_stock", c, y, materials=["Nd"]) * 1000.0, v, c)),
    "portable_battery_collection_rate": Quantity(
        "Portable battery collection rate", "share 0..1",
        "cobalt (the battery metal) in smartphones and laptops separately collected / reaching end of life",
        lambda v, c, y: _ratio(v.material_kg("separately_collected", c, y, PORTABLE_BATTERY_PRODUCTS, ["Co"]),
                               v.material_kg("end_of_life", c, y, PORTABLE_BATTERY_PRODUCTS, ["Co"]))),
}

COLUMNS = ["figure", "geography", "year", "published value", "model value", "unit", "ratio", "verdict", "scope",
           "note", "model value is", "source", "confidence", "figure_id"]


def verdict(ratio: float) -> str:
    """The verdict for a ratio model / published (VERDICT_RULE)."""
    if ratio is None or not math.isfinite(ratio):
        return NO_MODEL_VALUE
    return CONSISTENT if CONSISTENT_LOW <= ratio <= CONSISTENT_HIGH else OFF


def cities_for(geography: str, country: dict[str, str]) -> list[str]:
    """The modelled cities a geography covers: every city (EU, Europe ...), a country's cities, or one city."""
    if geography.upper() in WIDE_GEOGRAPHIES:
        return sorted(country)
    if geography in country:
        return [geography]
    return sorted(c for c, iso3 in country.items() if iso3 == geography.upper())


def compare(figures: pd.DataFrame, model_values: dict[str, float], bases: dict[str, str] | None = None,
            missing: dict[str, str] | None = None) -> pd.DataFrame:
    """Put each published figure next to its model value (by figure_id): ratio, verdict, scope and note.

    ``missing`` gives, per figure_id, why there is no model value (said in the note)."""
    bases, missing = bases or {}, missing or {}
    rows = []
    for fig in figures.itertuples(index=False):
        model = model_values.get(fig.figure_id, math.nan)
        model = float(model) if model is not None else math.nan
        published = float(fig.value)
        ratio = model / published if published and math.isfinite(model) else math.nan
        note = str(fig.note) if isinstance(fig.note, str) and fig.note else ""
        if fig.figure_id in missing:
            note = f"{missing[fig.figure_id]}. {note}".strip()
        scope = ("same scope" if fig.scope == "same" else "model covers part of it") + f": {fig.scope_note}"
        rows.append({
            "figure": fig.description, "geography": fig.geography, "year": int(fig.year),
            "published value": published, "model value": model if math.isfinite(model) else math.nan,
            "unit": fig.unit, "ratio": ratio, "verdict": verdict(ratio), "scope": scope, "note": note,
            "model value is": bases.get(fig.figure_id, ""), "source": fig.source_id, "confidence": fig.confidence,
            "figure_id": fig.figure_id,
        })
    return pd.DataFrame(rows, columns=COLUMNS)


def validation_table(store, version_id: int, city: str | None = None, year: int | None = None) -> pd.DataFrame:
    """Every published figure of the version next to the model's value for the same geography and year.

    ``city``: only the figures whose geography includes the city, each compared with that city alone.
    ``year``: only the figures published for that year."""
    figures = store.table("external_figures", version_id)
    view = ModelView(store, version_id)
    if city is not None:
        country = view.country.get(city)
        if country is None:
            raise ValueError(f"Unknown city {city!r}; choose one of {', '.join(sorted(view.country))}.")
        keep = figures["geography"].map(lambda g: city in cities_for(g, view.country))
        figures = figures[keep]
    if year is not None:
        figures = figures[figures["year"] == year]
    values, bases, missing = {}, {}, {}
    for fig in figures.itertuples(index=False):
        quantity = QUANTITIES.get(fig.model_quantity)
        if quantity is None:
            missing[fig.figure_id] = f"The model has no quantity '{fig.model_quantity}'"
            continue
        bases[fig.figure_id] = quantity.basis
        cities = [city] if city is not None else cities_for(fig.geography, view.country)
        if not cities:
            missing[fig.figure_id] = f"No modelled city lies in {fig.geography}"
            continue
        if not view.first_year <= int(fig.year) <= view.last_year:
            missing[fig.figure_id] = f"The model runs {view.first_year}-{view.last_year}, not {int(fig.year)}"
            continue
        values[fig.figure_id] = quantity.compute(view, cities, int(fig.year))
        bases[fig.figure_id] += f" ({', '.join(cities)})"
    return compare(figures, values, bases, missing)


def for_display(table: pd.DataFrame) -> pd.DataFrame:
    """Shares shown as percent (the table itself keeps shares 0..1)."""
    shown = table.copy()
    shares = shown["unit"] == "share 0..1"
    for column in ("published value", "model value"):
        shown[column] = shown[column].astype(float)
        shown.loc[shares, column] = shown.loc[shares, column] * 100.0
    shown.loc[shares, "unit"] = "%"
    return shown


# What a measured flow (measured_flows.csv) corresponds to in the model: (metric, loss route or None).
MEASURED_FLOW_METRICS = {"collected": ("separately_collected", None), "recycled": ("secondary_supply", None),
                         "exported": ("lost", "export_reuse_abroad"), "residual": ("lost", "residual_waste")}


def measured_beside_model(measured: pd.DataFrame, model_rows: dict[int, pd.DataFrame], product_names: dict[str, str]) -> pd.DataFrame:
    """The city's measured flows (kg of products or waste per year) with, where the category is a modelled product,
    the model's kg of its materials in the same flow and year beside them: never divided, since a measured kg of
    products and the model's kg of the materials inside them are not the same quantity. ``model_rows``: per year,
    the store's metric rows of the city grouped by product and route (every material); years without rows and
    categories that are not modelled products get an empty model value."""
    model_kg = {}
    for year, rows in model_rows.items():
        for flow, (metric, route) in MEASURED_FLOW_METRICS.items():
            hit = rows[(rows["metric"] == metric) & (rows["route"].isna() if route is None else rows["route"] == route)]
            for product, kg in hit.groupby("product")["kg"].sum().items():
                model_kg[(int(year), product, flow)] = float(kg)
    table = pd.DataFrame({
        "year": measured["year"].astype(int),
        "category": measured["category"],
        "modelled product": measured["category"].map(product_names).fillna("not a modelled product"),
        "flow": measured["flow"],
        "measured kg": measured["kg"].astype(float).round(3),
        "model: kg of modelled materials in it": [
            round(model_kg.get((int(y), c, f), math.nan), 3) if c in product_names else math.nan
            for y, c, f in zip(measured["year"], measured["category"], measured["flow"])],
        "confidence": measured["confidence"],
        "source_id": measured["source_id"],
        "note": measured["note"],
    })
    return table.sort_values(["year", "category", "flow"]).reset_index(drop=True)
