"""An upload read as a table of text cells, whatever the file type (CSV or XLSX).

This module owns ``ReadTable`` and the rules every reader applies to the grid it read: which row is the header
(the one set, or the first holding the template's column names; title rows above it skipped, and said), and
which columns and rows are dropped (Excel leftovers without a name or a value).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .upload_limits import Refused

HEADER_SEARCH_ROWS = 50  # a header is looked for in the file's first rows (title rows above it are skipped)


@dataclass
class ReadTable:
    """An upload read as text cells. The index is the file's row number minus 2 (so validation, which names
    row = index + 2, names rows as the file shows them even when a title row or blank rows were skipped)."""

    frame: pd.DataFrame
    notes: list[str]  # what the reader decided and the researcher should know (skipped rows, encoding, sheet)
    kinds: pd.DataFrame | None = None  # per cell: "" (text), "number", "percent" or "date" (XLSX, Parquet)
    letters: dict[str, str] | None = None  # column name -> spreadsheet column letters (XLSX)


def matches(row: list, expected: set[str]) -> int:
    return sum(1 for cell in row if str(cell).strip() in expected)


def _find_header(rows: list[list], expected: list[str] | None) -> int | None:
    """Position of the first row holding the most expected column names (at least two, or the only one); None
    when no row does."""
    if not expected:
        return None
    names = set(expected)
    counts = [matches(row, names) for row in rows[:HEADER_SEARCH_ROWS]]
    best = max(counts, default=0)
    if best < min(2, len(names)):
        return None
    return counts.index(best)


def _blank(frame: pd.DataFrame) -> pd.Series:
    """Rows whose every cell is empty or only spaces (Excel leftovers such as ';;;;' rows)."""
    blank = pd.Series(True, index=frame.index)
    for column in frame.columns:  # each column checked only on the rows still blank (a full table: one pass)
        rows = blank[blank].index
        if not len(rows):
            break
        cells = frame.loc[rows, column] if len(rows) < len(frame) else frame[column]
        blank.loc[rows] = (cells.fillna("").astype(str).str.strip() == "").to_numpy()
    return blank


def table_below_header(header: list, data: pd.DataFrame, kinds: pd.DataFrame | None, notes: list[str],
           letters: list[str] | None = None) -> ReadTable:
    """The table below ``header``: columns named as pandas names them (empty: 'Unnamed: n', repeated: '.1'),
    columns without a name and without a value dropped, rows without a value dropped (the index keeps each
    row's number in the file)."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for position, cell in enumerate(header):
        name = str(cell).strip() if cell is not None and str(cell).strip() else f"Unnamed: {position}"
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        seen.setdefault(name, 0)
        names.append(name)
    data = data.copy()
    data.columns = names
    keep = [name for position, name in enumerate(names)
            if not (name.startswith("Unnamed: ") and str(header[position] or "").strip() == ""
                    and bool((data[name].fillna("").astype(str).str.strip() == "").all()))]
    data = data[keep]
    blank = _blank(data) if len(data) else pd.Series(dtype=bool)
    if len(data) and bool(blank.any()):
        data = data[~blank]
    if kinds is not None:
        kinds = kinds.copy()
        kinds.columns = names
        kinds = kinds.loc[data.index, keep]
    letter_map = None
    if letters is not None:
        letter_map = {name: letters[position] for position, name in enumerate(names) if name in keep}
    return ReadTable(data, notes, kinds, letter_map)


def header_position(rows: list[list], expected: list[str] | None, options, what: str) -> int:
    """The header's position among ``rows`` (the file's first rows): the one the researcher set, or the first
    row holding the expected column names, or the first row with a value."""
    chosen = getattr(options, "header_row", None)
    if chosen:
        if int(chosen) < 1 or int(chosen) > len(rows):
            raise Refused(f"the header row was set to {chosen}, but {what} has {len(rows)} row(s) at the top"
                           if int(chosen) >= 1 else "the header row is counted from 1")
        return int(chosen) - 1
    found = _find_header(rows, expected)
    if found is not None:
        return found
    return next((i for i, row in enumerate(rows) if any(str(c).strip() for c in row)), 0)


def skipped_note(rows: list[list], position: int) -> list[str]:
    above = [" ".join(str(c).strip() for c in row if str(c).strip()) for row in rows[:position]]
    texts = [t for t in above if t]
    if not texts:
        return []
    shown = "; ".join(repr(t[:60]) for t in texts[:3]) + (" ..." if len(texts) > 3 else "")
    return [(f"The header is row {position + 1}: the {position} row(s) above it were skipped ({shown}). "
             "Set the header row if this is wrong.")]
