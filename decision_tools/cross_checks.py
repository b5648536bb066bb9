"""Checks that look across input tables, or at the current version of a table.

This module owns ``check_references`` (codes exist in the tables they name, sources are listed, shares add up,
every product has routing, ownership and yields) and ``far_from_current`` (uploaded values far from the current ones).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .provenance import split_sources
from .table_checks import HINT_MAX, HINT_SOURCE, bound_text, file_row
from .column_specs import MAX_UNITS_PER_PERSON, WASTE_REGIMES
from .table_specs import TABLES
from .validation_report import ValidationReport


def check_references(tables: dict[str, pd.DataFrame], report: ValidationReport) -> None:
    """Cross-table rules among the tables read: codes exist, sources are listed, shares add up."""
    known_sources = set(tables["sources"]["source_id"])
    products = set(tables["products"]["product"])
    materials = set(tables["materials"]["symbol"])
    cities = set(tables["cities"]["city"])
    countries = set(tables["cities"]["country_iso3"])

    # Each distinct value is checked once (large tables repeat a few codes), then every row holding a bad one named
    # (grouped past ValidationReport.GROUP_AFTER rows).
    for name, frame in tables.items():
        if TABLES[name].has_provenance:
            values = frame["source_id"]
            unknown = {value: ";".join(bad) for value in values.unique()
                       if (bad := [source for source in split_sources(value or "") if source not in known_sources])}
            if not unknown:
                continue
            held = values[values.isin(list(unknown))]
            report.add_rows(name, "source_id", held.index + 2, held.iloc[: ValidationReport.GROUP_AFTER + 1].map(unknown),
                            "not listed in sources.csv", HINT_SOURCE)

    def check_codes(table: str, column: str, allowed: set[str], what: str) -> None:
        if table not in tables:
            return
        values = tables[table][column]
        unknown = [value for value in values.unique() if value is not None and value not in allowed]
        if not unknown:
            return
        held = values[values.isin(unknown)]
        report.add_rows(table, column, held.index + 2, held, f"unknown {what}",
                        f"use one of the {len(allowed)} known: {', '.join(sorted(allowed))}")

    def check_code_lists(table: str, column: str, allowed: set[str], what: str) -> None:
        if table not in tables:
            return
        for idx, value in tables[table][column].items():
            unknown = [code for code in split_sources(value if isinstance(value, str) else "") if code != "all" and code not in allowed]
            if unknown:
                report.add(table, file_row(idx), column, ";".join(unknown), f"unknown {what}",
                           f"use codes separated by ';' or 'all'; known: {', '.join(sorted(allowed))}")

    for table in ("eol_routing", "product_content", "recovery_yields", "ownership"):
        check_codes(table, "product", products, "product")
    for table in ("product_content", "recovery_yields", "material_prices", "supplier_shares", "production_concentration", "by_products"):
        check_codes(table, "material", materials, "material")
    check_codes("districts", "city", cities, "city")
    check_codes("measured_flows", "city", cities, "city")
    check_codes("organisations", "city", cities, "city")
    check_codes("city_owned_stock", "city", cities, "city")
    check_codes("city_owned_stock", "product", products, "product")
    check_code_lists("procurement_clauses", "purchase_categories", products, "product")
    if "procurement_clauses" in tables and "levers" in tables:
        check_codes("procurement_clauses", "lever_id", set(tables["levers"]["lever_id"]), "lever")
        ranges = tables["levers"].set_index("lever_id")[["minimum", "maximum"]]
        acts_on = tables["levers"].set_index("lever_id")["products"]
        for idx, row in tables["procurement_clauses"].iterrows():
            if row["lever_id"] in ranges.index:
                low, high = (float(v) for v in ranges.loc[row["lever_id"]])
                if not low <= float(row["lever_level"]) <= high:
                    report.add("procurement_clauses", file_row(idx), "lever_level", row["lever_level"],
                               f"must lie within the range of the lever {row['lever_id']} ({low:g} to {high:g})")
                # A clause written for a product its lever does not act on would move other products only.
                lever_products = split_sources(acts_on[row["lever_id"]] or "")
                outside = [p for p in split_sources(row["purchase_categories"] or "")
                           if "all" not in lever_products and p not in lever_products]
                if outside:
                    report.add("procurement_clauses", file_row(idx), "purchase_categories", ";".join(outside),
                               f"the lever {row['lever_id']} does not act on these products",
                               f"write the clause for products the lever acts on: {', '.join(lever_products)}")
    check_codes("ewc_crosswalk", "product", products, "product")
    check_codes("needs", "material", materials, "material")
    if "organisations" in tables:
        organisations = set(tables["organisations"]["org_id"])
        check_codes("offers", "org_id", organisations, "organisation")
        check_codes("needs", "org_id", organisations, "organisation")
    if "ewc_crosswalk" in tables:
        check_codes("offers", "stream_code", set(tables["ewc_crosswalk"]["stream_code"]), "stream code")
    check_codes("ownership", "geography", {"EU"} | countries | cities, "geography (EU, a country code or a city)")
    check_codes("eol_routing", "geography", {"EU"} | countries | cities, "geography (EU, a country code or a city)")
    if "ownership" in tables:  # the column's bound is per city; per inhabitant or household it is tighter
        ownership = tables["ownership"]
        over = ownership.loc[(ownership["units_per_driver"] > MAX_UNITS_PER_PERSON).to_numpy(dtype=bool, na_value=False)]
        drivers = over["product"].map(tables["products"].set_index("product")["stock_driver"])
        held = over.loc[drivers.isin(["per_inhabitant", "per_household"]).to_numpy(dtype=bool), "units_per_driver"]
        report.add_rows("ownership", "units_per_driver", held.index + 2, held,
                        f"must be at most {bound_text(MAX_UNITS_PER_PERSON)} for a product counted per inhabitant or "
                        "household", f"{HINT_MAX}; only products counted per city may have more units per driver")
    check_code_lists("levers", "products", products, "product")
    check_code_lists("levers", "materials", materials, "material")
    check_code_lists("targets", "materials", materials, "material")
    check_code_lists("targets", "products", products, "product")  # empty: no modelled product in the target's scope
    _check_rules_tables(tables, products, materials, report)
    if "countries" in tables:
        known_countries = set(tables["countries"]["country_iso3"])
        check_codes("supplier_shares", "country_iso3", known_countries | {"ROW"}, "country (or ROW)")
        check_codes("export_controls", "country_iso3", known_countries, "country")
    if "supplier_shares" in tables:
        for (material, stage), total in tables["supplier_shares"].groupby(["material", "stage"])["share"].sum().items():
            if abs(float(total) - 1.0) > 0.002:
                report.add("supplier_shares", None, "share", round(float(total), 4),
                           f"the shares of {material} at {stage} must sum to 1 (add a ROW row for the rest)")
    if "material_prices" in tables:
        for symbol in sorted(materials - set(tables["material_prices"]["material"])):
            report.add("material_prices", None, "material", symbol, "every material needs a price")
    if "levers" in tables:
        for idx, row in tables["levers"].iterrows():
            if not row["minimum"] <= row["default"] <= row["maximum"]:
                report.add("levers", file_row(idx), "default", row["default"], "must lie between minimum and maximum")

    routed = set(tables["eol_routing"].loc[tables["eol_routing"]["geography"] == "EU", "product"])
    owned = set(tables["ownership"]["product"])
    for product in sorted(products):
        if product not in routed:
            report.add("eol_routing", None, "product", product, "every product needs routing rows for the geography EU "
                       "(the fallback where a country or city has none)")
        if product not in owned:
            report.add("ownership", None, "product", product, "every product needs ownership figures")
    _check_ownership_chains(tables, products, owned, report)

    content_keys = set(zip(tables["product_content"]["product"], tables["product_content"]["material"]))
    yield_keys = set(zip(tables["recovery_yields"]["product"], tables["recovery_yields"]["material"]))
    for product, material in sorted(content_keys - yield_keys):
        report.add("recovery_yields", None, None, f"{product}/{material}", "material content without a recovery yield")

    districts = tables["districts"]
    for city, total in districts.groupby("city")["population"].sum().items():
        city_population = int(tables["cities"].set_index("city").at[city, "population"])
        if abs(int(total) - city_population) > 0.005 * city_population:
            report.add(
                "districts", None, "population", int(total),
                f"districts of {city} must sum to the city population {city_population} (within 0.5 %)",
            )


def _check_ownership_chains(tables, products, owned, report: ValidationReport) -> None:
    """Warn where a city has no ownership figure for a product anywhere in its chain (the city, then its country,
    then the EU: the model's rule), for instance a city in a country the data has no figures for: the model does
    not count that product there (model_inputs), which the city's numbers then lack."""
    keys = set(zip(tables["ownership"]["geography"], tables["ownership"]["product"]))
    for product in sorted(products & owned):
        if ("EU", product) in keys:
            continue
        missing = [city for city, country in zip(tables["cities"]["city"], tables["cities"]["country_iso3"])
                   if (city, product) not in keys and (country, product) not in keys]
        if missing:
            report.warnings.append(
                f"ownership.csv, product '{product}': {len(missing)} cit{'y has' if len(missing) == 1 else 'ies have'} "
                f"no ownership figure for this product in their own rows, their country's or the EU's ({', '.join(missing[:5])}"
                f"{', ...' if len(missing) > 5 else ''}), so their model does not count it: upload ownership rows "
                "for their country (or an EU row, the fallback) to include it")


FAR_FACTOR = 10.0  # a value more than 10 times, or less than a tenth of, the current one is worth a second look
NOT_QUANTITIES = ("lat", "lon", "year", "from_year", "start_year", "ramp_years", "weee_category")  # a ratio of these means nothing


def far_from_current(table: str, frame: pd.DataFrame, current: pd.DataFrame | None, report: ValidationReport) -> None:
    """Warn (not refuse) where an uploaded quantity is more than ``FAR_FACTOR`` times, or less than
    1/``FAR_FACTOR`` of, the current version's value for the same key: often a slipped unit or decimal mark,
    sometimes a real correction. Only keys the current version holds, and values above zero on both sides."""
    spec = TABLES[table]
    key = list(spec.key)
    if current is None or current.empty or frame.empty or any(k not in frame.columns or k not in current.columns for k in key):
        return
    quantities = [c.name for c in spec.columns if c.kind in ("float", "int") and c.name not in key
                  and c.name not in NOT_QUANTITIES and c.name in frame.columns and c.name in current.columns]
    if not quantities:
        return
    # Most rows of a large upload are new keys: only those whose first key the current version has are joined.
    near = frame[frame[key[0]].isin(current[key[0]].unique())]
    if near.empty:
        return
    old = current[key + quantities].copy()
    new = near[key + quantities].copy()
    for k in key:  # the same key may be typed differently on the two sides (Int64 and int32)
        if spec.columns[[c.name for c in spec.columns].index(k)].kind == "int":
            old[k], new[k] = old[k].astype("Int64"), new[k].astype("Int64")
    joined = new.rename_axis("_label").reset_index().merge(old, on=key, how="inner", suffixes=("", "_current"))
    for column in quantities:
        after = joined[column].astype("float64").to_numpy(na_value=np.nan)
        before = joined[f"{column}_current"].astype("float64").to_numpy(na_value=np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = after / before
        far = (after > 0) & (before > 0) & ((ratio > FAR_FACTOR) | (ratio < 1 / FAR_FACTOR))
        if not far.any():
            continue
        hits = joined[far]
        shown = [f"{a:g} (now {b:g})" for a, b in zip(hits[column].head(ValidationReport.GROUP_AFTER),
                                                      hits[f"{column}_current"].head(ValidationReport.GROUP_AFTER))]
        report.warn(table, column, hits["_label"].to_numpy() + 2, shown,
                    f"more than {FAR_FACTOR:g} times, or less than 1/{FAR_FACTOR:g} of, the current version's value for "
                    "the same key; check the unit and the decimal mark (published as it is if you go on)")


def _text(value) -> str:
    """An optional text cell: '' when empty (read as NaN or None)."""
    return value if isinstance(value, str) else ""


def _check_rules_tables(tables: dict[str, pd.DataFrame], products: set[str], materials: set[str],
                        report: ValidationReport) -> None:
    """The rules lens's tables (product_regimes, eu_instruments, levers.legal_basis): products, materials,
    regimes and the instruments or targets a lever cites exist. A product without a regime row is allowed
    (shown as "regime not recorded")."""
    if "product_regimes" in tables:
        regimes = tables["product_regimes"]
        for idx, row in regimes.iterrows():
            if row["product"] not in products:
                report.add("product_regimes", file_row(idx), "product", row["product"], "unknown product",
                           f"use one of the {len(products)} known: {', '.join(sorted(products))}")
            named = split_sources(row["regimes"] or "")
            unknown = [code for code in named if code not in WASTE_REGIMES]
            if unknown or not named:
                report.add("product_regimes", file_row(idx), "regimes", row["regimes"], "unknown or missing regime",
                           f"use one or more of {', '.join(WASTE_REGIMES)}, separated by ';'")
            elif "none" in named and len(named) > 1:
                report.add("product_regimes", file_row(idx), "regimes", row["regimes"], "'none' cannot stand beside a regime",
                           "write either 'none' or the regimes that apply")
            has_category = row["weee_category"] is not None and not pd.isna(row["weee_category"])
            if has_category != ("WEEE" in named):
                report.add("product_regimes", file_row(idx), "weee_category", row["weee_category"],
                           "a WEEE category goes with the regime WEEE, and only with it",
                           "give the Annex III category 1-6 when the regimes include WEEE, else leave it empty")
    if "eu_instruments" in tables:
        instruments = tables["eu_instruments"]
        for column, allowed, what in (("products", products, "product"), ("materials", materials, "material")):
            for idx, value in instruments[column].items():
                unknown = [code for code in split_sources(value if isinstance(value, str) else "")
                           if code != "all" and code not in allowed]
                if unknown:
                    report.add("eu_instruments", file_row(idx), column, ";".join(unknown), f"unknown {what}",
                               f"use codes separated by ';', 'all' or leave empty; known: {', '.join(sorted(allowed))}")
        for idx, row in instruments.iterrows():
            unknown = [code for code in split_sources(_text(row["regimes"])) if code not in WASTE_REGIMES]
            if unknown:
                report.add("eu_instruments", file_row(idx), "regimes", ";".join(unknown), "unknown regime",
                           f"use one or more of {', '.join(WASTE_REGIMES)}, separated by ';', or leave empty")
            if _text(row["from_date"]) and pd.isna(pd.to_datetime(row["from_date"], format="%Y-%m-%d", errors="coerce")):
                report.add("eu_instruments", file_row(idx), "from_date", row["from_date"], "not a date",
                           "write the date it applies from as YYYY-MM-DD, or leave it empty when it is not fixed yet")
    if "levers" in tables and "legal_basis" in tables["levers"].columns:
        known = set(tables["targets"]["target_id"]) if "targets" in tables else set()
        if "eu_instruments" in tables:
            known |= set(tables["eu_instruments"]["instrument_id"])
        for idx, value in tables["levers"]["legal_basis"].items():
            unknown = [code for code in split_sources(value if isinstance(value, str) else "") if code not in known]
            if unknown:
                report.add("levers", file_row(idx), "legal_basis", ";".join(unknown), "unknown instrument or target",
                           "use instrument_id values of eu_instruments.csv or target_id values of targets.csv, "
                           "separated by ';' (empty: the city's own choice)")
