"""Checking one input table against its declared layout (``table_specs.TABLES``).

This module owns the coercion of a table's text cells to typed columns, the per-column rules (required,
number, whole number, true/false, bounds, allowed values), key uniqueness, and the fix hint given with each rule.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from .column_specs import TableSpec
from .table_specs import TABLES
from .validation_report import ValidationReport


def file_row(index: int) -> int:
    """Row number as a person sees it in the file: the header is row 1."""
    return int(index) + 2


# The fix hint given with each rule (a sentence the researcher can act on).
HINT_REQUIRED = "fill in every cell of this column (the template's rules say what it holds)"
HINT_NUMBER = ("write digits with a decimal point (12.5), without units, spaces or thousands marks, or choose the "
               "file's decimal mark in the upload form")
HINT_FINITE = "write the value itself: inf, Infinity, NaN and numbers too large to compute with (1e309) are not values"
HINT_WHOLE = "write a whole number, without decimals (486000)"
HINT_BOOL = "write true or false (yes/no and 1/0 are read too)"
HINT_CHOICE = "write one of the values listed, spelt exactly so"
HINT_MIN = "check the sign, the unit and the decimal mark"
HINT_MAX = "check the unit and the decimal and thousands marks"
HINT_DUPLICATE = "keep one row per key: delete the repeated row or merge it with the earlier one"
HINT_SOURCE = ("cite a source_id listed in sources.csv (the Sources table of the Methods page), several separated by ';', "
               "or add the source there first")
BOOL_TEXT = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
_NAN_TEXT = ("nan", "+nan", "-nan")
_EXACT_INT = 2.0**53  # past it a float no longer holds every whole number (and Int64 refuses it)


def bound_text(value: float) -> str:
    """A bound as people write it: 0, 1, 1950, 50,000,000, 0.5, 1e+15."""
    if value == int(value) and abs(value) < 1e12:
        return f"{int(value):,}" if abs(value) >= 10_000 else str(int(value))
    return f"{value:g}"


def _to_float(text: pd.Series) -> np.ndarray:
    """Text cells (missing where empty) as float64, NaN where empty or not a number. Arrow's parser reads a
    million cells in a tenth of the time pandas takes; when a cell does not read, pandas says which (NaN)."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        return pc.cast(pa.array(text, from_pandas=True), pa.float64()).to_numpy(zero_copy_only=False)
    except Exception:  # noqa: BLE001 - a cell that is not a number (ArrowInvalid), or no pyarrow
        return pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _name_rows(report: ValidationReport, table: str, column: str, frame_index: pd.Index, mask: pd.Series,
               raw: pd.Series | None, rule: str, hint: str) -> None:
    """Report the rows where ``mask`` holds; nothing to do (the common, valid case) costs one ``any``."""
    if not mask.any():
        return
    labels = frame_index[mask.to_numpy(dtype=bool, na_value=False)]
    first = labels[: ValidationReport.GROUP_AFTER + 1]
    report.add_rows(table, column, labels + 2, None if raw is None else raw.loc[first], rule, hint)


def _coerce(frame: pd.DataFrame, spec: TableSpec, report: ValidationReport) -> pd.DataFrame:
    """The table with typed columns; every cell breaking its column's rule reported. Vectorised: rows are
    looked at one by one only when they break a rule, and then at most the first few per rule."""
    out = {}
    checked = {}  # what the per-column rules judge: the text, or the number as read (before a whole number is stored)
    for col in spec.columns:
        raw = frame[col.name]
        text = raw.astype("string").str.strip()
        empty = text.isna() | (text == "")

        def bad(mask: pd.Series, rule: str, hint: str, show: bool = True, column: str = col.name, raw: pd.Series = raw) -> None:
            _name_rows(report, spec.name, column, frame.index, mask, raw if show else None, rule, hint)

        if col.required:
            bad(empty, "a value is required", HINT_REQUIRED, show=False)
        if col.kind == "str":  # Python strings, None where empty: what the rest of the code compares with
            objects = text.to_numpy(dtype=object, na_value=None)
            if empty.any():
                objects[empty.to_numpy(dtype=bool, na_value=True)] = None
            values = pd.Series(objects, index=frame.index, dtype=object)
            out[col.name] = values
        elif col.kind == "bool":
            lowered = text.str.lower()
            bad(~empty & ~lowered.isin(list(BOOL_TEXT)), "must be true or false", HINT_BOOL)
            out[col.name] = lowered.map(BOOL_TEXT).astype("boolean")
            continue
        else:
            array = _to_float(text.where(~empty, None))
            numbers = pd.Series(array, index=frame.index)
            finite = np.isfinite(array)
            not_number = ~empty & ~pd.Series(finite, index=frame.index)
            if not_number.any():  # "nan" written as text is not finite either, rather than not a number
                nan_text = not_number & text.str.lower().isin(_NAN_TEXT)
                infinite = pd.Series(np.isinf(array), index=frame.index)
                bad(not_number & ~infinite & ~nan_text, "must be a number", HINT_NUMBER)
                bad(infinite | nan_text, "must be a finite number", HINT_FINITE)
            numbers = numbers.where(finite)
            if col.kind == "int":
                bad(numbers.notna() & (numbers != numbers.round()), "must be a whole number", HINT_WHOLE)
                out[col.name] = numbers.where(numbers.abs() < _EXACT_INT).round().astype("Int64")
            else:
                out[col.name] = numbers.astype("Float64")
            values = numbers
        checked[col.name] = values
    _check_column_rules(spec, pd.DataFrame(checked, index=frame.index), frame, report)
    return pd.DataFrame(out, index=frame.index)


@lru_cache(maxsize=None)
def _column_rules(table: str):
    """The table's per-column rules (bounds, allowed values) as a pandera schema, with (rule, hint) per
    column and check number for the sentence a failure is reported with. Built once per table."""
    import pandera.pandas as pa  # imported only when a table is validated: it costs a second at start-up

    columns, sentences = {}, {}
    for col in TABLES[table].columns:
        rules = []
        why = f"; {col.why}" if col.why else ""
        if col.min_value is not None:
            rules.append((pa.Check.ge(col.min_value), f"must be at least {bound_text(col.min_value)}", HINT_MIN))
        if col.max_value is not None:
            rules.append((pa.Check.le(col.max_value), f"must be at most {bound_text(col.max_value)}", f"{HINT_MAX}{why}"))
        if col.choices is not None:
            rules.append((pa.Check.isin(col.choices), f"must be one of {', '.join(col.choices)}", HINT_CHOICE))
        if rules:  # empty cells are the required rule's business (checked before), so every check skips them
            columns[col.name] = pa.Column(checks=[check for check, _, _ in rules], nullable=True)
            sentences.update({(col.name, number): (rule, hint) for number, (_, rule, hint) in enumerate(rules)})
    return pa.DataFrameSchema(columns, strict=False), sentences


def _check_column_rules(spec: TableSpec, values: pd.DataFrame, raw: pd.DataFrame, report: "ValidationReport") -> None:
    """Run the per-column rules (pandera, every failure at once) on the values as read and report each
    failing cell by row and column, with the cell as written in the file."""
    import pandera.errors

    schema, sentences = _column_rules(spec.name)
    try:
        schema.validate(values, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        failures = exc.failure_cases.dropna(subset=["index"])
        for (column, number), group in failures.groupby(["column", "check_number"], sort=False):
            rule, hint = sentences[(column, int(number))]
            labels = pd.Index(group["index"].astype("int64").unique())
            report.add_rows(spec.name, column, labels + 2, raw[column].loc[labels[: ValidationReport.GROUP_AFTER + 1]],
                            rule, hint)


def validate_table(name: str, frame: pd.DataFrame, report: ValidationReport) -> pd.DataFrame | None:
    """Check one table's columns, types, ranges and key uniqueness; return it typed, or None."""
    spec = TABLES[name]
    expected = [c.name for c in spec.columns]
    added_later = {c.name: c.default for c in spec.columns if c.default is not None and c.name not in frame.columns}
    if added_later:
        frame = frame.assign(**added_later)
    missing = [c for c in expected if c not in frame.columns]
    unknown = [c for c in frame.columns if c not in expected]
    if missing:
        report.add(name, None, None, None, f"missing column(s) {', '.join(missing)}; expected {', '.join(expected)}",
                   "use the template's header row (the Data page and `ingest --help` give the templates)")
    if unknown:
        report.add(name, None, None, None, f"unexpected column(s) {', '.join(map(str, unknown))}",
                   f"delete them; the columns are {', '.join(expected)}")
    if missing:
        return None
    if frame.empty and not spec.may_be_empty:
        report.add(name, None, None, None, "the table has no rows")
        return None
    typed = _coerce(frame, spec, report)
    duplicated = typed.duplicated(list(spec.key), keep="first")
    if duplicated.any():
        labels = typed.index[duplicated.to_numpy(dtype=bool)]
        first = typed.loc[labels[: ValidationReport.GROUP_AFTER + 1], list(spec.key)]
        keys = [", ".join(f"{k}={row[k]}" for k in spec.key) for _, row in first.iterrows()]
        if len(labels) <= ValidationReport.GROUP_AFTER:
            for label, key in zip(labels, keys):
                report.add(name, file_row(label), None, None, f"duplicate key ({key}): appears earlier in the file",
                           HINT_DUPLICATE)
        else:
            report.add_rows(name, None, labels + 2, keys, f"duplicate key ({', '.join(spec.key)}): appears earlier "
                            "in the file", HINT_DUPLICATE)
    return typed
