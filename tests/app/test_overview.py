"""Overview page: renders, shows the headline numbers of the store, and restores the URL state."""

import pytest

from decision_tools import storage
from decision_tools.formatting import format_mass


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_renders_default_view_without_exception(app, small_db):
    at = app().run()
    assert not at.exception
    # The small test database has no Helsinki: the default falls back to the first city.
    assert at.title[0].value.startswith("Delft · Cobalt (Co) · 2025")
    assert len(at.get("plotly_chart")) == 1
    assert len(at.get("vega_lite_chart")) == 2


def test_headline_numbers_match_the_store(app, small_db):
    at = app(city="Ghent", year="2030", material="Co").run()
    assert not at.exception
    with storage.Store.open(small_db) as store:
        figures = store.headline(1, "Ghent", 2030, "Co")
    shown = metrics(at)
    assert shown["In-use stock"] == format_mass(figures["in_use_stock"].kg)
    assert shown["Recovered (secondary supply)"] == format_mass(figures["secondary_supply"].kg) + "/yr"
    assert shown["Lost"] == format_mass(figures["lost"].kg) + "/yr"
    captions = " ".join(c.value for c in at.caption)
    assert "Confidence: **illustrative**" in captions and "downscaled from national or EU figures" in captions


def test_the_overview_says_which_figures_are_the_citys_own_national_or_eu(app):
    # After issue 14 the figures are no longer all "EU averages": Ghent's turbines are counted in Ghent,
    # its electric cars are Belgium's, its phones the EU's, and the page says which is which.
    at = app(city="Ghent", year="2030", material="Nd").run()
    assert not at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "EU averages downscaled" not in captions
    assert "the city's own: Wind turbine \\(3 MW direct drive\\)" in captions
    national = captions.split("national: ", 1)[1].split(";", 1)[0]  # other national products (e-bikes) may sit between
    assert "Car catalytic converter" in national and "EV traction battery \\(60 kWh\\)" in national
    table = next(d.value for d in at.dataframe if "level" in d.value.columns).set_index("product")
    assert table.at["wind_turbine", "geography"] == "Ghent" and table.at["ev_battery", "geography"] == "BEL"


def test_url_state_restores(app):
    at = app(city="Ghent", year="2040", material="Nd").run()
    assert not at.exception
    assert at.title[0].value == "Ghent · Neodymium (Nd) · 2040"
    assert at.sidebar.selectbox(key="city").value == "Ghent"
    assert at.sidebar.slider(key="year").value == 2040
    assert at.sidebar.selectbox(key="material").value == "Nd"
    assert not at.warning


def test_bad_url_values_fall_back_with_a_notice(app):
    at = app(city="<script>alert(1)</script>", year="1800", material="Unobtainium").run()
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "which is not in the data; showing Helsinki" not in warnings  # no Helsinki in the test data
    assert "city" in warnings and "year 1800, outside the modelled 2000-2050" in warnings and "material" in warnings
    assert "<script>" not in warnings
    assert at.title[0].value.startswith("Delft · Cobalt (Co) · 2025")


def test_material_without_products_says_so(app):
    at = app(city="Ghent", material="Ge").run()
    assert not at.exception
    assert "No product in the city model contains Germanium" in at.info[0].value
    assert not at.metric


def test_another_city_in_the_url_changes_the_numbers(app):
    # Bound widgets follow the URL; the browser test covers picking a city by hand.
    ghent = metrics(app(city="Ghent", year="2030").run())["In-use stock"]
    delft = metrics(app(city="Delft", year="2030").run())["In-use stock"]
    assert ghent != delft


def test_missing_database_is_a_sentence_not_a_traceback(app, monkeypatch, tmp_path):
    monkeypatch.setenv(storage.DB_ENV_VAR, str(tmp_path / "gone.duckdb"))
    at = app().run()
    assert not at.exception
    assert at.error[0].value.startswith("The dashboard cannot open its database right now")
    assert "gone.duckdb" not in at.error[0].value  # the reason, with the server's path, goes to the server's log


def test_the_briefing_and_every_table_can_be_downloaded(app):
    at = app(city="Ghent", year="2030", material="Co").run()
    labels = [b.label for b in at.get("download_button")]
    assert "City briefing (printable HTML)" in labels
    assert labels.count("CSV") == labels.count("XLSX") >= 4


def test_recovery_sentence_is_the_central_run_with_the_monte_carlo_range(app, small_db):
    from decision_tools import uncertainty
    from decision_tools.formatting import format_share

    at = app(city="Ghent", year="2030", material="Co").run()
    assert not at.exception
    with storage.Store.open(small_db) as store:
        figures = store.headline(1, "Ghent", 2030, "Co")
        sim = uncertainty.simulate(store.input_tables(1), "Ghent", ["Co"])
    band = uncertainty.summarise(uncertainty.indicator_samples(sim, 2030)["eol_recycling_rate"])
    central = format_share(figures["secondary_supply"].kg / figures["end_of_life"].kg)
    sentence = next(m.value for m in at.markdown if "reaching end of life" in m.value)
    assert f"**{central}** (5-95 %: {format_share(band['p05'])} to {format_share(band['p95'])})" in sentence
    assert "central model run" in sentence


MEASURED = ("city,year,category,flow,kg,source_id,confidence,note\n"
            "Ghent,2024,smartphone,collected,12000,PROJECT_ASSUMPTION,low,test row\n"
            "Ghent,2024,Small IT and telecommunication equipment,collected,50000,PROJECT_ASSUMPTION,low,WEEE category 6\n")


def test_measured_flows_are_shown_beside_the_model_where_they_exist(app, tmp_path):
    # Issue 15: uploaded measured flows appeared on no page. Publish some for Ghent into the app's copy.
    from decision_tools import uploads

    app()
    with storage.Store.open(tmp_path / "app.duckdb", read_only=False) as store:
        check = uploads.check_upload("measured_flows", MEASURED.encode(), "m.csv", store.input_tables(1))
        assert check.report.ok, check.report.problems
        version = store.publish(check.tables, "Ghent measured WEEE", "", "rita")
        symbols = list(store.table("materials", version)["symbol"])
        model = store.metric_table(version, "Ghent", symbols, 2024, ("product", "route"))
    collected_phones = model[(model["metric"] == "separately_collected") & (model["product"] == "smartphone")]["kg"].sum()

    at = app(city="Ghent", year="2030", material="Co").run()
    assert not at.exception
    assert "Measured flows beside the model" in [s.value for s in at.subheader]
    table = next(d.value for d in at.dataframe if "measured kg" in d.value.columns).set_index("category")
    assert len(table) == 2
    assert table.at["smartphone", "measured kg"] == 12000
    assert table.at["smartphone", "model: kg of modelled materials in it"] == pytest.approx(round(collected_phones, 3))
    assert 0 < collected_phones < 12000  # materials inside the phones weigh less than the phones
    weee = "Small IT and telecommunication equipment"
    assert table.at[weee, "modelled product"] == "not a modelled product"
    assert table.at[weee, "model: kg of modelled materials in it"] != table.at[weee, "model: kg of modelled materials in it"]
    captions = " ".join(c.value for c in at.caption)
    assert "The model counts materials, not product mass" in captions
    keys = [b.key for b in at.get("download_button")]
    assert "dl_measured_csv" in keys and "dl_measured_xlsx" in keys

    delft = app(city="Delft", year="2030", material="Co").run()  # no measured flows: no section
    assert not delft.exception
    assert "Measured flows beside the model" not in [s.value for s in delft.subheader]


def test_what_to_do_first_names_the_largest_loss_and_levers_in_words(app, small_db):
    import re

    from decision_tools import priorities

    at = app(city="Ghent", year="2030", material="Co").run()
    assert not at.exception
    assert any(h.value == "What to do first" for h in at.subheader)
    advice = next(m.value for m in at.markdown if "**Largest losses**" in m.value)
    with storage.Store.open(small_db) as store:
        rows = store.metric_table(1, "Ghent", "Co", 2030, ("route", "product"))
        levers = store.table("levers", 1)
        names = dict(store.table("products", 1)[["product", "name"]].itertuples(index=False))
    lost = rows[(rows["metric"] == "lost") & (rows["kg"] > 0)].groupby(["route", "product"])["kg"].sum()
    route, product = lost.idxmax()
    first_line = advice.splitlines()[0]
    assert priorities.flow_words(route, names[product]) in first_line
    assert "discarded" in first_line
    # A lever by its name, linked to the Policy page with that lever set; no id in the visible text.
    links = re.findall(r"\[([^\]]+)\]\(\./policy\?([^)]*)\)", advice)
    assert links
    shown_name, query = links[0]
    lever = levers[levers["name"] == shown_name.replace("\\", "")]
    assert len(lever) == 1 and f"{lever['lever_id'].iloc[0]}=" in query and "city=Ghent" in query
    visible = re.sub(r"\]\([^)]*\)", "]", advice)
    assert not any(re.search(rf"\b{lever_id}\b", visible) for lever_id in levers["lever_id"])
    assert not any(re.search(rf"\b{p}\b", visible) for p in names if "_" in p)


def test_the_hibernating_card_uses_the_sankeys_name_and_its_help_names_the_glossary(app):
    from decision_tools.system import PROCESS_LABELS

    at = app(city="Ghent", year="2030", material="Co").run()
    assert not at.exception
    card = next(m for m in at.metric if m.label.startswith(PROCESS_LABELS["hibernation"]))
    assert card.label == f"{PROCESS_LABELS['hibernation']} (stock)"
    assert "(./methods#hibernating-stock)" in card.help
