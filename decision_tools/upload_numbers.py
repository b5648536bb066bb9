"""The numbers of an uploaded table brought to canonical text before validation, whatever locale wrote them.

This module owns ``normalise_numbers``: it applies ``spreadsheet_numbers`` to every numeric column of a
``ReadTable``, finds the file's decimal mark from its unambiguous numbers, and reports each cell that cannot be
read safely, naming row, column and (XLSX) cell.
"""

from __future__ import annotations

import pandas as pd

from . import spreadsheet_numbers
from .text_table import ReadTable
from .validation_report import ValidationReport


def _file_decimal_mark(table: ReadTable, columns, decimal: str) -> str:
    """The decimal mark the file's unambiguous numbers show ("7,5" or "0.25"), when they all show the same
    one (a file cannot use one mark both as decimal mark and to separate thousands); else ``decimal``.
    Only text cells count: a number stored as a number shows no locale."""
    evidence: dict[str, str] = {}
    for column in columns:
        if column.kind not in ("float", "int") or column.name not in table.frame.columns:
            continue
        written = table.frame[column.name].head(10_000)
        if table.kinds is not None and column.name in table.kinds.columns:
            written = written[(table.kinds[column.name].reindex(written.index).astype(object).fillna("") == "").to_numpy()]
        for mark, cell in spreadsheet_numbers.decimal_evidence(v for v in written if isinstance(v, str) and v.strip()).items():
            evidence.setdefault(mark, cell)
    if len(evidence) != 1:
        return decimal
    mark, cell = next(iter(evidence.items()))
    table.notes.append(f"The file writes decimals with '{mark}' (e.g. {cell!r}), so numbers such as '12{mark}500' are read "
                       f"with '{mark}' as decimal mark. Set the decimal mark in the upload if that is wrong.")
    return mark


def normalise_numbers(table: ReadTable, columns, options, report: ValidationReport, label: str) -> pd.DataFrame:
    """The table with every number in the numeric ``columns`` (column_specs.Column) as canonical text ("1234.5"),
    whatever locale wrote it (spreadsheet_numbers), share columns in percent divided by 100 when the upload
    says so. Cells that cannot be read safely (ambiguous "12.500", "45 %" without 'shares in percent', a
    date) are reported naming row, column and cell; their rows are left out of what is validated next, so
    the other rows' problems are still all reported at once."""
    frame = table.frame
    decimal = getattr(options, "decimal", "auto") or "auto"
    if decimal not in spreadsheet_numbers.DECIMAL_MARKS:
        report.add(label, None, None, decimal, "the decimal mark must be '.', ',' or 'auto'")
        return frame.iloc[0:0]
    percent_shares = bool(getattr(options, "percent_shares", False))
    if decimal == "auto":  # the file's own numbers may tell its decimal mark: then "12.500" is not ambiguous
        decimal = _file_decimal_mark(table, columns, decimal)
    refused: set = set()
    out = frame.copy()
    for column in columns:
        if column.kind not in ("float", "int") or column.name not in frame.columns:
            continue
        share = spreadsheet_numbers.is_share(column.kind, column.min_value, column.max_value)
        typed = table.kinds[column.name] if table.kinds is not None and column.name in table.kinds.columns else None
        values, problems = spreadsheet_numbers.normalise_column(frame[column.name], decimal, share, percent_shares, typed)
        out[column.name] = values
        if problems:
            written = frame[column.name].head(10_000)  # text cells only: a number stored as a number shows no locale
            if typed is not None:
                written = written[(typed.reindex(written.index).astype(object).fillna("") == "").to_numpy()]
            evidence = spreadsheet_numbers.decimal_evidence(
                v for v in written if isinstance(v, str) and v.strip()) if decimal == "auto" else {}
            for idx, rule in problems.items():
                if "ambiguous" in rule and len(evidence) == 1:
                    mark, cell = next(iter(evidence.items()))
                    rule += f" (other numbers in this column use '{mark}' as decimal mark, e.g. {cell!r})"
                cell = f"cell {table.letters[column.name]}{int(idx) + 2}" if table.letters and column.name in table.letters else ""
                if rule.startswith(("is ", "has ", "repeats ")):
                    rule = f"{cell or 'the number'} {rule}"
                elif cell:
                    rule = f"{rule} ({cell})"
                report.add(label, int(idx) + 2, column.name, frame.at[idx, column.name], rule)
            refused.update(problems)
    if percent_shares:
        for column in columns:
            if (column.name in out.columns and spreadsheet_numbers.is_share(column.kind, column.min_value, column.max_value)):
                numbers = pd.to_numeric(out[column.name], errors="coerce")
                if numbers.notna().any() and float(numbers.max()) <= 0.01 and float(numbers.max()) > 0:
                    table.notes.append(f"'Shares in percent' is set, and column '{column.name}' then holds only values up to "
                                       "1 % (0.01): if the file writes shares as fractions (0.45), clear the setting.")
    if refused:
        out = out.drop(index=list(refused))
    return out
