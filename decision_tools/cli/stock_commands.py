"""The ``city-stock`` command: what the municipality and its companies own (the Overview's "What the city itself
owns"), with the material in it, its share of the city's stock and the units reaching end of use."""

from __future__ import annotations

import argparse
import json

import pandas as pd

from .common import open_for_reading, selection


def cmd_city_stock(args: argparse.Namespace) -> int:
    from .. import city_stock

    with open_for_reading(args) as store:
        version, city, material = selection(store, args)
        tables = store.input_tables(version)
    stock = city_stock.city_stock_for(tables, city, args.year)
    materials = stock.materials if material is None else stock.materials[stock.materials["material"] == material]
    if args.format == "json":
        print(json.dumps({
            "city": city, "year": args.year, "dataset_version": version, "shares": "fractions 0..1",
            "end_of_use": city_stock.END_OF_USE_LABEL,
            "stock": json.loads(stock.units.to_json(orient="records")),
            "materials_kg": json.loads(materials.to_json(orient="records")),
        }, indent=2))
        return 0
    if args.format == "csv":
        if material is not None:
            print(stock.with_material(material).rename(columns={"kg": f"kg_{material}"}).to_csv(index=False), end="")
        else:
            print(stock.units.to_csv(index=False), end="")
        return 0
    if stock.empty:
        print(f"No asset register for {city}: nothing the city or its companies own is recorded in dataset version "
              f"{version}. Upload one with: python -m decision_tools ingest FILE --kind city_owned_stock")
        return 0
    names = dict(zip(tables["products"]["product"], tables["products"]["name"]))
    print(f"What {city} and its companies own, {args.year} (dataset version {version}); shares of the city's whole "
          f"modelled stock; end of use: {city_stock.END_OF_USE_LABEL}")
    shown = stock.units.assign(
        product=stock.units["product"].map(lambda p: names.get(p, p)),
        share=[("n/a" if pd.isna(s) else f"{100 * s:.2f} %" + (" (more than the model holds)" if over else ""))
               for s, over in zip(stock.units["share_of_city_stock"], stock.units["exceeds_model"])],
    )[["owner", "product", "year_of_count", "units", "share", "end_of_use_units_per_year", "confidence", "source_id"]]
    print(shown.to_string(index=False, float_format=lambda v: f"{v:,.1f}"))
    if not materials.empty:
        print("\nMaterial in it (kg)" + (f": {material}" if material else ""))
        kg = materials.assign(product=materials["product"].map(lambda p: names.get(p, p)))
        print(kg[["owner", "product", "material", "kg"]].to_string(index=False, float_format=lambda v: f"{v:,.3f}"))
    elif material is not None:
        print(f"\nNone of these products contains {material}.")
    return 0

