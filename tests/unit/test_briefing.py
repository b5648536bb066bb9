"""The city briefing (HTML and PDF): the lever section lists only levers that raise secondary supply, for
the briefing's own year, and says when none does; the PDF has the city, the narrative, supplier countries
by name and the Sankey, and never leaves a heading alone at the bottom of a page."""

import html

import io

import pandas as pd
import pytest
from pypdf import PdfReader

from decision_tools import pdf_briefing, scenarios, storage
from decision_tools.briefing import BriefingData, build_briefing, gather, levers_for_year, losses, top_levers_section
from decision_tools.storage import Figure


def _ranking(rows):
    return pd.DataFrame([{"lever_id": lid, "lever": name, "competence": "direct", "effect": effect,
                          "verdict": scenarios.verdict("secondary_supply_kg", effect), "cost_eur_per_year": 1000.0,
                          "effect_per_1000_eur": effect} for lid, name, effect in rows])


def test_levers_that_lower_or_do_nothing_are_not_listed():
    # ranked by absolute effect, as leverage_ranking does: the harmful lever is second
    ranking = _ranking([("a", "Collect more", 300.0), ("b", "Fewer cars", -200.0), ("c", "Palladium only", 0.0),
                        ("d", "Take back drawers", 100.0)])
    title, body = top_levers_section(ranking, "Cobalt", 2035)
    assert title == "Top levers for secondary supply in 2035 (illustrative)"
    assert "Collect more" in body and "Take back drawers" in body
    assert body.index("Collect more") < body.index("Take back drawers")
    assert "Fewer cars" not in body and "Palladium only" not in body
    assert "2 lever(s) that lower secondary supply of Cobalt or do nothing for it are left out." in html.unescape(body)


def test_says_when_no_lever_raises_secondary_supply():
    _, body = top_levers_section(_ranking([("b", "Fewer cars", -200.0), ("c", "Palladium only", 0.0)]), "Cobalt", 2035)
    assert "<table" not in body and "Fewer cars" not in body
    assert "No lever raises the secondary supply of Cobalt in 2035." in html.unescape(body)


@pytest.fixture(scope="module")
def ghent_2030(small_db):
    """The briefing's content for Ghent, cobalt, 2030 (computed once: the lever ranking runs the model)."""
    with storage.Store.open(small_db) as opened:
        yield opened, gather(opened, 1, "Ghent", 2030, "Co")


def test_the_city_briefing_lists_no_lever_that_lowers_secondary_supply(ghent_2030):
    # The levers are evaluated for the briefing's own year (2030), not 2035 as before.
    store, data = ghent_2030
    doc = html.unescape(build_briefing(store, 1, "Ghent", 2030, "Co", data=data).decode("utf-8"))
    assert "Top levers for secondary supply in 2035" not in doc
    section = doc[doc.index("Top levers for secondary supply in 2030"):]
    section = section[:section.index("Who supplies")]
    ranking = scenarios.ScenarioEngine(store.input_tables(1), "Ghent", ["Co"]).leverage_ranking("secondary_supply_kg", 2030)
    raising = ranking[ranking["verdict"] == scenarios.IMPROVES].sort_values("effect", ascending=False)
    for name in ranking.loc[ranking["verdict"] != scenarios.IMPROVES, "lever"]:
        assert name not in section, name
    for name in raising["lever"].head(5):
        assert name in section, name


def test_the_levers_are_those_of_the_briefings_own_year(ghent_2030):
    # Hand-checked against the engine: the lever effects shown are the ranking's for 2030; the old code
    # evaluated max(year, 2035) = 2035, whose effects are larger (the levers ramp up over the years).
    store, data = ghent_2030
    ranking = scenarios.ScenarioEngine(store.input_tables(1), "Ghent", ["Co"]).leverage_ranking("secondary_supply_kg", 2030)
    raising = ranking[ranking["verdict"] == scenarios.IMPROVES].sort_values("effect", ascending=False).head(5)
    assert data.lever_title == "Top levers for secondary supply in 2030 (illustrative)"
    assert data.levers["lever"].tolist() == raising["lever"].tolist()
    assert data.levers["effect"].tolist() == pytest.approx(raising["effect"].tolist())


def test_before_the_first_lever_starts_the_briefing_says_so(store):
    title, levers, note = levers_for_year(store.input_tables(1), "Ghent", "Co", "Cobalt", 2020)
    assert title == "Top levers for secondary supply in 2020 (illustrative)" and levers.empty
    first = int(store.input_tables(1)["levers"]["start_year"].astype(int).min())
    assert note.startswith(f"No lever acts before {first}, so none changes Cobalt in 2020.")


def _pdf_text(pdf: bytes) -> str:
    """The PDF's text with runs of white space as one space (justified lines are spaced out)."""
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split())


def test_the_pdf_briefing_has_city_narrative_suppliers_and_levers_of_its_year(ghent_2030):
    store, data = ghent_2030
    pdf = pdf_briefing.render(data)
    assert pdf.startswith(b"%PDF")
    text = _pdf_text(pdf)
    assert "Ghent: Cobalt (Co), 2030" in text and "dataset version 1" in text
    assert " ".join(data.narrative.split()[:12]) in text  # the narrative's opening, as written
    top = data.suppliers.iloc[0]
    assert top["country"] != "" and len(top["country"]) > 3  # a name, not an ISO code
    assert top["country"] in text and top["country"] in data.narrative
    assert "Top levers for secondary supply in 2030" in text and "in 2035" not in text
    for lever in data.levers["lever"]:
        assert lever[:25] in text, lever
    assert "Sources and confidence" in text and "illustrative" in text


def test_supplier_countries_are_named_with_shares(ghent_2030):
    _, data = ghent_2030
    countries = data.suppliers["country"].tolist()
    assert countries and not any(len(c) == 3 and c.isupper() for c in countries)  # names, not ISO codes
    first_stage = data.suppliers[data.suppliers["stage"] == data.suppliers["stage"].iloc[0]]
    assert first_stage["share"].sum() == pytest.approx(1.0, abs=1e-6)  # with the rest of the world


def _hand_made(city="Łódź", narrative="Łódź keeps 1.00 t of cobalt in use.") -> BriefingData:
    chain = pd.DataFrame({"from_process": ["market", "use", "end_of_life", "end_of_life", "separate_collection",
                                           "recycling", "recycling"],
                          "to_process": ["use", "end_of_life", "residual_waste", "separate_collection", "recycling",
                                         "secondary_supply", "recycling_loss"],
                          "kg": [100.0, 60.0, 20.0, 40.0, 40.0, 30.0, 10.0]})
    figures = {"in_use_stock": Figure("in_use_stock", "In-use stock", 1000.0, "medium", "A", False)}
    return BriefingData(city=city, year=2030, material="Co", material_name="Cobalt", version_id=7, dataset_date="2026-11-30",
                        figures=figures, chain=chain, losses=losses(chain),
                        suppliers=pd.DataFrame({"stage": ["extraction"], "country": ["DR Congo"], "share": [0.7],
                                                "confidence": ["medium"]}),
                        lever_title="Top levers for secondary supply in 2030 (illustrative)", levers=pd.DataFrame(),
                        lever_note="No lever raises the secondary supply of Cobalt in 2030.",
                        sources=pd.DataFrame({"source_id": ["A"], "short_citation": ["Publisher (2024): A title"],
                                              "confidence_labels": ["medium"]}), narrative=narrative)


def test_the_pdf_writes_any_city_name_and_the_supplier_in_percent():
    text = _pdf_text(pdf_briefing.render(_hand_made()))
    assert "Łódź: Cobalt (Co), 2030" in text and "Łódź keeps 1.00 t of cobalt in use." in text
    assert "DR Congo" in text and "70.0 %" in text and "dataset version 7 of 2026-11-30" in text
    assert "Residual waste" in text and "Publisher (2024): A title" in text


def test_a_heading_that_would_sit_alone_at_the_bottom_moves_to_the_next_page():
    assert pdf_briefing.needs_new_page(270.0, 281.0, 9.0, 16.0)  # 9 mm of heading fit, the block's 16 do not
    assert not pdf_briefing.needs_new_page(200.0, 281.0, 9.0, 16.0)
    pdf = pdf_briefing.BriefingPdf()
    pdf.add_page()
    pdf.set_y(pdf.page_break_trigger - pdf_briefing.HEADING_HEIGHT_MM - 3)  # room for the heading, not its text
    pdf.section("Orphan candidate", pdf.paragraph_height("text " * 200))
    pdf.paragraph("text " * 200)
    assert pdf.log == [("heading", 2, "Orphan candidate"), ("block", 2, "paragraph")]


def test_no_heading_is_the_last_element_of_a_page():
    # A narrative long enough to push later headings towards page ends, at several lengths.
    for words in range(40, 700, 30):
        log = pdf_briefing.render_log(_hand_made(narrative="Cobalt " * words))
        for i, (kind, page, text) in enumerate(log):
            if kind == "heading":
                assert i + 1 < len(log) and log[i + 1][1] == page, (words, text, log)


def test_the_sankey_fits_its_box_and_nodes_never_overlap():
    layout = pdf_briefing.sankey_layout(_hand_made().chain, 174.0, 78.0)
    nodes = layout["nodes"]
    assert {n["process"] for n in nodes} >= {"market", "use", "end_of_life", "secondary_supply", "residual_waste"}
    for node in nodes:
        assert node["y"] >= 0 and node["y"] + node["height"] <= 78.0 + 1e-9 and 0 <= node["x"] <= 174.0
    by_x = {}
    for node in nodes:
        by_x.setdefault(node["x"], []).append(node)
    for column in by_x.values():
        column.sort(key=lambda n: n["y"])
        for upper, lower in zip(column, column[1:]):
            assert upper["y"] + upper["height"] <= lower["y"]
    thickness = {(b["from"], b["to"]): b["thickness"] for b in layout["bands"]}
    assert thickness[("end_of_life", "separate_collection")] == pytest.approx(2 * thickness[("end_of_life", "residual_waste")])
