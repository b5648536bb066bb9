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
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
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
    UploadKind("city", "cities", ("city",), "one or more cities (rows without a district) with their districts (rows with a "
               "district, naming their city); a city already in the data is replaced with its districts"),
    UploadKind("sources", "sources", ("source_id",), "sources the other tables can cite (a source_id already listed is "
               "corrected, not duplicated)"),
    UploadKind("countries", "countries", ("country_iso3",), "countries (for a city's country_iso3 or a supplying country); "
               "a country already listed is corrected"),
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
        # Each distinct text once (a million-row file repeats a few thousand), then put back by position.
        codes, distinct = pd.factorize(out[column])  # a missing cell has code -1 and stays missing
        values = pd.Series(distinct, dtype=object).astype(str)
        formula = values.str.startswith(FORMULA_PREFIXES) & ~values.str.fullmatch(r"-?\d+(\.\d+)?")
        markup = values.str.contains(r"[<>]", regex=True)
        hit = (formula | markup).to_numpy()
        if not hit.any():
            continue
        changed += int(np.bincount(codes[codes >= 0], minlength=len(distinct))[hit].sum())
        values = values.where(~formula, "'" + values)
        cleaned = values.str.replace("<", "‹", regex=False).str.replace(">", "›", regex=False).to_numpy(dtype=object)
        out[column] = pd.Series(np.append(cleaned, None)[codes], index=out.index, dtype=object)
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
    mode: str = "append"  # how the upload was merged (UPLOAD_MODES)
    diff: pd.DataFrame | None = None  # row by row: table, change, key, column, before, after (DIFF_COLUMNS)
    parsed: dict[str, pd.DataFrame] | None = None  # the uploaded tables as read and typed (parsed_preview)

    @property
    def warnings(self) -> list[str]:
        """Values that pass but look wrong (far from the current version's): shown, never refused."""
        return self.report.warnings
    history_notes: list[str] | None = None  # how the upload rewrites earlier years (history_notes)


UPLOAD_MODES: dict[str, str] = {
    "append": "the file adds rows and corrects the rows with the same {key}; every other current row is kept, "
              "so years the file does not bring stay as they are",
    "replace": "the file replaces everything it covers: every current row with the same {scope} as a row of the file "
               "is removed, then the file's rows are added, so rows it does not bring (for example other years) are gone",
}
MAX_DIFF_LINES = 20_000  # per table: the dry run lists this many added/removed rows and changed cells (counts are always complete)


def mode_explanation(kind: str, mode: str) -> str:
    """One sentence saying what an upload mode does to the kind's table."""
    if mode not in UPLOAD_MODES:
        raise ValueError(f"Unknown upload mode '{mode}'; choose one of: {', '.join(UPLOAD_MODES)}.")
    spec = UPLOAD_KINDS[kind]
    tables = ("cities", "districts") if kind == "city" else (spec.table,)
    key = " / ".join(", ".join(TABLES[t].key) for t in tables)
    scope = ", ".join(("city",) if kind == "city" else spec.scope)
    return f"Mode '{mode}': " + UPLOAD_MODES[mode].format(key=key, scope=scope) + "."


def _replace_scope(current: pd.DataFrame, upload: pd.DataFrame, scope: tuple[str, ...]) -> pd.DataFrame:
    """The upload's rows, then the current rows outside ``scope`` of the uploaded rows: with the table's
    key as ``scope`` this is the append mode (same key replaced, the rest kept), with the kind's scope
    the replace mode."""
    covered = upload[list(scope)].drop_duplicates()
    marker = current.merge(covered.assign(_hit=True), on=list(scope), how="left")["_hit"].fillna(False).to_numpy(dtype=bool)
    return pd.concat([upload, current[~marker]], ignore_index=True)


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells as text that compares equal when the values are equal (1 == 1.0) and reads as a person
    writes it (486000, not 486000.0; an empty cell as "")."""
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        codes, distinct = pd.factorize(frame[column], use_na_sentinel=True)  # each distinct value converted once
        distinct = pd.Series(distinct, dtype=object)
        number = pd.to_numeric(distinct, errors="coerce")
        if len(distinct) and number.notna().all():  # numeric when every value reads as a number
            number = number.astype(float).round(9)
            text = number.astype(str).str.replace(r"\.0$", "", regex=True)
        else:
            text = distinct.astype(str)
        out[column] = np.append(text.to_numpy(dtype=object), "")[codes]  # code -1 (missing) takes the last: ""
    return out


def _key_labels(index: pd.Index, key: list[str]) -> pd.Series:
    """'geography=Helsinki, product=smartphone, year=2019' for each key of ``index``."""
    parts = index.to_frame(index=False) if isinstance(index, pd.MultiIndex) else pd.DataFrame({key[0]: index})
    label = pd.Series("", index=range(len(parts)), dtype=object)
    for i, name in enumerate(key):
        label = label + ("" if i == 0 else ", ") + f"{name}=" + parts[name].astype(str).to_numpy()
    return label


def _row_text(frame: pd.DataFrame) -> pd.Series:
    """The non-key cells of each row as 'column=value; ...' (the diff's line for an added or removed row)."""
    text = pd.Series("", index=frame.index, dtype=object)
    for i, column in enumerate(frame.columns):
        text = text + ("" if i == 0 else "; ") + f"{column}=" + frame[column].astype(str)
    return text


DIFF_COLUMNS = ["table", "change", "key", "column", "before", "after"]


def _changes(table: str, current: pd.DataFrame, merged: pd.DataFrame) -> tuple[dict, pd.DataFrame]:
    """What the merge does to ``table``: counts (rows added, changed, removed, and cells changed) and a
    row-by-row diff (DIFF_COLUMNS): one line per added or removed row with its values, one line per
    changed cell with its old and new value. At most MAX_DIFF_LINES lines of each kind are listed."""
    key = list(TABLES[table].key)
    cur_keys = pd.MultiIndex.from_frame(current[key].astype(object))
    new_keys = pd.MultiIndex.from_frame(merged[key].astype(object))
    in_current = new_keys.isin(cur_keys)
    kept = cur_keys.isin(new_keys)
    # Only the rows on both sides can hold changed cells; added and removed rows are listed up to the limit.
    cols = [c for c in merged.columns if c in current.columns and c not in key]
    both_new, both_cur = merged[in_current], current[kept]
    a = _comparable(both_new).set_index(key)[cols]
    b = _comparable(both_cur).set_index(key)[cols].reindex(a.index)
    differs = a != b
    changed_rows = int(differs.any(axis=1).sum()) if len(a) else 0
    lines = []
    for change, rows, side in (("added", merged[~in_current], "after"), ("removed", current[~kept], "before")):
        rows = rows.head(MAX_DIFF_LINES)
        if len(rows):
            text = _comparable(rows)
            labels = _key_labels(pd.MultiIndex.from_frame(text[key]), key)
            lines.append(pd.DataFrame({"change": change, "key": labels.to_numpy(), "column": "",
                                       "before": "", "after": "", side: _row_text(text[cols]).to_numpy()}))
    added, removed = int((~in_current).sum()), int((~kept).sum())
    changed_cells = int(differs.to_numpy().sum()) if len(a) else 0
    if changed_cells:
        cells = differs[differs.any(axis=1)].stack()
        cells = cells[cells].index[:MAX_DIFF_LINES]  # (key..., column)
        row_keys = cells.droplevel(-1)
        columns = cells.get_level_values(-1)
        before = [b.at[k, c] for k, c in zip(row_keys, columns)]
        after = [a.at[k, c] for k, c in zip(row_keys, columns)]
        lines.append(pd.DataFrame({"change": "changed", "key": _key_labels(row_keys, key).to_numpy(), "column": list(columns),
                                   "before": before, "after": after}))
    diff = pd.concat(lines, ignore_index=True) if lines else pd.DataFrame(columns=DIFF_COLUMNS[1:])
    diff.insert(0, "table", table)
    order = {"added": 0, "changed": 1, "removed": 2}
    diff = diff.sort_values(["change", "key"], key=lambda s: s.map(order) if s.name == "change" else s, kind="stable")
    summary = {"table": table, "added": added, "changed": changed_rows, "removed": removed, "changed_cells": changed_cells}
    return summary, diff[DIFF_COLUMNS].reset_index(drop=True)


@dataclass(frozen=True)
class UploadOptions:
    """What the researcher says about a file (the Data page's form and the CLI's flags)."""

    decimal: str = "auto"  # "auto": refuse numbers whose reading is ambiguous; "." or ",": the file's decimal mark
    percent_shares: bool = False  # share columns written in percent (45 or "45 %" means 0.45)
    sheet: str | None = None  # XLSX: the sheet to read (default: the first)
    header_row: int | None = None  # XLSX/CSV: the row (1-based) holding the column names (default: found)
    mode: str = "append"  # "append": add or correct the years the file brings; "replace": replace all it covers


# The steps of a check: the share 0..1 of a large file's time spent before each (measured on a 1 M-row file, see
# bench/upload_validation.py) and what the progress bar says meanwhile.
CHECK_STEPS = {
    "reading": (0.0, "Reading the file (encoding, delimiter, sheet, header)…"),
    "numbers": (0.25, "Reading the numbers in the file's locale…"),
    "neutralising": (0.35, "Neutralising formula and markup characters…"),
    "validating": (0.45, "Checking every cell against its column's rules…"),
    "codes": (0.6, "Checking codes against the current version…"),
    "merging": (0.65, "Merging the file into the current data…"),
    "comparing": (0.75, "Comparing row by row and checking the rules across tables…"),
    "done": (1.0, "Checked."),
}
Progress = Callable[[float, str], None]  # (share of the check done 0..1, what is being done)


def check_upload(kind: str, content: bytes, filename: str, current: dict[str, pd.DataFrame],
                 options: UploadOptions = UploadOptions(), progress: Progress | None = None) -> UploadCheck:
    """Read, neutralise and validate an upload against the current version's tables ``current``.

    ``progress(share 0..1, text)`` is called before each step of CHECK_STEPS and once at the end; an
    exception it raises (the app's cancel button, Ctrl-C) stops the check with nothing kept."""
    step = _stepper(progress)
    check = _check_upload(kind, content, filename, current, options, step)
    step("done")
    return check


def _stepper(progress: Progress | None) -> Callable[[str], None]:
    return (lambda name: None) if progress is None else (lambda name: progress(*CHECK_STEPS[name]))


def _check_upload(kind: str, content: bytes, filename: str, current: dict[str, pd.DataFrame], options: UploadOptions,
                  step: Callable[[str], None]) -> UploadCheck:
    step("reading")
    if kind not in UPLOAD_KINDS:
        raise ValueError(f"Unknown kind '{kind}'; choose one of: {', '.join(UPLOAD_KINDS)}.")
    spec_kind = UPLOAD_KINDS[kind]
    label = Path(filename).name or "upload"
    report = ValidationReport()
    report.file_labels = {spec_kind.table: label, "cities": label, "districts": label, "upload": label}
    # The file read in its own locale: encoding, delimiter, sheet, header row (upload_files); numbers below.
    from .upload_files import normalise_numbers, read_table

    read = read_table(content, filename, report, "upload", options, template_columns(kind))
    if read is None:
        return UploadCheck(report)
    # What the reader decided (rows skipped above the header, encoding, sheet): shown with the outcome, pass or not.
    report.reading_notes = read.notes
    raw = read.frame
    if raw.empty:
        report.add("upload", None, None, None, "the table has a header but no rows")
        return UploadCheck(report)
    step("numbers")
    if kind == "city":
        columns = {c.name: c for t in ("cities", "districts") for c in TABLES[t].columns}
        raw = normalise_numbers(read, list(columns.values()), options, report, "upload")
        if not report.ok:  # a city row left out would read as a missing city: say only the numbers first
            return UploadCheck(report)
        return _check_city(raw, current, report, options.mode, step)
    spec = TABLES[spec_kind.table]
    raw = normalise_numbers(read, spec.columns, options, report, "upload")  # "1 234,5" -> "1234.5"; ambiguous refused
    if raw.empty and not report.ok:
        return UploadCheck(report)
    step("neutralising")
    text_columns = [c.name for c in spec.columns if c.kind == "str"]
    raw, changed = neutralise(raw, text_columns)
    step("validating")
    typed = ingestion.validate_table(spec_kind.table, raw, report)
    if typed is None:
        return UploadCheck(report, changed)
    step("codes")
    check_codes(spec_kind.table, typed, current, report)
    if not report.ok:
        return UploadCheck(report, changed)
    return _merge_and_check(kind, {spec_kind.table: typed}, current, report, changed, mode=options.mode, step=step)


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
        known["country_iso3"] |= set(current["cities"]["country_iso3"])  # a country of a city already in the data
    # What a reference upload brings is new by definition (a source, a country).
    known.pop({"sources": "source_id", "countries": "country_iso3"}.get(table, ""), None)
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
        # Every known code is listed (never cut), or for sources (hundreds) where to find them.
        if column == "source_id":
            hint = ingestion.HINT_SOURCE
        else:
            hint = f"use one of the {len(allowed)} known: {', '.join(sorted(allowed))}"
        if not unknown:  # the common case: no row to look for
            continue
        held = frame[column][frame[column].isin(list(unknown))]
        report.add_rows(table, column, held.index + 2, held.iloc[: ValidationReport.GROUP_AFTER + 1].map(
            lambda value: ";".join(unknown[value])), f"unknown {column.replace('_', ' ')}", hint)
    # Warnings, not problems: values far from the current version's for the same key.
    ingestion.far_from_current(table, frame, current.get(table), report)


def _check_city(raw: pd.DataFrame, current: dict[str, pd.DataFrame], report: ValidationReport,
                mode: str = "append", step: Callable[[str], None] = _stepper(None)) -> UploadCheck:
    missing = [c for c in CITY_COLUMNS if c not in raw.columns and c != "note"]
    if missing:
        report.add("upload", None, None, None, f"missing column(s) {', '.join(missing)}; expected {', '.join(CITY_COLUMNS)}")
        return UploadCheck(report)
    step("neutralising")
    raw, changed = neutralise(raw, ["city", "country_iso3", "district", "source_id", "confidence", "note"])
    step("validating")
    # Rows without a district are cities (one or many); rows with a district belong to the city they name.
    is_city = raw["district"].astype(str).str.strip() == ""
    if not is_city.any():
        report.add("upload", None, "district", None, "give every city a row of its own without a district (the city "
                   "itself: population, households, centre), then its districts' rows naming it")
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
    if districts is not None and not (named := districts["city"].isin(set(cities["city"]))).all():
        for idx in districts.index[~named]:
            report.add("upload", int(idx) + 2, "city", districts.at[idx, "city"],
                       "a district row must name a city that has its own row (without a district) in this file")
        return UploadCheck(report, changed)
    tables = {"cities": cities}
    if districts is not None:
        tables["districts"] = districts
    return _merge_and_check("city", tables, current, report, changed, mode=mode, step=step)


def _merge_and_check(kind: str, uploaded: dict[str, pd.DataFrame], current: dict[str, pd.DataFrame],
                     report: ValidationReport, neutralised_cells: int, mode: str = "append",
                     step: Callable[[str], None] = _stepper(None)) -> UploadCheck:
    """The next version's tables: the upload merged into the current ones in ``mode`` (UPLOAD_MODES),
    checked with every cross-table rule, with the counts, the row-by-row diff and what it does to
    history (notes)."""
    if mode not in UPLOAD_MODES:
        raise ValueError(f"Unknown upload mode '{mode}'; choose one of: {', '.join(UPLOAD_MODES)}.")
    step("merging")
    scope = UPLOAD_KINDS[kind].scope
    merged = dict(current)
    changes, diffs = [], []
    for table, frame in uploaded.items():
        table_scope = ("city",) if kind == "city" else scope
        merged[table] = _replace_scope(current[table], frame, TABLES[table].key if mode == "append" else table_scope)
    step("comparing")
    for table in uploaded:
        summary, diff = _changes(table, current[table], merged[table])
        changes.append(summary)
        diffs.append(diff)
    # Every cross-table rule of the project data, on the tables as they would be.
    after = ValidationReport()
    ingestion._check_references(merged, after)
    for i, problem in enumerate(after.problems):
        hint = ("" if i or mode != "append" else
                " (append mode kept the current rows the file does not bring; if they should go, choose the mode 'replace')")
        report.problems.append(f"With the current data: {problem}{hint}")
    if not report.ok:
        return UploadCheck(report, neutralised_cells, mode=mode)
    first_key = {t: TABLES[t].key[0] for t in uploaded}
    keys = [str(k) for t, frame in uploaded.items() for k in frame[first_key[t]]]
    return UploadCheck(report, neutralised_cells, merged, pd.DataFrame(changes), affected_cities(kind, uploaded, merged), keys,
                       mode=mode, diff=pd.concat(diffs, ignore_index=True), parsed=dict(uploaded),
                       history_notes=history_notes(kind, current, merged, uploaded))


MAX_HISTORY_NOTES = 20  # series named one by one; the rest counted


def history_notes(kind: str, current: dict[str, pd.DataFrame], merged: dict[str, pd.DataFrame],
                  uploaded: dict[str, pd.DataFrame]) -> list[str]:
    """Sentences on how an ownership upload rewrites earlier years: the model holds a series' first
    anchor flat for every earlier year, so a series that now starts later than before (or is new and
    starts after the first reported year) changes those years too."""
    if kind != "ownership":
        return []
    from .system import REPORT_START

    pair = ["geography", "product"]
    # Per series the upload touches: its first year and figure after the merge, and its first year before.
    touched = pd.MultiIndex.from_frame(uploaded["ownership"][pair].astype(object)).unique()
    new = merged["ownership"]
    first = new.loc[new.groupby(pair, sort=False)["year"].idxmin()].set_index(pair).reindex(touched)
    first["was_first"] = current["ownership"].groupby(pair)["year"].min().reindex(touched)
    year, was_first = first["year"].astype(float), first["was_first"].astype(float)
    later = first[((year > REPORT_START) & (was_first.isna() | (year > was_first))).to_numpy()].sort_index()
    notes = []
    for (geography, product), row in later.head(MAX_HISTORY_NOTES).iterrows():
        year = int(row["year"])
        was = ("until now the model used a national or EU series for these years" if pd.isna(row["was_first"])
               else f"it started in {int(row['was_first'])} before this upload")
        notes.append(f"{product} in {geography}: the series will start in {year} ({was}). The model holds the first "
                     f"figure ({float(row['units_per_driver']):g} per driver) flat for every earlier year, so "
                     f"{REPORT_START}-{year - 1} take it too; add earlier years to the file if ownership was lower then.")
    if len(later) > MAX_HISTORY_NOTES:
        notes.append(f"... and {len(later) - MAX_HISTORY_NOTES:,} more series that start after {REPORT_START} "
                     "(the diff lists every row).")
    return notes


def parsed_preview(check: UploadCheck, rows: int = 10) -> dict[str, pd.DataFrame]:
    """The first ``rows`` rows of each uploaded table as read and typed (what will be stored), with
    the row number as in the file (header = row 1)."""
    return {table: frame.head(rows).rename_axis("file_row").reset_index().assign(file_row=lambda f: f["file_row"] + 2)
            for table, frame in (check.parsed or {}).items()}


def affected_cities(kind: str, uploaded: dict[str, pd.DataFrame], tables: dict[str, pd.DataFrame]) -> list[str]:
    """Cities whose numbers can change: the city itself, a country's cities, or every city."""
    cities = tables["cities"]
    if kind == "city":
        return list(uploaded["cities"]["city"])
    if kind == "measured_flows":
        return sorted(set(uploaded["measured_flows"]["city"]))
    if kind in OWNED_KINDS or kind in ("sources", "countries"):
        return []  # hub data, citations or supplying countries: the city model's numbers do not change
    if kind in ("ownership", "collection_rates"):
        geographies = set(uploaded[UPLOAD_KINDS[kind].table]["geography"])
        if "EU" in geographies:
            return list(cities["city"])
        return sorted(set(cities.loc[cities["city"].isin(geographies) | cities["country_iso3"].isin(geographies), "city"]))
    return list(cities["city"])


EFFECT_QUANTITIES = ("in_use_stock", "new_products", "end_of_life", "separately_collected", "secondary_supply")
_FLOW_METRICS = {"end_of_life": "end_of_life", "separate_collection": "separately_collected", "secondary_supply": "secondary_supply"}


def effect_years(year: int | None = None) -> list[int]:
    """The years a dry run shows: every 5th year of the reported period (2000, 2005, ... 2050) and ``year``."""
    from .system import REPORT_END, REPORT_START

    years = set(range(REPORT_START, REPORT_END + 1, 5))
    if year is not None and REPORT_START <= int(year) <= REPORT_END:
        years.add(int(year))
    return sorted(years)


def _model_metrics(result, materials: list[str], years: list[int]) -> pd.DataFrame:
    """city, year, metric, kg of EFFECT_QUANTITIES from a model run, summed as the store's metric_totals."""
    stocks = result.stocks[result.stocks["year"].isin(years) & result.stocks["material"].isin(materials)
                           & (result.stocks["process"] == "use")].assign(metric="in_use_stock")
    flows = result.flows[result.flows["year"].isin(years) & result.flows["material"].isin(materials)]
    metric = flows["to_process"].map(_FLOW_METRICS).where(flows["from_process"] != "market", "new_products")
    flows = flows.assign(metric=metric).dropna(subset=["metric"])
    both = pd.concat([stocks[["city", "year", "metric", "kg"]], flows[["city", "year", "metric", "kg"]]], ignore_index=True)
    return both.groupby(["city", "year", "metric"], as_index=False)["kg"].sum()


def headline_effect(check: UploadCheck, current_store, version_id: int, year: int, materials: list[str],
                    years: list[int] | None = None) -> pd.DataFrame:
    """Before/after of the headline quantities of the affected cities for ``materials`` in every year
    of ``years`` (default: effect_years(year), every 5th year 2000-2050 and ``year``). Only the
    affected cities are run again; "before" is the published version's stored result. Rows: city,
    quantity, year, before_kg, after_kg, change_kg (before is empty for a new city)."""
    from . import model  # the model's libraries: only for a dry run
    from .storage import METRICS

    columns = ["city", "quantity", "year", "before_kg", "after_kg", "change_kg"]
    cities = check.affected_cities or []
    if not cities:  # the upload does not touch the city model
        return pd.DataFrame(columns=columns)
    years = effect_years(year) if years is None else sorted({int(y) for y in years})
    tables = {n: check.tables[n] for n in ingestion.MODEL_TABLES}
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
    out["quantity"] = out["metric"].map(lambda m: METRICS[m][0])
    return out[columns]


# Letters and digits of any script, spaces and simple punctuation; the rest (control characters, markup,
# formula characters, emoji) goes. NFC first, so a letter typed as base + accent stays one letter.
_SAFE_NAME = re.compile(r"[^\w .,()'-]")


def clean_version_name(name: str) -> str:
    """A version name as plain text, 1..80 characters: letters of any script ("Jyväskylä", "Łódź"),
    digits and simple punctuation; no control characters, markup or formula start."""
    name = _SAFE_NAME.sub("", unicodedata.normalize("NFC", name)).strip()
    name = name.lstrip("".join(FORMULA_PREFIXES) + " '").strip()  # a spreadsheet opening the audit log runs none
    if not name:
        raise ValueError("Give the new version a name (letters, digits and simple punctuation).")
    return name[:80]
