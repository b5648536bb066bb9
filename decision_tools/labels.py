"""Names for people instead of codes: materials with their name and group, countries, products,
organisations and levers, and sources as short citations. Data text stays plain here; callers escape it
(formatting.escape_markdown) before it reaches Markdown."""

from __future__ import annotations

import re

import pandas as pd

REST_OF_WORLD_NAME = "rest of world (unspecified)"

# Fallback when a materials table has no material_group column (older versions, uploads): a label, not
# a figure. Groups as in the EU CRM study's material families.
MATERIAL_GROUPS: dict[str, str] = {
    "Co": "battery metals", "Li": "battery metals", "C": "battery metals", "Ni": "battery metals", "Mn": "battery metals",
    "Nd": "light rare earths", "Pr": "light rare earths", "Dy": "heavy rare earths", "Tb": "heavy rare earths",
    "Y": "heavy rare earths", "Ga": "electronics metals", "Ge": "electronics metals", "In": "electronics metals",
    "Ta": "electronics metals", "W": "electronics metals", "Si": "electronics metals", "Pd": "platinum group metals",
    "Pt": "platinum group metals", "Rh": "platinum group metals", "Ag": "precious metals", "Au": "precious metals",
    "Cu": "benchmark metals",
}


def material_label(symbol: str, name: str | None, group: str | None = None) -> str:
    """'Cobalt (Co) — battery metals'; the symbol alone when there is no name."""
    text = f"{name} ({symbol})" if isinstance(name, str) and name.strip() and name != symbol else str(symbol)
    return f"{text} — {group}" if isinstance(group, str) and group.strip() else text


def material_labels(materials: pd.DataFrame) -> dict[str, str]:
    """symbol -> material_label for every row of a materials table (symbol, name, material_group)."""
    groups = (materials["material_group"] if "material_group" in materials.columns
              else materials["symbol"].map(MATERIAL_GROUPS))
    return {s: material_label(s, n, g) for s, n, g in zip(materials["symbol"], materials["name"], groups)}


def country_names(countries: pd.DataFrame) -> dict[str, str]:
    """ISO3 code -> country name (countries table indexed by code, or with a country_iso3 column), with the
    unspecified rest of the world named too."""
    table = countries.set_index("country_iso3") if "country_iso3" in countries.columns else countries
    return {**table["name"].to_dict(), "ROW": REST_OF_WORLD_NAME}


def id_names(table: pd.DataFrame, id_column: str, name_column: str = "name") -> dict[str, str]:
    """id -> name from any reference table (products, organisations, levers)."""
    return dict(zip(table[id_column], table[name_column]))


def short_citation(publisher: object, year: object) -> str:
    """'European Commission (DG GROW)', 2023 -> 'European Commission 2023': the publisher without its
    bracketed detail, and the year."""
    who = re.sub(r"\s*\([^)]*\)", "", publisher).strip() if isinstance(publisher, str) else ""
    try:
        when = str(int(float(year)))  # 2023, 2023.0 or "2023"
    except (TypeError, ValueError):
        when = "" if year is None or pd.isna(year) else str(year).strip()
    return " ".join(part for part in (who, when) if part)


def citation_index(sources: pd.DataFrame) -> dict[str, str]:
    """source id -> its short citation ('Eurostat 2023'; the id itself when publisher and year are empty):
    built once per dataset version, so a page's many captions are dictionary lookups."""
    return {row.source_id: short_citation(row.publisher, row.year) or row.source_id
            for row in sources[["source_id", "publisher", "year"]].itertuples(index=False)}


def short_citations(source_ids: str | None, sources: pd.DataFrame | dict[str, str], limit: int | None = None) -> str:
    """Semicolon-separated source ids -> 'JRC 2020; Eurostat 2023' (each citation once, in order of the
    ids; an id missing from ``sources``, a sources table or its ``citation_index``, is kept as it is). With
    ``limit``, the first ``limit`` citations and how many more: 'JRC 2020; Eurostat 2023 and 5 more' (a
    card's caption stays a line or two)."""
    from decision_tools.provenance import split_sources

    index = sources if isinstance(sources, dict) else citation_index(sources)
    shown: list[str] = []
    for source_id in split_sources(source_ids or ""):
        text = index.get(source_id, source_id)
        if text not in shown:
            shown.append(text)
    if limit is not None and len(shown) > limit:
        return "; ".join(shown[:limit]) + f" and {len(shown) - limit} more"
    return "; ".join(shown)


# Card labels that fit a fifth of the page (st.metric cuts longer ones); the full name goes into the help.
SHORT_INDICATOR_LABELS: dict[str, str] = {
    "recycled_content": "Recycled content",
    "portfolio_mci": "MCI (all products)",
    "circular_material_use_rate": "Circular use rate",
    "urban_mine_per_inhabitant": "Urban mine per person",
}


def short_indicator_label(key: str, label: str, limit: int = 26) -> str:
    """The card label of an indicator: its own label when short enough, else the short form."""
    return label if len(label) <= limit and key not in SHORT_INDICATOR_LABELS else SHORT_INDICATOR_LABELS.get(key, label)


def readable_levers(catalogue: pd.DataFrame, product_names: dict[str, str], material_names: dict[str, str],
                    citations: dict[str, str]) -> pd.DataFrame:
    """The levers table (data/levers.csv) with names for its product and material ids ("all" kept) and short
    citations in a ``sources`` column."""
    def names(ids: object, table: dict[str, str]) -> str:
        return ", ".join(table.get(code, code) for code in str(ids).split(";") if code)

    return catalogue.assign(products=catalogue["products"].map(lambda ids: names(ids, product_names)),
                            materials=catalogue["materials"].map(lambda ids: "all" if ids == "all" else names(ids, material_names)),
                            sources=catalogue["source_id"].map(lambda ids: short_citations(ids, citations)))
