"""Exports: tables as CSV and XLSX, charts as PNG, SVG or standalone HTML (offline, with
vl-convert for Altair and Plotly's own bundle), and the printable city briefing.

Text cells that a spreadsheet would run as a formula are prefixed with an apostrophe in every export.
"""

from __future__ import annotations

import html
import io
import json
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


def table_csv(frame: pd.DataFrame) -> bytes:
    return _safe_cells(frame).to_csv(index=False).encode("utf-8")


def table_xlsx(frame: pd.DataFrame, sheet: str = "data") -> bytes:
    buffer = io.BytesIO()
    safe = _safe_cells(frame)
    for column in safe.columns:  # Excel has no time zones
        if isinstance(safe[column].dtype, pd.DatetimeTZDtype):
            safe[column] = safe[column].dt.tz_localize(None)
    safe.to_excel(buffer, index=False, sheet_name=sheet[:31])
    return buffer.getvalue()


def chart_png(chart) -> bytes:
    import vl_convert as vlc  # loads a JavaScript engine: only when someone exports

    return vlc.vegalite_to_png(chart.to_dict(), scale=2)


def chart_svg(chart) -> bytes:
    import vl_convert as vlc

    return vlc.vegalite_to_svg(chart.to_dict()).encode("utf-8")


def chart_html(chart) -> bytes:
    import vl_convert as vlc

    return vlc.vegalite_to_html(chart.to_dict(), bundle=True).encode("utf-8")


def figure_html(figure) -> bytes:
    """A Plotly figure as one HTML file that works offline (the library is inlined)."""
    return figure.to_html(include_plotlyjs=True, full_html=True).encode("utf-8")


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


def session_html(session: dict, comments: pd.DataFrame, base_url: str, figures: dict[int, dict] | None = None) -> bytes:
    """A discussion session as one document: each step's view (its headline numbers ``figures[position]``,
    storage.Figure by key, where given), note and comments, in order; notes and comments keep their line breaks."""
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
