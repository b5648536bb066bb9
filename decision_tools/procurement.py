"""The procurement clause builder: clauses a city writes into its own tenders (data/procurement_clauses.csv),
translated into lever settings (decision_tools.levers) the scenario engine can run, with the reason for each.

A clause is written for some purchase categories (products) and moves one lever. Its ``lever_level`` is the
lever's level when the clause covers all the city's own units of the category; the city's own units are only
part of the city's whole stock, so the clause's effect city-wide is that level scaled by the city's own share
of the category's stock (decision_tools.city_stock.share_by_product): a city that owns none of the category
changes nothing with it. This module owns that translation (``clause_settings``, ``translate``); the cost is the scenario run's
(``cost_eur_per_year``, the levers' cost model). It never imports streamlit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from .levers import Lever
from .provenance import split_sources

WHY_COLUMNS = ["clause_id", "clause", "lever_id", "lever", "level_at_full_coverage", "city_share", "level_from_clause",
               "level", "why"]


def clauses_by_id(clauses: pd.DataFrame) -> dict[str, dict]:
    """The clause table as clause_id -> row (a dict, with ``categories`` as a tuple of product codes)."""
    out = {}
    for row in clauses.to_dict(orient="records"):
        row["categories"] = tuple(split_sources(row.get("purchase_categories") or ""))
        out[row["clause_id"]] = row
    return out


def clauses_for_category(clauses: pd.DataFrame, category: str) -> pd.DataFrame:
    """The clauses written for ``category`` (a product code), in the table's order."""
    covers = [category in split_sources(value or "") for value in clauses["purchase_categories"]]
    return clauses[covers].reset_index(drop=True)


def _checked(clauses: pd.DataFrame, chosen_clause_ids: Iterable[str], category: str) -> list[dict]:
    known = clauses_by_id(clauses)
    rows = []
    for clause_id in dict.fromkeys(chosen_clause_ids):
        clause = known.get(clause_id)
        if clause is None:
            raise ValueError(f"Unknown clause '{clause_id}'; choose one of: {', '.join(known)}.")
        if category not in clause["categories"]:
            raise ValueError(f"The clause '{clause_id}' is written for {', '.join(clause['categories'])}, not for "
                             f"'{category}'.")
        rows.append(clause)
    return rows


@dataclass
class Translation:
    """Clauses turned into lever settings: ``settings`` (lever_id -> level, only levers moved from their default)
    and ``table`` (one row per clause, WHY_COLUMNS: the level at full coverage, the city's share, the level the
    clause gives, the lever's level after combining and clipping, and why in words); ``notes``: sentences."""

    settings: dict[str, float]
    table: pd.DataFrame
    notes: list[str]


def translate(clauses: pd.DataFrame, chosen_clause_ids: Iterable[str], category: str,
              municipal_share_by_product: Mapping[str, float], levers: Mapping[str, Lever]) -> Translation:
    """The lever settings of the chosen clauses for a purchase category, with the reason for each (see the module's
    docstring): level = default + (lever_level - default) x the city's own share of the category (0..1), then
    several clauses on one lever combined by their largest level, then clipped to the lever's range. ValueError in a
    sentence for an unknown clause, a clause not written for the category or a clause naming an unknown lever."""
    chosen = _checked(clauses, chosen_clause_ids, category)
    share = float(municipal_share_by_product.get(category, 0.0) or 0.0)
    share = min(max(share, 0.0), 1.0)
    rows, by_lever, notes = [], {}, []
    for clause in chosen:
        lever = levers.get(clause["lever_id"])
        if lever is None:
            raise ValueError(f"The clause '{clause['clause_id']}' moves the lever '{clause['lever_id']}', which this dataset "
                             f"does not have; choose clauses whose lever is one of: {', '.join(sorted(levers))}.")
        at_full = float(clause["lever_level"])
        level = lever.default + (at_full - lever.default) * share
        # Several clauses on one lever are combined by the largest level, not summed: each moves the same parameter
        # of the same units (two take-back clauses cannot return the same retired device twice), so the strongest
        # requirement binds and the others add nothing.
        by_lever[lever.lever_id] = max(by_lever.get(lever.lever_id, lever.default), level)
        if share == 0:
            why = (f"The city owns none of this category (no asset register row, or none the model counts), so the "
                   f"clause leaves {lever.name} at its default.")
        else:
            others = [p for p in (lever.products or ()) if p != category]
            why = (f"{at_full:g} when the clause covers all the city's own units, x the city's share {100 * share:.2f} % "
                   f"of the city's stock = {level:.4g}.")
            if lever.products is None or others:
                why += (" The lever acts on " + ("every product" if lever.products is None else ", ".join(lever.products))
                        + ": the level is scaled by this category's share only, an approximation.")
        rows.append({"clause_id": clause["clause_id"], "clause": clause["name"], "lever_id": lever.lever_id,
                     "lever": lever.name, "level_at_full_coverage": at_full, "city_share": share,
                     "level_from_clause": level, "why": why})
    settings = {}
    for lever_id, level in by_lever.items():
        lever = levers[lever_id]
        clipped = min(max(level, lever.minimum), lever.maximum)
        if clipped != level:
            notes.append(f"{lever.name}: {level:.4g} is outside its range {lever.minimum:g} to {lever.maximum:g}; "
                         f"set to {clipped:g}.")
        if clipped != lever.default:
            settings[lever_id] = clipped
    for row in rows:
        row["level"] = settings.get(row["lever_id"], levers[row["lever_id"]].default)
        if row["level"] > row["level_from_clause"] + 1e-12:
            row["why"] += " Another chosen clause sets this lever higher, and the higher level applies."
    if chosen and share == 0:
        notes.append(f"The city owns none of '{category}' in its asset register: these clauses change nothing city-wide.")
    return Translation(settings, pd.DataFrame(rows, columns=WHY_COLUMNS), notes)


def clause_settings(clauses: pd.DataFrame, chosen_clause_ids: Iterable[str], category: str,
                    municipal_share_by_product: Mapping[str, float], levers: Mapping[str, Lever]) -> dict[str, float]:
    """lever_id -> level of the chosen clauses for ``category`` (``translate``'s settings)."""
    return translate(clauses, chosen_clause_ids, category, municipal_share_by_product, levers).settings


def scenario_note(clauses: pd.DataFrame, chosen_clause_ids: Iterable[str], category_name: str) -> str:
    """The note a saved procurement scenario carries: the clauses by name and the category (at most 300 characters)."""
    names = clauses.set_index("clause_id")["name"]
    chosen = [str(names.get(c, c)) for c in chosen_clause_ids]
    text = f"Procurement clauses for {category_name}: " + "; ".join(chosen)
    return text if len(text) <= 300 else text[:299] + "…"
