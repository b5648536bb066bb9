"""Matching: score components, ranking and compatibility."""

import pandas as pd
import pytest

from decision_tools import storage, symbiosis


def test_haversine_hand_worked():
    # Helsinki -> Lappeenranta is about 190 km
    assert symbiosis.haversine_km(60.1699, 24.9384, 61.0587, 28.1887) == pytest.approx(195, abs=10)
    assert symbiosis.haversine_km(10, 10, 10, 10) == 0


def test_nearer_larger_more_critical_ranks_above_far_small():
    near = symbiosis.score_components(offer_material_kg=500, need_kg=500, distance_km=10, price_eur_per_kg=26, supply_risk=2.8)
    far = symbiosis.score_components(offer_material_kg=5, need_kg=500, distance_km=1500, price_eur_per_kg=8.5, supply_risk=0.1)
    assert near["score"] > far["score"]
    assert near["quantity_fit"] == 1.0 and far["quantity_fit"] == pytest.approx(0.01)
    assert 0 <= far["score"] <= near["score"] <= 1


@pytest.fixture(scope="module")
def tables(small_db):
    with storage.Store.open(small_db) as store:
        return store.input_tables(1)


def test_candidates_are_compatible_and_explained(tables):
    candidates = symbiosis.match_candidates(tables)
    assert not candidates.empty
    content = symbiosis.stream_content(tables)
    offers = tables["offers"].set_index("offer_id")
    for row in candidates.itertuples():
        stream = offers.at[row.offer_id, "stream_code"]
        assert row.material in set(content.loc[content["stream_code"] == stream, "material"])
    assert list(candidates["score"]) == sorted(candidates["score"], reverse=True)
    parts = symbiosis.breakdown(candidates.iloc[0])
    assert sum(p["contribution"] for p in parts.values()) == pytest.approx(candidates.iloc[0]["score"], abs=1e-5)
    # spent laptops carry neodymium and palladium: they match the magnet recycler's and the refiner's needs
    laptops = candidates[candidates["offer_id"] == "off_uni_laptops"]
    assert {"Nd", "Pd"} <= set(laptops["material"])
    # laptops carry no platinum: never matched to the platinum need
    assert "need_cat_pt" not in set(laptops["need_id"])


def test_hidden_quantities_are_binned_in_public():
    offers = pd.DataFrame({"kg_per_year": [500.0, 5000.0, 50000.0], "hide_quantity": [True, False, True]})
    shown = symbiosis.public_view(offers)["kg_per_year"].tolist()
    assert shown == ["under 1 t", "5,000", "over 10 t"]
