"""The briefing's lever section lists only levers that raise secondary supply, and says when none does."""

import html

import pandas as pd

from decision_tools import scenarios
from decision_tools.briefing import build_briefing, top_levers_section


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


def test_the_city_briefing_lists_no_lever_that_lowers_secondary_supply(store):
    doc = html.unescape(build_briefing(store, 1, "Ghent", 2030, "Co").decode("utf-8"))
    section = doc[doc.index("Top levers for secondary supply in 2035"):]
    section = section[:section.index("Who supplies")]
    ranking = scenarios.ScenarioEngine(store.input_tables(1), "Ghent", ["Co"]).leverage_ranking("secondary_supply_kg", 2035)
    raising = ranking[ranking["verdict"] == scenarios.IMPROVES].sort_values("effect", ascending=False)
    for name in ranking.loc[ranking["verdict"] != scenarios.IMPROVES, "lever"]:
        assert name not in section, name
    for name in raising["lever"].head(5):
        assert name in section, name
