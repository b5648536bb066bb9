"""Methods and sources page: the formulas and every source with its confidence labels."""

import pytest

from decision_tools import storage
from tests.app.conftest import open_page


# Keeping the selection across a page switch is checked in the browser (tests/e2e): AppTest drops
# the main script's sidebar after switch_page, so it cannot show it.


def test_methods_page_lists_formulas_and_sources(app, small_db):
    at = app(city="Ghent").run()
    at.switch_page("pages/methods.py").run()
    assert not at.exception
    assert at.title[0].value == "Methods and sources"
    text = " ".join(m.value for m in at.markdown)
    assert "stock-driven" in text and "Mass balance" in text and "transfer coefficients" in text
    with storage.Store.open(small_db) as store:
        expected = set(store.sources(1)["source_id"])
    frames = [df.value for df in at.dataframe]
    listed = next(f for f in frames if "id" in f.columns)
    assert set(listed["id"]) == expected
    assert {"high", "medium", "low", "derived", "illustrative"} <= set(frames[0]["label"])


def test_methods_page_compares_the_model_with_published_figures(app, small_db):
    at = app(city="Ghent").run()
    at.switch_page("pages/methods.py").run()
    assert not at.exception
    assert "How these numbers compare" in [s.value for s in at.subheader]
    text = " ".join(m.value for m in at.markdown)
    assert "0.5-2" in text and "off by more than 2x" in text  # the verdict rule is written down
    with storage.Store.open(small_db) as store:
        figures = store.table("external_figures", 1)
    table = next(df.value for df in at.dataframe if "verdict" in df.value.columns)
    assert list(table["figure_id"]) == list(figures["figure_id"])
    cars = table.set_index("figure_id").loc["eurostat_cars_eu_2022"]  # a known published figure, shown with its ratio
    assert cars["published value"] == 0.56 and cars["ratio"] > 0
    share = table.set_index("figure_id").loc["eurostat_weee_collection_rate_eu_2022"]
    assert share["published value"] == pytest.approx(40.1) and share["unit"] == "%"  # percent on screen
    labels = [b.label for b in at.get("download_button")]
    assert labels.count("CSV") >= 3


def test_methods_page_has_a_glossary_with_one_anchor_per_term(app):
    from decision_tools import glossary

    at = app(city="Ghent").run()
    at.switch_page("pages/methods.py").run()
    assert not at.exception
    headings = {h.anchor: h.value for h in at.subheader if h.anchor}
    assert set(glossary.TERMS) <= set(headings)
    assert headings["hibernating-stock"] == "Hibernating stock"
    assert headings["eol-rir"].startswith("EOL-RIR") and headings["hhi"].startswith("HHI")
    assert [h.anchor for h in at.header if h.anchor == "glossary"] == ["glossary"]
    text = " ".join(m.value for m in at.markdown)
    assert glossary.TERMS["hibernating-stock"].definition in text
    assert "[Hibernating stock](#hibernating-stock)" in text  # the index at the top of the glossary


def test_the_data_tables_are_picked_one_at_a_time_and_a_bad_link_says_so(app):
    at = open_page(app, "pages/methods.py", methods_table="Offers")
    assert not at.exception
    assert at.selectbox(key="methods_table").value == "Offers"
    assert any("offer_id" in df.value.columns for df in at.dataframe)
    at = open_page(app, "pages/methods.py", methods_table="No such table")
    assert not at.exception
    assert any("No such table" in w.value and "showing the first" in w.value for w in at.warning)
    at.selectbox(key="methods_table").select("Levers").run()  # a table picked: the notice has done its work
    assert not any("No such table" in w.value for w in at.warning)
