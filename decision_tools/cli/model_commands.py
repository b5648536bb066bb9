"""The commands that read the model's results: flows, present, indicators, levers, scenario, exposure, validate."""

from __future__ import annotations

import argparse
import json

from ..system import PROCESS_LABELS
from .common import UsageError, critical, fail, open_for_reading, selection


def cmd_flows(args: argparse.Namespace) -> int:
    with open_for_reading(args) as store:
        version, city, material = selection(store, args)
        chain = store.chain(version, city, args.year, material)
    chain = chain[chain["kg"] > 0].reset_index(drop=True)
    if args.format == "json":
        print(json.dumps({
            "city": city, "year": args.year, "material": material, "dataset_version": version, "unit": "kg per year",
            "flows": chain.to_dict(orient="records"),
        }, indent=2))
    elif args.format == "csv":
        print(chain.to_csv(index=False), end="")
    else:
        shown = chain.assign(
            **{"from": chain["from_process"].map(PROCESS_LABELS), "to": chain["to_process"].map(PROCESS_LABELS)}
        )[["material", "from", "to", "kg"]]
        print(f"{city}, {args.year}: flows in kg per year (dataset version {version})")
        print(shown.to_string(index=False, float_format=lambda v: f"{v:,.3f}"))
    return 0


def cmd_indicators(args: argparse.Namespace) -> int:
    from .. import uncertainty  # the Monte Carlo needs the model's libraries; import only when used
    from ..indicators import INDICATORS

    with open_for_reading(args) as store:
        version, city, material = selection(store, args)
        tables = store.input_tables(version)
    materials = [material] if material else critical(tables)
    samples_n = uncertainty.DEFAULT_SAMPLES if args.samples is None else args.samples
    seed = uncertainty.DEFAULT_SEED if args.seed is None else args.seed
    if samples_n < 1:
        return fail("--samples must be at least 1", 2)
    try:
        sim = uncertainty.simulate(tables, city, materials, samples=samples_n, seed=seed)
    except ValueError as exc:
        return fail(str(exc))
    samples = uncertainty.indicator_samples(sim, args.year)
    central = uncertainty.central_indicators(sim, args.year)  # the value every page shows

    def clean(value: float) -> float | None:
        return None if value != value else round(float(value), 6)  # NaN (undefined rate) -> null

    result = {}
    for key, indicator in INDICATORS.items():
        band = uncertainty.summarise(samples[key])
        result[key] = {"label": indicator.label, "unit": indicator.unit, "central": clean(central[key]),
                       "median": clean(band["median"]),
                       "p05": clean(band["p05"]), "p95": clean(band["p95"]), "definition": indicator.definition,
                       "source": indicator.source}
    if args.format == "json":
        print(json.dumps({
            "city": city, "year": args.year, "materials": materials, "dataset_version": version,
            "samples": samples_n, "seed": seed,
            "value": "central: the model run with every input at its value (as the dashboard shows); median, p05, p95: "
                     "of the Monte Carlo samples",
            "indicators": result,
        }, indent=2))
    else:
        scope = material or "all critical raw materials"
        print(f"{city}, {args.year}, {scope}: the central model run and the 5-95 % range of {samples_n:,} samples "
              f"(dataset version {version})")
        for key, row in result.items():
            print(f"  {row['label']:<45} {row['central']!s:>12}  [{row['p05']} .. {row['p95']}]  ({row['unit']})")
    return 0


def cmd_levers(args: argparse.Namespace) -> int:
    with open_for_reading(args) as store:
        levers = store.table("levers", store.current_version())
    if args.format == "json":
        print(json.dumps(levers.to_dict(orient="records"), indent=2, default=str))
        return 0
    print(f"{'lever':<26} {'range':<13} {'default':<8} {'competence':<10} name")
    for row in levers.itertuples():
        print(f"{row.lever_id:<26} {f'{row.minimum:g}..{row.maximum:g}':<13} {row.default:<8g} {row.competence:<10} {row.name}")
    return 0


def _parse_settings(pairs: list[str]) -> dict[str, str]:
    settings = {}
    for pair in pairs:
        lever_id, sep, value = pair.partition("=")
        if not sep or not lever_id:
            raise UsageError(f"--set takes LEVER=VALUE; got '{pair}'")
        settings[lever_id.strip()] = value.strip()
    return settings


def cmd_scenario(args: argparse.Namespace) -> int:
    from .. import scenarios  # the model's libraries: import only when used
    from ..levers import check_settings

    with open_for_reading(args) as store:
        version, city, material = selection(store, args)
        tables = store.input_tables(version)
    try:
        engine = scenarios.ScenarioEngine(tables, city, [material] if material else critical(tables))
        settings = check_settings(engine.levers, _parse_settings(args.set or []))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    run = engine.run(settings)
    baseline = engine.indicators(engine.baseline, args.year)
    scenario = engine.indicators(run, args.year)

    def clean(values: dict[str, float]) -> dict[str, float | None]:
        return {k: (None if v != v else round(v, 6)) for k, v in values.items()}  # NaN (undefined) -> null

    if args.format == "json":
        print(json.dumps({
            "city": city, "year": args.year, "materials": material or "all critical raw materials",
            "dataset_version": version, "settings": settings, "baseline": clean(baseline), "scenario": clean(scenario),
            "units": {"*_kg": "kg (stocks) or kg per year (flows)", "shares": "0..1", "cost_eur_per_year": "EUR per year at full roll-out"},
        }, indent=2))
    else:
        print(f"{city}, {args.year}, {material or 'all critical raw materials'}: baseline -> scenario {settings or '(no lever moved)'}")
        for key in scenario:
            print(f"  {key:<32} {baseline[key]:>16.6g} -> {scenario[key]:<16.6g}")
    return 0


def cmd_exposure(args: argparse.Namespace) -> int:
    from .. import exposure, scenarios  # the model's libraries: import only when used
    from ..disruption import Disruption, disruption_shortfall
    from ..uncertainty import quantity_frame

    with open_for_reading(args) as store:
        version, city, material = selection(store, args)
        tables = store.input_tables(version)
    disruption = None
    if args.disrupt:
        country, sep, cut = args.disrupt.partition(":")
        known = set(tables["countries"]["country_iso3"])
        if not sep or country.upper() not in known:
            raise UsageError(f"--disrupt takes ISO3:CUT with a known country ({', '.join(sorted(known))}); got '{args.disrupt}'")
        try:
            cut_share = float(cut)
        except ValueError:
            raise UsageError(f"the cut in --disrupt must be a number from 0 to 1; got '{cut}'") from None
        if not 0 <= cut_share <= 1:
            raise UsageError(f"the cut in --disrupt must be a share from 0 to 1; got {cut_share:g}")
        disruption = (country.upper(), cut_share)
    materials = [material] if material else critical(tables)
    try:
        engine = scenarios.ScenarioEngine(tables, city, materials)
    except ValueError as exc:
        return fail(str(exc))
    data = exposure.ExposureData.from_tables(tables)
    sectors = dict(zip(tables["products"]["product"], tables["products"]["sector"]))
    demand_all = quantity_frame(engine.baseline.simulation, "new_products")
    demand = demand_all[demand_all["year"] == args.year]
    city_exposure = exposure.city_exposure(data, demand, sectors)
    names = data.countries["name"].to_dict()
    by_country = city_exposure.groupby("country_iso3")["kg"].sum().sort_values(ascending=False)
    modelled = sorted({m for _, m in engine.inputs.chain.pairs})
    result = {
        "city": city, "year": args.year, "materials": modelled, "dataset_version": version,
        "unit": "kg per year of material in new products",
        "exposure_by_country": [{"country_iso3": c, "name": names.get(c, "rest of world (unspecified)"), "kg": round(float(kg), 6)}
                                for c, kg in by_country.items()],
        "exposure_by_product": city_exposure.groupby(["product", "sector", "material"], as_index=False)["kg"].sum()
                               .round(6).to_dict(orient="records"),
        "concentration": {m: exposure.concentration(data, m).round(6).to_dict(orient="records") for m in modelled if data.stages(m)},
        "supply_risk": {m: {k: v for k, v in (exposure.recompute_supply_risk(data, m) or {}).items() if k != "material"}
                        for m in modelled if exposure.recompute_supply_risk(data, m)},
    }
    if disruption:
        event = Disruption(disruption[0], tuple(modelled), disruption[1], args.year, 1)
        shortfall, coverage = disruption_shortfall(
            data, event, demand_all, quantity_frame(engine.baseline.simulation, "secondary_supply"), sectors)
        result["disruption"] = {
            "country_iso3": disruption[0], "cut": disruption[1], "years": event.years,
            "shortfall_by_product": shortfall.groupby(["product", "sector", "material"], as_index=False)["shortfall_kg"].sum()
                                    .round(6).to_dict(orient="records"),
            "coverage": coverage.round(6).replace({float("nan"): None}).to_dict(orient="records"),
        }
    if args.format == "json":
        print(json.dumps(result, indent=2, default=lambda v: None if v != v else v))
    else:
        print(f"{city}, {args.year}: {', '.join(modelled)} in new products by supplying country (kg per year)")
        for row in result["exposure_by_country"]:
            print(f"  {row['name']:<32} {row['kg']:>14,.3f}")
        if disruption:
            total = sum(r["shortfall_kg"] for r in result["disruption"]["shortfall_by_product"])
            print(f"Disruption {disruption[0]} -{disruption[1]:.0%} in {args.year}: shortfall {total:,.3f} kg")
            for row in result["disruption"]["shortfall_by_product"]:
                print(f"  {row['product']:<24} {row['material']:<4} {row['shortfall_kg']:>12,.3f}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from .. import validation

    with open_for_reading(args) as store:
        version = store.current_version()
        city = None
        if args.city is not None:
            cities = list(store.cities(version)["city"])
            city = {c.lower(): c for c in cities}.get(args.city.lower())
            if city is None:
                raise UsageError(f"unknown city '{args.city}'; choose one of: {', '.join(cities)}")
        table = validation.validation_table(store, version, city, args.year)
    if args.format == "json":
        records = table.astype(object).where(table.notna(), None).to_dict(orient="records")
        print(json.dumps({"dataset_version": version, "city": city, "year": args.year, "verdict_rule": validation.VERDICT_RULE,
                          "units": "shares 0..1", "comparisons": records}, indent=2, default=str))
        return 0
    if args.format == "csv":
        print(table.to_csv(index=False), end="")
        return 0
    if table.empty:
        print(f"No published figure matches (dataset version {version}).")
        return 0
    shown = validation.for_display(table)
    print(f"How the model compares with published figures (dataset version {version}{', ' + city if city else ''})")
    print(validation.VERDICT_RULE)
    for row in shown.itertuples(index=False):
        model = "n/a" if row[4] != row[4] else f"{row[4]:,.4g} {row.unit}"
        ratio = "n/a" if row.ratio != row.ratio else f"{row.ratio:.2f}"
        print(f"\n- {row.figure} [{row.geography}, {row.year}]")
        print(f"  published {row[3]:,.4g} {row.unit}; model {model}; ratio {ratio}: {row.verdict}"
              f"{'' if row.scope.startswith('same') else ' (the model covers part of it)'}")
        if row.verdict != validation.CONSISTENT and row.note:
            print(f"  note: {row.note}")
    counts = table["verdict"].value_counts()
    print("\n" + ", ".join(f"{n} {v}" for v, n in counts.items()) + f" of {len(table)} figures.")
    return 0


def cmd_present(args: argparse.Namespace) -> int:
    """What of each material is present in the city's waste, where it goes and what is recovered
    (decision_tools.present_recoverable)."""
    from .. import present_recoverable as pr
    from ..formatting import format_share, format_significant

    with open_for_reading(args) as store:
        version, city, material = selection(store, args)
        materials = [material] if material else sorted(store.chain(version, city, args.year)["material"].unique())
        table = pr.read(store, version, city, args.year, materials, by_product=args.by_product)
    keys = ["material", "product"] if args.by_product else ["material"]
    if args.format == "csv":
        print(table.to_csv(index=False), end="")
        return 0
    if args.format == "json":
        records = table.astype(object).where(table.notna(), None).to_dict(orient="records")
        print(json.dumps({"city": city, "year": args.year, "dataset_version": version, "convention_sources": pr.SOURCE_IDS,
                          "shares": "share_of_present: kg / kg present in waste, 0..1", "not_modelled": pr.NOT_MODELLED,
                          "stages": records}, indent=2))
        return 0
    print(f"{city}, {args.year}: present versus recoverable, as the EU urban-mine inventories count it "
          f"(dataset version {version})")
    for key, rows in table.groupby(keys, sort=False):
        print("\n" + " / ".join(str(k) for k in (key if isinstance(key, tuple) else (key,))))
        for row in rows.itertuples(index=False):
            share = "" if row.share_of_present != row.share_of_present else format_share(row.share_of_present)
            print(f"  {row.label:<56} {format_significant(row.kg) + ' kg':>14} {share:>8}  ({row.unit.removeprefix('kg ')})")
    print("\nNot modelled: " + "; ".join(f"{name}: {why}" for name, why in pr.NOT_MODELLED.items()) + ".")
    print(f"Convention: {pr.SOURCE_IDS.replace(';', ', ')} (data/sources.csv).")
    return 0
