"""What an upload would do to the model's results: the cities it touches and the headline quantities before and after.

This module owns ``affected_cities`` and the dry run's model-effect preview (``headline_effect``): only the
affected cities are run again, and compared with the published version's stored results.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from .ingestion import MODEL_TABLES
from .system import METRIC_OF_FLOW, METRIC_OF_STOCK, METRICS, REPORT_END, REPORT_START
from .upload_kinds import OWNED_KINDS, UPLOAD_KINDS

if TYPE_CHECKING:
    from .uploads import UploadCheck


def affected_cities(kind: str, uploaded: dict[str, pd.DataFrame], tables: dict[str, pd.DataFrame]) -> list[str]:
    """Cities whose numbers can change: the city itself, a country's cities, or every city."""
    cities = tables["cities"]
    if kind == "city":
        return list(uploaded["cities"]["city"])
    if kind == "measured_flows":
        return sorted(set(uploaded["measured_flows"]["city"]))
    if kind in OWNED_KINDS or kind in ("sources", "countries", "city_owned_stock"):
        # hub data, citations, supplying countries or a city's asset register: the city model's numbers do not change
        return []
    if kind in ("ownership", "collection_rates"):
        geographies = set(uploaded[UPLOAD_KINDS[kind].table]["geography"])
        if "EU" in geographies:
            return list(cities["city"])
        return sorted(set(cities.loc[cities["city"].isin(geographies) | cities["country_iso3"].isin(geographies), "city"]))
    return list(cities["city"])


EFFECT_QUANTITIES = ("in_use_stock", "new_products", "end_of_life", "separately_collected", "secondary_supply")


def effect_years(year: int | None = None) -> list[int]:
    """The years a dry run shows: every 5th year of the reported period (2000, 2005, ... 2050) and ``year``."""
    years = set(range(REPORT_START, REPORT_END + 1, 5))
    if year is not None and REPORT_START <= int(year) <= REPORT_END:
        years.add(int(year))
    return sorted(years)


def _model_metrics(result, materials: list[str], years: list[int]) -> pd.DataFrame:
    """city, year, metric, kg of EFFECT_QUANTITIES from a model run, each summed as system.METRICS declares it."""
    stocks = result.stocks[result.stocks["year"].isin(years) & result.stocks["material"].isin(materials)]
    stocks = stocks.assign(metric=stocks["process"].map(METRIC_OF_STOCK))
    flows = result.flows[result.flows["year"].isin(years) & result.flows["material"].isin(materials)]
    flows = flows.assign(metric=[METRIC_OF_FLOW.get(edge) for edge in zip(flows["from_process"], flows["to_process"])])
    both = pd.concat([stocks[["city", "year", "metric", "kg"]], flows[["city", "year", "metric", "kg"]]], ignore_index=True)
    both = both[both["metric"].isin(EFFECT_QUANTITIES)]
    return both.groupby(["city", "year", "metric"], as_index=False)["kg"].sum()


def headline_effect(check: UploadCheck, current_store, version_id: int, year: int, materials: list[str],
                    years: list[int] | None = None) -> pd.DataFrame:
    """Before/after of the headline quantities of the affected cities for ``materials`` in every year
    of ``years`` (default: effect_years(year), every 5th year 2000-2050 and ``year``). Only the
    affected cities are run again; "before" is the published version's stored result. Rows: city,
    quantity, year, before_kg, after_kg, change_kg (before is empty for a new city)."""
    from . import model  # the model's libraries: only for a dry run

    columns = ["city", "quantity", "year", "before_kg", "after_kg", "change_kg"]
    cities = check.affected_cities or []
    if not cities:  # the upload does not touch the city model
        return pd.DataFrame(columns=columns)
    years = effect_years(year) if years is None else sorted({int(y) for y in years})
    tables = {n: check.tables[n] for n in MODEL_TABLES}
    tables["cities"] = tables["cities"][tables["cities"]["city"].isin(cities)]
    tables["districts"] = tables["districts"][tables["districts"]["city"].isin(cities)]
    after = _model_metrics(model.run_city_model(tables), list(materials), years).rename(columns={"kg": "after_kg"})
    try:
        before = current_store.metric_table(version_id, None, list(materials), by=("city", "year"))
        before = before[before["city"].isin(cities) & before["year"].isin(years)][["city", "year", "metric", "kg"]]
    except Exception:  # noqa: BLE001 - no stored result to compare with: every "before" stays empty
        before = pd.DataFrame(columns=["city", "year", "metric", "kg"])
    grid = pd.MultiIndex.from_product([cities, EFFECT_QUANTITIES, years], names=["city", "metric", "year"]).to_frame(index=False)
    out = (grid.merge(before.rename(columns={"kg": "before_kg"}).astype({"year": int}), on=["city", "metric", "year"], how="left")
               .merge(after, on=["city", "metric", "year"], how="left"))
    known = out["city"].isin(set(before["city"]))  # a city new in this upload has no numbers before
    out.loc[known, "before_kg"] = out.loc[known, "before_kg"].fillna(0.0)
    out["after_kg"] = out["after_kg"].fillna(0.0)
    out["before_kg"] = out["before_kg"].astype(float)
    out["change_kg"] = out["after_kg"] - out["before_kg"]
    out["quantity"] = out["metric"].map(lambda m: METRICS[m].label)
    return out[columns]


def percent_change_by_year(effect: pd.DataFrame) -> pd.DataFrame:
    """``headline_effect`` as people compare it: one row per city and quantity (in their order), one column per
    year (named by the year as text) holding the change in percent, after / before - 1; empty where there was
    nothing before (a new city, or a quantity that was 0)."""
    ratio = (effect["after_kg"] / effect["before_kg"]).where(effect["before_kg"] > 0)
    rows = pd.MultiIndex.from_frame(effect[["city", "quantity"]].drop_duplicates())
    table = (effect.assign(change=(ratio - 1) * 100)
             .pivot(index=["city", "quantity"], columns="year", values="change").reindex(rows).reset_index())
    table.columns = [str(c) for c in table.columns]
    return table
