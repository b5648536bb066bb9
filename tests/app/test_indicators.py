"""Circularity indicators page: renders, shows the indicators with ranges, restores the URL state."""

from decision_tools import storage, uncertainty
from decision_tools.formatting import format_share
from tests.app.conftest import open_page as open_app_page


def open_page(app, user=None, **params):
    return open_app_page(app, "pages/indicators.py", user, **params)


def test_renders_with_every_chart(app):
    at = open_page(app, city="Ghent", year="2030", material="Co")
    assert not at.exception
    assert at.title[0].value == "Circularity indicators · Ghent · 2030"
    assert len(at.get("plotly_chart")) == 1
    assert len(at.get("deck_gl_json_chart")) == 1
    assert len(at.get("vega_lite_chart")) >= 5  # two band charts, the rate chart, MCI, city comparison


def test_indicator_numbers_are_the_monte_carlo_medians(app, small_db):
    at = open_page(app, city="Ghent", year="2030", material="Co")
    with storage.Store.open(small_db) as store:
        sim = uncertainty.simulate(store.input_tables(1), "Ghent", ["Co"])
    samples = uncertainty.indicator_samples(sim, 2030)
    shown = {m.label: m.value for m in at.metric}
    assert shown["End-of-life recycling rate"] == format_share(uncertainty.summarise(samples["eol_recycling_rate"])["median"])
    assert shown["Collection rate"] == format_share(uncertainty.summarise(samples["collection_rate"])["median"])
    captions = " ".join(c.value for c in at.caption)
    assert "5-95 %" in captions and "confidence **illustrative**" in captions and "Sources of these indicators" in captions


def test_url_state_restores_scope_and_rate(app):
    # Query params are cleared by AppTest on switch_page, so the page is opened through its own URL state:
    # the bound widgets read the params on the first run of the session.
    at = app(city="Delft", year="2035", material="Nd", all_crms="true", rate="Collection rate").run()
    at.switch_page("pages/indicators.py").run()
    assert not at.exception
    assert at.title[0].value == "Circularity indicators · Delft · 2035"
    assert at.toggle(key="all_crms").value is True
    assert at.selectbox(key="rate").value == "Collection rate"
    assert "all critical raw materials" in at.caption[0].value


def test_targets_appear_for_the_rate_they_belong_to(app):
    at = app(city="Ghent", year="2032", material="Li", rate="Recovery efficiency").run()
    at.switch_page("pages/indicators.py").run()
    assert not at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "lithium recovered from waste batteries 50 %" in captions and "80 %" in captions
