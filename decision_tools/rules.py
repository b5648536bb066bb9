"""The rules lens: which EU rules apply to a product in a year, and what legally backs each lever.

Three tables feed it: ``product_regimes`` (the waste regimes that cover each product: WEEE and its Annex III
category, the Batteries Regulation, ELV, or none), ``targets`` (the numeric targets, each with the first year
it applies in full) and ``eu_instruments`` (the other obligations: design, treatment, labelling, exports,
national programmes, each with the date it applies from). A product without a regime row is "regime not
recorded", never an error: new products may arrive before their regime is.

Targets come in series: the same rate, over the same materials and denominator, raised step by step (lithium
recovered from waste batteries: 50 % from 2028, 80 % from 2032, as the law's "by 31 December 2027" and
"by 31 December 2031" read in ``targets.csv``). The value in force in a year is the latest step whose year is
at or before it; the next step is the first one after it. Shares are fractions 0..1.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from .column_specs import WASTE_REGIMES
from .targets import split_codes, with_layout

NOT_RECORDED = "regime not recorded"
VOLUNTARY = "none: the city's own choice"

TARGET_COLUMNS = ["series", "target_id", "description", "instrument", "materials", "value_share", "year",
                  "next_target_id", "next_description", "next_value_share", "next_year", "economy_wide"]
INSTRUMENT_COLUMNS = ["instrument_id", "instrument", "article", "obligation", "materials", "from_date", "status",
                      "who_acts", "note"]
SUMMARY_COLUMNS = ["product", "regimes", "weee_category", "targets_in_force", "next_targets", "other_obligations",
                   "regime_note"]
BACKING_COLUMNS = ["lever_id", "lever", "acting_level", "legal_basis", "backing"]


@dataclass(frozen=True)
class ProductRules:
    """What applies to one product in one year: its regimes (empty when not recorded), its WEEE category
    (None when not WEEE or not recorded), the target series (``TARGET_COLUMNS``: the step in force, if
    any, and the next one) and the other obligations (``INSTRUMENT_COLUMNS``, in force or coming)."""

    product: str
    year: int
    regimes: tuple[str, ...]
    weee_category: int | None
    regime_note: str
    targets: pd.DataFrame
    instruments: pd.DataFrame

    @property
    def recorded(self) -> bool:
        return bool(self.regimes)


def _text(value) -> str:
    """An optional cell as text: '' when empty (NaN, None, pd.NA)."""
    return value if isinstance(value, str) else ""


def product_regime(product_regimes: pd.DataFrame | None, product: str) -> tuple[tuple[str, ...], int | None, str]:
    """The product's regimes, WEEE category and note; ((), None, '') when the table has no row for it."""
    if product_regimes is None or product_regimes.empty:
        return (), None, ""
    rows = product_regimes[product_regimes["product"] == product]
    if rows.empty:
        return (), None, ""
    row = rows.iloc[0]
    regimes = tuple(code for code in split_codes(row["regimes"]) if code in WASTE_REGIMES)
    category = row.get("weee_category")
    category = None if category is None or pd.isna(category) else int(category)
    return regimes, category, _text(row.get("note"))


def _in_scope(codes_cell, product: str) -> bool:
    codes = split_codes(codes_cell)
    return "all" in codes or product in codes


def _series_key(row) -> tuple:
    """Targets that raise the same rate step by step share a key; a target with no city indicator (an
    EU-wide benchmark) is a series of its own."""
    indicator = _text(row["indicator"])
    if not indicator:
        return ("target", row["target_id"])
    return (indicator, _text(row["materials"]), _text(row["denominator"]), _text(row["direction"]))


def applicable_targets(targets: pd.DataFrame, product: str, year: int) -> pd.DataFrame:
    """The target series whose scope names ``product`` (or 'all'), with the step in force in ``year`` (the
    latest whose year is at or before it; empty when none is yet) and the next step after it (empty when
    none is set). Series whose every step has passed keep their last step; ``economy_wide`` marks targets
    set for every product ('all'), which are EU benchmarks rather than product rules."""
    if targets is None or targets.empty:
        return pd.DataFrame(columns=TARGET_COLUMNS)
    targets = with_layout(targets)  # an older version's table gets the current columns (scope 'all')
    scoped = targets[[_in_scope(value, product) for value in targets["products"]]]
    if scoped.empty:
        return pd.DataFrame(columns=TARGET_COLUMNS)
    rows = []
    for _, group in scoped.groupby(scoped.apply(_series_key, axis=1), sort=False):
        group = group.assign(year=group["year"].astype(int)).sort_values("year")
        now = group[group["year"] <= year]
        later = group[group["year"] > year]
        current = now.iloc[-1] if not now.empty else None
        upcoming = later.iloc[0] if not later.empty else None
        shown = current if current is not None else upcoming
        rows.append({
            "series": shown["description"], "target_id": current["target_id"] if current is not None else "",
            "description": current["description"] if current is not None else "",
            "instrument": shown["instrument"], "materials": _text(shown["materials"]),
            "value_share": float(current["value_share"]) if current is not None else float("nan"),
            "year": int(current["year"]) if current is not None else pd.NA,
            "next_target_id": upcoming["target_id"] if upcoming is not None else "",
            "next_description": upcoming["description"] if upcoming is not None else "",
            "next_value_share": float(upcoming["value_share"]) if upcoming is not None else float("nan"),
            "next_year": int(upcoming["year"]) if upcoming is not None else pd.NA,
            "economy_wide": "all" in split_codes(shown["products"]),
        })
    out = pd.DataFrame(rows, columns=TARGET_COLUMNS)
    out["year"] = out["year"].astype("Int64")
    out["next_year"] = out["next_year"].astype("Int64")
    return out


def instrument_status(from_date: str, year: int) -> str:
    """'in force since <date>', 'coming <date>' or 'date not fixed yet', for ``year``."""
    when = pd.to_datetime(_text(from_date), format="%Y-%m-%d", errors="coerce")
    if pd.isna(when):
        return "date not fixed yet"
    shown = f"{when.day} {when.strftime('%B')} {when.year}"
    return f"in force since {shown}" if when.year <= year else f"coming {shown}"


def applicable_instruments(instruments: pd.DataFrame | None, product: str, year: int,
                           regimes: Iterable[str] = ()) -> pd.DataFrame:
    """The obligations of ``eu_instruments`` that apply to ``product``: named in ``products`` (or 'all'), or
    set for one of its ``regimes``; each with its status in ``year``. Obligations in force come first, then
    those coming (by date), then those whose date is not fixed yet."""
    if instruments is None or instruments.empty:
        return pd.DataFrame(columns=INSTRUMENT_COLUMNS)
    regimes = set(regimes)
    hit = [_in_scope(_text(p), product) or bool(regimes & set(split_codes(_text(r))))
           for p, r in zip(instruments["products"], instruments["regimes"])]
    chosen = instruments[hit]
    rows = [{"instrument_id": row["instrument_id"], "instrument": row["instrument"], "article": row["article"],
             "obligation": row["obligation"], "materials": _text(row["materials"]), "from_date": _text(row["from_date"]),
             "status": instrument_status(row["from_date"], year), "who_acts": row["who_acts"], "note": _text(row.get("note"))}
            for _, row in chosen.iterrows()]
    out = pd.DataFrame(rows, columns=INSTRUMENT_COLUMNS)
    order = out["status"].map(lambda s: 0 if s.startswith("in force") else 1 if s.startswith("coming") else 2)
    return out.assign(_order=order).sort_values(["_order", "from_date"], kind="stable").drop(columns="_order").reset_index(drop=True)


def rules_for_product(tables: Mapping[str, pd.DataFrame], product: str, year: int) -> ProductRules:
    """Everything the rules lens knows for one product in one year. ``tables`` holds ``targets`` and, when
    the dataset has them, ``product_regimes`` and ``eu_instruments`` (older versions may lack them)."""
    regimes, category, note = product_regime(tables.get("product_regimes"), product)
    return ProductRules(product, int(year), regimes, category, note,
                        applicable_targets(tables.get("targets"), product, int(year)),
                        applicable_instruments(tables.get("eu_instruments"), product, int(year), regimes))


def regime_text(rules: ProductRules) -> str:
    """'WEEE (cat. 6); Batteries Regulation', 'none' or 'regime not recorded'."""
    if not rules.recorded:
        return NOT_RECORDED
    return "; ".join(f"WEEE (cat. {rules.weee_category})" if r == "WEEE" and rules.weee_category else r
                     for r in rules.regimes)


def _percent(share: float) -> str:
    return f"{100 * share:.3g} %"


def summary_row(rules: ProductRules, product_name: str | None = None, economy_wide: bool = False) -> dict:
    """One line of the rules table, as text for a reader (percent on screen). EU-wide benchmarks are left
    out unless ``economy_wide``: they apply to every material, not to any product."""
    targets = rules.targets if economy_wide else rules.targets[~rules.targets["economy_wide"].astype(bool)]
    in_force = [f"{r.description} (since {r.year})" for r in targets.itertuples() if r.target_id]
    coming = [f"{r.next_description} from {r.next_year}" for r in targets.itertuples() if r.next_target_id]
    others = [f"{r.instrument}, {r.article}: {r.status}" for r in rules.instruments.itertuples()]
    return {"product": product_name or rules.product, "regimes": regime_text(rules),
            "weee_category": rules.weee_category if rules.weee_category is not None else pd.NA,
            "targets_in_force": "; ".join(in_force) or "none in force",
            "next_targets": "; ".join(coming) or "none set",
            "other_obligations": "; ".join(others) or "none recorded",
            "regime_note": rules.regime_note}


def rules_table(tables: Mapping[str, pd.DataFrame], products: Iterable[str], year: int,
                product_names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per product (``SUMMARY_COLUMNS``): regimes, targets in force and coming, other obligations."""
    rows = [summary_row(rules_for_product(tables, p, year), (product_names or {}).get(p, p)) for p in products]
    out = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    out["weee_category"] = out["weee_category"].astype("Int64")
    return out


def target_detail(tables: Mapping[str, pd.DataFrame], products: Iterable[str], year: int,
                  product_names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Every target series of the products, one row per product and series, values as shares 0..1."""
    frames = []
    for product in products:
        targets = rules_for_product(tables, product, year).targets
        frames.append(targets.assign(product=(product_names or {}).get(product, product)))
    if not frames:
        return pd.DataFrame(columns=["product", *TARGET_COLUMNS])
    out = pd.concat(frames, ignore_index=True)
    return out[["product", *TARGET_COLUMNS]]


def lever_products(lever, all_products: Iterable[str]) -> list[str]:
    """The products a lever acts on: its own list, or every product when it names none ('all')."""
    products = list(all_products)
    return products if lever.products is None else [p for p in products if p in lever.products]


def lever_backing(lever, instruments: pd.DataFrame | None = None, targets: pd.DataFrame | None = None) -> dict:
    """Who can move the lever and what legally backs it: ``acting_level``, and ``basis`` a list of the
    instruments and targets it cites (kind, id, what, from), an id that the tables lack said so.
    An empty legal basis means the lever is voluntary: the city's own choice."""
    codes = split_codes(getattr(lever, "legal_basis", ""))
    known_instruments = {} if instruments is None or instruments.empty else instruments.set_index("instrument_id")
    known_targets = {} if targets is None or targets.empty else targets.set_index("target_id")
    basis = []
    for code in codes:
        if len(known_instruments) and code in known_instruments.index:
            row = known_instruments.loc[code]
            when = _text(row["from_date"])
            basis.append({"kind": "obligation", "id": code, "what": f"{row['instrument']}, {row['article']}",
                          "from": when or "date not fixed yet", "who_acts": row["who_acts"]})
        elif len(known_targets) and code in known_targets.index:
            row = known_targets.loc[code]
            basis.append({"kind": "target", "id": code, "what": f"{row['description']} ({row['instrument']})",
                          "from": str(int(row["year"])), "who_acts": "EU"})
        else:
            basis.append({"kind": "unknown", "id": code, "what": "not in this dataset version's instruments or targets",
                          "from": "", "who_acts": ""})
    return {"lever_id": lever.lever_id, "acting_level": getattr(lever, "acting_level", "not recorded"),
            "basis": basis, "voluntary": not codes}


def backing_text(backing: Mapping) -> str:
    """The legal basis in one line: 'WEEE Directive 2012/19/EU, art. 8(2) and Annex VII (from 2014-02-14); ...'."""
    if backing["voluntary"]:
        return VOLUNTARY
    return "; ".join(f"{b['what']} (from {b['from']})" if b["from"] else f"{b['id']}: {b['what']}" for b in backing["basis"])


def lever_backing_table(levers: Mapping, instruments: pd.DataFrame | None = None,
                        targets: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per lever (``BACKING_COLUMNS``): who acts and what backs it."""
    rows = []
    for lever in levers.values():
        backing = lever_backing(lever, instruments, targets)
        rows.append({"lever_id": lever.lever_id, "lever": lever.name, "acting_level": backing["acting_level"],
                     "legal_basis": backing_text(backing),
                     "backing": "voluntary" if backing["voluntary"] else ", ".join(sorted({b["kind"] for b in backing["basis"]}))})
    return pd.DataFrame(rows, columns=BACKING_COLUMNS)
