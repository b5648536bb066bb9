"""Researchers' uploads: reading a file, validating it against the current dataset version, showing
what would change, and preparing the tables of the next version.

An upload of a kind replaces, in its target table, every row of the scopes it covers (for example
all ownership rows of Helsinki smartphones) and adds the rest. Every problem is reported at once,
naming the row (as numbered in the file, header = row 1), the column, the value and the rule; nothing
is written unless everything passes.

Files are read by upload_files.py, which refuses one that would unpack past its limits before reading
it; a report keeps the first problems and counts the rest (``ValidationReport``).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import ingestion
from .ingestion import TABLES, ValidationReport
from .upload_files import max_upload_bytes, read_upload  # noqa: F401 - max_upload_bytes is part of this module's API

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


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
    UploadKind("city", "cities", ("city",), "a new city (a row without district) with its districts (rows with a district)"),
    UploadKind("offers", "offers", ("offer_id",), "streams an organisation offers (partners: only their own organisation's)"),
    UploadKind("needs", "needs", ("need_id",), "materials an organisation needs (partners: only their own organisation's)"),
)}
OWNED_KINDS = ("offers", "needs")  # rows must belong to an organisation the uploader owns (unless admin)


def check_ownership(check: "UploadCheck", kind: str, current: dict[str, pd.DataFrame], username: str | None,
                    roles: list[str] | None) -> None:
    """Partners change only their own organisation's offers and needs: a server-side rule on top of
    validation, reported like every other problem."""
    if kind not in OWNED_KINDS or not check.report.ok or "admin" in (roles or []):
        return
    owners = current["organisations"].set_index("org_id")["owner"]
    uploaded = check.tables[UPLOAD_KINDS[kind].table]
    scope_ids = set(check.uploaded_keys or [])
    for idx, row in uploaded[uploaded[UPLOAD_KINDS[kind].scope[0]].isin(scope_ids)].iterrows():
        if owners.get(row["org_id"]) != username:
            check.report.add("upload", int(idx) + 2, "org_id", row["org_id"], "you can change only your own organisation's rows")
    existing = current[UPLOAD_KINDS[kind].table].set_index(UPLOAD_KINDS[kind].scope[0])["org_id"]
    for key in scope_ids & set(existing.index):
        if owners.get(existing[key]) != username:
            check.report.add("upload", None, UPLOAD_KINDS[kind].scope[0], key, "belongs to another organisation")
    if not check.report.ok:
        check.tables = None

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
        columns["district"] = ingestion.Column("district", "str", required=False)
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


def neutralise(frame: pd.DataFrame, text_columns: list[str]) -> tuple[pd.DataFrame, int]:
    """Text cells that a spreadsheet would run as a formula get a leading apostrophe, and angle brackets
    become harmless look-alikes, so no cell is ever executed or rendered as markup. Returns the table
    and the number of cells changed."""
    changed = 0
    out = frame.copy()
    for column in text_columns:
        if column not in out.columns:
            continue
        values = out[column].astype(str)
        formula = values.str.startswith(FORMULA_PREFIXES) & ~values.str.fullmatch(r"-?\d+(\.\d+)?")
        markup = values.str.contains(r"[<>]", regex=True)
        changed += int((formula | markup).sum())
        values = values.where(~formula, "'" + values)
        out[column] = values.str.replace("<", "‹", regex=False).str.replace(">", "›", regex=False)
    return out, changed


@dataclass
class UploadCheck:
    """The outcome of checking an upload: the report, and when it passed, the next version's tables
    and what changes."""

    report: ValidationReport
    neutralised_cells: int = 0
    tables: dict[str, pd.DataFrame] | None = None
    changes: pd.DataFrame | None = None  # table, added, changed, removed
    affected_cities: list[str] | None = None
    uploaded_keys: list[str] | None = None  # first key column of the uploaded rows


def _replace_scope(current: pd.DataFrame, upload: pd.DataFrame, scope: tuple[str, ...]) -> pd.DataFrame:
    covered = upload[list(scope)].drop_duplicates()
    marker = current.merge(covered.assign(_hit=True), on=list(scope), how="left")["_hit"].fillna(False).to_numpy(dtype=bool)
    return pd.concat([upload, current[~marker]], ignore_index=True)


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells as text that compares equal when the values are equal (1 == 1.0)."""
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        # Numeric when every value reads as a number; parsing the distinct values tells (text columns hold few).
        distinct = pd.Series(frame[column].dropna().unique())
        if len(distinct) and pd.to_numeric(distinct, errors="coerce").notna().all():
            out[column] = pd.to_numeric(frame[column], errors="coerce").astype(float).round(9).astype(str)
        else:
            out[column] = frame[column].astype(object).where(frame[column].notna(), "").astype(str)
    return out


def _changes(table: str, current: pd.DataFrame, merged: pd.DataFrame) -> dict:
    key = list(TABLES[table].key)
    cur = _comparable(current).set_index(key)
    new = _comparable(merged).set_index(key)
    added = new.index.difference(cur.index)
    removed = cur.index.difference(new.index)
    both = new.index.intersection(cur.index)
    cols = [c for c in new.columns if c in cur.columns]
    a = new.loc[both, cols].astype(str)
    b = cur.loc[both, cols].astype(str)
    changed = int((a != b.reindex(a.index)).any(axis=1).sum()) if len(both) else 0
    return {"table": table, "added": len(added), "changed": changed, "removed": len(removed)}


def check_upload(kind: str, content: bytes, filename: str, current: dict[str, pd.DataFrame]) -> UploadCheck:
    """Read, neutralise and validate an upload against the current version's tables ``current``."""
    if kind not in UPLOAD_KINDS:
        raise ValueError(f"Unknown kind '{kind}'; choose one of: {', '.join(UPLOAD_KINDS)}.")
    spec_kind = UPLOAD_KINDS[kind]
    label = Path(filename).name or "upload"
    report = ValidationReport()
    report.file_labels = {spec_kind.table: label, "cities": label, "districts": label, "upload": label}
    raw = read_upload(content, filename, report, "upload")
    if raw is None:
        return UploadCheck(report)
    if raw.empty:
        report.add("upload", None, None, None, "the table has a header but no rows")
        return UploadCheck(report)
    if kind == "city":
        return _check_city(raw, current, report)
    spec = TABLES[spec_kind.table]
    text_columns = [c.name for c in spec.columns if c.kind == "str"]
    raw, changed = neutralise(raw, text_columns)
    typed = ingestion.validate_table(spec_kind.table, raw, report)
    if typed is None:
        return UploadCheck(report, changed)
    check_codes(spec_kind.table, typed, current, report)
    if not report.ok:
        return UploadCheck(report, changed)
    return _merge_and_check(kind, {spec_kind.table: typed}, current, report, changed)


def check_codes(table: str, frame: pd.DataFrame, current: dict[str, pd.DataFrame], report: ValidationReport,
                extra: dict[str, set[str]] | None = None) -> None:
    """Codes in an uploaded table that the current version does not know, row by row."""
    known = {
        "product": set(current["products"]["product"]),
        "material": set(current["materials"]["symbol"]),
        "city": set(current["cities"]["city"]),
        "geography": {"EU"} | set(current["cities"]["country_iso3"]) | set(current["cities"]["city"]),
        "country_iso3": set(current["countries"]["country_iso3"]) | ({"ROW"} if table == "supplier_shares" else set()),
        "source_id": set(current["sources"]["source_id"]),
    }
    for name, codes in (extra or {}).items():
        known[name] = known.get(name, set()) | codes
    if table == "cities":
        known.pop("city")  # a new city is what the upload brings
    for column, allowed in known.items():
        if column not in frame.columns:
            continue
        # Each distinct value checked once (a large upload repeats a few codes), then every row holding a bad one named.
        unknown = {}
        for value in frame[column].unique():
            if value is None:
                continue
            bad = [code for code in (ingestion.split_sources(value) if column == "source_id" else [value]) if code not in allowed]
            if bad:
                unknown[value] = bad
        shown = sorted(allowed)
        hint = ", ".join(shown[:12]) + (", ..." if len(shown) > 12 else "")
        for idx, value in frame[column][frame[column].isin(list(unknown))].items():
            for code in unknown[value]:
                report.add(table, int(idx) + 2, column, code, f"unknown {column.replace('_', ' ')}; known: {hint}")


def _check_city(raw: pd.DataFrame, current: dict[str, pd.DataFrame], report: ValidationReport) -> UploadCheck:
    missing = [c for c in CITY_COLUMNS if c not in raw.columns and c != "note"]
    if missing:
        report.add("upload", None, None, None, f"missing column(s) {', '.join(missing)}; expected {', '.join(CITY_COLUMNS)}")
        return UploadCheck(report)
    raw, changed = neutralise(raw, ["city", "country_iso3", "district", "source_id", "confidence", "note"])
    is_city = raw["district"].astype(str).str.strip() == ""
    if int(is_city.sum()) != 1 or raw.loc[is_city, "city"].nunique() != 1:
        report.add("upload", None, "district", None, "give exactly one row without a district: the city itself")
        return UploadCheck(report, changed)
    city_columns = [c.name for c in TABLES["cities"].columns]
    district_columns = [c.name for c in TABLES["districts"].columns]
    cities = ingestion.validate_table("cities", raw.loc[is_city, [c for c in city_columns if c in raw.columns]]
                                      .reindex(columns=city_columns, fill_value=""), report)
    districts_raw = raw.loc[~is_city, [c for c in district_columns if c in raw.columns]]
    districts = ingestion.validate_table("districts", districts_raw, report) if len(districts_raw) else None
    if cities is None:
        return UploadCheck(report, changed)
    check_codes("cities", cities, current, report)
    if districts is not None:
        check_codes("districts", districts.drop(columns=["city"]), current, report)
    if not report.ok:
        return UploadCheck(report, changed)
    city = cities["city"].iloc[0]
    if districts is not None and (districts["city"] != city).any():
        for idx in districts.index[districts["city"] != city]:
            report.add("upload", int(idx) + 2, "city", districts.at[idx, "city"], f"every district row must name the city {city}")
        return UploadCheck(report, changed)
    tables = {"cities": cities}
    if districts is not None:
        tables["districts"] = districts
    return _merge_and_check("city", tables, current, report, changed)


def _merge_and_check(kind: str, uploaded: dict[str, pd.DataFrame], current: dict[str, pd.DataFrame],
                     report: ValidationReport, neutralised_cells: int) -> UploadCheck:
    scope = UPLOAD_KINDS[kind].scope
    merged = dict(current)
    changes = []
    for table, frame in uploaded.items():
        table_scope = ("city",) if kind == "city" else scope
        merged[table] = _replace_scope(current[table], frame, table_scope)
        changes.append(_changes(table, current[table], merged[table]))
    # Every cross-table rule of the project data, on the tables as they would be.
    after = ValidationReport()
    ingestion._check_references(merged, after)
    for problem in after.problems:
        report.problems.append(f"With the current data: {problem}")
    if not report.ok:
        return UploadCheck(report, neutralised_cells)
    first_key = {t: TABLES[t].key[0] for t in uploaded}
    keys = [str(k) for t, frame in uploaded.items() for k in frame[first_key[t]]]
    return UploadCheck(report, neutralised_cells, merged, pd.DataFrame(changes), affected_cities(kind, uploaded, merged), keys)


def affected_cities(kind: str, uploaded: dict[str, pd.DataFrame], tables: dict[str, pd.DataFrame]) -> list[str]:
    """Cities whose numbers can change: the city itself, a country's cities, or every city."""
    cities = tables["cities"]
    if kind == "city":
        return list(uploaded["cities"]["city"])
    if kind == "measured_flows":
        return sorted(set(uploaded["measured_flows"]["city"]))
    if kind in OWNED_KINDS:
        return []  # hub data: the city model does not change
    if kind in ("ownership", "collection_rates"):
        geographies = set(uploaded[UPLOAD_KINDS[kind].table]["geography"])
        if "EU" in geographies:
            return list(cities["city"])
        return sorted(set(cities.loc[cities["city"].isin(geographies) | cities["country_iso3"].isin(geographies), "city"]))
    return list(cities["city"])


def headline_effect(check: UploadCheck, current_store, version_id: int, year: int, materials: list[str]) -> pd.DataFrame:
    """Before/after of the headline quantities of the affected cities in ``year`` for ``materials``."""
    from . import model  # the model's libraries: only for a dry run

    cities = check.affected_cities or []
    if not cities:  # the upload does not touch the city model
        return pd.DataFrame(columns=["city", "quantity", "before_kg", "after_kg"])
    tables = {n: check.tables[n] for n in ingestion.MODEL_TABLES}
    tables["cities"] = tables["cities"][tables["cities"]["city"].isin(cities)]
    tables["districts"] = tables["districts"][tables["districts"]["city"].isin(cities)]
    result = model.run_city_model(tables)
    flows = result.flows[(result.flows["year"] == year) & result.flows["material"].isin(materials)]
    stocks = result.stocks[(result.stocks["year"] == year) & result.stocks["material"].isin(materials)]
    rows = []
    for city in cities:
        f = flows[flows["city"] == city]
        after = {
            "in_use_stock": stocks.loc[(stocks["city"] == city) & (stocks["process"] == "use"), "kg"].sum(),
            "end_of_life": f.loc[f["to_process"] == "end_of_life", "kg"].sum(),
            "secondary_supply": f.loc[f["to_process"] == "secondary_supply", "kg"].sum(),
        }
        try:
            before_table = current_store.metric_table(version_id, city, materials, year).set_index("metric")["kg"]
        except Exception:  # noqa: BLE001 - a new city has no numbers before
            before_table = pd.Series(dtype=float)
        for key, value in after.items():
            rows.append({"city": city, "quantity": key, "before_kg": float(before_table.get(key, float("nan"))),
                         "after_kg": float(value)})
    return pd.DataFrame(rows)


_SAFE_NAME = re.compile(r"[^A-Za-z0-9 _.,()'-]")


def clean_version_name(name: str) -> str:
    """A version name as plain text, 1..80 characters."""
    name = _SAFE_NAME.sub("", name).strip()
    if not name:
        raise ValueError("Give the new version a name (letters, digits and simple punctuation).")
    return name[:80]
