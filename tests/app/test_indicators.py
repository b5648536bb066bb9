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


def test_indicator_numbers_are_the_central_run_with_the_monte_carlo_range(app, small_db):
    # The big number is the central model run (the stored model), not the draws' median; the range beside it.
    at = open_page(app, city="Ghent", year="2030", material="Co")
    with storage.Store.open(small_db) as store:
        sim = uncertainty.simulate(store.input_tables(1), "Ghent", ["Co"])
        figures = store.headline(1, "Ghent", 2030, "Co")
    samples = uncertainty.indicator_samples(sim, 2030)
    shown = {m.label: m.value for m in at.metric}
    assert shown["End-of-life recycling rate"] == format_share(figures["secondary_supply"].kg / figures["end_of_life"].kg)
    assert shown["Collection rate"] == format_share(figures["separately_collected"].kg / figures["end_of_life"].kg)
    captions = " ".join(c.value for c in at.caption)
    band = uncertainty.summarise(samples["eol_recycling_rate"])
    assert f"5-95 %: {format_share(band['p05'])} to {format_share(band['p95'])}" in captions
    assert "confidence **illustrative**" in captions and "Sources of these indicators" in captions
    assert "central model run" in captions and "median" not in captions
    assert "do not include structural uncertainty" in captions


def test_the_same_central_number_on_indicators_overview_and_policy(app, small_db):
    # Issue 14 item 5: one central value everywhere for the same city, year and material.
    from decision_tools import scenarios

    with storage.Store.open(small_db) as store:
        figures = store.headline(1, "Ghent", 2035, "Co")
        engine = scenarios.ScenarioEngine(store.input_tables(1), "Ghent", ["Co"])
    expected = format_share(figures["secondary_supply"].kg / figures["end_of_life"].kg)
    assert format_share(engine.indicators(engine.baseline, 2035)["eol_recycling_rate"]) == expected

    indicators = open_page(app, city="Ghent", year="2035", material="Co")
    assert not indicators.exception
    assert {m.label: m.value for m in indicators.metric}["End-of-life recycling rate"] == expected

    overview = app(city="Ghent", year="2035", material="Co").run()
    assert not overview.exception
    sentence = next(m.value for m in overview.markdown if "reaching end of life" in m.value)
    assert sentence.startswith(f"Of the cobalt reaching end of life in 2035, **{expected}** (5-95 %: ")

    policy = open_app_page(app, "pages/policy.py", None, city="Ghent", year="2035", material="Co")
    assert not policy.exception
    table = next(d.value for d in policy.dataframe if "baseline (shown)" in d.value.columns).set_index("indicator")
    assert table.at["End-of-life recycling rate", "baseline (shown)"] == expected


def test_all_crms_offers_a_weighting_and_says_which_is_shown(app, small_db):
    from decision_tools import indicators as ind

    at = app(city="Ghent", year="2030", material="Co", all_crms="true", weighting="by EU supply risk").run()
    at.switch_page("pages/indicators.py").run()
    assert not at.exception
    assert at.radio(key="weighting").value == "by EU supply risk"
    with storage.Store.open(small_db) as store:
        tables = store.input_tables(1)
    critical = list(tables["materials"].loc[tables["materials"]["critical_2023"].astype(bool), "symbol"])
    assert "Cu" in critical  # copper is on the list the aggregate uses, and the toggle's help says so
    assert "including copper" in at.toggle(key="all_crms").help
    sim = uncertainty.simulate(tables, "Ghent", critical, samples=2)
    weights = ind.pair_weights(sim.pairs, ind.material_weights("supply_risk", tables["materials"]))
    by_risk = uncertainty.central_indicators(sim, 2030, weights)["eol_recycling_rate"]
    by_mass = uncertainty.central_indicators(sim, 2030)["eol_recycling_rate"]
    assert format_share(by_risk) != format_share(by_mass)
    assert {m.label: m.value for m in at.metric}["End-of-life recycling rate"] == format_share(by_risk)
    captions = " ".join(c.value for c in at.caption)
    assert "by EU supply risk" in captions and "by mass (kg)" in captions  # rates weighted, urban mine in kg
    assert "rates weighted by EU supply risk" in at.caption[0].value


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
    assert at.radio(key="weighting").value == "by mass"  # the default weighting of the aggregate


def test_targets_appear_for_the_rate_they_belong_to(app):
    at = app(city="Ghent", year="2032", material="Li", rate="Recovery efficiency").run()
    at.switch_page("pages/indicators.py").run()
    assert not at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "lithium recovered from waste batteries 50 %" in captions and "80 %" in captions


def test_weee_target_is_compared_with_the_weee_products_only_and_reasons_are_listed(app):
    # All critical raw materials: EV batteries, motors and turbines dominate the collection rate; the WEEE
    # target must be drawn against the collection rate of the WEEE products only, never against that mix.
    import re

    at = app(city="Ghent", year="2030", material="Co", all_crms="true", rate="Collection rate").run()
    at.switch_page("pages/indicators.py").run()
    assert not at.exception
    chart = next(c for c in at.get("vega_lite_chart") if "EU targets it can be compared with" in c.proto.spec)
    data = b" ".join(d.data.data for d in chart.proto.datasets)
    assert b"WEEE collection rate 85 % of WEEE generated" in data
    assert re.search(rb"compared with the collection rate of [^;]*Smartphone[^;]* only", data)
    assert b"EV traction battery" not in data and b"Wind turbine" not in data  # not in the WEEE scope
    assert b"65 % of equipment put on the market" not in data  # different denominator: listed, not drawn
    drawn = " ".join(c.value for c in at.caption if c.value.startswith("EU targets drawn"))
    assert "85 % of WEEE generated" in drawn and "only" in drawn
    listed = next(d.value for d in at.dataframe if "why not drawn" in d.value.columns)
    reasons = dict(zip(listed["target_id"], listed["why not drawn"]))
    assert "different denominator" in reasons["weee_collection_2019"]
    assert "recycled content" in reasons["batt_rc_co_2031"]  # a rate no chart here shows: listed too
    assert "extraction" in reasons["crma_extraction_2030"]

    # The CRMA 25 % is an EU capacity benchmark: never drawn on the city's secondary-supply share.
    at.selectbox(key="rate").set_value("Secondary-supply share").run()
    assert not at.exception
    assert not [c for c in at.caption if c.value.startswith("EU targets drawn")]
    listed = next(d.value for d in at.dataframe if "why not drawn" in d.value.columns)
    assert "capacity" in dict(zip(listed["target_id"], listed["why not drawn"]))["crma_recycling_2030"]


# Reading the numbers (issue 16): card labels that fit, the detail in the help, tables with units and no "None".

def test_cards_have_short_labels_and_tables_read_as_people_read(app):
    at = open_page(app, city="Ghent", year="2030", material="Co")
    assert not at.exception
    labels = {m.label: m for m in at.metric}
    assert all(len(label) <= 26 for label in labels)  # a fifth of the page at 1440 px
    assert "Recycled content" in labels and "Recycled content of new products" in labels["Recycled content"].help
    assert "MCI (all products)" in labels and "Material Circularity Indicator" in labels["MCI (all products)"].help
    frames = [d.value for d in at.dataframe]
    cells = {str(v) for f in frames for c in f.columns for v in f[c]}
    assert not cells & {"None", "nan", "NaN", "<NA>"}
    compare = next(f for f in frames if "City" in f.columns)
    assert list(compare.columns)[0] == "City" and "Collection rate (%)" in compare.columns
    assert all(len(text.split(".")[-1]) == 1 for text in compare["Collection rate (%)"] if text != "—")  # 1 decimal
    districts = next(f for f in frames if "District" in f.columns)
    assert any(c.startswith("End of life (") and c.endswith(" per year)") for c in districts.columns)
    captions = " ".join(c.value for c in at.caption)
    assert "Sources of these indicators:" in captions and "[full list](methods#sources)" in captions
    assert "EC\\_CRM\\_2023" not in captions
