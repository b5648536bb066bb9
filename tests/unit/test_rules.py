"""The rules lens (decision_tools.rules): regimes, targets in force by year with the next one, other
obligations, and what backs each lever. Hand-made tables, except one check on the real data/ files and the
CLI command run in-process."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from decision_tools import rules
from decision_tools.cli import main
from decision_tools.cross_checks import check_references
from decision_tools.ingestion import read_project_tables
from decision_tools.levers import Lever
from decision_tools.validation_report import ValidationReport
from tests.conftest import PROJECT_DIR


def target(target_id, description, products, materials, value, year, indicator, denominator, direction="min",
           instrument="Batteries Regulation (EU) 2023/1542"):
    return {"target_id": target_id, "instrument": instrument, "description": description, "indicator": indicator,
            "products": products, "materials": materials, "value_share": value, "year": year, "direction": direction,
            "denominator": denominator, "basis": "same"}


# The Batteries Regulation and WEEE steps, with the years the brief gives for them (the law's "by 31 December
# 2027" is read as 2028 in data/targets.csv: the lens uses whatever year the table says).
TARGETS = pd.DataFrame([
    target("li_2027", "lithium recovered 50 %", "ev_battery;smartphone", "Li", 0.50, 2027, "recovery_efficiency", "Li in"),
    target("li_2031", "lithium recovered 80 %", "ev_battery;smartphone", "Li", 0.80, 2031, "recovery_efficiency", "Li in"),
    target("port_2023", "portable battery collection 45 %", "smartphone", "Co;Li", 0.45, 2023, "collection_rate", "portable POM"),
    target("port_2027", "portable battery collection 63 %", "smartphone", "Co;Li", 0.63, 2027, "collection_rate", "portable POM"),
    target("port_2030", "portable battery collection 73 %", "smartphone", "Co;Li", 0.73, 2030, "collection_rate", "portable POM"),
    target("weee_pom", "WEEE collection 65 % of EEE placed on the market", "smartphone;pv_module", "all", 0.65, 2019,
           "collection_rate", "EEE placed on the market", instrument="WEEE Directive 2012/19/EU, art. 7(1)"),
    target("weee_gen", "WEEE collection 85 % of WEEE generated", "smartphone;pv_module", "all", 0.85, 2019,
           "collection_rate", "WEEE generated", instrument="WEEE Directive 2012/19/EU, art. 7(1)"),
    target("crma_bench", "EU recycling capacity 25 %", "all", "all", 0.25, 2030, "", "EU consumption",
           instrument="CRMA art. 5"),
])
REGIMES = pd.DataFrame([
    {"product": "smartphone", "regimes": "WEEE;Batteries Regulation", "weee_category": 6, "note": "cat. 6"},
    {"product": "ev_battery", "regimes": "Batteries Regulation;ELV", "weee_category": pd.NA, "note": ""},
    {"product": "wind_turbine", "regimes": "none", "weee_category": pd.NA, "note": "large-scale fixed installation"},
])
INSTRUMENTS = pd.DataFrame([
    {"instrument_id": "passport", "instrument": "Batteries Regulation", "article": "art. 77(1)", "obligation": "passport",
     "products": "ev_battery", "regimes": "", "materials": "all", "from_date": "2027-02-18", "who_acts": "company", "note": ""},
    {"instrument_id": "annex7", "instrument": "WEEE Directive", "article": "art. 8(2) and Annex VII", "obligation": "remove boards",
     "products": "", "regimes": "WEEE", "materials": "all", "from_date": "2014-02-14", "who_acts": "company", "note": ""},
    {"instrument_id": "label", "instrument": "CRMA", "article": "art. 28", "obligation": "magnet label",
     "products": "wind_turbine", "regimes": "", "materials": "Nd", "from_date": "", "who_acts": "company", "note": ""},
    {"instrument_id": "exports", "instrument": "WSR", "article": "exports", "obligation": "no exports to unlisted non-OECD",
     "products": "all", "regimes": "", "materials": "all", "from_date": "2027-05-21", "who_acts": "EU", "note": ""},
])
TABLES = {"targets": TARGETS, "product_regimes": REGIMES, "eu_instruments": INSTRUMENTS}


def series(rules_found: rules.ProductRules, target_id_part: str) -> pd.Series:
    """The one series whose step in force or next step has this id prefix."""
    t = rules_found.targets
    hit = t[t["target_id"].str.startswith(target_id_part) | t["next_target_id"].str.startswith(target_id_part)]
    assert len(hit) == 1, hit
    return hit.iloc[0]


def test_lithium_recovery_in_2029_is_50_percent_with_80_percent_next_in_2031():
    li = series(rules.rules_for_product(TABLES, "ev_battery", 2029), "li_")
    assert (li["target_id"], li["value_share"], li["year"]) == ("li_2027", 0.50, 2027)
    assert (li["next_target_id"], li["next_value_share"], li["next_year"]) == ("li_2031", 0.80, 2031)


@pytest.mark.parametrize("year, in_force, value, next_id", [
    (2022, "", None, "port_2023"),          # before the first step: nothing in force, 45 % coming
    (2023, "port_2023", 0.45, "port_2027"),
    (2026, "port_2023", 0.45, "port_2027"),
    (2027, "port_2027", 0.63, "port_2030"),
    (2029, "port_2027", 0.63, "port_2030"),
    (2030, "port_2030", 0.73, ""),          # the last step: nothing further set
    (2040, "port_2030", 0.73, ""),
])
def test_portable_battery_collection_steps(year, in_force, value, next_id):
    s = series(rules.rules_for_product(TABLES, "smartphone", year), "port_")
    assert s["target_id"] == in_force and s["next_target_id"] == next_id
    assert (math.isnan(s["value_share"]) if value is None else s["value_share"] == value)


def test_weee_targets_are_two_series_both_in_force_from_2019():
    found = rules.rules_for_product(TABLES, "pv_module", 2019)
    weee = found.targets.set_index("target_id")
    assert weee.loc["weee_pom", "value_share"] == 0.65 and weee.loc["weee_gen", "value_share"] == 0.85
    assert list(weee.loc[["weee_pom", "weee_gen"], "year"]) == [2019, 2019]
    assert rules.rules_for_product(TABLES, "pv_module", 2018).targets.query("target_id != ''").empty  # not yet


def test_a_target_scoped_to_other_products_does_not_apply():
    found = rules.rules_for_product(TABLES, "wind_turbine", 2030)
    assert set(found.targets["series"]) == {"EU recycling capacity 25 %"}  # only the EU-wide benchmark
    assert bool(found.targets["economy_wide"].iloc[0])


def test_regimes_and_a_product_without_a_row_is_not_recorded():
    phone = rules.rules_for_product(TABLES, "smartphone", 2028)
    assert phone.regimes == ("WEEE", "Batteries Regulation") and phone.weee_category == 6
    assert rules.regime_text(phone) == "WEEE (cat. 6); Batteries Regulation"
    tablet = rules.rules_for_product(TABLES, "tablet", 2028)  # added to products.csv before its regime row
    assert not tablet.recorded and tablet.weee_category is None
    assert rules.regime_text(tablet) == rules.NOT_RECORDED
    assert list(tablet.instruments["instrument_id"]) == ["exports"]  # the 'all' obligation still applies
    # and a dataset version without the rules tables at all
    bare = rules.rules_for_product({"targets": TARGETS}, "smartphone", 2028)
    assert rules.regime_text(bare) == rules.NOT_RECORDED and bare.instruments.empty


def test_obligations_by_product_or_regime_with_their_status():
    battery = rules.rules_for_product(TABLES, "ev_battery", 2026).instruments.set_index("instrument_id")
    assert set(battery.index) == {"passport", "exports"}  # not the WEEE treatment rule: not WEEE
    assert battery.loc["passport", "status"] == "coming 18 February 2027"
    assert rules.rules_for_product(TABLES, "ev_battery", 2027).instruments.set_index("instrument_id").loc[
        "passport", "status"] == "in force since 18 February 2027"
    phone = rules.rules_for_product(TABLES, "smartphone", 2026).instruments
    assert list(phone["instrument_id"]) == ["annex7", "exports"]  # in force first, then coming
    turbine = rules.rules_for_product(TABLES, "wind_turbine", 2030).instruments.set_index("instrument_id")
    assert turbine.loc["label", "status"] == "date not fixed yet"


def test_summary_row_in_percent_and_without_the_eu_benchmarks():
    table = rules.rules_table(TABLES, ["ev_battery", "tablet"], 2029, {"ev_battery": "EV battery"})
    battery = table.set_index("product").loc["EV battery"]
    assert battery["regimes"] == "Batteries Regulation; ELV"
    assert battery["targets_in_force"] == "lithium recovered 50 % (since 2027)"
    assert battery["next_targets"] == "lithium recovered 80 % from 2031"
    assert "EU recycling capacity" not in battery["targets_in_force"] + battery["next_targets"]
    assert table.set_index("product").loc["tablet", "regimes"] == rules.NOT_RECORDED


def lever(lever_id="l", legal_basis="", acting_level="city", products=None):
    return Lever(lever_id, "A lever", "", "collection_rate", products, None, "", 0, 0, 1, 0.1, "direct", "city",
                 2026, 1, 0.0, "illustrative", "X", "illustrative", acting_level=acting_level, legal_basis=legal_basis)


def test_lever_backing_names_instruments_targets_and_unknown_ids():
    backing = rules.lever_backing(lever(legal_basis="annex7;li_2031;gone"), INSTRUMENTS, TARGETS)
    assert backing["acting_level"] == "city" and not backing["voluntary"]
    assert [(b["kind"], b["from"]) for b in backing["basis"]] == [("obligation", "2014-02-14"), ("target", "2031"), ("unknown", "")]
    assert rules.backing_text(rules.lever_backing(lever(), INSTRUMENTS, TARGETS)) == rules.VOLUNTARY
    table = rules.lever_backing_table({"a": lever("a", "annex7"), "b": lever("b", acting_level="national")}, INSTRUMENTS, TARGETS)
    assert list(table["backing"]) == ["obligation", "voluntary"] and list(table["acting_level"]) == ["city", "national"]
    assert rules.lever_products(lever(products=("smartphone",)), ["smartphone", "ev_battery"]) == ["smartphone"]
    assert rules.lever_products(lever(), ["smartphone", "ev_battery"]) == ["smartphone", "ev_battery"]


def test_cross_checks_refuse_unknown_products_regimes_dates_and_legal_basis():
    tables = read_project_tables(PROJECT_DIR / "data")
    tables["product_regimes"] = pd.concat([tables["product_regimes"], pd.DataFrame([
        {"product": "toaster", "regimes": "WEEE", "weee_category": 5, "source_id": "WEEE_2012_SCOPE", "confidence": "medium"},
    ])], ignore_index=True)
    instruments = tables["eu_instruments"].copy()
    instruments.loc[0, "from_date"], instruments.loc[1, "regimes"] = "June 2028", "RoHS"
    tables["eu_instruments"] = instruments
    levers = tables["levers"].copy()
    levers.loc[0, "legal_basis"] = "no_such_rule"
    tables["levers"] = levers
    report = ValidationReport()
    check_references(tables, report)
    text = str(report)
    for fragment in ("toaster", "June 2028", "RoHS", "no_such_rule"):
        assert fragment in text


def test_real_data_a_smartphone_in_2028_gets_weee_and_the_batteries_regulation():
    tables = read_project_tables(PROJECT_DIR / "data")
    phone = rules.rules_for_product(tables, "smartphone", 2028)
    assert "WEEE" in phone.regimes and "Batteries Regulation" in phone.regimes
    assert phone.weee_category == 6
    in_force = set(phone.targets["target_id"])
    assert "weee_collection_generated_2019" in in_force  # WEEE 85 % of WEEE generated, since 2019
    assert in_force & {"batt_portable_collection_2027", "batt_portable_collection_2023"}
    # every lever's legal basis resolves to an instrument or a target of the same files
    from decision_tools.levers import levers_from_table

    for lv in levers_from_table(tables["levers"]).values():
        backing = rules.lever_backing(lv, tables["eu_instruments"], tables["targets"])
        assert all(b["kind"] != "unknown" for b in backing["basis"]), backing


def test_cli_rules_prints_the_table(small_db, capsys):
    assert main(["rules", "--db", str(small_db), "--product", "EV_battery", "--year", "2030"]) == 0
    out = capsys.readouterr().out
    assert "EU rules in 2030" in out and "(ev_battery): Batteries Regulation; ELV" in out
    assert "lithium recovered from waste batteries 50 %: 50 % since 2028; next 80 % from 2032" in out
    assert main(["rules", "--db", str(small_db), "--year", "2028", "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    phone = next(p for p in payload["products"] if p["product"] == "smartphone")
    assert phone["weee_category"] == 6 and "Batteries Regulation" in phone["regimes"]
    assert main(["rules", "--db", str(small_db), "--year", "2028", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == ",".join(rules.SUMMARY_COLUMNS)
    assert main(["rules", "--db", str(small_db), "--product", "toaster", "--year", "2030"]) == 2
    assert "unknown product 'toaster'" in capsys.readouterr().err


def test_a_product_no_target_names_gets_an_empty_table():
    only_batteries = TARGETS[TARGETS["products"] != "all"]
    found = rules.rules_for_product({**TABLES, "targets": only_batteries}, "wind_turbine", 2030)
    assert found.targets.empty and list(found.targets.columns) == rules.TARGET_COLUMNS
    assert rules.summary_row(found)["targets_in_force"] == "none in force"
