"""The ``rules`` command: the EU rules that apply to a product in a year (the Policy page's rules lens)."""

from __future__ import annotations

import argparse
import json

import pandas as pd

from .common import UsageError, open_for_reading


def _percent(share) -> str:
    return "" if share is None or pd.isna(share) else f"{100 * float(share):.3g} %"


def _tables(store, version: int) -> dict[str, pd.DataFrame]:
    return {name: store.table(name, version) for name in ("products", "targets", "product_regimes", "eu_instruments")}


def cmd_rules(args: argparse.Namespace) -> int:
    from .. import rules

    with open_for_reading(args) as store:
        version = store.current_version()
        tables = _tables(store, version)
    known = list(tables["products"]["product"])
    if args.product is None:
        products = known
    else:
        product = {p.lower(): p for p in known}.get(args.product.lower())
        if product is None:
            raise UsageError(f"unknown product '{args.product}'; choose one of: {', '.join(known)}")
        products = [product]
    names = dict(zip(tables["products"]["product"], tables["products"]["name"]))
    if args.format == "csv":
        print(rules.rules_table(tables, products, args.year, names).to_csv(index=False), end="")
        return 0
    found = [rules.rules_for_product(tables, p, args.year) for p in products]
    if args.format == "json":
        print(json.dumps({"year": args.year, "dataset_version": version, "shares": "fractions 0..1", "products": [
            {"product": r.product, "regimes": list(r.regimes) or None, "regime": rules.regime_text(r),
             "weee_category": r.weee_category, "targets": json.loads(r.targets.to_json(orient="records")),
             "obligations": r.instruments.to_dict(orient="records")} for r in found]}, indent=2, default=str))
        return 0
    print(f"EU rules in {args.year} (dataset version {version}); targets as the law states them, in force from the "
          "first full year")
    for r in found:
        print(f"\n{names.get(r.product, r.product)} ({r.product}): {rules.regime_text(r)}")
        targets = r.targets[~r.targets["economy_wide"].astype(bool)]
        if targets.empty:
            print("  targets: none set for this product")
        for t in targets.itertuples():
            now = f"{_percent(t.value_share)} since {t.year}" if t.target_id else "not yet in force"
            coming = f"; next {_percent(t.next_value_share)} from {t.next_year}" if t.next_target_id else ""
            print(f"  target: {t.series}: {now}{coming}  [{t.instrument}]")
        for o in r.instruments.itertuples():
            print(f"  obligation ({o.who_acts}): {o.instrument}, {o.article}: {o.status}")
    wide = sorted({t.series for r in found for t in r.targets.itertuples() if t.economy_wide})
    if wide:
        print("\nEU-wide benchmarks (every material, no product in particular): " + "; ".join(wide))
    return 0
