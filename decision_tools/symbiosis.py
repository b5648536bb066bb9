"""Industrial and urban symbiosis: which organisation's stream could feed which organisation's need.

An offer's critical-raw-material content is estimated from its waste stream (European Waste
Catalogue code) through the crosswalk to a product and the product's composition: kg of material per
kg of stream = grams per unit / 1000 / unit mass. A need matches an offer only when the offer carries
that material. The score (0..1) is a weighted sum of explainable components:

- quantity fit: the share of the need the offer covers (0..1);
- distance: 1 / (1 + km / 100), km as the crow flies (haversine);
- value: how much the exchanged material is worth, weighted by its EU supply risk:
  log10(1 + EUR per year x SR) / 6, at most 1.

Transport cost is shown beside (illustrative 0.10 EUR per tonne-km of stream).

Location privacy (``organisations_as_seen``): an organisation with an offer that asks to hide its
location is placed at its city's centre for everyone who does not act for it, before anything is
computed or drawn, so its marker, its arcs, its distances and the scores built on them all say the same.

Quantity privacy (``offers_as_seen``): an offer that asks to hide its quantity shows only its band (under 1 t,
1-10 t, over 10 t of stream per year) to everyone who does not act for its organisation. Its exact quantity is
replaced before anything is computed, so no match figure (exchanged kg, transport cost, value, quantity fit,
score, the map's arcs) can give it back; see ``BAND_STAND_IN_KG``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from .formatting import format_mass

WEIGHTS = {"quantity_fit": 0.35, "distance": 0.25, "value": 0.40}
TRANSPORT_EUR_PER_TONNE_KM = 0.10
EARTH_RADIUS_KM = 6371.0


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two points in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def stream_content(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """kg of each material per kg of each waste stream (rows stream_code, material, kg_per_kg, confidence)."""
    crosswalk = tables["ewc_crosswalk"]
    # Waste streams carry products of many production years; the latest composition stands in for them.
    content = tables["product_content"].sort_values("from_year").drop_duplicates(["product", "material"], keep="last")
    merged = crosswalk.merge(content, on="product", suffixes=("_stream", "_content"))
    merged["kg_per_kg"] = merged["grams_per_unit"].astype(float) / 1000.0 / merged["unit_mass_kg"].astype(float)
    return merged[["stream_code", "product", "material", "kg_per_kg", "confidence_stream", "confidence_content"]]


def score_components(offer_material_kg: float, need_kg: float, distance_km: float, price_eur_per_kg: float,
                     supply_risk: float) -> dict[str, float]:
    """The components of a match score, each 0..1, and the score (their weighted sum)."""
    exchanged = min(offer_material_kg, need_kg)
    quantity_fit = exchanged / need_kg if need_kg > 0 else 0.0
    distance = 1.0 / (1.0 + distance_km / 100.0)
    value_eur = exchanged * price_eur_per_kg
    value = min(1.0, math.log10(1.0 + value_eur * supply_risk) / 6.0)
    components = {"quantity_fit": quantity_fit, "distance": distance, "value": value}
    components["score"] = sum(WEIGHTS[k] * v for k, v in components.items())
    return components


def match_candidates(tables: dict[str, pd.DataFrame], city: str | None = None, material: str | None = None) -> pd.DataFrame:
    """Every compatible (offer, need) pair with its score and the breakdown, best first. ``city``
    keeps pairs where the offer or the need is in that city; ``material`` one material."""
    orgs = tables["organisations"].set_index("org_id")
    content = stream_content(tables)
    prices = tables["material_prices"].set_index("material")["price_eur_per_kg"].astype(float)
    risk = tables["materials"].set_index("symbol")["supply_risk"].astype(float)
    rows = []
    for offer in tables["offers"].itertuples():
        carried = content[content["stream_code"] == offer.stream_code].set_index("material")
        for need in tables["needs"].itertuples():
            if need.org_id == offer.org_id or need.material not in carried.index:
                continue  # an incompatible stream never matches
            if material and need.material != material:
                continue
            giver, taker = orgs.loc[offer.org_id], orgs.loc[need.org_id]
            if city and city not in (giver["city"], taker["city"]):
                continue
            offer_kg = float(offer.kg_per_year) * float(carried.at[need.material, "kg_per_kg"])
            km = haversine_km(giver["lat"], giver["lon"], taker["lat"], taker["lon"])
            parts = score_components(offer_kg, float(need.kg_per_year), km, float(prices[need.material]), float(risk[need.material]))
            exact = bool(getattr(offer, "exact_quantity", True))
            # A hidden quantity (offers_as_seen) is a stand-in: the scores may use it (they reveal only the band),
            # kg and EUR figures would read as exact, so they stay empty.
            known = 1.0 if exact else math.nan
            rows.append({
                "offer_id": offer.offer_id, "need_id": need.need_id, "material": need.material,
                "from_org": giver["name"], "from_city": giver["city"], "to_org": taker["name"], "to_city": taker["city"],
                "stream": offer.description, "offer_material_kg": offer_kg * known, "need_kg": float(need.kg_per_year),
                "exchanged_kg": min(offer_kg, float(need.kg_per_year)) * known, "distance_km": km,
                "transport_eur_per_year": float(offer.kg_per_year) / 1000.0 * km * TRANSPORT_EUR_PER_TONNE_KM * known,
                "value_eur_per_year": min(offer_kg, float(need.kg_per_year)) * float(prices[need.material]) * known,
                "quantity": "exact" if exact else f"{PRIVATE_QUANTITY_NOTE}: stream {offer.quantity_band} per year",
                **parts,
                "from_lat": giver["lat"], "from_lon": giver["lon"], "to_lat": taker["lat"], "to_lon": taker["lon"],
            })
    columns = ["offer_id", "need_id", "material", "from_org", "from_city", "to_org", "to_city", "stream", "offer_material_kg",
               "need_kg", "exchanged_kg", "distance_km", "transport_eur_per_year", "value_eur_per_year", "quantity",
               "quantity_fit", "distance", "value", "score", "from_lat", "from_lon", "to_lat", "to_lon"]
    return pd.DataFrame(rows, columns=columns).sort_values("score", ascending=False).reset_index(drop=True)


def breakdown(row: pd.Series) -> dict[str, dict[str, float]]:
    """Each component's value, weight and contribution to the score: why a match ranks where it does."""
    return {k: {"value": round(float(row[k]), 6), "weight": w, "contribution": round(float(row[k]) * w, 6)}
            for k, w in WEIGHTS.items()}


def quantity_band(kg_per_year: pd.Series) -> pd.Series:
    """The public band of offered stream quantities (kg per year): "under 1 t", "1-10 t" or "over 10 t"."""
    kg = kg_per_year.astype(float)
    return pd.Series(np.select([kg < 1000, kg < 10000], ["under 1 t", "1-10 t"], "over 10 t"), index=kg_per_year.index)


# What a hidden-quantity offer is computed with for whoever may not see its quantity: the middle of its band
# on a log scale (the bands are decades: 10^2.5, 10^3.5 and, half a decade past the last edge, 10^4.5 kg).
# Why not the exact quantity with only the kg columns blanked: the score gives it back. With the nearness shown
# (and computable from the map), 0.35 x quantity fit + 0.40 x value rises strictly with the exchanged kg, the
# need's kg and the material's price are public, so one score yields the exact exchanged kg, and the stream's
# kg from the public content per kg; the transport cost (stream t x km x 0.10 EUR) gives the stream's kg at
# once. Computed from a stand-in that depends only on the public band, every figure reveals at most the band
# the offers table already shows, and a visitor can still rank the matches (by the score, estimated for these).
BAND_STAND_IN_KG = {"under 1 t": 10 ** 2.5, "1-10 t": 10 ** 3.5, "over 10 t": 10 ** 4.5}
PRIVATE_QUANTITY_NOTE = "quantity private"


def quantity_hidden(offers: pd.DataFrame, may_see_exact: Iterable[str] = ()) -> pd.Series:
    """The quantity privacy rule, once: per offer, True where this viewer may not see its exact quantity (the
    offer asks to hide it and its organisation is not among ``may_see_exact``, the organisations the viewer
    acts for). The quantity belongs to the offer: another offer of the same organisation does not reveal it."""
    if "hide_quantity" not in offers.columns:
        return pd.Series(False, index=offers.index)
    hidden = offers["hide_quantity"].astype(bool)
    allowed = {str(o) for o in may_see_exact}
    if allowed:
        hidden &= ~offers["org_id"].astype(str).isin(allowed)
    return hidden


def offers_as_seen(offers: pd.DataFrame, may_see_exact: Iterable[str] = ()) -> pd.DataFrame:
    """``offers`` as this viewer may compute with them: a hidden quantity (``quantity_hidden``) replaced by its
    band's stand-in (``BAND_STAND_IN_KG``). Adds ``exact_quantity`` (bool) and ``quantity_band``."""
    out = offers.copy()
    hidden = quantity_hidden(offers, may_see_exact)
    out["exact_quantity"] = ~hidden
    if "kg_per_year" in out.columns:
        out["quantity_band"] = quantity_band(out["kg_per_year"])
        stand_in = out["quantity_band"].map(BAND_STAND_IN_KG).astype(float)
        out["kg_per_year"] = np.where(hidden, stand_in, out["kg_per_year"].astype(float))
    return out


def public_view(offers: pd.DataFrame, may_see_exact: Iterable[str] = ()) -> pd.DataFrame:
    """Offers as this viewer sees them: the quantity as text, only its band where ``quantity_hidden``."""
    out = offers.copy()
    hidden = quantity_hidden(offers, may_see_exact)
    out["kg_per_year"] = np.where(hidden, quantity_band(out["kg_per_year"]), out["kg_per_year"].map(lambda v: f"{v:,.0f}"))
    return out


def exchanged_kg(tables: dict[str, pd.DataFrame], offer_id: str, need_id: str) -> float:
    """The exact kg per year of material an offer could give a need (what a recorded match stores), from the
    tables as they are: for the server, never to be shown to someone who may not see the offer's quantity."""
    offer = tables["offers"].set_index("offer_id").loc[offer_id]
    need = tables["needs"].set_index("need_id").loc[need_id]
    content = stream_content(tables)
    per_kg = content[(content["stream_code"] == offer["stream_code"]) & (content["material"] == need["material"])]
    return min(float(offer["kg_per_year"]) * float(per_kg["kg_per_kg"].iloc[0]), float(need["kg_per_year"]))


def recorded_as_seen(recorded: pd.DataFrame, offers: pd.DataFrame, may_see_exact: Iterable[str] = ()) -> pd.DataFrame:
    """Recorded matches as this viewer may see them: kg_per_year emptied where the offer's quantity is hidden
    (``quantity_hidden``); a recorded kg is the exchanged kg, which gives the quantity back."""
    hidden_offers = set(offers.loc[quantity_hidden(offers, may_see_exact), "offer_id"])
    out = recorded.copy()
    out["kg_per_year"] = out["kg_per_year"].astype(float).mask(out["offer_id"].isin(hidden_offers))
    return out


def involving(candidates: pd.DataFrame, tables: dict[str, pd.DataFrame], org_ids: Iterable[str]) -> pd.DataFrame:
    """The match candidates whose offer or need belongs to one of ``org_ids`` (the organisations a viewer acts for)."""
    org_ids = set(org_ids)
    offer_org = tables["offers"].set_index("offer_id")["org_id"]
    need_org = tables["needs"].set_index("need_id")["org_id"]
    mine = [offer_org[o] in org_ids or need_org[n] in org_ids for o, n in zip(candidates["offer_id"], candidates["need_id"])]
    return candidates[mine]


def active_supply_kg(recorded: pd.DataFrame, candidates: pd.DataFrame, material: str, city: str) -> tuple[float, int]:
    """The kg per year of ``material`` that active recorded matches (``recorded_as_seen``) add to the secondary supply
    of ``city`` (the offer's city), and how many of them are not counted because their quantity is private to this
    viewer (adding it would give the quantity back)."""
    active = recorded[recorded["status"] == "active"].merge(candidates[["offer_id", "need_id", "material", "from_city"]],
                                                            on=["offer_id", "need_id"])
    active = active[(active["material"] == material) & (active["from_city"] == city)]
    return float(active["kg_per_year"].sum()), int(active["kg_per_year"].isna().sum())


def with_organisation_names(frame: pd.DataFrame, organisations: pd.DataFrame, column: str = "org_id") -> pd.DataFrame:
    """``frame`` with its organisation id column replaced, in place, by an ``organisation`` column holding
    the name (the id itself where the organisation is not in ``organisations``)."""
    names = organisations.set_index("org_id")["name"]
    out = frame.copy()
    out.insert(out.columns.get_loc(column), "organisation", out[column].map(names).fillna(out[column]))
    return out.drop(columns=[column])


def named_matches(recorded: pd.DataFrame, offers: pd.DataFrame, needs: pd.DataFrame,
                  organisations: pd.DataFrame) -> pd.DataFrame:
    """Recorded matches as people read them: the offering and the needing organisation's names, the
    offer's description and the material, instead of offer and need ids (kept as they are for an offer
    or need no longer in the data)."""
    names = organisations.set_index("org_id")["name"]
    offer = offers.set_index("offer_id")
    need = needs.set_index("need_id")
    out = recorded.copy()
    out.insert(0, "from_org", out["offer_id"].map(offer["org_id"]).map(names).fillna(out["offer_id"]))
    out.insert(1, "to_org", out["need_id"].map(need["org_id"]).map(names).fillna(out["need_id"]))
    out.insert(2, "stream", out["offer_id"].map(offer["description"]).fillna(""))
    out.insert(3, "material", out["need_id"].map(need["material"]).fillna(""))
    return out.drop(columns=["offer_id", "need_id"])


PRIVATE_LOCATION_NOTE = "location private: shown at the city centre"


def private_organisations(offers: pd.DataFrame) -> set[str]:
    """Organisations whose exact location is private: those with at least one offer that asks to hide it.
    The location belongs to the organisation, not to one offer: an offer of the same organisation drawn at
    the address, or its need's arc, would give the hidden one away."""
    return set(offers.loc[offers["hide_location"].astype(bool), "org_id"])


def organisations_as_seen(organisations: pd.DataFrame, offers: pd.DataFrame, cities: pd.DataFrame,
                          may_see_exact: Iterable[str] = ()) -> pd.DataFrame:
    """The location privacy rule, once: ``organisations`` with lat and lon as this viewer may see them. A
    private organisation (``private_organisations``) is moved to its city's centre (the cities table's lat,
    lon) unless its id is in ``may_see_exact`` (the organisations the viewer acts for). Adds
    ``exact_location`` (bool): False where the position shown is the city centre."""
    hidden = private_organisations(offers) - {str(o) for o in may_see_exact}
    centres = cities.set_index("city")
    out = organisations.copy()
    moved = out["org_id"].isin(hidden)
    for axis in ("lat", "lon"):
        out[axis] = out[axis].astype(float)
        out.loc[moved, axis] = out.loc[moved, "city"].map(centres[axis]).astype(float)
    out["exact_location"] = ~moved
    return out


def tables_as_seen(tables: dict[str, pd.DataFrame], may_see_exact: Iterable[str] = ()) -> dict[str, pd.DataFrame]:
    """The input tables with both privacy rules applied: the organisations placed by ``organisations_as_seen``
    and the offers' quantities by ``offers_as_seen``. Match candidates (distances, nearness, kg, transport
    cost, value and score) computed from these reveal no private location and no hidden quantity."""
    return {**tables, "organisations": organisations_as_seen(tables["organisations"], tables["offers"], tables["cities"],
                                                             may_see_exact),
            "offers": offers_as_seen(tables["offers"], may_see_exact)}


def map_layers(seen: dict[str, pd.DataFrame], candidates: pd.DataFrame, limit: int = 25) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What the hub map draws, and nothing more (the map's data reaches the browser whole): markers (name,
    short, org_type, lat, lon, label) and the best ``limit`` candidates as arcs (from_org, to_org, name,
    label, score, from_lat, from_lon, to_lat, to_lon). Positions come from ``seen`` (``tables_as_seen``),
    whatever tables the candidates were computed from; tooltips say where a position is the city centre."""
    orgs = seen["organisations"]
    exact = orgs["exact_location"] if "exact_location" in orgs.columns else pd.Series(True, index=orgs.index)
    markers = pd.DataFrame({
        "name": orgs["name"], "short": orgs["name"].str.replace("Fictitious: ", "", regex=False),
        "org_type": orgs["org_type"], "lat": orgs["lat"].astype(float), "lon": orgs["lon"].astype(float),
        "label": np.where(exact.astype(bool), "", f" ({PRIVATE_LOCATION_NOTE})"),
    }).reset_index(drop=True)
    columns = ["from_org", "to_org", "name", "label", "score", "from_lat", "from_lon", "to_lat", "to_lon"]
    best = candidates.head(limit)
    if best.empty:
        return markers, pd.DataFrame(columns=columns)
    place = orgs.set_index("org_id")
    giver = best["offer_id"].map(seen["offers"].set_index("offer_id")["org_id"])
    taker = best["need_id"].map(seen["needs"].set_index("need_id")["org_id"])
    moved = ~(giver.map(place["exact_location"]).astype(bool) & taker.map(place["exact_location"]).astype(bool)) \
        if "exact_location" in place.columns else pd.Series(False, index=best.index)
    arcs = pd.DataFrame({
        "from_org": best["from_org"], "to_org": best["to_org"], "name": best["from_org"] + " → " + best["to_org"],
        "label": (": " + best["material"] + np.where(best["exchanged_kg"].isna(), f", {PRIVATE_QUANTITY_NOTE}",
                                                      " " + best["exchanged_kg"].map(format_mass) + " per year")
                  + np.where(moved, f" ({PRIVATE_LOCATION_NOTE})", "")),
        "score": best["score"].astype(float),
        "from_lat": giver.map(place["lat"]).astype(float), "from_lon": giver.map(place["lon"]).astype(float),
        "to_lat": taker.map(place["lat"]).astype(float), "to_lon": taker.map(place["lon"]).astype(float),
    })
    return markers, arcs.reset_index(drop=True)


PRIVATE_TABLES = ("organisations", "offers")  # the input tables the privacy rules change


def input_table_as_seen(name: str, tables: dict[str, pd.DataFrame], may_see_exact: Iterable[str] = ()) -> pd.DataFrame:
    """An input table as this viewer may read it in full (the Methods page's "data behind the model"): the
    organisations placed by the location rule and without their owner account, the offers with hidden
    quantities as bands (``public_view``); every other table as stored."""
    if name == "organisations":
        seen = organisations_as_seen(tables["organisations"], tables["offers"], tables["cities"], may_see_exact)
        return seen.drop(columns=["owner"], errors="ignore")
    if name == "offers":
        return public_view(tables["offers"], may_see_exact)
    return tables[name]
