"""Researchers' uploads: reading a file, validating it against the current dataset version, showing
what would change, and preparing the tables of the next version.

An upload of a kind replaces, in its target table, every row of the scopes it covers (for example
all ownership rows of Helsinki smartphones) and adds the rest. Every problem is reported at once,
naming the row (as numbered in the file, header = row 1), the column, the value and the rule; nothing
is written unless everything passes.

This module owns the check (``check_upload``: read, neutralise, validate, check codes and ownership, merge) and
its outcome (``UploadCheck``). The kinds and templates are in ``upload_kinds``, the merge modes and change lists
in ``upload_changes``, the model-effect preview in ``upload_effect``. Files are read by upload_files.py, which
refuses one that would unpack past its limits before reading it; a report keeps the first problems and counts
the rest (``ValidationReport``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .cross_checks import check_references, far_from_current
from .provenance import split_sources
from .table_checks import HINT_SOURCE, validate_table
from .table_specs import TABLES
from .upload_changes import UPLOAD_MODES, history_notes, replace_scope, table_changes
from .upload_effect import affected_cities
from .upload_kinds import CITY_COLUMNS, OWNED_KINDS, UPLOAD_KINDS, template_columns
from .validation_report import ValidationReport

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


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
    from .upload_files import read_table
    from .upload_numbers import normalise_numbers

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
    typed = validate_table(spec_kind.table, raw, report)
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
            bad = [code for code in (split_sources(value) if column == "source_id" else [value]) if code not in allowed]
            if bad:
                unknown[value] = bad
        # Every known code is listed (never cut), or for sources (hundreds) where to find them.
        if column == "source_id":
            hint = HINT_SOURCE
        else:
            hint = f"use one of the {len(allowed)} known: {', '.join(sorted(allowed))}"
        if not unknown:  # the common case: no row to look for
            continue
        held = frame[column][frame[column].isin(list(unknown))]
        report.add_rows(table, column, held.index + 2, held.iloc[: ValidationReport.GROUP_AFTER + 1].map(
            lambda value: ";".join(unknown[value])), f"unknown {column.replace('_', ' ')}", hint)
    # Warnings, not problems: values far from the current version's for the same key.
    far_from_current(table, frame, current.get(table), report)


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
    cities = validate_table("cities", raw.loc[is_city, [c for c in city_columns if c in raw.columns]]
                                      .reindex(columns=city_columns, fill_value=""), report)
    districts_raw = raw.loc[~is_city, [c for c in district_columns if c in raw.columns]]
    districts = validate_table("districts", districts_raw, report) if len(districts_raw) else None
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
        merged[table] = replace_scope(current[table], frame, TABLES[table].key if mode == "append" else table_scope)
    step("comparing")
    for table in uploaded:
        summary, diff = table_changes(table, current[table], merged[table])
        changes.append(summary)
        diffs.append(diff)
    # Every cross-table rule of the project data, on the tables as they would be.
    after = ValidationReport()
    check_references(merged, after)
    for i, problem in enumerate(after.problems):
        hint = ("" if i or mode != "append" else
                " (append mode kept the current rows the file does not bring; if they should go, choose the mode 'replace')")
        report.problems.append(f"With the current data: {problem}{hint}")
    if after.warnings:  # say only what this upload brings (a gap the current data already has is not its doing)
        before = ValidationReport()
        check_references(current, before)
        report.warnings.extend(f"With the current data: {w}" for w in after.warnings if w not in before.warnings)
    if not report.ok:
        return UploadCheck(report, neutralised_cells, mode=mode)
    first_key = {t: TABLES[t].key[0] for t in uploaded}
    keys = [str(k) for t, frame in uploaded.items() for k in frame[first_key[t]]]
    return UploadCheck(report, neutralised_cells, merged, pd.DataFrame(changes), affected_cities(kind, uploaded, merged), keys,
                       mode=mode, diff=pd.concat(diffs, ignore_index=True), parsed=dict(uploaded),
                       history_notes=history_notes(kind, current, merged, uploaded))


def parsed_preview(check: UploadCheck, rows: int = 10) -> dict[str, pd.DataFrame]:
    """The first ``rows`` rows of each uploaded table as read and typed (what will be stored), with
    the row number as in the file (header = row 1)."""
    return {table: frame.head(rows).rename_axis("file_row").reset_index().assign(file_row=lambda f: f["file_row"] + 2)
            for table, frame in (check.parsed or {}).items()}


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
