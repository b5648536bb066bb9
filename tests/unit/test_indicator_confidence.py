"""Which confidence and sources an indicator card shows (issue 18): the weakest label of the inputs its
number is computed from, never a fixed label."""

import pandas as pd

from decision_tools.indicators import INDICATORS, card_provenance

# Hand-made: the city model's stages as uncertainty.Simulation.confidence gives them, the stored metrics'
# sources, and two materials whose EU recycling input rates are labelled differently.
STAGES = {"stock": "medium", "routing": "low", "recovery": "illustrative"}
SOURCES = pd.Series({"in_use_stock": "OWN_A;LIFE_B", "separately_collected": "ROUTE_C", "secondary_supply": "YIELD_D"})
MATERIALS = pd.DataFrame({"symbol": ["Co", "Nd"], "confidence": ["high", "low"], "source_id": ["EC_CRM_2023", "EC_CRM_2023;JRC_X"]})


def test_recycled_content_of_one_material_carries_that_materials_label_and_sources_only():
    card = card_provenance("recycled_content", STAGES, SOURCES, MATERIALS[MATERIALS["symbol"] == "Co"], False, True)
    assert (card.confidence, card.source_ids, card.downscaled) == ("high", "EC_CRM_2023", False)  # not a fixed "medium"
    card = card_provenance("recycled_content", STAGES, SOURCES, MATERIALS[MATERIALS["symbol"] == "Nd"], False, True)
    assert (card.confidence, card.source_ids) == ("low", "EC_CRM_2023;JRC_X")


def test_recycled_content_of_several_materials_is_weighted_by_the_stock_stage_too():
    stages = {**STAGES, "stock": "illustrative"}
    card = card_provenance("recycled_content", stages, SOURCES, MATERIALS, True, True)
    # weakest of high, low (the rates) and illustrative (new products, the weights); sources joined and sorted
    assert (card.confidence, card.source_ids, card.downscaled) == ("illustrative", "EC_CRM_2023;JRC_X;LIFE_B;OWN_A", True)
    card = card_provenance("recycled_content", STAGES, SOURCES, MATERIALS, True, False)
    assert (card.confidence, card.downscaled) == ("low", False)  # weakest of high, low, medium


def test_city_rates_show_their_stage():
    assert card_provenance("collection_rate", STAGES, SOURCES, MATERIALS, True, True).confidence == "low"
    assert card_provenance("hibernation_share", STAGES, SOURCES, MATERIALS, True, True).source_ids == "ROUTE_C"
    stock = card_provenance("urban_mine_per_inhabitant", STAGES, SOURCES, MATERIALS, False, True)
    assert (stock.confidence, stock.source_ids, stock.downscaled) == ("medium", "LIFE_B;OWN_A", True)
    for key in ("recovery_efficiency", "eol_recycling_rate", "secondary_supply_share", "circular_material_use_rate"):
        assert card_provenance(key, STAGES, SOURCES, MATERIALS, False, False).confidence == "illustrative"


def test_the_mci_counts_the_recycling_input_rates_as_its_recycled_feedstock():
    stages = {**STAGES, "recovery": "medium"}
    card = card_provenance("portfolio_mci", stages, SOURCES, MATERIALS, True, False)
    assert (card.confidence, card.source_ids) == ("low", "EC_CRM_2023;JRC_X;YIELD_D")


def test_every_card_has_a_provenance():
    for key in INDICATORS:
        card = card_provenance(key, STAGES, SOURCES, MATERIALS, True, False)
        assert card.confidence in {"high", "medium", "low", "derived", "illustrative"} and card.source_ids
