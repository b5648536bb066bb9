"""Location privacy on the hub page (issue 18): an organisation that hides its location is drawn at its city
centre on every layer of the map, and measured from there in the ranked matches, for anyone who does not act
for it; the organisation's own partner still sees its address."""

import json

from decision_tools import storage, symbiosis, uploads
from tests.app.conftest import open_page

CAMPUS = "Fictitious: Ghent Campus Facilities"


def hide_campus_location(db_path) -> tuple[float, float, float, float]:
    """Publish the campus laptops offer with its location hidden; (exact lat, lon, Ghent centre lat, lon)."""
    with storage.Store.open(db_path, read_only=False) as store:
        current = store.input_tables(1)
        offer = current["offers"][current["offers"]["offer_id"] == "off_uni_laptops"].assign(hide_location=True)
        check = uploads.check_upload("offers", offer.to_csv(index=False).encode(), "o.csv", current)
        assert check.report.ok, check.report.problems
        assert store.publish(check.tables, "Hide the campus address", "", "rita") == 2
        campus = current["organisations"].set_index("name").loc[CAMPUS]
        centre = current["cities"].set_index("city").loc["Ghent"]
    return float(campus["lat"]), float(campus["lon"]), float(centre["lat"]), float(centre["lon"])


def deck_layers(at) -> dict:
    (deck,) = at.get("deck_gl_json_chart")
    return {layer["id"]: layer for layer in json.loads(deck.proto.json)["layers"]}


def positions(layers) -> list[tuple[float, float]]:
    """Every (lat, lon) the organisation markers, their labels and the arcs hold."""
    found = [(row["lat"], row["lon"]) for key in ("organisations", "organisation_labels") for row in layers[key]["data"]]
    for row in layers["matches"]["data"]:
        found += [(row["from_lat"], row["from_lon"]), (row["to_lat"], row["to_lon"])]
    return found


def test_a_viewer_sees_a_private_organisation_only_at_its_city_centre(app, tmp_path):
    lat, lon, centre_lat, centre_lon = hide_campus_location(tmp_path / "app.duckdb")
    with storage.Store.open(tmp_path / "app.duckdb") as store:
        organisations = store.table("organisations", 2).set_index("name")
    for user in (None, "vic", "dana"):  # anonymous, a viewer, a partner of other organisations
        at = open_page(app, "pages/hub.py", user, city="Ghent")
        assert not at.exception
        layers = deck_layers(at)
        assert (lat, lon) not in positions(layers)
        marker = next(row for row in layers["organisations"]["data"] if row["name"] == CAMPUS)
        assert (marker["lat"], marker["lon"]) == (centre_lat, centre_lon)
        assert symbiosis.PRIVATE_LOCATION_NOTE in marker["label"]
        assert "owner" not in marker  # the map's data holds what is drawn, nothing more
        arcs = [row for row in layers["matches"]["data"] if row["from_org"] == CAMPUS]
        assert arcs and all((row["from_lat"], row["from_lon"]) == (centre_lat, centre_lon) for row in arcs)
        assert any("drawn at its city centre" in c.value for c in at.caption)
        matches = next(df.value for df in at.dataframe if "Distance (km)" in df.value.columns)
        magnet = matches[(matches["From"] == CAMPUS) & (matches["To"] == "Fictitious: Delft Magnet Recovery")]
        magnet_place = organisations.loc["Fictitious: Delft Magnet Recovery"]
        from_centre = symbiosis.haversine_km(centre_lat, centre_lon, float(magnet_place["lat"]), float(magnet_place["lon"]))
        assert abs(float(str(magnet["Distance (km)"].iloc[0]).replace(",", "")) - from_centre) < 0.5


def test_the_organisations_own_partner_sees_its_exact_location(app, tmp_path):
    lat, lon, _, _ = hide_campus_location(tmp_path / "app.duckdb")
    at = open_page(app, "pages/hub.py", "pat", city="Ghent")  # pat owns the campus organisation
    assert not at.exception
    layers = deck_layers(at)
    marker = next(row for row in layers["organisations"]["data"] if row["name"] == CAMPUS)
    assert (marker["lat"], marker["lon"]) == (lat, lon) and marker["label"] == ""
    assert not any("drawn at its city centre" in c.value for c in at.caption)
