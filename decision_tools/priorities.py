"""What a city should do first: the largest losses of its chain and the levers that avoid most of them
per euro. Owns the rule behind the Overview's "What to do first"; no Streamlit here.

The rule, in words:

1. **Largest losses**: the loss flows of the year (residual waste, export / reuse abroad, recycling losses;
   per product) sorted by kg per year, each with its share of what reaches end of life that year (what is
   discarded). The first ``top`` are named.
2. **Levers that address them**: a lever addresses a loss flow when it covers the flow's product and its
   parameter acts on the flow's route (LEVER_ROUTES): collection and take-back on residual waste, export
   checks on exports, recovery yield on recycling losses; repair, reuse and fewer units needed prevent
   discards on every route. A lever that only changes recycled content addresses none.
3. **Per euro**: each lever alone at its maximum (as the Policy page's leverage ranking does), run by the
   scenario engine: the kg of losses per year it avoids in the effect year (the chosen year, but no earlier
   than the year every lever has reached its full effect, since costs are those at full roll-out), divided by
   its yearly cost. Levers that avoid nothing are dropped; levers without a cost figure are listed after the
   costed ones, by kg avoided, and said to have no cost figure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import urlencode

import numpy as np
import pandas as pd

from .formatting import escape_markdown, format_mass, format_share
from .system import LOSS_PROCESSES, PROCESS_LABELS

PREVENTION_PARAMETERS = ("lifetime_extension", "reuse_share", "units_needed")  # fewer discards on every route
LEVER_ROUTES: dict[str, tuple[str, ...]] = {
    "collection_rate": ("residual_waste",),
    "hibernation_return": ("residual_waste", "export_reuse_abroad"),  # drawer devices go straight to collection
    "export_share": ("export_reuse_abroad",),
    "recovery_yield": ("recycling_loss",),
    "recycled_content": (),  # changes what new products contain, not where the city's discards go
    **{parameter: LOSS_PROCESSES for parameter in PREVENTION_PARAMETERS},
}
# A loss flow in a sentence, "{product}" standing for the product's name (PROCESS_LABELS are headings).
ROUTE_PHRASES = {"residual_waste": "{product} thrown away with residual waste",
                 "export_reuse_abroad": "{product} exported or reused abroad",
                 "recycling_loss": "{product} lost in recycling"}


def largest_losses(losses: pd.DataFrame, end_of_life_kg: float, top: int = 3) -> pd.DataFrame:
    """The ``top`` largest loss flows of one year from rows route, product, kg (several materials are summed):
    columns route, product, kg_per_year, share_of_discarded (of ``end_of_life_kg``; NaN when nothing is discarded)."""
    frame = losses[losses["route"].isin(LOSS_PROCESSES)]
    frame = frame.groupby(["route", "product"], as_index=False)["kg"].sum()
    frame = frame[frame["kg"] > 0].sort_values(["kg", "route", "product"], ascending=[False, True, True], kind="stable")
    frame = frame.head(top).rename(columns={"kg": "kg_per_year"}).reset_index(drop=True)
    frame["share_of_discarded"] = frame["kg_per_year"] / end_of_life_kg if end_of_life_kg > 0 else np.nan
    return frame


def addresses(lever, route: str, product: str) -> bool:
    """Whether a lever (levers.Lever) acts on the loss flow of ``product`` by ``route``."""
    covers = lever.products is None or product in lever.products
    return covers and route in LEVER_ROUTES.get(lever.parameter, ())


def effect_year(levers, year: int) -> int:
    """The year the levers are compared in: ``year``, but no earlier than every lever's full effect."""
    full = max((lever.start_year + lever.ramp_years - 1 for lever in levers.values()), default=year)
    return max(year, full)


def levers_addressing(levers, top_losses: pd.DataFrame) -> tuple[str, ...]:
    """The ids of the levers that act on at least one of ``top_losses`` (route, product): the only ones
    best_levers can pick, so the only ones worth a model run."""
    return tuple(lever_id for lever_id, lever in levers.items()
                 if any(addresses(lever, r, p) for r, p in zip(top_losses["route"], top_losses["product"])))


def loss_ranking(engine, year: int, lever_ids: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Each lever of a scenarios.ScenarioEngine (or those of ``lever_ids``) alone at its maximum: the losses it
    avoids in ``year`` (kg per year, baseline minus lever), its yearly cost at full roll-out and the kg avoided
    per 1,000 EUR (NaN without a cost). The runs are the engine's remembered ones, the same as the Policy
    page's leverage ranking."""
    base_kg = engine.indicators(engine.baseline, year)["lost_kg"]
    rows = []
    for lever in engine.levers.values():
        if lever_ids is not None and lever.lever_id not in lever_ids:
            continue  # a model run each: only the levers that could be picked
        run = engine.run({lever.lever_id: lever.maximum})
        avoided = base_kg - engine.indicators(run, year)["lost_kg"]
        if abs(avoided) <= 1e-9 * max(abs(base_kg), 1e-12):
            avoided = 0.0  # floating-point noise, not an effect
        cost = run.cost_eur_per_year
        rows.append({"lever_id": lever.lever_id, "lever": lever.name, "level": lever.maximum,
                     "avoided_kg_per_year": avoided, "cost_eur_per_year": cost,
                     "avoided_kg_per_1000_eur": avoided / cost * 1000 if _has_cost(cost) else np.nan})
    return pd.DataFrame(rows, columns=["lever_id", "lever", "level", "avoided_kg_per_year", "cost_eur_per_year",
                                       "avoided_kg_per_1000_eur"])


def _has_cost(cost) -> bool:
    return cost is not None and not (isinstance(cost, float) and math.isnan(cost)) and cost > 0


def best_levers(ranking: pd.DataFrame, top_losses: pd.DataFrame, levers, top: int = 2) -> pd.DataFrame:
    """The levers (rows of ``ranking`` as loss_ranking makes it) that address at least one of ``top_losses`` and
    avoid some loss: those with a cost by kg avoided per 1,000 EUR, then those without by kg avoided. Adds
    ``has_cost`` and ``addresses`` (the (route, product) pairs of top_losses it acts on); the first ``top``."""
    rows = []
    for row in ranking.to_dict(orient="records"):
        lever = levers.get(row["lever_id"])
        if lever is None or not row["avoided_kg_per_year"] > 0:
            continue
        hit = [(r, p) for r, p in zip(top_losses["route"], top_losses["product"]) if addresses(lever, r, p)]
        if hit:
            rows.append({**row, "has_cost": _has_cost(row["cost_eur_per_year"]), "addresses": hit})
    frame = pd.DataFrame(rows, columns=[*ranking.columns, "has_cost", "addresses"])
    if frame.empty:
        return frame
    frame["_order"] = np.where(frame["has_cost"], frame["avoided_kg_per_1000_eur"], frame["avoided_kg_per_year"])
    frame = frame.sort_values(["has_cost", "_order", "lever"], ascending=[False, False, True], kind="stable")
    return frame.drop(columns="_order").head(top).reset_index(drop=True)


def policy_link(lever_id: str, level: float, **selection) -> str:
    """A relative link to the Policy page with one lever preselected (its slider is bound to the URL) and the
    city, year and material of ``selection``."""
    return "./policy?" + urlencode({**{k: v for k, v in selection.items() if v is not None}, lever_id: f"{level:g}"})


@dataclass(frozen=True)
class Advice:
    """The answer as short Markdown sentences (data text escaped), and the levers it links to."""

    sentences: list[str]
    lever_ids: list[str]


def flow_words(route: str, product_name: str) -> str:
    """A loss flow in words ("Laptop thrown away with residual waste"), the product's name escaped."""
    phrase = ROUTE_PHRASES.get(route, "{product}: " + PROCESS_LABELS.get(route, route).lower())
    return phrase.format(product=escape_markdown(product_name, 60))


def round_eur(value: float) -> str:
    """A yearly cost to three significant figures, as people say it: 40,379 -> '40,400'."""
    if not value > 0:
        return f"{value:,.0f}"
    return f"{round(value, -max(0, int(math.floor(math.log10(value))) - 2)):,.0f}"


def do_first(top_losses: pd.DataFrame, best: pd.DataFrame, product_names: dict[str, str], end_of_life_kg: float,
             what: str, year: int, lever_year: int, link_params: dict) -> Advice:
    """Three short sentences: the largest losses (kg per year and share of what is discarded), the lever that
    avoids most of them per euro, and the next one (or what is missing). ``what`` names the material(s) (plain
    text, escaped here); ``link_params`` go into the Policy links (city, material, ...; the year is ``lever_year``)."""
    what = escape_markdown(what, 80)
    if top_losses.empty:
        return Advice([f"Nothing of {what} is lost in {year}: there is no loss to address yet."], [])
    flows = [f"{flow_words(r.route, product_names.get(r.product, r.product))} "
             f"({format_mass(r.kg_per_year)}{' per year' if i == 0 else ''}, {format_share(r.share_of_discarded, 0)}"
             f"{' of the ' + format_mass(end_of_life_kg) + ' discarded' if i == 0 else ''})"
             for i, r in enumerate(top_losses.itertuples())]
    listed = flows[0] if len(flows) == 1 else ", ".join(flows[:-1]) + " and " + flows[-1]
    sentences = [f"**Largest losses** of {what} in {year}: {listed}."]
    when = f"in {lever_year}" + (" (when every lever has reached its full effect)" if lever_year != year else "")
    if best.empty:
        sentences.append(f"No lever in the levers table acts on these losses {when}; the "
                         f"[Policy page]({policy_link_page(link_params, lever_year)}) lists every lever and what it moves.")
        return Advice(sentences, [])
    for position, row in enumerate(best.itertuples()):
        name = f"[{escape_markdown(row.lever, 80)}]({policy_link(row.lever_id, row.level, **link_params, year=lever_year)})"
        targets = " and ".join(flow_words(r, product_names.get(p, p)) for r, p in row.addresses[:2])
        if row.has_cost:
            effect = (f"avoids {format_mass(row.avoided_kg_per_year)} of losses per year {when} for about "
                      f"{round_eur(row.cost_eur_per_year)} EUR per year ({format_mass(row.avoided_kg_per_1000_eur)} per 1,000 EUR)")
        else:
            effect = (f"avoids {format_mass(row.avoided_kg_per_year)} of losses per year {when}, but has no cost figure "
                      "in the levers table, so its effect per euro is unknown")
        lead = "**Best per euro**" if position == 0 else "**Next**"
        sentences.append(f"{lead}: {name}, against {targets}. At its maximum it {effect}.")
    return Advice(sentences, list(best["lever_id"]))


def policy_link_page(link_params: dict, year: int) -> str:
    """A relative link to the Policy page for the same selection, no lever moved."""
    return "./policy?" + urlencode({**{k: v for k, v in link_params.items() if v is not None}, "year": year})
