"""EU targets against the city's rates: which target can be drawn on which rate, for which products and
materials, on what basis; and, for every one that cannot, the reason.

A target is drawn only when (data/targets.csv) its ``basis`` is ``same`` (the law divides by what the
dashboard divides by) or ``converted`` (its value times a stated ``conversion_factor`` is the value on
the dashboard's basis), it is set for the material shown, and a modelled product in its scope carries
that material. When its scope is a subset of the products behind the chart (the WEEE products, say,
and not the EV parts and turbines beside them), it is compared with the rate over those products
only, computed here from the Monte Carlo samples per (product, material) pair.

``year`` is the first calendar year a target applies in full ("by 31 December 2027" -> 2028).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import indicators as ind

BASES = ("same", "converted", "not_comparable")

# The rates the page follows over time, each from the summed quantities of a set of pairs (kg).
RATES = {
    "collection_rate": lambda q: ind.collection_rate(q["separately_collected"], q["end_of_life"]),
    "recovery_efficiency": lambda q: ind.recovery_efficiency(q["secondary_supply"], q["separately_collected"]),
    "eol_recycling_rate": lambda q: ind.eol_recycling_rate(q["secondary_supply"], q["end_of_life"]),
    "secondary_supply_share": lambda q: ind.secondary_supply_share(q["secondary_supply"], q["new_products"]),
    "circular_material_use_rate": lambda q: ind.circular_material_use_rate(q["secondary_supply"], q["new_products"]),
}
_QUANTITIES = ("separately_collected", "end_of_life", "secondary_supply", "new_products")

# Tables built before targets carried their definition and scope (an old database) get these, so
# nothing is drawn from them until the database is rebuilt.
OLD_LAYOUT_REASON = ("this dataset version was built before targets stated their legal definition, denominator and "
                     "scope; rebuild the database to compare them")
_DEFAULTS = {"definition": "", "denominator": "", "products": "all", "basis": "not_comparable",
             "conversion_factor": np.nan, "reason": OLD_LAYOUT_REASON, "note": ""}

LINE_COLUMNS = ["target_id", "description", "instrument", "definition", "denominator", "legal_value_share",
                "value_share", "direction", "year", "basis", "reason", "confidence", "series", "label"]
LISTED_COLUMNS = ["target_id", "description", "instrument", "indicator", "legal_value_share", "year", "definition",
                  "denominator", "reason"]


@dataclass(frozen=True)
class TargetComparison:
    """Drawable lines (``LINE_COLUMNS``; ``value_share`` on the dashboard's basis, ``series`` None for
    the chart's own rate, else the name of a rate over fewer products), the targets listed as not
    comparable (``LISTED_COLUMNS``) and, per series, the pair columns its rate sums."""

    lines: pd.DataFrame
    not_comparable: pd.DataFrame
    scopes: dict[str, tuple[int, ...]] = field(default_factory=dict)


def split_codes(value) -> list[str]:
    """A ';'-separated list of codes; empty or missing gives []."""
    if value is None or pd.isna(value):
        return []
    return [code.strip() for code in str(value).split(";") if code.strip()]


def with_layout(targets: pd.DataFrame) -> pd.DataFrame:
    """The targets table with every column of the current layout (defaults for an older one)."""
    out = targets.copy()
    old_layout = "basis" not in out.columns
    for column, default in _DEFAULTS.items():
        if column not in out.columns:
            out[column] = default
    if old_layout:
        out["basis"], out["reason"] = "not_comparable", OLD_LAYOUT_REASON
    return out


def _names(codes: Iterable[str], names: Mapping[str, str] | None) -> str:
    return ", ".join((names or {}).get(code, code) for code in codes)


def _listed(row, reason: str) -> dict:
    return {"target_id": row.target_id, "description": row.description, "instrument": row.instrument,
            "indicator": row.indicator if isinstance(row.indicator, str) else "", "legal_value_share": float(row.value_share),
            "year": int(row.year), "definition": row.definition, "denominator": row.denominator, "reason": reason}


def compare_targets(targets: pd.DataFrame, indicator: str, materials: Sequence[str], pairs: Sequence[tuple[str, str]],
                    rate_label: str, product_names: Mapping[str, str] | None = None,
                    material_names: Mapping[str, str] | None = None, last_year: int | None = None) -> TargetComparison:
    """The targets set for ``indicator`` that can be drawn on the chart of that rate for ``materials``
    (one material, or several added up), whose rate sums ``pairs`` (product, material); the rest of
    them listed with the reason they are not drawn."""
    targets = with_layout(targets)
    materials = list(materials)
    chart_columns = tuple(i for i, (_, m) in enumerate(pairs) if m in materials)
    known_products = set(product_names) if product_names is not None else {p for p, _ in pairs}
    lines, listed, scopes = [], [], {}
    for row in targets[targets["indicator"] == indicator].itertuples(index=False):
        target_materials = None if str(row.materials).strip() == "all" else split_codes(row.materials)
        if target_materials is not None and len(materials) == 1 and materials[0] not in target_materials:
            continue  # about other materials: not for this chart
        if row.basis == "not_comparable":
            listed.append(_listed(row, row.reason))
            continue
        if target_materials is not None and len(materials) > 1:
            listed.append(_listed(row, f"set for {_names(target_materials, material_names)} only, each on its own, while "
                                       "the chart adds several materials up: pick one of them to see it"))
            continue
        codes = split_codes(row.products)
        scope_products = known_products if codes == ["all"] else set(codes)
        unknown = sorted(scope_products - known_products)
        if unknown:
            listed.append(_listed(row, f"names products the data do not have: {', '.join(unknown)}"))
            continue
        columns = tuple(i for i in chart_columns if pairs[i][0] in scope_products)
        if not columns:
            shown = _names(materials, material_names) if len(materials) == 1 else "the materials shown"
            listed.append(_listed(row, f"no product in its scope ({_names(sorted(scope_products), product_names) or 'none modelled'}) "
                                       f"contains {shown} in the model"))
            continue
        value = float(row.value_share)
        if row.basis == "converted":
            if pd.isna(row.conversion_factor):
                listed.append(_listed(row, "marked as converted, but no conversion factor is given"))
                continue
            value *= float(row.conversion_factor)
        if last_year is not None and int(row.year) > last_year:
            listed.append(_listed(row, f"applies from {int(row.year)}, after the last modelled year {last_year}"))
            continue
        if set(columns) == set(chart_columns):
            series, compared = None, f"the {rate_label.lower()} shown (its scope covers every product in it)"
        else:
            products_in = list(dict.fromkeys(pairs[i][0] for i in columns))
            series = f"{rate_label}, {_names(products_in, product_names)} only"
            scopes[series] = columns
            compared = f"the {rate_label.lower()} of {_names(products_in, product_names)} only"
        converted = f"; converted x {float(row.conversion_factor):g} to the dashboard's basis" if row.basis == "converted" else ""
        lines.append({
            "target_id": row.target_id, "description": row.description, "instrument": row.instrument,
            "definition": row.definition, "denominator": row.denominator, "legal_value_share": float(row.value_share),
            "value_share": value, "direction": row.direction, "year": int(row.year), "basis": row.basis,
            "reason": row.reason, "confidence": row.confidence, "series": series,
            "label": f"{row.description} ({row.instrument}), from {int(row.year)}{converted}; compared with {compared}",
        })
    return TargetComparison(pd.DataFrame(lines, columns=LINE_COLUMNS), pd.DataFrame(listed, columns=LISTED_COLUMNS), scopes)


def not_charted(targets: pd.DataFrame, charted: Iterable[str]) -> pd.DataFrame:
    """Targets set for no indicator charted over time (``charted``): each with the reason it is not drawn."""
    targets = with_layout(targets)
    charted = set(charted)
    rows = []
    for row in targets.itertuples(index=False):
        if isinstance(row.indicator, str) and row.indicator in charted:
            continue
        reason = row.reason if row.basis == "not_comparable" else f"no chart over time of {row.indicator or 'its indicator'} on this page"
        rows.append(_listed(row, reason))
    return pd.DataFrame(rows, columns=LISTED_COLUMNS)


def rate_samples(by_pair: Mapping[str, np.ndarray], indicator: str, columns: Sequence[int], pair_weights=None) -> np.ndarray:
    """The rate over the pair ``columns`` only, per sample and year (s, t), from quantities (s, t, p) in
    kg; with ``pair_weights`` (p,) each pair's kg count with its weight, as the chart's own rate does."""
    if indicator not in RATES:
        raise ValueError(f"No rate {indicator!r} can be computed over a subset of products; choose one of {', '.join(RATES)}.")
    index = list(columns)
    weights = np.ones(len(index)) if pair_weights is None else np.asarray(pair_weights, dtype=float)[index]
    summed = {q: np.asarray(by_pair[q], dtype=float)[:, :, index] @ weights for q in _QUANTITIES}
    return np.asarray(RATES[indicator](summed), dtype=float)


def scoped_rate_bands(sim, indicator: str, scopes: Mapping[str, Sequence[int]], pair_weights=None) -> pd.DataFrame:
    """Per series (a rate over some products) and year: the central run's value (the draws' median
    when ``sim`` has no central run) and the draws' p05, p95. ``sim`` is anything with ``by_pair``,
    ``years`` and optionally ``central``, as uncertainty.Simulation."""
    from .uncertainty import summarise  # the same percentiles as the chart's own band

    frames = []
    central_run = getattr(sim, "central", None)
    for series, columns in scopes.items():
        band = summarise(rate_samples(sim.by_pair, indicator, columns, pair_weights), axis=0)
        central = (rate_samples(central_run.by_pair, indicator, columns, pair_weights)[0] if central_run is not None
                   else band["median"])
        frames.append(pd.DataFrame({"series": series, "year": np.asarray(sim.years, dtype=int),
                                    "central": central, "p05": band["p05"], "p95": band["p95"]}))
    if not frames:
        return pd.DataFrame(columns=["series", "year", "central", "p05", "p95"])
    return pd.concat(frames, ignore_index=True)
