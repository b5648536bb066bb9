"""Methods and sources page: the formulas and every source with its confidence labels."""

from decision_tools import storage


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
