"""Present versus recoverable (issue 17 item 5): the stages of the EU urban-mine inventories' convention, built from
the model's headline quantities, close (compliant + non-compliant channels = present in waste; recovered <= collected)."""

import json
import math

import pandas as pd
import pytest

from decision_tools import present_recoverable as pr
from decision_tools import system
from decision_tools.cli import main


def metric_rows(material: str, kg: dict, confidence: str = "medium", source: str = "SRC_A") -> pd.DataFrame:
    """Rows as Store.metric_table(..., by=("route",)) returns them, for one material: ``kg`` maps a metric, or
    (metric, route) for a loss, to kg."""
    rows = []
    for key, value in kg.items():
        metric, route = key if isinstance(key, tuple) else (key, None)
        rows.append({"metric": metric, "route": route, "kg": value, "confidence": confidence, "source_ids": source,
                     "downscaled": False, "material": material})
    return pd.DataFrame(rows)


# A hand-worked case: 100 kg of cobalt reach end of life; 40 are collected separately, 35 go to the household bin
# and 25 abroad (40 + 35 + 25 = 100); recycling yields 36 of the 40 (4 lost); 50 kg sit in drawers. In-use stock
# and new products are not stages of this view and are left out.
COBALT = {"end_of_life": 100.0, "separately_collected": 40.0, ("lost", "residual_waste"): 35.0,
          ("lost", "export_reuse_abroad"): 25.0, ("lost", "recycling_loss"): 4.0, "secondary_supply": 36.0,
          "hibernating_stock": 50.0, "in_use_stock": 999.0, "new_products": 10.0}
# Neodymium: 20 kg in waste, 5 collected, 12 in the bin, 3 abroad, nothing recovered; no hibernating row at all.
NEODYMIUM = {"end_of_life": 20.0, "separately_collected": 5.0, ("lost", "residual_waste"): 12.0,
             ("lost", "export_reuse_abroad"): 3.0, ("lost", "recycling_loss"): 5.0, "secondary_supply": 0.0}


@pytest.fixture()
def hand_rows() -> pd.DataFrame:
    return pd.concat([metric_rows("Co", COBALT), metric_rows("Nd", NEODYMIUM, "low", "SRC_B")], ignore_index=True)


def test_hand_worked_stages_kg_and_shares(hand_rows):
    table = pr.stage_table(hand_rows)
    cobalt = table[table["material"] == "Co"].set_index("stage")
    assert list(cobalt.index) == ["end_of_life", "separate_collection", "residual_waste", "export_reuse_abroad",
                                  "secondary_supply", "hibernation"]
    assert cobalt["kg"].to_dict() == {"end_of_life": 100.0, "separate_collection": 40.0, "residual_waste": 35.0,
                                      "export_reuse_abroad": 25.0, "secondary_supply": 36.0, "hibernation": 50.0}
    assert cobalt["share_of_present"].drop("hibernation").to_dict() == pytest.approx(
        {"end_of_life": 1.0, "separate_collection": 0.40, "residual_waste": 0.35, "export_reuse_abroad": 0.25,
         "secondary_supply": 0.36})
    # The drawers are a stock, not part of the year's waste: no share, and said so in the unit.
    assert math.isnan(cobalt.at["hibernation", "share_of_present"])
    assert cobalt.at["hibernation", "unit"] == pr.AT_YEAR_END and cobalt.at["end_of_life", "unit"] == pr.PER_YEAR
    assert cobalt.at["residual_waste", "role"] == pr.NON_COMPLIANT and cobalt.at["separate_collection", "role"] == pr.COMPLIANT
    # A stage the model has no row for is 0 kg, not missing.
    neodymium = table[table["material"] == "Nd"].set_index("stage")
    assert neodymium.at["hibernation", "kg"] == 0.0 and neodymium.at["secondary_supply", "share_of_present"] == 0.0


def test_hand_worked_stages_close(hand_rows):
    table = pr.stage_table(hand_rows)
    sums = pr.closure(table).set_index("material")
    assert sums.at["Co", "compliant_kg"] + sums.at["Co", "non_compliant_kg"] == pytest.approx(sums.at["Co", "present_kg"])
    assert sums["gap_kg"].abs().max() == pytest.approx(0.0, abs=1e-12)
    assert (sums["recovered_kg"] <= sums["compliant_kg"]).all()
    pr.check_closure(table)  # does not raise
    shares = table[table["role"].isin(pr.CHANNEL_ROLES)].groupby("material")["share_of_present"].sum()
    assert shares.to_dict() == pytest.approx({"Co": 1.0, "Nd": 1.0})


def test_summed_over_materials_with_the_weakest_confidence(hand_rows):
    total = pr.stage_table(hand_rows, ()).set_index("stage")
    assert total.at["end_of_life", "kg"] == 120.0 and total.at["residual_waste", "kg"] == 47.0
    assert total.at["separate_collection", "share_of_present"] == pytest.approx(45 / 120)
    assert total.at["end_of_life", "confidence"] == "low"  # medium (Co) and low (Nd): the weakest
    assert total.at["end_of_life", "source_ids"] == "SRC_A;SRC_B"
    pr.check_closure(total, ())


def test_a_table_that_does_not_close_is_refused(hand_rows):
    table = pr.stage_table(hand_rows)
    leaking = table.copy()
    leaking.loc[(leaking["material"] == "Co") & (leaking["stage"] == "residual_waste"), "kg"] = 30.0
    with pytest.raises(ValueError, match="do not close for Co"):
        pr.check_closure(leaking)
    overrecovered = table.copy()
    overrecovered.loc[(overrecovered["material"] == "Nd") & (overrecovered["stage"] == "secondary_supply"), "kg"] = 6.0
    with pytest.raises(ValueError, match="do not close for Nd"):
        pr.check_closure(overrecovered)


def test_rows_without_routes_are_refused_in_a_sentence(hand_rows):
    with pytest.raises(ValueError, match="grouped by route"):
        pr.stage_table(hand_rows.drop(columns=["route"]))


def test_the_stages_place_every_waste_channel_of_the_chain_once(monkeypatch):
    channels = {to for frm, to, _ in system.EDGES if frm == "end_of_life"}
    placed = [s.process for s in pr.STAGES if s.role in pr.CHANNEL_ROLES]
    assert sorted(placed) == sorted(channels)
    assert all(s.process in system.PROCESS_LABELS for s in pr.STAGES)  # system names, no new strings
    # A new channel in the chain (mixed scrap, say) that the view does not place is an error, not a silent gap.
    monkeypatch.setattr(system, "EDGES", (*system.EDGES, ("end_of_life", "mixed_scrap", "routing")))
    with pytest.raises(ValueError, match="waste channels"):
        pr._check_stages()
    assert "mixed metal scrap" in pr.NOT_MODELLED


def test_chart_text_and_spec(hand_rows):
    frame = pr.chart_frame(pr.stage_table(hand_rows[hand_rows["material"] == "Co"], ()))
    assert frame.loc[1, "text"] == "40.0 kg · 40.0 % of present"
    assert frame.loc[5, "text"] == "50.0 kg (stock)"
    spec = pr.stage_chart(frame, "kg").to_dict(validate=True)
    assert spec["layer"][0]["mark"]["type"] == "bar"


# --- on the small test database: the stages are the model run's own flows ---------------------------------------

def test_closure_against_the_model_runs_end_of_life_flow(store):
    materials = ["Co", "Nd"]
    table = pr.read(store, 1, "Ghent", 2030, materials)
    pr.check_closure(table)
    chain = store.chain(1, "Ghent", 2030, materials)
    for material in materials:
        flows = chain[chain["material"] == material]
        into_waste = flows.loc[flows["to_process"] == "end_of_life", "kg"].sum()
        mine = table[table["material"] == material].set_index("stage")["kg"]
        assert into_waste > 0
        assert mine["end_of_life"] == pytest.approx(into_waste, rel=1e-9)
        for stage in ("separate_collection", "residual_waste", "export_reuse_abroad"):
            edge = flows[(flows["from_process"] == "end_of_life") & (flows["to_process"] == stage)]
            assert mine[stage] == pytest.approx(edge["kg"].sum(), rel=1e-9)
        recovered = flows.loc[flows["to_process"] == "secondary_supply", "kg"].sum()
        assert mine["secondary_supply"] == pytest.approx(recovered, rel=1e-9) and recovered <= mine["separate_collection"]
        assert mine["hibernation"] == pytest.approx(store.headline(1, "Ghent", 2030, material)["hibernating_stock"].kg)


def test_by_product_closes_and_adds_up_to_the_material(store):
    by_product = pr.read(store, 1, "Ghent", 2030, ["Co"], by_product=True)
    pr.check_closure(by_product, ("material", "product"))
    assert by_product["product"].nunique() > 1
    whole = pr.read(store, 1, "Ghent", 2030, ["Co"]).set_index("stage")["kg"]
    summed = by_product.groupby("stage")["kg"].sum()
    for stage, kg in whole.items():
        assert summed[stage] == pytest.approx(kg, rel=1e-9)


def test_cli_prints_the_stages(small_db, capsys):
    assert main(["present", "--db", str(small_db), "--city", "ghent", "--year", "2030", "--material", "Co"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Ghent, 2030: present versus recoverable")
    for stage in pr.STAGES:
        assert stage.label in out
    assert "100.0 %" in out and "Not modelled: mixed metal scrap" in out
    assert main(["present", "--db", str(small_db), "--city", "Ghent", "--year", "2030", "--material", "Co",
                 "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    stages = {row["stage"]: row["kg"] for row in payload["stages"]}
    assert stages["separate_collection"] + stages["residual_waste"] + stages["export_reuse_abroad"] == pytest.approx(
        stages["end_of_life"])
    assert main(["present", "--db", str(small_db), "--city", "Ghent", "--year", "2030", "--by-product",
                 "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("material,product,stage,label,role,unit,kg,share_of_present")
