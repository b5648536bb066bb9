"""What an upload changes: how it merges into the current tables, the change list, and what it does to history.

This module owns the upload modes (append, replace) and the merge of an uploaded table into the current one,
the counts and row-by-row diff of a table before and after (added and removed rows, changed cells), and the
notes on how an ownership upload rewrites earlier years.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .table_specs import TABLES
from .upload_kinds import UPLOAD_KINDS


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


def replace_scope(current: pd.DataFrame, upload: pd.DataFrame, scope: tuple[str, ...]) -> pd.DataFrame:
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


def table_changes(table: str, current: pd.DataFrame, merged: pd.DataFrame) -> tuple[dict, pd.DataFrame]:
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
