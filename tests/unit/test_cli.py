"""``python -m decision_tools``: build, check, flows, and errors with the right exit codes.

The commands run in this process through ``cli.main`` (a new interpreter costs seconds of imports);
one test runs the real ``python -m decision_tools`` to cover the module entry point and its exit code."""

import argparse
import json
import subprocess
import sys

import pytest

from decision_tools import storage
from decision_tools.cli import build_parser, main
from tests.conftest import PROJECT_DIR


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "decision_tools", *args], cwd=PROJECT_DIR,
                          capture_output=True, text=True, timeout=120)


def test_build_then_check_in_a_scratch_file(tmp_path, small_data_dir, capsys):
    db = tmp_path / "scratch.duckdb"
    assert main(["build", "--db", str(db), "--data-dir", str(small_data_dir)]) == 0, capsys.readouterr().err
    assert "dataset version 1" in capsys.readouterr().out
    # the real entry point, in its own process (which also shows the build let go of the file)
    checked = run_cli("check", "--db", str(db))
    assert checked.returncode == 0, checked.stderr
    assert "Worst residual" in checked.stdout and "All residuals are within 1e-06" in checked.stdout


@pytest.mark.parametrize("city", ["Ghent", "Delft"])
def test_flows_prints_a_chain(small_db, capsys, city):
    assert main(["flows", "--db", str(small_db), "--city", city, "--year", "2030", "--material", "Co"]) == 0
    out = capsys.readouterr().out
    assert f"{city}, 2030" in out
    for label in ("New products (market)", "Separately collected", "Secondary supply", "Residual waste"):
        assert label in out


def test_flows_json_and_csv(small_db, capsys):
    assert main(["flows", "--db", str(small_db), "--city", "ghent", "--year", "2030", "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["city"] == "Ghent" and payload["unit"] == "kg per year"
    assert {f["material"] for f in payload["flows"]} >= {"Co", "Nd", "Pt"}
    assert main(["flows", "--db", str(small_db), "--city", "Ghent", "--year", "2030", "--material", "Nd", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "material,from_process,to_process,kg"


def test_unknown_city_and_material_exit_2_naming_choices(small_db, capsys):
    assert main(["flows", "--db", str(small_db), "--city", "Paris", "--year", "2030"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: unknown city 'Paris'; choose one of: Delft, Ghent"
    assert main(["flows", "--db", str(small_db), "--city", "Ghent", "--year", "2030", "--material", "Xx"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown material 'Xx'; choose one of: ") and "Co" in err and "\n" not in err
    assert main(["flows", "--db", str(small_db), "--city", "Ghent", "--year", "1800"]) == 2


def test_missing_database_is_a_sentence(tmp_path, capsys):
    assert main(["flows", "--db", str(tmp_path / "none.duckdb"), "--city", "Ghent", "--year", "2030"]) == 1
    assert "There is no database at" in capsys.readouterr().err


def test_help_on_every_command(capsys):
    subcommands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(subcommands) >= {"build", "check", "flows", "indicators", "levers", "scenario", "exposure", "schema",
                                "match", "ingest", "template", "users", "status", "validate"}
    for command in [[], *([name] for name in subcommands)]:
        with pytest.raises(SystemExit) as exited:  # argparse ends --help with sys.exit(0)
            main([*command, "--help"])
        assert exited.value.code == 0, command
        out = capsys.readouterr().out
        assert out.startswith(" ".join(["usage: python -m decision_tools", *command])), (command, out[:200])


def test_indicators_json_has_every_indicator_with_a_range(small_db, capsys):
    assert main(["indicators", "--db", str(small_db), "--city", "Ghent", "--year", "2030", "--material", "Co",
                 "--samples", "200", "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["materials"] == ["Co"] and payload["samples"] == 200
    for key in ("collection_rate", "eol_recycling_rate", "secondary_supply_share",
                "recycled_content", "hibernation_share", "urban_mine_per_inhabitant", "portfolio_mci"):
        row = payload["indicators"][key]
        assert row["p05"] <= row["median"] <= row["p95"], key
    # the value is the central run, the number the dashboard shows, not the samples' median
    with storage.Store.open(small_db) as store:
        figures = store.headline(1, "Ghent", 2030, "Co")
    expected = figures["secondary_supply"].kg / figures["end_of_life"].kg
    assert payload["indicators"]["eol_recycling_rate"]["central"] == pytest.approx(expected, abs=1e-6)


def test_indicators_default_to_all_crms_and_reject_unknown_city(small_db, capsys):
    assert main(["indicators", "--db", str(small_db), "--city", "Delft", "--year", "2030", "--samples", "50"]) == 0
    assert "all critical raw materials" in capsys.readouterr().out
    assert main(["indicators", "--db", str(small_db), "--city", "Nowhere", "--year", "2030"]) == 2
    assert "unknown city 'Nowhere'; choose one of: Delft, Ghent" in capsys.readouterr().err


def test_scenario_json_has_baseline_and_scenario_with_the_same_keys(small_db, capsys):
    assert main(["scenario", "--db", str(small_db), "--city", "Ghent", "--year", "2035",
                 "--set", "weee_collection=0.3", "--set", "pcb_contracts=0.2", "--material", "Pd", "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["settings"] == {"weee_collection": 0.3, "pcb_contracts": 0.2}
    assert set(payload["baseline"]) == set(payload["scenario"]) and "secondary_supply_kg" in payload["scenario"]
    assert payload["scenario"]["secondary_supply_kg"] > payload["baseline"]["secondary_supply_kg"]


@pytest.mark.parametrize("setting, fragment", [
    ("teleport=1", "error: Unknown lever 'teleport'; choose one of: "),
    ("weee_collection=0.9", "error: Lever 'weee_collection' takes values from 0 to 0.4; got 0.9."),
    ("weee_collection", "error: --set takes LEVER=VALUE; got 'weee_collection'"),
])
def test_scenario_rejects_bad_levers_with_exit_2(small_db, capsys, setting, fragment):
    assert main(["scenario", "--db", str(small_db), "--city", "Ghent", "--year", "2035", "--set", setting]) == 2
    err = capsys.readouterr().err
    assert err.startswith(fragment) and err.count("\n") == 1


def test_levers_lists_ids_and_ranges(small_db, capsys):
    assert main(["levers", "--db", str(small_db)]) == 0
    out = capsys.readouterr().out
    assert "weee_collection" in out and "0..0.4" in out and len(out.splitlines()) >= 11


def test_exposure_json_with_a_disruption_of_chinese_gallium(small_db, capsys):
    assert main(["exposure", "--db", str(small_db), "--city", "Ghent", "--year", "2030", "--material", "Ga",
                 "--disrupt", "CHN:0.5", "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    by_country = {row["country_iso3"]: row["kg"] for row in payload["exposure_by_country"]}
    assert by_country["CHN"] == pytest.approx(0.984 * sum(by_country.values()), rel=1e-3)
    shortfall = {row["product"]: row["shortfall_kg"] for row in payload["disruption"]["shortfall_by_product"]}
    assert set(shortfall) == {"smartphone", "led_lamp"} and all(v > 0 for v in shortfall.values())
    assert sum(shortfall.values()) == pytest.approx(by_country["CHN"] * 0.5, rel=1e-3)
    assert payload["supply_risk"]["Ga"]["published"] == 3.9


@pytest.mark.parametrize("disrupt", ["XXX:0.5", "CHN", "CHN:2", "CHN:lots"])
def test_exposure_rejects_a_bad_disruption_with_exit_2(small_db, capsys, disrupt):
    assert main(["exposure", "--db", str(small_db), "--city", "Ghent", "--year", "2030", "--disrupt", disrupt]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_match_json_lists_ranked_matches_with_a_breakdown(small_db, capsys):
    assert main(["match", "--db", str(small_db), "--city", "Ghent", "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    scores = [m["score"] for m in payload["matches"]]
    assert scores and scores == sorted(scores, reverse=True)
    first = payload["matches"][0]
    assert set(first["breakdown"]) == {"quantity_fit", "distance", "value"}
    assert sum(p["contribution"] for p in first["breakdown"].values()) == pytest.approx(first["score"], abs=1e-5)
    assert main(["match", "--db", str(small_db), "--city", "Atlantis"]) == 2


def test_status_exit_codes_drive_make_run(small_db, tmp_path, capsys):
    assert main(["status", "--db", str(small_db)]) == 0
    assert main(["status", "--db", str(tmp_path / "none.duckdb")]) == 1
    broken = tmp_path / "broken.duckdb"
    broken.write_bytes(b"not a database" * 50)
    assert main(["status", "--db", str(broken)]) == 3
    assert "cannot be" in capsys.readouterr().err


def test_validate_compares_every_published_figure(small_db, capsys):
    from decision_tools import storage

    with storage.Store.open(small_db) as store:
        figure_ids = list(store.table("external_figures", store.current_version())["figure_id"])
    assert main(["validate", "--db", str(small_db), "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert [c["figure_id"] for c in payload["comparisons"]] == figure_ids
    assert "0.5-2" in payload["verdict_rule"]
    assert {c["verdict"] for c in payload["comparisons"]} <= {"consistent", "off by more than 2x", "no model value"}
    assert main(["validate", "--db", str(small_db)]) == 0
    out = capsys.readouterr().out
    assert "ratio" in out and f"of {len(figure_ids)} figures." in out
    assert main(["validate", "--db", str(small_db), "--city", "delft", "--year", "2022", "--format", "csv"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].startswith("figure,geography,year,published value,model value,unit,ratio,verdict")
    assert len(rows) > 1 and all(",2022," in r for r in rows[1:] if r.count(",") > 8)
    assert main(["validate", "--db", str(small_db), "--city", "Paris"]) == 2
    assert capsys.readouterr().err.strip() == "error: unknown city 'Paris'; choose one of: Delft, Ghent"
