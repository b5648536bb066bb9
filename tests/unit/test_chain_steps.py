"""The chain for phones (chain_charts.chain_steps), the Sankey's short node labels, and bar-chart legends that leave a
phone its bars; all on hand-made data."""

import pandas as pd
import pytest

from decision_tools import bar_charts, chain_charts, exposure_charts

# kg per year: 100 enter use; 10 go to the drawers, 30 are discarded, so 60 stay in the stock in use;
# end of life is 30 + 5 from the drawers = 35: 7 exported, 14 residual waste, 14 collected and recycled
# into 10 of secondary supply and 4 of recycling losses. Lost: 7 + 14 + 4 = 25.
FLOWS = [("market", "use", 100.0), ("use", "hibernation", 10.0), ("use", "end_of_life", 30.0),
         ("hibernation", "end_of_life", 5.0), ("end_of_life", "export_reuse_abroad", 7.0),
         ("end_of_life", "residual_waste", 14.0), ("end_of_life", "separate_collection", 14.0),
         ("separate_collection", "recycling", 14.0), ("recycling", "secondary_supply", 10.0),
         ("recycling", "recycling_loss", 4.0)]


def chain_of(flows, materials=("Co",)) -> pd.DataFrame:
    """The flows split evenly over ``materials``, as the store returns a chain of several materials."""
    return pd.DataFrame([(m, f, t, kg / len(materials)) for m in materials for f, t, kg in flows],
                        columns=["material", "from_process", "to_process", "kg"])


def test_the_steps_follow_the_chain_and_the_mass_balance_closes():
    steps = chain_charts.chain_steps(chain_of(FLOWS, ("Co", "Nd"))).set_index("step")
    assert list(steps.index) == ["new_products", "use_stock_added", "to_hibernation", "use_to_end_of_life", "end_of_life",
                                 "export_reuse_abroad", "residual_waste", "separate_collection", "secondary_supply",
                                 "recycling_loss", "lost"]
    kg, share = steps["kg"], steps["share"]
    assert kg["new_products"] == pytest.approx(100.0) and kg["use_stock_added"] == pytest.approx(60.0)
    assert kg["end_of_life"] == pytest.approx(35.0) and kg["lost"] == pytest.approx(25.0)
    # What enters use leaves it (or stays in its stock); end of life splits into its three routes; recycling splits.
    assert kg[["use_stock_added", "to_hibernation", "use_to_end_of_life"]].sum() == pytest.approx(kg["new_products"])
    assert share[["use_stock_added", "to_hibernation", "use_to_end_of_life"]].sum() == pytest.approx(1.0)
    assert kg[["export_reuse_abroad", "residual_waste", "separate_collection"]].sum() == pytest.approx(kg["end_of_life"])
    assert share[["export_reuse_abroad", "residual_waste", "separate_collection"]].sum() == pytest.approx(1.0)
    assert share[["secondary_supply", "recycling_loss"]].sum() == pytest.approx(share["separate_collection"])
    assert share["lost"] + share["secondary_supply"] == pytest.approx(1.0)
    assert share["secondary_supply"] == pytest.approx(10 / 35)
    assert steps.loc["separate_collection", "text"] == "Separately collected: 14.0 kg/yr · 40.0 % of end of life"
    assert steps.loc["new_products", "text"] == "New products: 100 kg/yr"
    assert steps.loc["use_stock_added", "share_of"] == "of new products"


def test_a_shrinking_stock_in_use_is_a_step_and_shares_are_of_what_passes_through_use():
    # 50 new, 80 discarded: 30 come out of the stock in use. Nothing is collected, so no recycling steps.
    steps = chain_charts.chain_steps(chain_of([("market", "use", 50.0), ("use", "end_of_life", 80.0),
                                         ("end_of_life", "residual_waste", 80.0)])).set_index("step")
    assert list(steps.index) == ["new_products", "use_stock_released", "use_to_end_of_life", "end_of_life",
                                 "residual_waste", "lost"]
    assert steps.loc["use_stock_released", "kg"] == pytest.approx(30.0)
    assert steps.loc[["new_products", "use_stock_released"], "share"].sum() == pytest.approx(1.0)
    assert steps.loc["use_to_end_of_life", "share"] == pytest.approx(1.0)
    assert steps.loc["use_to_end_of_life", "share_of"] == "of what passes through use"


def test_an_empty_chain_has_no_steps():
    assert chain_charts.chain_steps(chain_of([])).empty


def test_sankey_nodes_have_short_labels_and_the_full_detail_on_hover():
    node = chain_charts.sankey_figure(chain_of(FLOWS), "title").data[0].node
    labels, hover = list(node.label), list(node.customdata)
    collected = labels.index("Collected: 14.0 kg")
    assert "Separately collected" in hover[collected] and "40.0 % of end of life" in hover[collected]
    assert "New products: 100 kg" in labels and "Added to stock: 60.0 kg" in labels
    assert max(len(label) for label in labels) <= 32


def test_bar_charts_put_their_legend_below_the_bars_so_a_phone_keeps_the_bars():
    # At 390 px a legend at the right took the width the bars needed (Policy's lever charts showed labels only).
    levers = pd.DataFrame({"lever": ["a", "b"], "competence": ["direct", "partners"], "value": [1.0, -2.0]})
    shares = pd.DataFrame({"stage": ["mining"] * 2, "country": ["A", "B"], "share": [0.6, 0.4]})
    shortfall = pd.DataFrame({"product": ["p", "q"], "sector": ["s", "t"], "shortfall_kg": [1.0, 2.0]})
    for chart in (bar_charts.tornado_chart(levers, "value", "change"), exposure_charts.supplier_chart(shares),
                  exposure_charts.shortfall_chart(shortfall)):
        assert chart.to_dict()["encoding"]["color"]["legend"]["orient"] == "bottom"
        # Fitted to the width only: fitted in height too, the legend below would squeeze the bars flat.
        assert chart.to_dict()["autosize"] == {"type": "fit-x", "contains": "padding"}
