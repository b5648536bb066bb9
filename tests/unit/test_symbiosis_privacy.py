"""Location privacy of the hub (issue 18): one rule places an organisation that hides its location at its
city centre, and the markers, the arcs, the distances and the scores all follow it."""

import pandas as pd
import pytest

from decision_tools import symbiosis

# City A's centre is (50.0, 4.0). org_hidden asks to hide its location on one offer; org_mixed hides it on
# one offer and shows it on another; org_open hides nothing.
CITIES = pd.DataFrame({"city": ["A"], "lat": [50.0], "lon": [4.0]})
ORGS = pd.DataFrame({
    "org_id": ["org_hidden", "org_mixed", "org_open"], "name": ["Fictitious: Hidden", "Mixed", "Open"],
    "org_type": ["hospital", "recycler", "manufacturer"], "city": ["A", "A", "A"],
    "lat": [50.1234, 50.3000, 50.2000], "lon": [4.5678, 4.3000, 4.1000], "owner": ["h", "m", "o"],
})
OFFERS = pd.DataFrame({
    "offer_id": ["off_h", "off_m1", "off_m2", "off_o"], "org_id": ["org_hidden", "org_mixed", "org_mixed", "org_open"],
    "hide_location": [True, True, False, False],
})
NEEDS = pd.DataFrame({"need_id": ["need_o", "need_h"], "org_id": ["org_open", "org_hidden"]})


def test_private_organisations_are_those_with_any_offer_hiding_the_location():
    assert symbiosis.private_organisations(OFFERS) == {"org_hidden", "org_mixed"}


def test_the_public_sees_private_organisations_at_the_city_centre_and_others_exactly():
    seen = symbiosis.organisations_as_seen(ORGS, OFFERS, CITIES).set_index("org_id")
    assert seen.loc["org_hidden", ["lat", "lon"]].tolist() == [50.0, 4.0]
    assert seen.loc["org_mixed", ["lat", "lon"]].tolist() == [50.0, 4.0]  # a public offer does not reveal it
    assert seen.loc["org_open", ["lat", "lon"]].tolist() == [50.2, 4.1]
    assert seen["exact_location"].to_dict() == {"org_hidden": False, "org_mixed": False, "org_open": True}
    assert ORGS.at[0, "lat"] == 50.1234  # the caller's table is left as it was


def test_who_acts_for_an_organisation_sees_its_exact_location_and_no_other():
    seen = symbiosis.organisations_as_seen(ORGS, OFFERS, CITIES, may_see_exact=["org_hidden"]).set_index("org_id")
    assert seen.loc["org_hidden", ["lat", "lon"]].tolist() == [50.1234, 4.5678]
    assert seen.loc["org_mixed", ["lat", "lon"]].tolist() == [50.0, 4.0]


def test_markers_and_arcs_carry_no_exact_private_coordinates():
    seen = symbiosis.tables_as_seen({"organisations": ORGS, "offers": OFFERS, "needs": NEEDS, "cities": CITIES})
    # Two matches as match_candidates would give them (positions deliberately the exact ones: the map must
    # take positions from the rule, not from whatever the candidates carry).
    candidates = pd.DataFrame({
        "offer_id": ["off_h", "off_o"], "need_id": ["need_o", "need_h"], "from_org": ["Fictitious: Hidden", "Open"],
        "to_org": ["Open", "Fictitious: Hidden"], "material": ["Pd", "Co"], "exchanged_kg": [2.0, 30.0],
        "score": [0.7, 0.5], "from_lat": [50.1234, 50.2], "from_lon": [4.5678, 4.1], "to_lat": [50.2, 50.1234],
        "to_lon": [4.1, 4.5678],
    })
    markers, arcs = symbiosis.map_layers(seen, candidates)
    assert set(markers.columns) == {"name", "short", "org_type", "lat", "lon", "label"}  # no owner, no city, no ids
    hidden = markers[markers["name"] == "Fictitious: Hidden"].iloc[0]
    assert (hidden["lat"], hidden["lon"], hidden["short"]) == (50.0, 4.0, "Hidden")
    assert symbiosis.PRIVATE_LOCATION_NOTE in hidden["label"]
    assert markers[markers["name"] == "Open"].iloc[0]["label"] == ""
    assert arcs[["from_lat", "from_lon", "to_lat", "to_lon"]].values.tolist() == [[50.0, 4.0, 50.2, 4.1], [50.2, 4.1, 50.0, 4.0]]
    assert 50.1234 not in markers.values and 50.1234 not in arcs.values
    assert arcs["name"].tolist() == ["Fictitious: Hidden → Open", "Open → Fictitious: Hidden"]
    assert arcs.at[0, "label"].startswith(": Pd 2") and symbiosis.PRIVATE_LOCATION_NOTE in arcs.at[0, "label"]


def test_distances_and_scores_are_computed_from_the_city_centre_for_the_public(small_db):
    from decision_tools import storage

    with storage.Store.open(small_db) as store:
        tables = store.input_tables(1)
    tables = {**tables, "offers": tables["offers"].assign(
        hide_location=tables["offers"]["offer_id"].eq("off_uni_laptops") | tables["offers"]["hide_location"].astype(bool))}
    public = symbiosis.match_candidates(symbiosis.tables_as_seen(tables), "Ghent")
    owner = symbiosis.match_candidates(symbiosis.tables_as_seen(tables, ["org_uni_gnt"]), "Ghent")
    centre = tables["cities"].set_index("city").loc["Ghent"]
    orgs = tables["organisations"].set_index("org_id")
    for frame, (lat, lon) in ((public, (centre["lat"], centre["lon"])), (owner, tuple(orgs.loc["org_uni_gnt", ["lat", "lon"]]))):
        row = frame[(frame["offer_id"] == "off_uni_laptops") & (frame["need_id"] == "need_magnet_nd")].iloc[0]
        magnet = orgs.loc["org_magnet_dlf"]
        assert row["distance_km"] == pytest.approx(symbiosis.haversine_km(lat, lon, magnet["lat"], magnet["lon"]))
    assert not public["distance_km"].equals(owner["distance_km"])
