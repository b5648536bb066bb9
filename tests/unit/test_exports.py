"""Exports: XLSX reads back (formulas neutralised), charts render offline as PNG, SVG and HTML, the
briefing escapes text."""

import io

import altair as alt
import pandas as pd

from decision_tools import exports
from decision_tools.views import new_view_id, valid_view_id, view_state


def test_tables_read_back_and_never_carry_formulas():
    frame = pd.DataFrame({"name": ["=HYPERLINK(\"x\")", "plain"], "kg": [1.5, -2.0]})
    back = pd.read_excel(io.BytesIO(exports.table_xlsx(frame)))
    assert back["name"].tolist() == ["'=HYPERLINK(\"x\")", "plain"]
    assert back["kg"].tolist() == [1.5, -2.0]  # numbers stay numbers
    assert exports.table_csv(frame).decode().splitlines()[1].startswith("\"'=HYPERLINK")


def test_charts_render_offline():
    chart = alt.Chart(pd.DataFrame({"x": [1, 2], "y": [3, 4]})).mark_line().encode(x="x", y="y")
    assert exports.chart_png(chart).startswith(b"\x89PNG\r\n\x1a\n")
    assert b"<svg" in exports.chart_svg(chart)[:200]
    html = exports.chart_html(chart)
    assert b"<html" in html[:200].lower() and b"cdn.jsdelivr" not in html  # bundled: no network needed


def test_briefing_escapes_user_text():
    doc = exports.briefing_html("Ghent <b>", "sub", 3, [("Numbers", exports.table_html(pd.DataFrame({"a": ["<script>"]})))])
    assert b"<script>" not in doc and b"&lt;script&gt;" in doc and b"Dataset version 3" in doc


def test_view_ids_and_state():
    view_id = new_view_id()
    assert valid_view_id(view_id) and len(view_id) == 8
    assert not valid_view_id("x' OR 1=1") and not valid_view_id(None)
    assert view_state(["city", "view", "version", "gone"], {"city": "Ghent", "view": "x", "version": "2"}) == {"city": "Ghent"}


def test_the_city_briefing_has_every_part(store):
    from decision_tools.briefing import build_briefing

    doc = build_briefing(store, 1, "Ghent", 2030, "Co").decode("utf-8")
    for part in ("Ghent: Cobalt (Co), 2030", "Dataset version 1", "Headline numbers", "<svg", "Top levers",
                 "Who supplies Cobalt", "Sources and confidence", "illustrative"):
        assert part in doc, part


def test_the_session_export_has_every_steps_numbers_and_keeps_line_breaks():
    from decision_tools import exports
    from decision_tools.storage import Figure

    items = pd.DataFrame({"position": [1, 2], "view_id": ["aaaa1111", "bbbb2222"], "note": ["Where is cobalt lost?\nAsk the hub.", ""],
                          "title": ["Cobalt", "Levers"], "page": ["", "policy"],
                          "state": ['{"city": "Ghent", "year": 2030, "material": "Co"}', '{"city": "Ghent"}'],
                          "dataset_version": [1, 1]})
    session = {"title": "Seminar", "created_by": "pat", "created_at": pd.Timestamp("2026-03-12"), "items": items}
    comments = pd.DataFrame({"position": [1], "created_at": [pd.Timestamp("2026-03-12 10:00")], "username": ["rita"],
                             "text": ["First line\nsecond line"]})
    figures = {1: {"in_use_stock": Figure("in_use_stock", "In-use stock", 33024.057, "medium", "SCRREEN", False),
                   "end_of_life": Figure("end_of_life", "Reaching end of life", 1200.0, "low", "UNITAR_GEM_2024", True)}}
    doc = exports.session_html(session, comments, "http://host/", figures).decode()
    assert "In-use stock" in doc and "33.0 t" in doc and "1.20 t/yr" in doc and "UNITAR_GEM_2024" in doc
    assert doc.count("In-use stock") == 1  # the second step has no full selection, so no numbers
    assert "white-space:pre-wrap" in doc and "First line\nsecond line" in doc and "Ask the hub." in doc
