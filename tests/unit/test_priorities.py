"""What to do first: largest losses, the levers that address them, ranked per euro (hand-made chain and ranking)."""

import math
import re
from types import SimpleNamespace
from urllib.parse import parse_qs, urlparse

import numpy as np
import pandas as pd
import pytest

from decision_tools import priorities
from decision_tools.levers import levers_from_table

LEVER_COLUMNS = ["lever_id", "name", "description", "parameter", "products", "materials", "unit", "minimum", "default",
                 "maximum", "step", "competence", "who_acts", "start_year", "ramp_years", "cost_eur_per_inhabitant_at_max",
                 "cost_confidence", "source_id", "confidence"]


def lever_row(lever_id, name, parameter, products, cost, start=2026, ramp=3, maximum=0.4):
    return [lever_id, name, "", parameter, products, "all", "share", 0, 0, maximum, 0.05, "direct", "city", start, ramp,
            cost, "illustrative", "PROJECT_ASSUMPTION", "illustrative"]


LEVERS = levers_from_table(pd.DataFrame([
    lever_row("collect", "More collection points", "collection_rate", "phone", 1.0),
    lever_row("takeback", "Take-back campaigns", "hibernation_return", "phone", 0.3, ramp=2, maximum=0.8),
    lever_row("yield", "Better recycling", "recovery_yield", "car", 0.1),
    lever_row("content", "Recycled procurement", "recycled_content", "all", 0.1),
    lever_row("export", "Export checks", "export_share", "car", 0.0, ramp=5),
], columns=LEVER_COLUMNS))

# One year of a hand-made chain: 100 kg discarded; 40 kg residual waste of phones, 25 kg exported in cars,
# 5 kg recycling losses of cars (two materials of the car rows sum: 3 + 2), 30 kg recovered.
LOSSES = pd.DataFrame({
    "route": ["residual_waste", "export_reuse_abroad", "recycling_loss", "recycling_loss", "residual_waste"],
    "product": ["phone", "car", "car", "car", "car"],
    "kg": [40.0, 25.0, 3.0, 2.0, 0.0],
})
PRODUCT_NAMES = {"phone": "Smartphones", "car": "Electric cars"}

# A hand-made ranking (as loss_ranking makes it): kg avoided per year at the lever's maximum and yearly cost.
RANKING = pd.DataFrame({
    "lever_id": ["collect", "takeback", "yield", "content", "export"],
    "lever": ["More collection points", "Take-back campaigns", "Better recycling", "Recycled procurement", "Export checks"],
    "level": [0.4, 0.8, 0.4, 0.4, 0.4],
    "avoided_kg_per_year": [12.0, 4.0, 1.0, 0.0, 6.0],
    "cost_eur_per_year": [100_000.0, 20_000.0, 1_000.0, 10_000.0, 0.0],
    "avoided_kg_per_1000_eur": [0.12, 0.2, 1.0, 0.0, np.nan],
})


def test_largest_losses_sum_materials_sort_by_kg_and_give_the_share_of_what_is_discarded():
    top = priorities.largest_losses(LOSSES, end_of_life_kg=100.0, top=3)
    assert list(zip(top["route"], top["product"])) == [("residual_waste", "phone"), ("export_reuse_abroad", "car"),
                                                       ("recycling_loss", "car")]
    assert list(top["kg_per_year"]) == [40.0, 25.0, 5.0]
    assert list(top["share_of_discarded"]) == pytest.approx([0.40, 0.25, 0.05])
    # Nothing discarded: the share is undefined, not 0 %.
    assert math.isnan(priorities.largest_losses(LOSSES, 0.0)["share_of_discarded"].iloc[0])
    assert len(priorities.largest_losses(LOSSES, 100.0, top=2)) == 2


def test_a_lever_addresses_a_loss_when_it_covers_the_product_and_acts_on_the_route():
    assert priorities.addresses(LEVERS["collect"], "residual_waste", "phone")
    assert not priorities.addresses(LEVERS["collect"], "residual_waste", "car")  # another product
    assert not priorities.addresses(LEVERS["collect"], "recycling_loss", "phone")  # another route
    assert priorities.addresses(LEVERS["yield"], "recycling_loss", "car")
    assert priorities.addresses(LEVERS["export"], "export_reuse_abroad", "car")
    assert not any(priorities.addresses(LEVERS["content"], r, "phone")
                   for r in ("residual_waste", "export_reuse_abroad", "recycling_loss"))


def test_best_levers_rank_by_kg_avoided_per_euro_and_put_levers_without_a_cost_last():
    top = priorities.largest_losses(LOSSES, 100.0, top=3)
    best = priorities.best_levers(RANKING, top, LEVERS, top=5)
    # Per 1,000 EUR: better recycling 1.0 kg, take-back 0.2, collection 0.12; export checks have no cost figure;
    # recycled procurement avoids nothing and addresses no flow.
    assert list(best["lever_id"]) == ["yield", "takeback", "collect", "export"]
    assert list(best["has_cost"]) == [True, True, True, False]
    assert best.loc[0, "addresses"] == [("recycling_loss", "car")]
    # Only the losses named count: without the recycling losses, better recycling addresses nothing.
    assert "yield" not in set(priorities.best_levers(RANKING, top.head(2), LEVERS, top=5)["lever_id"])
    assert list(priorities.best_levers(RANKING, top, LEVERS)["lever_id"]) == ["yield", "takeback"]


def test_the_effect_year_is_the_first_year_every_lever_has_its_full_effect():
    # export checks start 2026 and ramp over 5 years: full effect in 2030.
    assert priorities.effect_year(LEVERS, 2025) == 2030
    assert priorities.effect_year(LEVERS, 2040) == 2040


def test_loss_ranking_runs_each_lever_alone_at_its_maximum_on_the_engine():
    lost = {(): 70.0, (("collect", 0.4),): 58.0, (("takeback", 0.8),): 66.0, (("yield", 0.4),): 69.0,
            (("content", 0.4),): 70.0 + 1e-14, (("export", 0.4),): 64.0}
    costs = {"collect": 100_000.0, "takeback": 20_000.0, "yield": 1_000.0, "content": 10_000.0, "export": 0.0}
    asked = []

    def run(settings):
        asked.append(dict(settings))
        key = tuple(sorted(settings.items()))
        return SimpleNamespace(key=key, cost_eur_per_year=sum(costs[k] for k in settings))

    def indicators(run_, year):
        assert year == 2030
        return {"lost_kg": lost[run_.key]}

    engine = SimpleNamespace(levers=LEVERS, baseline=SimpleNamespace(key=(), cost_eur_per_year=0.0), run=run,
                             indicators=indicators)
    ranking = priorities.loss_ranking(engine, 2030)
    assert asked == [{"collect": 0.4}, {"takeback": 0.8}, {"yield": 0.4}, {"content": 0.4}, {"export": 0.4}]
    assert list(ranking["avoided_kg_per_year"]) == pytest.approx([12.0, 4.0, 1.0, 0.0, 6.0])
    assert list(ranking["avoided_kg_per_1000_eur"])[:4] == pytest.approx([0.12, 0.2, 1.0, 0.0])
    assert math.isnan(ranking["avoided_kg_per_1000_eur"].iloc[4])  # no cost figure: no effect per euro

    # Only the levers that act on the largest losses are run (a model run each), and they rank the same.
    top = priorities.largest_losses(LOSSES, 100.0, top=3)
    wanted = priorities.levers_addressing(LEVERS, top)
    assert set(wanted) == {lever_id for lever_id, lever in LEVERS.items()
                           if any(priorities.addresses(lever, r, p) for r, p in zip(top["route"], top["product"]))}
    assert 0 < len(wanted) < len(LEVERS)
    asked.clear()
    some = priorities.loss_ranking(engine, 2030, wanted)
    assert [next(iter(settings)) for settings in asked] == [i for i in LEVERS if i in wanted]
    pd.testing.assert_frame_equal(priorities.best_levers(some, top, LEVERS), priorities.best_levers(ranking, top, LEVERS))


def test_do_first_names_flows_and_levers_in_words_with_links_to_the_policy_page():
    top = priorities.largest_losses(LOSSES, 100.0, top=3)
    best = priorities.best_levers(RANKING, top, LEVERS, top=2)
    advice = priorities.do_first(top, best, PRODUCT_NAMES, 100.0, "cobalt", 2025, 2030,
                                 {"city": "Ghent", "material": "Co"})
    assert len(advice.sentences) == 3
    first, second, third = advice.sentences
    assert "Smartphones thrown away with residual waste (40.0 kg per year, 40 % of the 100 kg discarded)" in first
    assert "Electric cars exported or reused abroad (25.0 kg, 25 %)" in first
    assert "[Better recycling](./policy?" in second and "against Electric cars lost in recycling" in second
    assert "1,000 EUR per year" in second and "in 2030 (when every lever has reached its full effect)" in second
    assert "[Take\\-back campaigns](" in third  # escaped as data text; reads "Take-back campaigns"
    visible = re.sub(r"\]\([^)]*\)", "]", " ".join(advice.sentences))  # link targets dropped
    assert not re.search(r"\b(yield|takeback|residual_waste|recycling_loss|phone|car)\b", visible)
    link = second.split("](", 1)[1].split(")", 1)[0]
    assert parse_qs(urlparse(link).query) == {"city": ["Ghent"], "material": ["Co"], "year": ["2030"], "yield": ["0.4"]}
    assert advice.lever_ids == ["yield", "takeback"]


def test_do_first_says_plainly_when_a_lever_has_no_cost_figure():
    top = priorities.largest_losses(LOSSES, 100.0, top=2)  # residual waste of phones, exports of cars
    ranking = RANKING[RANKING["lever_id"].isin(["export"])]
    best = priorities.best_levers(ranking, top, LEVERS)
    advice = priorities.do_first(top, best, PRODUCT_NAMES, 100.0, "cobalt", 2030, 2030, {"city": "Ghent"})
    assert "no cost figure" in advice.sentences[1] and "effect per euro is unknown" in advice.sentences[1]
    assert "full effect" not in advice.sentences[1]  # the chosen year is already the effect year


def test_do_first_without_losses_or_levers_says_so():
    empty = priorities.largest_losses(LOSSES.assign(kg=0.0), 100.0)
    assert priorities.do_first(empty, RANKING.head(0), PRODUCT_NAMES, 0.0, "cobalt", 2030, 2030, {}).sentences == [
        "Nothing of cobalt is lost in 2030: there is no loss to address yet."]
    top = priorities.largest_losses(LOSSES, 100.0)
    none = priorities.best_levers(RANKING.head(0), top, LEVERS)
    advice = priorities.do_first(top, none, PRODUCT_NAMES, 100.0, "cobalt", 2030, 2030, {"city": "Ghent"})
    assert "No lever in the levers table acts on these losses" in advice.sentences[1]
    assert "[Policy page](./policy?city=Ghent&year=2030)" in advice.sentences[1]


def test_costs_are_rounded_as_people_say_them():
    assert priorities.round_eur(40_379.0) == "40,400"
    assert priorities.round_eur(987.6) == "988"
    assert priorities.round_eur(12.0) == "12"


def test_data_text_is_escaped_in_the_sentences():
    top = priorities.largest_losses(LOSSES, 100.0, top=1)
    advice = priorities.do_first(top, RANKING.head(0), {"phone": "[click](http://evil)"}, 100.0, "cobalt", 2030, 2030, {})
    assert "[click](http" not in advice.sentences[0]
