"""What researchers can upload: the kinds of upload, their target tables and scopes, templates and data dictionary.

This module owns ``UPLOAD_KINDS`` (each kind's target table, the scope an upload replaces, a description), the
city kind's columns (cities and their districts in one file), the empty templates (CSV, XLSX) and the data
dictionary that says what each column holds.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pandas as pd

from .column_specs import Column
from .table_specs import TABLES


@dataclass(frozen=True)
class UploadKind:
    kind: str
    table: str  # target table ("city" fills two: cities and districts)
    scope: tuple[str, ...]  # rows of the target table with these values are replaced by the upload
    description: str


UPLOAD_KINDS: dict[str, UploadKind] = {k.kind: k for k in (
    UploadKind("ownership", "ownership", ("geography", "product"),
               "units owned per inhabitant, household or city by year, for a city, a country or the EU"),
    UploadKind("composition", "product_content", ("product", "material"),
               "grams of a material per unit of product, for units made from a year on (without a from_year column: every year)"),
    UploadKind("collection_rates", "eol_routing", ("geography", "product"),
               "hibernation share, export share and collection rate of a product from a year on, for a city, a country or "
               "the EU (without a geography column: the EU)"),
    UploadKind("recovery_yields", "recovery_yields", ("product", "material"), "recovery yield of a material in a product from a year on"),
    UploadKind("measured_flows", "measured_flows", ("city", "category", "flow"),
               "measured kg per year, for instance WEEE collected per category"),
    UploadKind("supplier_shares", "supplier_shares", ("material", "stage"),
               "shares of world supply by country for a material and stage (they must sum to 1; ROW for the rest)"),
    UploadKind("city", "cities", ("city",), "one or more cities (rows without a district) with their districts (rows with a "
               "district, naming their city); a city already in the data is replaced with its districts"),
    UploadKind("sources", "sources", ("source_id",), "sources the other tables can cite (a source_id already listed is "
               "corrected, not duplicated)"),
    UploadKind("countries", "countries", ("country_iso3",), "countries (for a city's country_iso3 or a supplying country); "
               "a country already listed is corrected"),
    UploadKind("offers", "offers", ("offer_id",), "streams an organisation offers (partners: only their own organisation's)"),
    UploadKind("needs", "needs", ("need_id",), "materials an organisation needs (partners: only their own organisation's)"),
    UploadKind("city_owned_stock", "city_owned_stock", ("city", "owner", "product"),
               "what a city and its companies own (an asset register): units of a product per owner and year, kept "
               "apart from the households' stock"),
)}
OWNED_KINDS = ("offers", "needs")  # rows must belong to an organisation the uploader owns (unless admin)


CITY_COLUMNS = ("city", "country_iso3", "district", "population", "households", "lat", "lon", "source_id", "confidence", "note")


def template_columns(kind: str) -> list[str]:
    if kind == "city":
        return list(CITY_COLUMNS)
    return [c.name for c in TABLES[UPLOAD_KINDS[kind].table].columns]


def template(kind: str, fmt: str = "csv") -> bytes:
    """An empty template (header only) for a kind, as CSV or XLSX bytes."""
    if kind not in UPLOAD_KINDS:
        raise ValueError(f"Unknown kind '{kind}'; choose one of: {', '.join(UPLOAD_KINDS)}.")
    frame = pd.DataFrame(columns=template_columns(kind))
    if fmt == "csv":
        return frame.to_csv(index=False).encode("utf-8")
    if fmt == "xlsx":
        buffer = io.BytesIO()
        frame.to_excel(buffer, index=False, sheet_name=kind)
        return buffer.getvalue()
    raise ValueError(f"Unknown template format '{fmt}'; choose csv or xlsx.")


def data_dictionary(kind: str) -> pd.DataFrame:
    """Each column of a kind: type, whether required, allowed range or values."""
    spec = TABLES[UPLOAD_KINDS[kind].table]
    columns = {c.name: c for c in spec.columns}
    if kind == "city":
        columns = {**{c.name: c for c in TABLES["cities"].columns}, **{c.name: c for c in TABLES["districts"].columns}}
        columns["district"] = Column("district", "str", required=False)
    rows = []
    for name in template_columns(kind):
        c = columns[name]
        rule = ", ".join(part for part in (
            f"at least {c.min_value:g}" if c.min_value is not None else "",
            f"at most {c.max_value:g}" if c.max_value is not None else "",
            f"one of {', '.join(c.choices)}" if c.choices else "",
        ) if part)
        rows.append({"column": name, "type": {"str": "text", "float": "number", "int": "whole number", "bool": "true/false"}[c.kind],
                     "required": "yes" if c.required else "no", "rule": rule})
    return pd.DataFrame(rows)
