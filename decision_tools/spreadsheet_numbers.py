"""Numbers as spreadsheets in other locales write them, read into canonical text ("1234.5") before validation.

Finnish, Polish, Dutch and Belgian Excel and LibreOffice write a decimal comma and separate thousands with a
space, a no-break space or a dot ("1 234,5", "1.234,5"); English ones write "1,234.5". Most forms tell by
themselves which mark is the decimal one. A number with one separator followed by exactly three digits
("12.500", "486.000", "1,200") does not: it is 12.5 or 12500. Such a number is refused, naming the cell and both
readings, unless the upload states its decimal mark; it is never guessed. Share columns (0..1) may be written in
percent ("45 %" or 45) when the upload says so. Pure functions: no file, no report, no streamlit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

DECIMAL_MARKS = ("auto", ".", ",")
SPACES = " \u00a0\u202f\u2009"  # space, no-break space (Excel fi/pl), narrow no-break space (LibreOffice), thin space
MINUS_SIGNS = "-\u2212\u2013"  # hyphen-minus, the minus sign (LibreOffice fi), an en dash

_PLAIN = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"  # already canonical (Python and pandas read it)
_AMBIGUOUS_DOT = r"[+-]?[1-9][0-9]{0,2}\.[0-9]{3}"  # 12.500: 12.5, or 12500 with '.' separating thousands
_DATE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\.?|\d{1,2}[./]\d{1,2}\.|\d{1,2}\.? ?[A-Za-zäöåÄÖÅ]{3,}\.?"
                   r"|[A-Za-zäöåÄÖÅ]{3,}\.? \d{1,4}|\d{1,2}:\d{2}(:\d{2})?")
DATE_HINT = ("format the column as Number (or Text) and type the value again (Excel in a decimal-comma locale "
             "turns '12.5' into 12 May)")
PERCENT_HINT = "set 'shares in percent' (--percent-shares) to read 45 % as 0.45, or write the share as 0.45"


def is_share(kind: str, min_value: float | None, max_value: float | None) -> bool:
    """A column holding a share 0..1 (column_specs.share_column): the only columns percent may be written in."""
    return kind == "float" and max_value == 1.0 and (min_value or 0.0) >= 0.0


@dataclass(frozen=True)
class Reading:
    """One cell's text read as a number: ``text`` canonical ("1234.5") or None with ``problem`` (a rule sentence)."""

    text: str | None
    problem: str | None = None
    percent: bool = False  # written with a percent sign


def _plain(number: str) -> str:
    """A canonical number without trailing zeros after its decimal point (for the readings shown)."""
    if "." in number:
        number = number.rstrip("0").rstrip(".")
    return number or "0"


def _grouped(whole: str, mark: str) -> str | None:
    """``whole`` written with ``mark`` between groups of three digits ("1.234.567"), as digits; else None."""
    if re.fullmatch(r"\d{1,3}(?:" + re.escape(mark) + r"\d{3})+", whole):
        return whole.replace(mark, "")
    return None


def read_number(text: str, decimal: str = "auto") -> Reading:
    """``text`` as a canonical number, whichever locale wrote it; ``decimal`` is the upload's decimal mark
    ("." or ",") or "auto" (found from the number itself, ambiguous forms refused)."""
    cell = text.strip(SPACES + "\t")
    percent = cell.endswith("%")
    if percent:
        cell = cell[:-1].rstrip(SPACES)
    sign = ""
    if cell and (cell[0] in MINUS_SIGNS or cell[0] == "+"):
        sign, cell = ("-" if cell[0] != "+" else ""), cell[1:].lstrip(SPACES)
    if not cell or not re.fullmatch(r"[0-9.,eE+\-" + SPACES + "]+", cell):  # ASCII digits only, as validation reads them
        return Reading(None, "must be a number", percent)
    mantissa, exponent = cell, ""
    scientific = re.fullmatch(r"(.*\d)[eE]([+-]?\d+)", cell)
    if scientific:
        mantissa, exponent = scientific.group(1), "e" + scientific.group(2)
    spaced = re.fullmatch(r"(\d{1,3}(?:[" + SPACES + r"]\d{3})+)(?:([.,])(\d*))?", mantissa)
    if spaced:  # thousands separated by spaces: the one mark left is the decimal mark
        whole, mark, fraction = re.sub("[" + SPACES + "]", "", spaced.group(1)), spaced.group(2), spaced.group(3) or ""
        if mark and decimal != "auto" and mark != decimal:
            return Reading(None, f"has '{mark}' as its decimal mark, but the upload says '{decimal}'", percent)
        return Reading(sign + whole + ("." + fraction if fraction else "") + exponent, None, percent)
    if not re.fullmatch(r"[\d.,]+", mantissa) or not re.search(r"\d", mantissa):
        return Reading(None, "must be a number", percent)
    marks = [c for c in mantissa if c in ".,"]
    if not marks:
        return Reading(sign + mantissa + exponent, None, percent)
    if len(set(marks)) == 2:  # both: the last one is the decimal mark, the other separates thousands
        mark = marks[-1]
        other = "," if mark == "." else "."
        whole, _, fraction = mantissa.rpartition(mark)
        digits = _grouped(whole, other)
        if digits is None or not fraction.isdigit():
            return Reading(None, "must be a number", percent)
        if decimal != "auto" and mark != decimal:
            return Reading(None, f"has '{mark}' as its decimal mark, but the upload says '{decimal}'", percent)
        return Reading(sign + digits + "." + fraction + exponent, None, percent)
    mark = marks[0]
    if len(marks) > 1:  # "1.234.567": only a thousands separator repeats
        digits = _grouped(mantissa, mark)
        if digits is None:
            return Reading(None, "must be a number", percent)
        if decimal == mark:
            return Reading(None, f"repeats '{mark}', which the upload says is the decimal mark", percent)
        return Reading(sign + digits + exponent, None, percent)
    whole, _, fraction = mantissa.partition(mark)
    thousands = len(fraction) == 3 and 1 <= len(whole) <= 3 and not whole.startswith("0") and not exponent
    if decimal == "auto" or decimal == mark:
        if decimal == "auto" and thousands:
            as_decimal, as_thousands = _plain(whole + "." + fraction), whole + fraction
            name = "point" if mark == "." else "comma"
            return Reading(None, f"is ambiguous: it reads as {sign}{as_decimal} (decimal {name}) or as {sign}{as_thousands} "
                                 f"('{mark}' separating thousands); set the file's decimal mark ('.' or ',') in the upload "
                                 "and try again", percent)
        return Reading(sign + (whole or "0") + ("." + fraction if fraction else "") + exponent, None, percent)
    if thousands:  # the mark is not the file's decimal mark: it separates thousands
        return Reading(sign + whole + fraction + exponent, None, percent)
    return Reading(None, f"has '{mark}' as its decimal mark, but the upload says '{decimal}'", percent)


def looks_like_date(text: str) -> bool:
    """Text a spreadsheet wrote for a date or time ("12.5.2026", "12. toukok.", "2026-05-12", "12:30")."""
    return bool(_DATE.fullmatch(text.strip(SPACES)))


def decimal_evidence(values) -> dict[str, str]:
    """Decimal marks that numbers show by themselves ("7,5", "1.234,5"): {mark: first such cell}. Used only to
    hint which reading an ambiguous cell probably has; never to read it."""
    found: dict[str, str] = {}
    for value in dict.fromkeys(values):  # each distinct cell once
        cell = str(value).strip(SPACES)
        if "." not in cell and "," not in cell:  # no mark, no evidence (most cells of a year or count column)
            continue
        reading = read_number(cell)
        if reading.text is None or "." not in reading.text.partition("e")[0]:
            continue
        last = max(cell.rfind("."), cell.rfind(","))
        if last < 0:
            continue
        found.setdefault(cell[last], cell)
        if len(found) == 2:
            break
    return found


def normalise_column(values: pd.Series, decimal: str = "auto", share: bool = False, percent_shares: bool = False,
                     typed: pd.Series | None = None) -> tuple[pd.Series, dict]:
    """One numeric column's cells as canonical text, and {index: problem sentence} for the cells refused.

    ``typed`` marks cells that held a number (not text) in the file (XLSX numbers, Parquet numeric columns):
    "number", "percent" (formatted as a percentage: already a fraction) or "date" (formatted as a date: refused)."""
    text = values.astype("string").fillna("")
    stripped = text.str.strip(SPACES + "\t")
    empty = stripped == ""
    is_text = pd.Series(True, index=values.index) if typed is None else typed.isna() | (typed == "")
    changed: dict = {}  # index -> canonical text, for the cells not already canonical (most files: none)
    problems: dict = {}
    if typed is not None:
        for idx in typed.index[typed == "date"]:
            problems[idx] = f"the spreadsheet shows this cell as a date, not a number: {DATE_HINT}"
    # Fast path: canonical text nobody could read otherwise (checked on the whole column at once).
    fast = empty | ~is_text
    if decimal != ",":
        plain = stripped.str.fullmatch(_PLAIN)
        if decimal == "auto":
            plain &= ~stripped.str.fullmatch(_AMBIGUOUS_DOT)
        fast |= plain.fillna(False)
    else:
        fast |= stripped.str.fullmatch(r"[+-]?[0-9]+").fillna(False)
    if share and percent_shares:
        fast &= ~is_text | empty  # every written share is divided by 100 below
    slow = text[~fast & is_text]
    cache: dict[str, Reading] = {}
    for idx, cell in slow.items():
        reading = cache.get(cell)
        if reading is None:
            reading = cache[cell] = read_number(cell, decimal)
        if reading.text is None:
            if reading.problem != "must be a number":
                problems[idx] = reading.problem
            elif looks_like_date(cell):
                problems[idx] = f"must be a number; it looks like a date the spreadsheet made of it: {DATE_HINT}"
            # other text is left as written: validation says it must be a number
            continue
        if reading.percent and not share:
            problems[idx] = "a percent sign belongs only in a share column (0..1); write the number without it"
            continue
        if reading.percent and not percent_shares:
            problems[idx] = f"is written in percent; {PERCENT_HINT}"
            continue
        changed[idx] = _divided(reading.text) if share and percent_shares else reading.text
    if share and percent_shares and typed is not None:  # numbers typed in percent (45) but not formatted as percent
        numbers = typed == "number"
        for idx in typed.index[numbers & ~empty]:
            changed[idx] = _divided(str(text[idx]).strip())
    if not changed:
        return values, problems
    out = text.astype(object)
    out.loc[list(changed)] = list(changed.values())
    return out, problems


def _divided(number: str) -> str:
    """A percent as a fraction, in canonical text (45 -> 0.45), without float noise."""
    try:
        return repr(round(float(number) / 100.0, 12))
    except ValueError:
        return number
