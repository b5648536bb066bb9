"""The city model: how many products a city holds, when they retire, and where their materials go.

Two steps (reference METHODS.md, section 1), on the inputs of decision_tools.model_inputs:

1. (decision_tools.stock_model) A stock-driven dynamic stock model per region (a district, or the whole city where no districts
   are known) and product, 1980-2050, with flodym: the stock in use is ownership per driver
   (inhabitant, household or city) x the driver; inflows and outflows follow from the lifetime
   distribution. Retired units go to hibernation (drawers) for a share, modelled as a second,
   inflow-driven stock with an exponential residence time, or are discarded directly.
2. (here) The material chain, in kg of each material, with transfer coefficients that sum to one:
   end-of-life discards -> export/reuse abroad | domestic; domestic -> separate collection | residual
   waste; separate collection -> recycling -> secondary supply | recycling losses.

Every process balances: inflow - outflow - stock change = 0. The first 20 years are a spin-up so
that the stock of 2000 has a realistic age structure; results are reported from 2000.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import flodym as fd
import numpy as np
import pandas as pd

from .model_inputs import ChainInputs, CityInputs, regions_of, routing_rows, target_stock_units
from .provenance import join_sources, weakest
from .stock_model import YEARS, MaterialInUse, hibernation_lifetime, inflow_driven, use_stock
from .system import EDGES, REPORT_START, STOCK_PROCESSES

@dataclass
class ModelResult:
    """Long tables, ready for the store. Masses in kg, years REPORT_START..REPORT_END
    (stocks from REPORT_START - 1 so that every reported year's stock change can be checked)."""

    flows: pd.DataFrame  # city, district, year, product, material, from_process, to_process, kg, provenance
    stocks: pd.DataFrame  # city, district, year, product, material, process, kg, provenance
    unit_stocks: pd.DataFrame  # city, district, year, product, process, units


@dataclass(frozen=True)
class ChainArrays:
    """What one run of the material chain reads, for X variants at once (the regions of the stored model,
    the Monte Carlo's samples, or the one city of a scenario): the units entering, leaving and in use
    (t, X, g) and the material they carry by cohort (MaterialInUse, (t, X, p)); the drawers' residence
    time; shares 0..1 (t, X or 1, g) and recovery yields 0..1 (t, X or 1, p); the product of each pair."""

    inflow_u: np.ndarray
    outflow_u: np.ndarray
    stock_u: np.ndarray
    material: MaterialInUse
    hibernation_lifetime: fd.LifetimeModel
    hibernation_share: np.ndarray
    export_share: np.ndarray
    collection_rate: np.ndarray
    recovery_yield: np.ndarray
    g_of_pair: np.ndarray
    take_back_share: np.ndarray | None = None  # retiring units a take-back campaign brings straight to collection


def material_chain(arrays: ChainArrays):
    """From units entering, leaving and in use to every flow and stock of the chain in kg (t, X, p).

    Units leave use with the content of their cohort and keep it through drawers and waste handling,
    so every step after use is computed in kg per pair. Units taken back skip the drawers and go to
    separate collection (none by default). Returns (flows: {(from, to): kg}, stocks: {process: kg},
    unit_stocks: {process: units}).
    """
    a = arrays
    take_back = a.take_back_share if a.take_back_share is not None else np.zeros_like(a.hibernation_share)

    def per_pair(share: np.ndarray) -> np.ndarray:
        return share[..., a.g_of_pair]

    hib_pairs = SimpleNamespace(pdf=a.hibernation_lifetime.pdf[..., a.g_of_pair], sf=a.hibernation_lifetime.sf[..., a.g_of_pair])
    outflow_kg = a.material.outflow_kg
    returned_kg = outflow_kg * per_pair(take_back)
    to_hibernation_kg = outflow_kg * per_pair(a.hibernation_share)
    from_hibernation_kg, hibernation_stock_kg = inflow_driven(hib_pairs, to_hibernation_kg)
    discarded_kg = outflow_kg - to_hibernation_kg - returned_kg + from_hibernation_kg  # reaches waste handling as usual
    eol_kg = discarded_kg + returned_kg
    export_kg = discarded_kg * per_pair(a.export_share)
    collected_kg = (discarded_kg - export_kg) * per_pair(a.collection_rate) + returned_kg
    secondary_kg = collected_kg * a.recovery_yield
    flows = {
        ("market", "use"): a.material.inflow_kg,
        ("use", "hibernation"): to_hibernation_kg,
        ("use", "end_of_life"): outflow_kg - to_hibernation_kg,  # includes units taken back
        ("hibernation", "end_of_life"): from_hibernation_kg,
        ("end_of_life", "export_reuse_abroad"): export_kg,
        ("end_of_life", "residual_waste"): eol_kg - export_kg - collected_kg,
        ("end_of_life", "separate_collection"): collected_kg,
        ("separate_collection", "recycling"): collected_kg,
        ("recycling", "secondary_supply"): secondary_kg,
        ("recycling", "recycling_loss"): collected_kg - secondary_kg,
    }
    _, hibernation_stock_u = inflow_driven(a.hibernation_lifetime, a.outflow_u * a.hibernation_share)
    stocks = {"use": a.material.stock_kg, "hibernation": hibernation_stock_kg}
    return flows, stocks, {"use": a.stock_u, "hibernation": hibernation_stock_u}


def run_city_model(tables: dict[str, pd.DataFrame]) -> ModelResult:
    """Run the model for every city in ``tables`` (as returned by ingestion.read_project_tables)."""
    products_table = tables["products"].reset_index(drop=True)
    regions = regions_of(tables["cities"], tables["districts"])
    target, ownership_prov = target_stock_units(tables, regions)
    inputs = ChainInputs.from_tables(tables)
    inflow_u, outflow_u, stock_u, material = use_stock(products_table, target, content=inputs.content)
    by_place = {place: ChainInputs.from_tables(tables, *place)
                for place in dict.fromkeys(zip(regions["city"], regions["country_iso3"]))}
    routing = [by_place[place] for place in zip(regions["city"], regions["country_iso3"])]

    def per_region(share: str) -> np.ndarray:  # (t, r, g)
        return np.stack([getattr(chain, share) for chain in routing], axis=1)

    flows_kg, stocks_kg, units = material_chain(ChainArrays(
        inflow_u, outflow_u, stock_u, material, hibernation_lifetime(products_table),
        per_region("hibernation_share"), per_region("export_share"), per_region("collection_rate"),
        inputs.recovery_yield[:, None, :], inputs.g_of_pair,
    ))

    provenance = _provenance(tables, regions, inputs.products, inputs.pairs, ownership_prov)
    report_flow = YEARS >= REPORT_START
    report_stock = YEARS >= REPORT_START - 1
    flows = _long_frame(regions, inputs.pairs, YEARS[report_flow], provenance, [
        (frm, to, stage, flows_kg[(frm, to)][report_flow]) for frm, to, stage in EDGES
    ], kind="flow")
    stocks = _long_frame(regions, inputs.pairs, YEARS[report_stock], provenance, [
        (process, None, stage, stocks_kg[process][report_stock]) for process, stage in STOCK_PROCESSES.items()
    ], kind="stock")
    unit_stocks = _unit_frame(regions, inputs.products, YEARS[report_stock], {
        process: values[report_stock] for process, values in units.items()
    })
    return ModelResult(flows=flows, stocks=stocks, unit_stocks=unit_stocks)


def _provenance(tables, regions, products, pairs, ownership_prov) -> dict[str, pd.DataFrame]:
    """Weakest confidence and union of sources per (region, pair) for each stage of the chain."""
    # Plain dicts of (labels, sources) looked up once per key: the loop below runs for every region and pair.
    def labelled(frame: pd.DataFrame, by) -> dict:
        return {key: (list(rows["confidence"]), list(rows["source_id"])) for key, rows in frame.groupby(by)}

    product_rows = tables["products"].set_index("product")[["confidence", "source_id"]].to_dict("index")
    content = tables["product_content"].groupby(["product", "material"]).agg(
        confidence=("confidence", weakest), source_id=("source_id", join_sources)).to_dict("index")
    yields = labelled(tables["recovery_yields"], ["product", "material"])
    own = {(int(r), int(g)): (confidence, source_id, bool(downscaled)) for r, g, confidence, source_id, downscaled
           in ownership_prov[["r", "g", "confidence", "source_id", "downscaled"]].itertuples(index=False)}
    routing: dict[tuple, dict] = {}
    stages: dict[str, list] = {"use": [], "routing": [], "recovery": []}
    for r, region in enumerate(regions.itertuples(index=False)):
        place = (region.city, region.country_iso3)
        if place not in routing:
            routing[place] = labelled(routing_rows(tables["eol_routing"], *place), "product")
        for p, (product, material) in enumerate(pairs):
            own_confidence, own_sources, downscaled = own[(r, products.index(product))]
            described, contained = product_rows[product], content[(product, material)]
            labels = [region.confidence, own_confidence, described["confidence"], contained["confidence"]]
            sources = [region.source_id, own_sources, described["source_id"], contained["source_id"]]
            stages["use"].append((r, p, weakest(labels), join_sources(sources), downscaled))
            routed_labels, routed_sources = routing[place][product]
            labels, sources = labels + routed_labels, sources + routed_sources
            stages["routing"].append((r, p, weakest(labels), join_sources(sources), downscaled))
            yield_labels, yield_sources = yields[(product, material)]
            labels, sources = labels + yield_labels, sources + yield_sources
            stages["recovery"].append((r, p, weakest(labels), join_sources(sources), downscaled))
    columns = ["r", "p", "confidence", "source_ids", "downscaled"]
    return {stage: pd.DataFrame(rows, columns=columns) for stage, rows in stages.items()}


def _long_frame(regions, pairs, years, provenance, blocks, kind: str) -> pd.DataFrame:
    """Flatten arrays (t, r, p) into long rows with their region, pair and provenance columns."""
    n_t, n_r, n_p = len(years), len(regions), len(pairs)
    r_idx = np.tile(np.repeat(np.arange(n_r), n_p), n_t)
    p_idx = np.tile(np.arange(n_p), n_t * n_r)
    base = pd.DataFrame({
        "city": regions["city"].to_numpy()[r_idx],
        "district": regions["district"].to_numpy()[r_idx],
        "year": np.repeat(years, n_r * n_p).astype(int),
        "product": np.array([p for p, _ in pairs])[p_idx],
        "material": np.array([m for _, m in pairs])[p_idx],
    })
    frames = []
    for first, second, stage, values in blocks:
        prov = provenance[stage]
        pos = r_idx * n_p + p_idx  # provenance rows are ordered by (r, p)
        frame = base.copy()
        if kind == "flow":
            frame["from_process"], frame["to_process"] = first, second
        else:
            frame["process"] = first
        frame["kg"] = values.reshape(-1)
        frame["confidence"] = prov["confidence"].to_numpy()[pos]
        frame["source_ids"] = prov["source_ids"].to_numpy()[pos]
        frame["downscaled"] = prov["downscaled"].to_numpy()[pos]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _unit_frame(regions, products, years, stocks: dict[str, np.ndarray]) -> pd.DataFrame:
    n_t, n_r, n_g = len(years), len(regions), len(products)
    r_idx = np.tile(np.repeat(np.arange(n_r), n_g), n_t)
    g_idx = np.tile(np.arange(n_g), n_t * n_r)
    frames = []
    for process, values in stocks.items():
        frames.append(pd.DataFrame({
            "city": regions["city"].to_numpy()[r_idx],
            "district": regions["district"].to_numpy()[r_idx],
            "year": np.repeat(years, n_r * n_g).astype(int),
            "product": np.array(products)[g_idx],
            "process": process,
            "units": values.reshape(-1),
        }))
    return pd.concat(frames, ignore_index=True)


def run_city_inputs(inputs: CityInputs):
    """The central (deterministic) chain of one city's inputs: (flows, stocks) in kg, each (t, 1, p).

    Reuse: retiring units reused in the city replace new ones, so both the inflow of new units and
    the outflow to end of life fall by the reused units (the stock in use is unchanged).
    """
    c = inputs.chain
    inflow_u, outflow_u, stock_u, material = use_stock(
        inputs.products_table, inputs.target, lifetime_factor_by_year=inputs.lifetime_factor_by_year[:, None, :],
        content=c.content)
    reused_u = np.minimum(outflow_u * inputs.reuse_share[:, None, :], inflow_u)
    # A reused unit replaces a new one and stays in use: both flows fall by it (counted at the content
    # of that year's new units, so the stock in use is unchanged and the balance closes).
    reused_kg = reused_u[..., c.g_of_pair] * c.kg_per_unit[:, None, :]
    material = MaterialInUse(material.inflow_kg - reused_kg, material.outflow_kg - reused_kg, material.stock_kg)
    flows, stocks, _ = material_chain(ChainArrays(
        inflow_u - reused_u, outflow_u - reused_u, stock_u, material, hibernation_lifetime(inputs.products_table),
        c.hibernation_share[:, None, :], c.export_share[:, None, :], c.collection_rate[:, None, :],
        c.recovery_yield[:, None, :], c.g_of_pair, inputs.take_back_share[:, None, :],
    ))
    return flows, stocks
