"""The phone layout on the server side: pages that show the chain draw both the Sankey and the list of
steps (the browser's CSS shows one of them by width; tests/e2e/test_phone_browser.py checks that), and
the app sends its one CSS block."""

from decision_tools import chain_charts, storage
from tests.app.conftest import open_page


def test_the_overview_draws_the_sankey_and_the_steps_of_the_same_chain(app, small_db):
    at = app(city="Ghent", year="2030", material="Co").run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 1
    with storage.Store.open(small_db) as store:
        steps = chain_charts.chain_steps(store.chain(1, "Ghent", 2030, "Co"))
    bars = [p.proto.text for p in at.get("progress")]
    for row in steps.itertuples():
        shown = bars if row.depth > 0 else [m.value for m in at.markdown]
        assert any(row.label.split(" (")[0] in text for text in shown), row.label
    css = [h.proto.body for h in at.get("html")]
    assert any("st-key-chain_wide_" in body and "@media" in body for body in css)


def test_the_indicators_page_draws_the_steps_too(app):
    at = open_page(app, "pages/indicators.py", city="Ghent", year="2030", material="Co")
    assert not at.exception
    assert any("Separately collected" in p.proto.text for p in at.get("progress"))
