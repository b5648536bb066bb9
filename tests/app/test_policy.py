"""Policy intervention points page: renders, restores lever settings from the URL, saves scenarios."""

from decision_tools import scenarios, storage
from tests.app.conftest import open_page as open_app_page


def open_page(app, user=None, **params):
    return open_app_page(app, "pages/policy.py", user, **params)


def test_renders_with_every_section(app):
    at = open_page(app, city="Ghent", year="2035", material="Co")
    assert not at.exception
    assert at.title[0].value == "Policy intervention points · Ghent · 2035"
    assert len(at.slider) >= 13
    assert len(at.get("vega_lite_chart")) >= 5  # scenario, two tornados, two value-creation charts
    headers = [h.value for h in at.subheader]
    for expected in ("Levers", "Scenario against the baseline", "Which lever moves it most",
                     "The best portfolio within a budget", "Value-creation models for companies",
                     "What each lever means and who acts"):
        assert expected in headers


def test_lever_settings_restore_from_the_url_and_move_the_numbers(app, small_db):
    at = open_page(app, city="Ghent", year="2035", material="Co", weee_collection="0.3", objective="Secondary supply")
    assert not at.exception
    assert at.slider(key="weee_collection").value == 0.3
    with storage.Store.open(small_db) as store:
        engine = scenarios.ScenarioEngine(store.input_tables(1), "Ghent", ["Co"])
    expected = engine.indicators(engine.run({"weee_collection": 0.3}), 2035)["secondary_supply_kg"]
    baseline = engine.indicators(engine.baseline, 2035)["secondary_supply_kg"]
    assert expected > baseline
    shown = {m.label: m.value for m in at.metric}
    from decision_tools.formatting import format_mass
    assert shown["Secondary supply, 2035"] == format_mass(expected) + "/yr"


def test_out_of_range_lever_in_the_url_falls_back_with_a_notice(app):
    at = open_page(app, city="Ghent", weee_collection="7", repair="<b>x</b>")
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "outside 0 to 0.4; it is left at 0" in warnings and "<b>" not in warnings
    assert at.slider(key="weee_collection").value == 0.0


def test_saving_a_scenario_lists_it_for_comparison(app):
    at = open_page(app, "pat", city="Ghent", year="2035", material="Co", weee_collection="0.2")
    name_input = next(t for t in at.main.text_input if t.label == "Name")
    name_input.input("Collection push")
    next(b for b in at.main.button if b.label == "Save").click().run()
    assert not at.exception
    assert any("Saved “Collection push”" in s.value for s in at.success)
    assert "Collection push" in at.multiselect(key="compare").options


def test_empty_scenario_name_is_refused_with_a_sentence(app):
    at = open_page(app, "rita", city="Ghent", material="Co")
    next(b for b in at.main.button if b.label == "Save").click().run()
    assert any("Give the scenario a name" in e.value for e in at.error)


def test_viewers_and_visitors_cannot_save_scenarios(app):
    for at in (open_page(app, city="Ghent", material="Co"), open_page(app, "vic", city="Ghent", material="Co")):
        assert not [b for b in at.main.button if b.label == "Save"]
        assert any("can save scenarios" in c.value for c in at.caption)
