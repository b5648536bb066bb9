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
    assert exports.chart_svg(chart.to_dict()) == exports.chart_svg(chart)  # the pages pass their cached specs


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


def test_csv_has_a_byte_order_mark_and_keeps_letters():
    frame = pd.DataFrame({"city": ["Kraków", "Łódź"], "kg": [1.5, 2.0]})
    data = exports.table_csv(frame)
    assert data.startswith(b"\xef\xbb\xbf")  # Excel on Windows reads UTF-8 only with the mark
    path = io.StringIO(data.decode("utf-8-sig"))
    assert pd.read_csv(path)["city"].tolist() == ["Kraków", "Łódź"]


def test_the_bom_csv_round_trips_through_a_file(tmp_path):
    target = tmp_path / "t.csv"
    target.write_bytes(exports.table_csv(pd.DataFrame({"city": ["Kraków"]})))
    with open(target, encoding="utf-8-sig") as handle:
        assert handle.read().splitlines() == ["city", "Kraków"]


def test_no_float_noise_and_years_stay_whole_numbers():
    frame = pd.DataFrame({"kg": [33024.057000000004, 0.1 + 0.2], "year": [2030.0, float("nan")], "count": [3, 4],
                          "org_id": ["007", "x"]})
    lines = exports.table_csv(frame).decode("utf-8-sig").splitlines()
    assert lines == ["kg,year,count,org_id", "33024.1,2030,3,007", "0.3,,4,x"]
    back = pd.read_excel(io.BytesIO(exports.table_xlsx(frame)), dtype={"org_id": str})
    assert back["kg"].tolist() == [33024.1, 0.3] and back["year"].iloc[0] == 2030 and back["org_id"].iloc[0] == "007"
    assert exports.round_significant(1234567.891) == 1234570.0 and exports.round_significant(0.000123456789) == 0.000123457


def test_units_are_read_from_column_names():
    unit = exports.column_unit
    assert unit("recovered_kg") == "kg" and unit("kg") == "kg" and unit("Mass (kg)") == "kg"
    assert unit("secondary_supply_kg_per_year") == "kg per year" and unit("cost_eur_per_year") == "EUR per year"
    assert unit("largest_share").startswith("share 0..1") and unit("year") == "calendar year"
    assert unit("start_year") == "calendar year" and unit("lever") == "" and unit("city") == ""


def test_xlsx_has_an_about_sheet_with_units_sources_version_and_link():
    from openpyxl import load_workbook

    frame = pd.DataFrame({"city": ["Kraków"], "eol_kg": [12.5], "collection_share": [0.4], "source_id": ["EC_CRM_2023;WMD_2024"]})
    about = exports.about_table(frame, "losses Kraków Co 2030", 4, "http://host/indicators?city=Krak%C3%B3w&year=2030",
                                sources=["PAGE_SOURCE"], citations={"WMD_2024": "BMF (2024): World Mining Data 2024"})
    book = load_workbook(io.BytesIO(exports.table_xlsx(frame, about=about)))
    assert book.sheetnames == ["data", "about"]
    rows = {row[0]: row[1] for row in book["about"].iter_rows(values_only=True) if row[0]}
    assert rows["table"] == "losses Kraków Co 2030" and rows["dataset version"] == "4"
    assert rows["link to the view"] == "http://host/indicators?city=Krak%C3%B3w&year=2030"
    assert rows["eol_kg"] == "kg" and rows["collection_share"].startswith("share 0..1") and rows["city"].startswith("no unit")
    sources = [row[1] for row in book["about"].iter_rows(values_only=True) if row[0] == "source"]
    assert sources == ["EC_CRM_2023", "WMD_2024: BMF (2024): World Mining Data 2024", "PAGE_SOURCE"]
    assert rows["exported"].endswith("UTC")
    assert book["data"]["A2"].value == "Kraków"


def test_xlsx_without_about_is_one_sheet_as_before():
    from openpyxl import load_workbook

    assert load_workbook(io.BytesIO(exports.table_xlsx(pd.DataFrame({"a": [1]})))).sheetnames == ["data"]


def test_short_citations():
    assert exports.reference_entry("Eurostat", 2024, "Population on 1 January") == "Eurostat (2024): Population on 1 January"
    assert exports.reference_entry("Eurostat", float("nan"), "") == "Eurostat"
    assert len(exports.reference_entry("P", 2020, "x" * 300)) == 110


def test_a_plotly_figure_dict_exports_as_offline_html():
    import plotly.graph_objects as go

    figure = go.Figure(go.Sankey(node={"label": ["a", "b"]}, link={"source": [0], "target": [1], "value": [2.0]})).to_dict()
    html = exports.figure_html(figure)  # the pages keep the figure as a dict (cached)
    assert b"<html" in html[:300].lower() and b"sankey" in html
    assert b"<script src=" not in html  # plotly.js inlined: no network needed
