"""Numbers for people: masses with a sensible unit, shares as percent (only on screen)."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

_MASS_UNITS = ((1e6, "kt"), (1e3, "t"), (1.0, "kg"), (1e-3, "g"), (1e-6, "mg"))


def format_mass(kg: float, digits: int = 3) -> str:
    """A mass in kg written with a unit that keeps the number readable: 1234.5 -> '1.23 t'."""
    if kg is None or (isinstance(kg, float) and math.isnan(kg)):
        return "n/a"
    if kg == 0:
        return "0 kg"
    magnitude = abs(kg)
    for factor, unit in _MASS_UNITS:
        if magnitude >= factor:
            break
    value = kg / factor
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value)))) if value else 0
    return f"{value:,.{decimals}f} {unit}"


def format_share(share: float, decimals: int = 1) -> str:
    """A share 0..1 as percent text: 0.253 -> '25.3 %'."""
    if share is None or (isinstance(share, float) and math.isnan(share)):
        return "n/a"
    return f"{share * 100:.{decimals}f} %"


_MARKDOWN_SPECIALS = set("\\`*_{}[]()<>#+-.!|~$:&=")
# Bare addresses (http://host, www.host, a@host.org) become links after the escapes are resolved, and
# Streamlit turns ":material/name:" into an icon before parsing, so a word joiner (U+2060, invisible) goes
# inside them: the text reads the same and links nowhere.
_WORD_JOINER = "\u2060"
_AUTOLINKS = re.compile(r"(?<=:)(?=//|material/)|(?<=www)(?=\.)|(?<=@)", re.IGNORECASE)
_LINE_BREAKS = re.compile(r"[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+")


def escape_markdown(text: object, max_length: int = 60) -> str:
    """User, uploaded or URL text made inert for Markdown, shortened to ``max_length`` characters: one
    line, no links (bracketed, <angled> or bare), images, HTML, entities or formatting. Use it for every
    piece of such text that reaches st.markdown, a caption, a title, a notice or any widget label or help
    (Streamlit renders those as Markdown, images included); st.text, st.code and tables show text as is."""
    value = _LINE_BREAKS.sub(" ", str(text))
    if len(value) > max_length:
        value = value[: max_length - 1] + "…"
    value = _AUTOLINKS.sub(_WORD_JOINER, value)
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIALS else ch for ch in value)


# --- Tables and differences for people (issue 16: "Reading the numbers") -------------------------------

EMPTY_CELL = "—"  # what an empty cell shows (never "None" or "nan")
_ACRONYMS = {"hhi": "HHI", "mci": "MCI", "eol": "EOL", "rir": "RIR", "eur": "EUR", "eu": "EU", "iso3": "ISO3",
             "id": "ID", "crma": "CRMA", "wgi": "WGI", "sr": "SR", "pv": "PV", "weee": "WEEE", "elv": "ELV"}


_DEFAULT_HEADERS = {"kg": "Mass", "country_iso3": "Country", "share": "Share"}


def _missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value) or (isinstance(value, str) and not value.strip())  # noqa: PLR0124 (NaN, NaT, pd.NA), ""
    except (TypeError, ValueError):
        return False


def format_significant(value: float, digits: int = 3) -> str:
    """A number with ``digits`` significant digits, thousands separators and no exponent:
    33024.057 -> '33,000'; 0.0012345 -> '0.00123'; 2.5 -> '2.50'."""
    if _missing(value):
        return EMPTY_CELL
    value = float(value)
    if value == 0:
        return "0"
    exponent = math.floor(math.log10(abs(value)))
    rounded = round(value, digits - 1 - exponent)
    if rounded != 0:  # 9.996 rounds to 10.0: count the digits of the rounded number
        exponent = math.floor(math.log10(abs(rounded)))
    decimals = max(0, digits - 1 - exponent)
    text = f"{rounded:,.{decimals}f}"
    return text[1:] if text.startswith("-") and float(rounded) == 0 else text


def mass_unit(kg_values) -> tuple[str, float]:
    """The one unit (and its size in kg) for a column of masses, chosen from the largest magnitude, so
    that every cell of a column shares it: [33024.057, 512.0] -> ('t', 1000.0)."""
    magnitudes = [abs(float(v)) for v in kg_values if not _missing(v)]
    largest = max(magnitudes, default=0.0)
    if largest == 0:
        return "kg", 1.0
    for factor, unit in _MASS_UNITS:
        if largest >= factor:
            return unit, factor
    return _MASS_UNITS[-1][1], _MASS_UNITS[-1][0]


def human_header(column: str) -> str:
    """A column name for people: 'largest_supplier' -> 'Largest supplier', 'hhi_listed' -> 'HHI listed'."""
    words = [_ACRONYMS.get(w.lower(), w) for w in str(column).replace("_", " ").split()]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def column_kind(column: str, values: pd.Series) -> str:
    """How a column is written, from its name and type: mass (kg), share (0..1), yes/no, integer,
    number (3 significant digits) or text."""
    import pandas as pd

    name = str(column).lower()
    if name == "kg" or name.endswith("_kg") or "(kg" in name:
        return "mass"
    if name == "share" or name.endswith("_share") or name.startswith("share_"):
        return "share"
    if pd.api.types.is_bool_dtype(values):
        return "yes/no"
    if pd.api.types.is_integer_dtype(values):
        return "integer"
    if pd.api.types.is_float_dtype(values):
        return "number"
    return "text"


def _header_with_unit(header: str, unit: str) -> str:
    if "{unit}" in header:
        return header.replace("{unit}", unit)
    return f"{header} ({unit})"


def display_table(frame: pd.DataFrame, columns: dict | None = None, names: dict | None = None) -> pd.DataFrame:
    """A table as people read it: human headers with units, masses in one unit per column (t, kg, g, ...)
    to 3 significant digits, shares as percent with one decimal, ids replaced by names, "—" for empty cells.
    Every cell is text (the download keeps the raw numbers).

    ``columns``: which columns to show, in order, raw name -> header, or -> (header, kind) to force a kind
    ("mass", "share", "yes/no", "integer", "number", "text"); a header may hold "{unit}" where the mass unit
    goes ("End of life ({unit} per year)"), otherwise the unit is appended: "Mass" -> "Mass (t)". Without
    ``columns`` every column is shown with a header made from its name.
    ``names``: raw column -> {id: name}, e.g. {"country_iso3": {"CHN": "China"}}; ids without a name stay."""
    import pandas as pd

    spec = columns if columns is not None else {c: None for c in frame.columns}
    shown = {}
    for column, how in spec.items():
        values = frame[column]
        header, kind = (how if isinstance(how, tuple) else (how, None))
        header = header or _DEFAULT_HEADERS.get(str(column)) or human_header(
            str(column).removesuffix("_kg").removesuffix("_share").replace("_iso3", ""))
        if names and column in names:
            mapping = names[column]
            values = values.map(lambda v, mapping=mapping: mapping.get(v, v) if not _missing(v) else v)
            kind = kind or "text"
        kind = kind or column_kind(column, frame[column])
        if kind == "mass":
            unit, factor = mass_unit(values)
            header = _header_with_unit(header, unit)
            cells = values.map(lambda v, factor=factor: EMPTY_CELL if _missing(v) else format_significant(float(v) / factor))
        elif kind == "share":
            header = header if "%" in header else f"{header} (%)"
            cells = values.map(lambda v: EMPTY_CELL if _missing(v) else f"{float(v) * 100:,.1f}")
        elif kind == "yes/no":
            cells = values.map(lambda v: EMPTY_CELL if _missing(v) else ("yes" if bool(v) else "no"))
        elif kind == "integer":
            cells = values.map(lambda v: EMPTY_CELL if _missing(v) else f"{int(v):,}")
        elif kind == "number":
            cells = values.map(lambda v: EMPTY_CELL if _missing(v) else format_significant(v))
        else:
            cells = values.map(lambda v: EMPTY_CELL if _missing(v) else str(v))
        shown[header] = cells.astype(str).to_numpy()
    return pd.DataFrame(shown, index=range(len(frame)))


def format_difference(value: float, reference: float, kind: str = "share", reference_name: str = "the baseline") -> str:
    """The gap between a value and a reference (a baseline, benchmark or target), worded so that below
    reads as below: shares in percentage points ('10.8 points below the EU benchmark'), masses with a
    unit ('2.50 t above the baseline'), other numbers to 3 significant digits."""
    if _missing(value) or _missing(reference):
        return f"no comparison with {reference_name}"
    change = float(value) - float(reference)
    if kind == "share":
        amount = f"{abs(change) * 100:.1f}"
        if amount == "0.0":
            return f"equal to {reference_name}"
        return f"{amount} {'point' if amount == '1.0' else 'points'} {'above' if change > 0 else 'below'} {reference_name}"
    if change == 0:
        return f"equal to {reference_name}"
    amount = format_mass(abs(change)) if kind == "mass" else format_significant(abs(change))
    return f"{amount} {'above' if change > 0 else 'below'} {reference_name}"


def difference_direction(value: float, reference: float, kind: str = "share") -> str:
    """'up', 'down' or 'off' (equal as shown, or nothing to compare): the arrow for format_difference."""
    if _missing(value) or _missing(reference):
        return "off"
    change = float(value) - float(reference)
    if kind == "share" and f"{abs(change) * 100:.1f}" == "0.0" or change == 0:
        return "off"
    return "up" if change > 0 else "down"


def fill_empty(frame: pd.DataFrame) -> pd.DataFrame:
    """A table shown as it is stored, with "—" in its empty cells instead of "None": a column with an empty
    cell becomes text (its numbers written in full, up to 15 significant digits); other columns are unchanged."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if not values.map(_missing).any():
            continue
        out[column] = values.map(lambda v: EMPTY_CELL if _missing(v) else
                                 f"{v:.15g}" if isinstance(v, float) else str(v)).astype(object)
    return out
