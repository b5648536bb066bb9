"""Exports: tables as CSV and XLSX, charts as PNG, SVG or standalone HTML (offline, with
vl-convert for Altair and Plotly's own bundle), and the printable city briefing.

Text cells that a spreadsheet would run as a formula are prefixed with an apostrophe in every export.
CSV is UTF-8 with a byte-order mark (Excel on Windows then reads "Kraków" right); numbers are rounded
to ``SIGNIFICANT_DIGITS`` so float noise (33024.057000000004) never reaches a file; an XLSX carries a
second sheet "about" (what the table is, units, sources, dataset version, export date, link to the view).
"""

from __future__ import annotations

import html
import io
import json
import math
from datetime import datetime, timezone
from urllib.parse import quote

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@")


def _safe_cells(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            values = out[column]
            risky = values.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_PREFIXES))
            out[column] = values.where(~risky, "'" + values.astype(str))
    return out


SIGNIFICANT_DIGITS = 6  # more than any input figure carries; enough to re-add columns without visible drift


def round_significant(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """``value`` rounded to ``digits`` significant digits (33024.057000000004 -> 33024.1 with 6)."""
    if value is None or not math.isfinite(value) or value == 0:
        return value
    return float(f"{value:.{digits}g}")


def tidy_numbers(frame: pd.DataFrame, digits: int = SIGNIFICANT_DIGITS) -> pd.DataFrame:
    """Float columns without float noise: whole-number columns (years, ids, counts that became floats
    because of a gap) are written as integers, the others rounded to ``digits`` significant digits.
    Integer and text columns are left as they are."""
    out = frame.copy()
    if not out.columns.is_unique:  # a column name twice: leave the numbers as they are rather than guess
        return out
    for column in out.columns:
        values = out[column]
        if not pd.api.types.is_float_dtype(values.dtype):
            continue
        finite = values.dropna()
        if len(finite) and bool(((finite % 1) == 0).all()) and bool((finite.abs() < 2**53).all()):
            out[column] = values.astype("Int64")
        else:
            out[column] = values.map(lambda v: round_significant(v, digits) if pd.notna(v) else v).astype(values.dtype)
    return out


def table_csv(frame: pd.DataFrame) -> bytes:
    """CSV in UTF-8 with a byte-order mark: Excel on Windows reads the letters right only with it."""
    return _safe_cells(tidy_numbers(frame)).to_csv(index=False).encode("utf-8-sig")


def column_unit(column: object) -> str:
    """The unit of a column, read from its name (``*_kg``, ``*_share``, "mass (kg)" ...); "" if it has none."""
    name = str(column).lower().strip()
    rules = (
        (("kg_per_year", "kg per year", "kg/yr", "(kg/yr)"), "kg per year"),
        (("eur_per_year", "eur per year"), "EUR per year"),
        (("per_1000_eur",), "the effect's unit per 1,000 EUR of yearly cost"),
        (("_share", "share_", "(share)"), "share 0..1 (0.25 = 25 %)"),
        (("_pct", "percent", "(%)"), "percent"),
        (("_kg", "(kg)"), "kg"),
        (("_g_per_unit", "g per unit"), "g per unit"),
        (("_eur", "(eur)"), "EUR"),
        (("_t", "(t)"), "tonnes"),
    )
    if name in ("kg", "mass_kg"):
        return "kg"
    if name in ("share", "rate"):
        return "share 0..1 (0.25 = 25 %)"
    if name == "year" or name.endswith("_year") and "per_year" not in name:
        return "calendar year"
    for endings, unit in rules:
        if any(name.endswith(e) or (e.startswith("(") and e in name) or (e.startswith("_") and e + "_" in name)
               for e in endings):
            return unit
    return ""


SOURCE_COLUMNS = ("source_id", "source_ids", "sources")


def reference_entry(publisher: object, year: object, citation: object, max_length: int = 110) -> str:
    """'Publisher (year): title' cut to ``max_length`` characters, for a reader to find the source."""
    head = "" if publisher is None or pd.isna(publisher) else str(publisher).strip()
    if year is not None and pd.notna(year) and str(year).strip():
        text = str(year).strip()
        head += f" ({int(float(text))})" if text.replace(".", "", 1).isdigit() else f" ({text})"
    title = "" if citation is None or pd.isna(citation) else str(citation).strip()
    text = f"{head.strip()}: {title}" if head.strip() and title else (head.strip() or title)
    return text if len(text) <= max_length else text[:max_length - 1].rstrip() + "…"


def table_sources(frame: pd.DataFrame) -> list[str]:
    """The source ids cited in a table's source columns (several per cell, separated by ';' or ',')."""
    ids: list[str] = []
    for column in frame.columns:
        if str(column).lower() in SOURCE_COLUMNS:
            for cell in frame[column].dropna().astype(str):
                for part in cell.replace(",", ";").split(";"):
                    if part.strip() and part.strip() not in ids:
                        ids.append(part.strip())
    return ids


def about_table(frame: pd.DataFrame, title: str, dataset_version: int | None = None, link: str = "",
                sources: list[str] | None = None, citations: dict[str, str] | None = None,
                exported_at: datetime | None = None) -> pd.DataFrame:
    """The "about" sheet of an XLSX download as rows (item, value): what the table is, the dataset
    version, the export date, the link to the view, the sources (ids found in the table and the page's
    ``sources``, with their ``citations`` where known) and the unit of every column."""
    stamp = (exported_at or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    rows = [("table", title), ("dataset version", "" if dataset_version is None else str(dataset_version)),
            ("exported", stamp), ("link to the view", link)]
    cited = table_sources(frame) + [s for s in (sources or []) if s not in table_sources(frame)]
    if cited:
        for source_id in cited:
            citation = (citations or {}).get(source_id, "")
            rows.append(("source", f"{source_id}: {citation}" if citation else source_id))
    else:
        rows.append(("source", "none recorded for this table"))
    rows.append(("", ""))
    rows.append(("column", "unit"))
    for column in frame.columns:
        unit = "yes/no" if pd.api.types.is_bool_dtype(frame[column].dtype) else column_unit(column)
        rows.append((str(column), unit or "no unit (text, label, code or count)"))
    return _safe_cells(pd.DataFrame(rows, columns=["item", "value"]))


def table_xlsx(frame: pd.DataFrame, sheet: str = "data", about: pd.DataFrame | None = None) -> bytes:
    """The table on ``sheet``; with ``about`` (``about_table``), a second sheet "about" with its metadata."""
    buffer = io.BytesIO()
    safe = _safe_cells(tidy_numbers(frame))
    for column in safe.columns:  # Excel has no time zones
        if isinstance(safe[column].dtype, pd.DatetimeTZDtype):
            safe[column] = safe[column].dt.tz_localize(None)
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        safe.to_excel(writer, index=False, sheet_name=sheet[:31])
        if about is not None:
            about.to_excel(writer, index=False, header=False, sheet_name="about")
            writer.sheets["about"].column_dimensions["A"].width = 28
            writer.sheets["about"].column_dimensions["B"].width = 90
    return buffer.getvalue()


def _vega_lite(chart) -> dict:
    """A chart as its Vega-Lite spec: an Altair chart, or a spec already made (the pages cache theirs)."""
    return chart if isinstance(chart, dict) else chart.to_dict()


def chart_png(chart) -> bytes:
    import vl_convert as vlc  # loads a JavaScript engine: only when someone exports

    return vlc.vegalite_to_png(_vega_lite(chart), scale=2)


def chart_svg(chart) -> bytes:
    import vl_convert as vlc

    return vlc.vegalite_to_svg(_vega_lite(chart)).encode("utf-8")


def chart_html(chart) -> bytes:
    import vl_convert as vlc

    return vlc.vegalite_to_html(_vega_lite(chart), bundle=True).encode("utf-8")


def figure_html(figure) -> bytes:
    """A Plotly figure (or its dict) as one HTML file that works offline (the library is inlined)."""
    import plotly.io

    return plotly.io.to_html(figure, include_plotlyjs=True, full_html=True).encode("utf-8")


def briefing_html(title: str, subtitle: str, dataset_version: int, sections: list[tuple[str, str]]) -> bytes:
    """A printable HTML document. ``sections`` are (heading, body HTML) pairs whose bodies the caller
    builds from trusted pieces (tables via ``table_html``, charts as SVG, text via ``text_html``)."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:'Source Sans Pro',Arial,sans-serif;max-width:960px;margin:2em auto;color:#222}"
        "h1{margin-bottom:0}table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:0.9em}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#f3f3f3}"
        ".meta{color:#666}.note{color:#555;font-size:0.9em;white-space:pre-wrap}@media print{h2{page-break-before:auto}}</style>",
        "</head><body>",
        f"<h1>{html.escape(title)}</h1><p class='meta'>{html.escape(subtitle)}<br>"
        f"Dataset version {dataset_version} · generated {stamp}</p>",
    ]
    for heading, body in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>{body}")
    parts.append("</body></html>")
    return "".join(parts).encode("utf-8")


def table_html(frame: pd.DataFrame) -> str:
    """A table with every cell escaped (user text never becomes markup)."""
    return frame.to_html(index=False, escape=True, border=0, float_format=lambda v: f"{v:,.4g}")


def text_html(text: str) -> str:
    return f"<p class='note'>{html.escape(text)}</p>"


def qr_png(text: str, scale: int = 5) -> bytes:
    """A QR code of ``text`` (a session's link) as PNG bytes, drawn locally (segno, no network)."""
    import io

    import segno

    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()


def session_html(session: dict, comments: pd.DataFrame, base_url: str, figures: dict[int, dict] | None = None,
                 step_charts: dict[int, object] | None = None) -> bytes:
    """A discussion session as one document: each step's view (its headline numbers ``figures[position]``,
    storage.Figure by key, and its chart ``step_charts[position]``, an Altair chart drawn offline as an SVG image,
    where given), note and comments, in order; notes and comments keep their line breaks."""
    import base64

    from .formatting import format_mass

    sections = []
    if not base_url.lower().startswith(("http://", "https://")):  # never javascript: or data: from a Host header
        base_url = "./"
    for item in session["items"].itertuples():
        link = f"{base_url}?view={quote(str(item.view_id), safe='')}"
        body = [f"<p><a href='{html.escape(link, quote=True)}'>{html.escape(link)}</a> · page "
                f"{html.escape(item.page or 'overview')} · dataset version {int(item.dataset_version)}</p>"]
        if item.note:
            body.append(text_html(item.note))
        step_figures = (figures or {}).get(int(item.position))
        if step_figures:
            body.append(table_html(pd.DataFrame([
                {"quantity": figure.label, "value": format_mass(figure.kg) + ("" if key.endswith("_stock") else "/yr"),
                 "confidence": figure.confidence, "sources": figure.source_ids} for key, figure in step_figures.items()])))
        chart = (step_charts or {}).get(int(item.position))
        if chart is not None:  # an image, not inline SVG: nothing in it can run or restyle the document
            svg = base64.b64encode(chart_svg(chart)).decode("ascii")
            body.append(f"<p><img class='chart' alt='Chart of step {int(item.position)}' style='max-width:100%' "
                        f"src='data:image/svg+xml;base64,{svg}'></p>")
        saved = json.loads(item.state)
        state = pd.DataFrame({"setting": list(saved), "value": [str(v) for v in saved.values()]})
        body.append(table_html(state))
        step_comments = comments[comments["position"] == item.position]
        if not step_comments.empty:
            body.append("<h3>Comments</h3>")
            for comment in step_comments.itertuples():
                body.append(f"<p class='meta'>{html.escape(str(comment.username))} · {comment.created_at:%Y-%m-%d %H:%M}</p>"
                            + text_html(str(comment.text)))
        sections.append((f"{item.position}. {item.title}", "".join(body)))
    created = session["created_at"]
    return briefing_html(session["title"], f"Discussion session by {session['created_by']}, {created:%Y-%m-%d}",
                         int(session["items"]["dataset_version"].max()), sections)
