"""The command line of ``python -m decision_tools``: every command, its arguments and its help."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import storage
from .db_commands import cmd_build, cmd_check, cmd_schema, cmd_snapshot, cmd_status, cmd_upgrade
from .hub_commands import cmd_match, cmd_users
from .model_commands import cmd_exposure, cmd_flows, cmd_indicators, cmd_levers, cmd_present, cmd_scenario, cmd_validate
from .rules_commands import cmd_rules
from .stock_commands import cmd_city_stock
from .upload_commands import cmd_ingest, cmd_template


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

    upgrade = sub.add_parser("upgrade", help="bring an older database's layout up to date in place, keeping everything",
                             description="Apply the pending numbered schema changes (decision_tools/migrations.py) in one "
                                         "transaction: every dataset version, upload and workspace row is kept. Exit 0 up to "
                                         "date; 1 missing, 3 damaged, 4 too old to upgrade or a step failed (rolled back), "
                                         "5 held by another process.")
    upgrade.add_argument("--db", type=Path, help=db_help)
    upgrade.set_defaults(func=cmd_upgrade)

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

    present = sub.add_parser("present", help="what of each material is present in waste, where it goes, what is recovered",
                             description="Per material (and product): kg present in waste (end of life), collected in "
                                         "compliant channels, in non-compliant channels (residual waste, export for reuse "
                                         "abroad), recovered, and hibernating at home, with the share of what is present, "
                                         "as the EU urban-mine inventories (ProSUM, FutuRaM) count it.")
    present.add_argument("--city", required=True, help="city name, e.g. Ghent")
    present.add_argument("--year", required=True, type=int, help="year, e.g. 2030")
    present.add_argument("--material", help="material symbol, e.g. Co (default: every material in the city's chain)")
    present.add_argument("--by-product", action="store_true", help="one block per material and product")
    present.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format (default: table)")
    present.add_argument("--db", type=Path, help=db_help)
    present.set_defaults(func=cmd_present)

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

    from ..upload_kinds import UPLOAD_KINDS

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

    rules_cmd = sub.add_parser("rules", help="the EU rules that apply to a product in a year",
                               description="Per product: the EU waste regimes that cover it (WEEE and its category, the "
                                           "Batteries Regulation, ELV), the targets in force in the year with the next "
                                           "one coming, and the other obligations in force or coming.")
    rules_cmd.add_argument("--product", help="product code, e.g. ev_battery (default: every product)")
    rules_cmd.add_argument("--year", required=True, type=int, help="year, e.g. 2030")
    rules_cmd.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format (default: table)")
    rules_cmd.add_argument("--db", type=Path, help=db_help)
    rules_cmd.set_defaults(func=cmd_rules)

    stock_cmd = sub.add_parser("city-stock", help="what the city and its companies own (its asset register)",
                               description="Per owner and product: the units the municipality and its companies own "
                                           "(data/city_owned_stock.csv or an uploaded register), their share of the city's "
                                           "whole modelled stock, the units reaching end of use per year (an estimate: units "
                                           "/ mean lifetime) and the kg of each material in them.")
    stock_cmd.add_argument("--city", required=True, help="city name, e.g. Helsinki")
    stock_cmd.add_argument("--year", required=True, type=int, help="year, e.g. 2030")
    stock_cmd.add_argument("--material", help="material symbol, e.g. Ag (default: every material)")
    stock_cmd.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format (default: table)")
    stock_cmd.add_argument("--db", type=Path, help=db_help)
    stock_cmd.set_defaults(func=cmd_city_stock)
    return parser
