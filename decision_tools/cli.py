"""``python -m decision_tools``: build and check the database, print a city's CRM chain.

Exit codes (every error is one sentence on stderr, never a traceback):
  0  success
  1  a problem with the data, the database or a file: missing, unreadable, a full disk, a folder that is
     a file, no permission (``main`` turns every OSError and DuckDB error into a sentence)
  2  a wrong argument
  3  the database file is damaged (``status``; ``build`` refuses to replace it unless --move-aside-damaged)
  4  the database was built by an older version (``status``)
  5  the database is held by another process (``status``). Reading commands and ``ingest --dry-run`` then read a
     copy of it taken at that moment (a note on stderr says so); a publish is handed to the running dashboard
     (decision_tools.publish_inbox), or refused in a sentence (exit 1) when nothing takes it
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import time
from pathlib import Path

import duckdb

from . import ingestion, storage
from .system import PROCESS_LABELS

MAX_RELATIVE_RESIDUAL = 1e-6


def _fail(message: str, code: int = 1) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


class UsageError(Exception):
    """A wrong argument: said in one line, exit code 2."""


def _open_for_reading(args: argparse.Namespace, *, read_only: bool = True) -> storage.Store:
    """The database for a command; a reading one works beside the running dashboard, which holds the
    file: it then reads a private copy taken now, and says so on stderr. Writing is never redirected."""
    store = storage.Store.open(args.db, read_only=read_only, copy_when_busy=read_only)
    if store.copied_from is not None:
        print(f"note: {store.copied_from} is held by another process (probably the running dashboard), so this reads "
              "a copy of it taken just now. A publish from here is handed to the running dashboard, which publishes it.", file=sys.stderr)
    return store


def _selection(store: storage.Store, args: argparse.Namespace) -> tuple[int, str, str | None]:
    """The current version and the city and material asked for (case-insensitive), checked against the
    data; raises UsageError naming the valid choices."""
    version = store.current_version()
    cities = list(store.cities(version)["city"])
    materials = list(store.materials(version)["symbol"])
    city = {c.lower(): c for c in cities}.get(args.city.lower())
    if city is None:
        raise UsageError(f"unknown city '{args.city}'; choose one of: {', '.join(cities)}")
    material = None
    if args.material is not None:
        material = {m.lower(): m for m in materials}.get(args.material.lower())
        if material is None:
            raise UsageError(f"unknown material '{args.material}'; choose one of: {', '.join(materials)}")
    if getattr(args, "year", None) is not None:
        first, last = store.year_range(version)
        if not first <= args.year <= last:
            raise UsageError(f"year {args.year} is outside the modelled {first}-{last}")
    return version, city, material


def cmd_build(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    path = Path(args.db or storage.default_db_path())
    try:
        # A damaged file may still hold uploads and the workspace: refused, or renamed aside, never replaced.
        moved = storage.guard_damaged_database(path, move_aside=args.move_aside_damaged)
        if moved is not None:
            print(_moved_aside_note(path, moved), file=sys.stderr)
        version = storage.build_database(path, Path(args.data_dir), note=args.note or "")
    except ingestion.DataValidationError as exc:
        return _fail(str(exc))
    except storage.DatabaseCorruptError as exc:
        return _fail(str(exc), 3)
    except storage.StoreError as exc:
        return _fail(str(exc))
    print(f"Built {path} (dataset version {version}) in {time.perf_counter() - started:.1f} s.")
    return 0


def _moved_aside_note(path: Path, moved: Path) -> str:
    wal = moved.with_name(moved.name + ".wal")
    with_wal = f" (its write-ahead log to {wal})" if wal.exists() else ""
    return (f"note: the database {path} was damaged, so it was moved aside, not deleted: it is now {moved}{with_wal}. "
            "It may still hold uploaded dataset versions, saved views, sessions, comments and the audit log; "
            "\"Recovering a damaged database\" in the README says how to get them back. Building a fresh demo database "
            f"at {path}.")


def cmd_status(args: argparse.Namespace) -> int:
    """Exit 0 when the database opens and every table reads back; 1 missing, 3 damaged, 4 outdated, 5 held
    by another process."""
    path = args.db or storage.default_db_path()
    try:
        storage.guard_damaged_database(path)  # reads every block: a truncated or damaged file is exit 3
        with storage.Store.open(path) as store:
            version = store.current_version()
    except storage.DatabaseMissingError as exc:
        return _fail(str(exc), 1)
    except storage.DatabaseCorruptError as exc:
        return _fail(str(exc), 3)
    except storage.DatabaseOutdatedError as exc:
        return _fail(str(exc), 4)
    except storage.DatabaseBusyError as exc:
        # Exit 5 still (`make run` must not start a second app on it), but say what a copy of it holds.
        try:
            with storage.Store.open(path, copy_when_busy=True) as store:
                print(f"{path}: dataset version {store.current_version()} is current (read from a copy taken just now).")
        except (storage.StoreError, OSError, duckdb.Error):
            pass  # the sentence below says what matters
        return _fail(f"{exc} Reading commands and ingest --dry-run work beside it; ingest hands a publish to the running dashboard.", 5)
    print(f"{path}: dataset version {version} is current.")
    return 0


def cmd_snapshot(args: argparse.Namespace) -> int:
    """Export the database's dataset versions as a snapshot for read-only replicas."""
    from . import snapshots

    directory = args.dir or snapshots.configured_dir()
    if directory is None:
        raise UsageError(f"say where the snapshots go: --dir DIR or ${snapshots.SNAPSHOTS_ENV_VAR}")
    with storage.Store.open(args.db, read_only=False, snapshot_dir=Path(directory)) as store:
        path = store.export_snapshot()
        version = store.current_version()
    print(f"Exported {path} (dataset version {version} current); {Path(directory) / snapshots.POINTER} points at it.")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    print(storage.SCHEMA_SQL.strip())
    print(storage.WORKSPACE_SQL.strip())
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    with _open_for_reading(args) as store:
        report = store.mass_balance()
    if report.empty:
        return _fail("the database holds no flows to check")
    worst = report.iloc[0]
    where = f"{worst['city']}{' / ' + worst['district'] if isinstance(worst['district'], str) else ''}, {int(worst['year'])}, {worst['product']}, {worst['material']}, process {worst['process']}"
    print(f"Checked the mass balance of {len(report):,} process-years.")
    print(f"Worst residual: {worst['residual_kg']:.3g} kg ({worst['relative_residual']:.3g} of throughput) at {where}.")
    failing = int((report["relative_residual"] > MAX_RELATIVE_RESIDUAL).sum())
    if failing:
        return _fail(f"{failing} process-year(s) exceed a residual of {MAX_RELATIVE_RESIDUAL:g} of their throughput")
    print(f"All residuals are within {MAX_RELATIVE_RESIDUAL:g} of throughput.")
    return 0


def cmd_flows(args: argparse.Namespace) -> int:
    with _open_for_reading(args) as store:
        version, city, material = _selection(store, args)
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
    from . import uncertainty  # the Monte Carlo needs the model's libraries; import only when used
    from .indicators import INDICATORS

    with _open_for_reading(args) as store:
        version, city, material = _selection(store, args)
        tables = store.input_tables(version)
    materials = [material] if material else _critical(tables)
    samples_n = uncertainty.DEFAULT_SAMPLES if args.samples is None else args.samples
    seed = uncertainty.DEFAULT_SEED if args.seed is None else args.seed
    if samples_n < 1:
        return _fail("--samples must be at least 1", 2)
    try:
        sim = uncertainty.simulate(tables, city, materials, samples=samples_n, seed=seed)
    except ValueError as exc:
        return _fail(str(exc))
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


def _critical(tables) -> list[str]:
    from .indicators import critical_materials

    return list(critical_materials(tables["materials"]))


def cmd_levers(args: argparse.Namespace) -> int:
    with _open_for_reading(args) as store:
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
    from . import scenarios  # the model's libraries: import only when used

    with _open_for_reading(args) as store:
        version, city, material = _selection(store, args)
        tables = store.input_tables(version)
    try:
        engine = scenarios.ScenarioEngine(tables, city, [material] if material else _critical(tables))
        settings = scenarios.check_settings(engine.levers, _parse_settings(args.set or []))
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
    from . import exposure, scenarios  # the model's libraries: import only when used
    from .uncertainty import quantity_frame

    with _open_for_reading(args) as store:
        version, city, material = _selection(store, args)
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
    materials = [material] if material else _critical(tables)
    try:
        engine = scenarios.ScenarioEngine(tables, city, materials)
    except ValueError as exc:
        return _fail(str(exc))
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
        event = exposure.Disruption(disruption[0], tuple(modelled), disruption[1], args.year, 1)
        shortfall, coverage = exposure.disruption_shortfall(
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


def cmd_template(args: argparse.Namespace) -> int:
    from . import uploads

    if args.kind not in uploads.UPLOAD_KINDS:
        raise UsageError(f"unknown kind '{args.kind}'; choose one of: {', '.join(uploads.UPLOAD_KINDS)}")
    out = Path(args.out or f"{args.kind}_template.{args.format}")
    partial = out.with_name(out.name + ".partial")
    try:  # written beside and renamed: a full disk leaves no half-written template
        partial.write_bytes(uploads.template(args.kind, args.format))
        partial.replace(out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    print(f"Wrote {out}: {uploads.UPLOAD_KINDS[args.kind].description}.")
    print(uploads.data_dictionary(args.kind).to_string(index=False))
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from . import accounts, uploads

    if args.kind not in uploads.UPLOAD_KINDS:
        raise UsageError(f"unknown kind '{args.kind}'; choose one of: {', '.join(uploads.UPLOAD_KINDS)}")
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"there is no file at {path}")
    if args.wait <= 0:
        raise UsageError(f"--wait takes a number of seconds above 0; got {args.wait:g}")
    store, hand_off = _open_for_ingest(args)
    with store:
        version = store.current_version()
        options = uploads.UploadOptions(mode=args.mode, decimal=args.decimal, percent_shares=args.percent_shares,
                                        sheet=args.sheet, header_row=args.header_row)
        check = uploads.check_upload(args.kind, path.read_bytes(), path.name, store.input_tables(version), options)
        for note in getattr(check.report, "reading_notes", []):  # what the reader decided: skipped rows, encoding, sheet
            print(f"Note: {note}", file=sys.stderr if not check.report.ok else sys.stdout)
        if not check.report.ok:
            print(f"{path.name} was not accepted: {check.report.problem_count:,} problem(s).", file=sys.stderr)
            for problem in check.report.problems:
                print(f"  - {problem}", file=sys.stderr)
            return 1
        if check.neutralised_cells:
            print(f"{check.neutralised_cells} text cell(s) were neutralised (formula or markup characters).")
        for warning in check.report.warnings:  # accepted, but worth a second look before publishing
            print(f"Warning: {warning}")
        print(uploads.mode_explanation(args.kind, check.mode))
        print(f"Changes against version {version}:")
        print(check.changes.to_string(index=False))
        shown = 20  # the first lines of the row-by-row diff; the app's dry run lists and downloads them all
        print(f"Row by row ({len(check.diff):,} line(s){f', the first {shown}' if len(check.diff) > shown else ''}):")
        print(check.diff.head(shown).to_string(index=False))
        for note in check.history_notes or []:
            print(f"Note: {note}")
        if args.dry_run:
            print("Dry run: nothing was written.")
            return 0
        name = args.name or f"{args.kind} upload from {path.name}"
        detail = {"kind": args.kind, "file": path.name, "mode": check.mode, "changes": check.changes.to_dict(orient="records")}
        if not hand_off:
            try:
                new_version = store.publish(check.tables, name, args.note or "", accounts.Actor.cli(args.user),
                                            detail=detail, base_version=version)
            except storage.AlreadyPublished as exc:
                print(str(exc))
                return 0
    if hand_off:  # the copy is closed (and removed) before waiting
        return _publish_through_app(args, check.tables, name, detail, version)
    print(f"Published dataset version {new_version} ({name}).")
    return 0


def _open_for_ingest(args: argparse.Namespace) -> tuple[storage.Store, bool]:
    """The database for ingest, and whether the publish goes through the running dashboard: a dry run
    reads (a copy when the file is held); a publish writes itself, or, when the running dashboard holds
    the file, checks against a copy and hands the checked tables to the dashboard (publish_inbox)."""
    if args.dry_run:
        return _open_for_reading(args), False
    try:
        return storage.Store.open(args.db, read_only=False), False
    except storage.DatabaseBusyError:
        store = storage.Store.open(args.db, copy_when_busy=True)
    if store.copied_from is None:  # the holder stopped meanwhile: write here after all
        store.close()
        return storage.Store.open(args.db, read_only=False), False
    print(f"note: {store.copied_from} is held by another process (probably the running dashboard), so this checks the "
          "file against a copy of it taken just now and hands the publish to that process.", file=sys.stderr)
    return store, True


def _publish_through_app(args: argparse.Namespace, tables, name: str, detail: dict, base_version: int) -> int:
    """Hand checked tables to the dashboard holding the database and say what it answered."""
    from . import publish_inbox

    db = Path(args.db or storage.default_db_path())
    request = publish_inbox.submit(db, tables, name, args.note or "", args.user, detail, base_version)
    print(f"Handed the publish to the running dashboard; waiting up to {args.wait:g} s for its answer.", file=sys.stderr)
    try:
        result = publish_inbox.wait_for_result(request, args.wait)
    except KeyboardInterrupt:
        if publish_inbox.withdraw(request):
            return _fail("Stopped: the publish was taken back before the dashboard took it; nothing was written.")
        return _fail("Stopped waiting, but the dashboard had already taken the publish: its Data page shows whether a new "
                     "version was published.")
    if result is None:
        return _fail(f"The database {db} is held by another process, which did not take the publish handed to it: is it "
                     "a dashboard of this version (older ones do not take publishes from the command line)? DuckDB lets "
                     "one process write to a database at a time, so stop that process and run this again, retry in a "
                     "moment, or publish on the app's Data page. Nothing was written.")
    if "version_id" in result:
        print(f"Published dataset version {result['version_id']} ({name}) through the running dashboard.")
        return 0
    if "already" in result:
        print(result.get("message") or f"These data are already dataset version {result['already']}; nothing new was published.")
        return 0
    return _fail(result.get("error") or "The running dashboard did not publish these data; nothing was written.")


def cmd_users(args: argparse.Namespace) -> int:
    from . import accounts

    _, generated = accounts.ensure_credentials()
    if generated:
        print(f"Created {accounts.credentials_path()} with an account 'admin'; its password, shown only now: {generated}")
    try:
        if args.action != "list" and not args.username:
            raise ValueError(f"'users {args.action}' needs a username.")
        if args.action == "list":
            for user in accounts.list_users():
                print(f"{user['username']:<20} {','.join(user['roles']):<12} {user['name']} <{user['email']}>")
        elif args.action == "add":
            import getpass

            password = args.password or getpass.getpass(f"Password for {args.username}: ")
            accounts.add_user(args.username, args.name or args.username, args.email or "", password, args.role)
            print(f"Added {args.username} as {args.role}.")
        elif args.action == "remove":
            accounts.remove_user(args.username)
            print(f"Removed {args.username}.")
        elif args.action == "set-role":
            accounts.set_role(args.username, args.role)
            print(f"{args.username} is now {args.role}.")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return 0


def cmd_match(args: argparse.Namespace) -> int:
    from . import symbiosis

    with _open_for_reading(args) as store:
        version, city, material = _selection(store, args)
        tables = store.input_tables(version)
    candidates = symbiosis.match_candidates(tables, city, material)
    matches = [{
        "offer_id": r["offer_id"], "need_id": r["need_id"], "material": r["material"], "from": r["from_org"],
        "to": r["to_org"], "exchanged_kg_per_year": round(r["exchanged_kg"], 6), "distance_km": round(r["distance_km"], 3),
        "transport_eur_per_year": round(r["transport_eur_per_year"], 2), "score": round(r["score"], 6),
        "breakdown": symbiosis.breakdown(r),
    } for _, r in candidates.iterrows()]
    if args.format == "json":
        print(json.dumps({"city": city, "material": material, "dataset_version": version, "matches": matches}, indent=2))
    else:
        print(f"{city}: {len(matches)} candidate match(es), best first (dataset version {version})")
        for m in matches:
            print(f"  {m['score']:.3f}  {m['material']:<3} {m['from']} -> {m['to']}  {m['exchanged_kg_per_year']:,.3f} kg/yr, "
                  f"{m['distance_km']:,.0f} km")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from . import validation

    with _open_for_reading(args) as store:
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m decision_tools",
        description="UrbanSymbiosis decision tools: build the CRM database, check it, and query a city's chain.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    db_help = f"database file (default: ${storage.DB_ENV_VAR} or {storage.DEFAULT_DB_PATH.relative_to(storage.PROJECT_DIR)})"

    build = sub.add_parser("build", help="build the database from the CSV files under data/",
                           description="Validate the project CSVs, run the city model and write a new database file.")
    build.add_argument("--db", type=Path, help=db_help)
    build.add_argument("--data-dir", default=str(storage.DATA_DIR), help="folder with the project CSV files")
    build.add_argument("--note", help="a note stored with the dataset version")
    build.add_argument("--move-aside-damaged", action="store_true",
                       help="when the database file is damaged, rename it (and its .wal) to NAME.damaged-TIMESTAMP "
                            "beside it, never deleting it, and build a fresh one; without this, build refuses (exit 3)")
    build.set_defaults(func=cmd_build)

    status = sub.add_parser("status", help="say whether the database opens (exit codes for scripts)",
                            description="Exit 0 when the database opens and every table reads back; 1 missing, "
                                        "3 damaged, 4 built by an older version, 5 held by another process.")
    status.add_argument("--db", type=Path, help=db_help)
    status.set_defaults(func=cmd_status)

    snapshot = sub.add_parser("snapshot", help="export the dataset versions for read-only app replicas",
                              description="Write every dataset version into a new immutable snapshot file in DIR and point "
                                          "DIR/CURRENT at it; replicas ($URBAN_SYMBIOSIS_REPLICA=1) follow it. After this, "
                                          "publish and rollback on the writer export a snapshot by themselves.")
    snapshot.add_argument("--db", type=Path, help=db_help)
    snapshot.add_argument("--dir", type=Path, help="snapshot directory (default: $URBAN_SYMBIOSIS_SNAPSHOTS)")
    snapshot.set_defaults(func=cmd_snapshot)

    schema = sub.add_parser("schema", help="print the database schema (DDL)",
                            description="Print the CREATE TABLE statements of the database.")
    schema.set_defaults(func=cmd_schema)

    check = sub.add_parser("check", help="check the mass balance of every process",
                           description="Print the worst mass-balance residual; exit 1 if any exceeds 1e-6 of throughput.")
    check.add_argument("--db", type=Path, help=db_help)
    check.set_defaults(func=cmd_check)

    flows = sub.add_parser("flows", help="print the CRM chain of a city in a year",
                           description="Print the flows (kg per year) from market to use, hibernation, collection, recovery and losses.")
    flows.add_argument("--city", required=True, help="city name, e.g. Helsinki")
    flows.add_argument("--year", required=True, type=int, help="year, e.g. 2030")
    flows.add_argument("--material", help="material symbol, e.g. Co (default: every material)")
    flows.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format (default: table)")
    flows.add_argument("--db", type=Path, help=db_help)
    flows.set_defaults(func=cmd_flows)

    indicators = sub.add_parser("indicators", help="print the circularity indicators with their uncertainty ranges",
                                description="Run the Monte Carlo for a city and print every circularity indicator "
                                            "(central model run and 5-95 %% range) for a year.")
    indicators.add_argument("--city", required=True, help="city name, e.g. Helsinki")
    indicators.add_argument("--year", required=True, type=int, help="year, e.g. 2030")
    indicators.add_argument("--material", help="material symbol, e.g. Co (default: all critical raw materials together)")
    indicators.add_argument("--samples", type=int, help="Monte Carlo samples (default: 1000, as in the app)")
    indicators.add_argument("--seed", type=int, help="random seed (default: the app's, so the numbers match)")
    indicators.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    indicators.add_argument("--db", type=Path, help=db_help)
    indicators.set_defaults(func=cmd_indicators)

    levers = sub.add_parser("levers", help="list the policy levers with their ranges",
                            description="List every lever: its id, range, default, the city's competence and its name.")
    levers.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    levers.add_argument("--db", type=Path, help=db_help)
    levers.set_defaults(func=cmd_levers)

    scenario = sub.add_parser("scenario", help="run a policy scenario against the baseline",
                              description="Set levers (see the levers command) and print every indicator of the year "
                                          "for the baseline and the scenario.")
    scenario.add_argument("--city", required=True, help="city name, e.g. Helsinki")
    scenario.add_argument("--year", required=True, type=int, help="year, e.g. 2035")
    scenario.add_argument("--set", action="append", metavar="LEVER=VALUE", help="a lever level; repeat for several")
    scenario.add_argument("--material", help="material symbol (default: all critical raw materials together)")
    scenario.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    scenario.add_argument("--db", type=Path, help=db_help)
    scenario.set_defaults(func=cmd_scenario)

    exposure_cmd = sub.add_parser("exposure", help="the city's demand by supplying country, and a disruption",
                                  description="Split the city's demand in new products across supplying countries at each "
                                              "material's bottleneck stage; with --disrupt, the shortfall by product and how "
                                              "much the city's secondary supply covers.")
    exposure_cmd.add_argument("--city", required=True, help="city name, e.g. Helsinki")
    exposure_cmd.add_argument("--year", required=True, type=int, help="year, e.g. 2030")
    exposure_cmd.add_argument("--material", help="material symbol (default: all critical raw materials)")
    exposure_cmd.add_argument("--disrupt", metavar="ISO3:CUT", help="a country cutting a share 0..1 of its supply, e.g. CHN:0.5")
    exposure_cmd.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    exposure_cmd.add_argument("--db", type=Path, help=db_help)
    exposure_cmd.set_defaults(func=cmd_exposure)

    from .uploads import UPLOAD_KINDS

    kinds = ", ".join(UPLOAD_KINDS)
    template = sub.add_parser("template", help="write an empty upload template", description=f"Kinds: {kinds}.")
    template.add_argument("--kind", required=True, help=f"one of: {kinds}")
    template.add_argument("--format", choices=("csv", "xlsx"), default="csv", help="file format (default: csv)")
    template.add_argument("--out", help="where to write it (default: KIND_template.FORMAT)")
    template.set_defaults(func=cmd_template)

    ingest = sub.add_parser("ingest", help="validate a data file and publish it as a new dataset version",
                            description=f"Validate FILE (CSV, XLSX or Parquet) as KIND ({kinds}) against the current "
                                        "version; print every problem and exit 1, or publish a new version.")
    ingest.add_argument("file", help="the data file")
    ingest.add_argument("--kind", required=True, help=f"one of: {kinds}")
    ingest.add_argument("--dry-run", action="store_true", help="validate and show the changes; write nothing")
    ingest.add_argument("--mode", choices=("append", "replace"), default="append",
                        help="append (default): add the file's rows and correct those with the same key (the same "
                             "years), keep the rest; replace: replace every current row of what the file covers")
    ingest.add_argument("--decimal", choices=("auto", ".", ","), default="auto",
                        help="the file's decimal mark; auto (default) reads every unambiguous number and refuses one "
                             "such as 12.500 or 1,200 (12.5 or 12500?), naming the cell")
    ingest.add_argument("--percent-shares", action="store_true",
                        help="share columns (0..1) are written in percent: 45 or '45 %%' reads as 0.45")
    ingest.add_argument("--sheet", help="XLSX: the sheet to read (default: the first)")
    ingest.add_argument("--header-row", type=int, metavar="N",
                        help="the row holding the column names (default: the first row holding the template's names; "
                             "rows above it are skipped and said)")
    ingest.add_argument("--name", help="name of the new version")
    ingest.add_argument("--note", help="a note stored with the version")
    ingest.add_argument("--user", default="cli", help="who publishes (for the audit log)")
    ingest.add_argument("--wait", type=float, default=60, metavar="SECONDS",
                        help="when the running dashboard holds the database, the publish is handed to it: how long to "
                             "wait for it to take the publish (default: 60)")
    ingest.add_argument("--db", type=Path, help=db_help)
    ingest.set_defaults(func=cmd_ingest)

    users = sub.add_parser("users", help="manage accounts (add, list, remove, set-role)",
                           description="Accounts live in the git-ignored credentials file (bcrypt hashes).")
    users.add_argument("action", choices=("add", "list", "remove", "set-role"))
    users.add_argument("username", nargs="?", help="account name (add, remove, set-role)")
    users.add_argument("--role", default="viewer", help="viewer, student, partner, researcher or admin")
    users.add_argument("--name", help="display name (add)")
    users.add_argument("--email", help="e-mail (add)")
    users.add_argument("--password", help="password (add; asked for when left out)")
    users.set_defaults(func=cmd_users)

    match = sub.add_parser("match", help="ranked symbiosis matches between offers and needs",
                           description="List compatible offer-need pairs involving a city, best first, each with its "
                                       "score and a breakdown of the score's components.")
    match.add_argument("--city", required=True, help="city name, e.g. Helsinki")
    match.add_argument("--material", help="material symbol, e.g. Co")
    match.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    match.add_argument("--db", type=Path, help=db_help)
    match.set_defaults(func=cmd_match)

    validate = sub.add_parser("validate", help="compare the model's results with published figures",
                              description="Set the model's results next to published figures (data/external_figures.csv) "
                                          "for the same geography and year, with the ratio model / published and a verdict: "
                                          "within 0.5-2 'consistent', otherwise 'off by more than 2x' with a note saying why.")
    validate.add_argument("--city", help="only the figures covering this city, compared with the city alone")
    validate.add_argument("--year", type=int, help="only the figures published for this year")
    validate.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format (default: table)")
    validate.add_argument("--db", type=Path, help=db_help)
    validate.set_defaults(func=cmd_validate)
    return parser


def _causes(exc: BaseException):
    """The exception and what it happened during (a failed cleanup can hide a full disk)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _disk_full(exc: BaseException) -> bool:
    return any(getattr(e, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or "no space left on device" in str(e).lower()
               or "quota exceeded" in str(e).lower() for e in _causes(exc))


def _disk_full_sentence(exc: BaseException) -> str:
    for cause in _causes(exc):
        if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT):
            what = cause.filename or "a file"
            return f"The disk is full: {what} could not be written. Free some space, then run the command again."
        if "no space left" in str(cause).lower():
            detail = str(cause).strip().splitlines()[0][:200]
            return f"The disk is full ({detail}). Free some space, then run the command again."
    return "The disk is full. Free some space, then run the command again."


def _os_error_sentence(exc: OSError) -> str:
    """An OSError in a sentence: ours already are one; the system's name the file and what to do."""
    if exc.errno is None or not exc.strerror:
        return str(exc)
    where = f"{exc.filename}" if exc.filename else "a file"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (f"Cannot read or write {where}: {exc.strerror.lower()}. Give this user access to it and its folder, "
                "or choose another path.")
    if exc.errno in (errno.ENOTDIR, errno.EISDIR, errno.EEXIST):
        return f"Cannot use {where}: {exc.strerror.lower()}. Choose a path whose folders are folders."
    return f"Cannot read or write {where}: {exc.strerror.lower()}."


def _duckdb_error_sentence(exc: duckdb.Error, args: argparse.Namespace) -> str:
    detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    db = getattr(args, "db", None) or storage.default_db_path()
    return (f"The database {db} could not be read or written ({detail}). It may be damaged: "
            f"python -m decision_tools status --db {db} reads every table and says so (exit 3), and "
            f"python -m decision_tools build --move-aside-damaged --db {db} moves a damaged file aside, never deleting it.")


def main(argv: list[str] | None = None) -> int:
    """Run a command; every failure ends here as one sentence and an exit code (see the module docstring)."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        return _fail(str(exc), 2)
    except storage.StoreError as exc:
        return _fail(str(exc))
    except BrokenPipeError:  # the reader stopped reading (`| head`): nothing to say
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        except (OSError, ValueError):
            pass
        return 1
    except (OSError, duckdb.Error) as exc:
        if _disk_full(exc):
            return _fail(_disk_full_sentence(exc))
        if isinstance(exc, OSError):
            return _fail(_os_error_sentence(exc))
        return _fail(_duckdb_error_sentence(exc, args))
