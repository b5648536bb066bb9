"""Location privacy on the hub page (issue 18): an organisation that hides its location is drawn at its city
centre on every layer of the map, and measured from there in the ranked matches, for anyone who does not act
for it; the organisation's own partner still sees its address. Quantity privacy likewise: an offer that hides
its quantity shows only its band in every figure of its matches."""

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


# Quantity privacy: an offer that hides its quantity shows only its band (the campus laptops: 2,500 or 9,000 kg a
# year, both "1-10 t") to whoever does not act for the campus. The test publishes one hidden quantity, then the
# other: whatever a viewer gets (the ranked matches as shown, their download, the map's arcs, the offers table)
# must not change between the two, or it would carry the quantity; the campus's own partner sees it change.
def hide_campus_quantity(db_path, kg_per_year: float) -> None:
    with storage.Store.open(db_path, read_only=False) as store:
        version = store.current_version()
        current = store.input_tables(version)
        offer = current["offers"][current["offers"]["offer_id"] == "off_uni_laptops"].assign(
            hide_quantity=True, kg_per_year=kg_per_year)
        check = uploads.check_upload("offers", offer.to_csv(index=False).encode(), "o.csv", current)
        assert check.report.ok, check.report.problems
        assert store.publish(check.tables, f"Campus laptops: {kg_per_year} kg, hidden", "", "rita") == version + 1


def what_the_hub_gives(app, monkeypatch, user) -> dict:
    """The ranked matches table as shown, the frames handed to its downloads and to the offers' download, and the
    map's arcs, for ``user`` on the Ghent hub."""
    import ui

    handed = {}
    original = ui.download_button

    def recording(frame, file_stem, key, **kwargs):
        handed[key] = frame.copy()
        return original(frame, file_stem, key, **kwargs)

    monkeypatch.setattr(ui, "download_button", recording)
    at = open_page(app, "pages/hub.py", user, city="Ghent")
    assert not at.exception
    shown = next(df.value for df in at.dataframe if "Score (0-1)" in df.value.columns)
    arcs = [row for row in deck_layers(at)["matches"]["data"] if row["from_org"] == CAMPUS]
    assert len(shown[shown["From"] == CAMPUS]) and arcs  # the campus offer does match
    return {"table": shown.reset_index(drop=True), "download": handed["dl_matches"].reset_index(drop=True),
            "offers": handed["dl_offers"].reset_index(drop=True), "arcs": arcs, "at": at}


def test_a_viewer_cannot_compute_a_hidden_quantity_from_the_matches_their_download_or_the_map(app, tmp_path, monkeypatch):
    import pandas as pd

    db = tmp_path / "app.duckdb"
    for user in (None, "dana"):  # anonymous, a partner of other organisations
        hide_campus_quantity(db, 2500.0)
        small = what_the_hub_gives(app, monkeypatch, user)
        hide_campus_quantity(db, 9000.0)
        large = what_the_hub_gives(app, monkeypatch, user)
        for part in ("table", "download", "offers"):
            pd.testing.assert_frame_equal(small[part], large[part], obj=f"{part} for {user}")
        assert small["arcs"] == large["arcs"]
        campus = small["table"][small["table"]["From"] == CAMPUS]
        assert (campus[["Transport (EUR per year)", "Value (EUR per year)"]] == "—").all().all()
        assert campus[next(c for c in campus.columns if c.startswith("Exchanged"))].eq("—").all()
        assert campus["Quantity"].eq("quantity private: stream 1-10 t per year").all()
        campus_download = small["download"][small["download"]["from_org"] == CAMPUS]
        assert campus_download[["exchanged_kg", "transport_eur_per_year", "value_eur_per_year"]].isna().all().all()
        assert all(symbiosis.PRIVATE_QUANTITY_NOTE in row["label"] and not any(c.isdigit() for c in row["label"])
                   for row in small["arcs"])  # e.g. ": Nd, quantity private", no mass
        assert "1-10 t" in set(small["offers"]["kg_per_year"]) and "2,500" not in set(small["offers"]["kg_per_year"])
        assert any("estimated from the middle of its public range" in c.value for c in small["at"].caption)


def test_the_offering_organisations_partner_still_sees_its_quantity(app, tmp_path, monkeypatch):
    db = tmp_path / "app.duckdb"
    hide_campus_quantity(db, 2500.0)
    small = what_the_hub_gives(app, monkeypatch, "pat")  # pat owns the campus organisation
    hide_campus_quantity(db, 9000.0)
    large = what_the_hub_gives(app, monkeypatch, "pat")
    campus = small["download"][small["download"]["from_org"] == CAMPUS]
    assert campus["exchanged_kg"].notna().all() and campus["quantity"].eq("exact").all()
    transport_per_kg = campus["transport_eur_per_year"] / 2500.0
    assert (transport_per_kg.round(4) == (campus["distance_km"] / 1000 * 0.10).round(4)).all()
    assert not small["download"]["transport_eur_per_year"].equals(large["download"]["transport_eur_per_year"])
    assert "2,500" in set(small["offers"]["kg_per_year"])
    assert not any("estimated from the middle of its public range" in c.value for c in small["at"].caption)


def test_the_methods_page_keeps_a_private_location_private(app, tmp_path):
    """The Methods page lists every input table in full: a private organisation's address and its owner account
    are not in them for a viewer, and its own partner still reads the address."""
    lat, lon, centre_lat, centre_lon = hide_campus_location(tmp_path / "app.duckdb")
    for user, exact in (("vic", False), ("pat", True)):
        at = open_page(app, "pages/methods.py", user, methods_table="Organisations")
        assert not at.exception
        organisations = next(df.value for df in at.dataframe if "org_id" in df.value.columns and "lat" in df.value.columns)
        campus = organisations[organisations["name"] == CAMPUS].iloc[0]
        assert (float(campus["lat"]), float(campus["lon"])) == ((lat, lon) if exact else (centre_lat, centre_lon))
        assert "owner" not in organisations.columns
