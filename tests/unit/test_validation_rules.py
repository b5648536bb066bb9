"""Checking (issue 15, item 2): non-finite and absurd values are refused at validation with the row and column
named, every value that passes can be published, repeated problems are grouped, every rule carries a fix
hint, and values far from the current version's are warned about (not refused)."""

import pickle

import pandas as pd
import pytest

from decision_tools import column_specs, cross_checks, ingestion, storage, table_checks, uploads
from decision_tools.cli import main
from decision_tools.table_specs import TABLES
from decision_tools.validation_report import ValidationReport
from tests.conftest import write_small_data

OWNERSHIP = "geography,product,year,units_per_driver,source_id,confidence,basis\n"
COMPOSITION = "product,material,grams_per_unit,source_id,confidence,basis\n"
CITY = "city,country_iso3,district,population,households,lat,lon,source_id,confidence,note\n"


def check(kind, text, current):
    return uploads.check_upload(kind, text.encode("utf-8"), "upload.csv", current)


@pytest.mark.parametrize("kind, text, expected", [
    ("ownership", OWNERSHIP + "Ghent,smartphone,2024,inf,PROJECT_ASSUMPTION,low,x\n",
     "upload.csv, row 2, column 'units_per_driver': value 'inf': must be a finite number"),
    ("ownership", OWNERSHIP + "Ghent,smartphone,2024,-inf,PROJECT_ASSUMPTION,low,x\n",
     "row 2, column 'units_per_driver': value '-inf': must be a finite number"),
    ("ownership", OWNERSHIP + "Ghent,smartphone,2024,nan,PROJECT_ASSUMPTION,low,x\n",
     "row 2, column 'units_per_driver': value 'nan': must be a finite number"),
    ("ownership", OWNERSHIP + "Ghent,smartphone,2024,1e308,PROJECT_ASSUMPTION,low,x\n",
     "row 2, column 'units_per_driver': value '1e308': must be at most 10,000,000"),
    ("composition", COMPOSITION + "smartphone,Co,7,SCRREEN,medium,x\nsmartphone,Ni,Infinity,SCRREEN,medium,x\n",
     "upload.csv, row 3, column 'grams_per_unit': value 'Infinity': must be a finite number"),
    ("composition", COMPOSITION + "smartphone,Co,1e308,SCRREEN,medium,x\n",
     "row 2, column 'grams_per_unit': value '1e308': must be at most 100,000,000"),
    ("composition", COMPOSITION + "smartphone,Co,1e309,SCRREEN,medium,x\n",
     "row 2, column 'grams_per_unit': value '1e309': must be a finite number"),
    ("city", CITY + "Tampere,FIN,,3000000000,125000,61.5,23.76,PROJECT_ASSUMPTION,medium,\n",
     "upload.csv, row 2, column 'population': value '3000000000': must be at most 50,000,000"),
    ("city", CITY + "Tampere,FIN,,250000,1e308,61.5,23.76,PROJECT_ASSUMPTION,medium,\n",
     "row 2, column 'households': value '1e308': must be at most 50,000,000"),
    ("city", CITY + "Tampere,FIN,,250000,125000,inf,23.76,PROJECT_ASSUMPTION,medium,\n",
     "row 2, column 'lat': value 'inf': must be a finite number"),
])
def test_non_finite_and_absurd_values_are_refused_naming_row_and_column(kind, text, expected, current):
    found = check(kind, text, current)
    assert not found.report.ok and found.tables is None
    assert any(expected in p for p in found.report.problems), found.report.problems
    assert all(". Fix: " in p for p in found.report.problems), found.report.problems


def test_per_inhabitant_ownership_is_bounded_tighter_than_per_city(current):
    found = check("ownership", OWNERSHIP + "Ghent,smartphone,2024,20000,PROJECT_ASSUMPTION,low,x\n", current)
    assert any("must be at most 10,000 for a product counted per inhabitant or household" in p
               for p in found.report.problems), found.report.problems


def _at_maximum(data_dir):
    """The small data with every plausibility-bounded quantity at its maximum (shares and years, bounded by
    their meaning, stay as they are: at their maximum they would break the rules that they add up)."""
    def edit(name, change):
        frame = pd.read_csv(data_dir / f"{name}.csv", dtype=str, keep_default_na=False)
        frame = change(frame)
        frame.to_csv(data_dir / f"{name}.csv", index=False)

    for name, spec in TABLES.items():
        columns = [c for c in spec.columns if c.kind in ("float", "int") and c.max_value is not None
                   and c.max_value > 1 and c.name not in cross_checks.NOT_QUANTITIES and c.name != "population"
                   and c.name not in ("units_per_driver", "households")]

        def top(frame, columns=columns):
            if len(frame):
                for c in columns:
                    frame.loc[:, c.name] = table_checks.bound_text(c.max_value).replace(",", "")
            return frame
        edit(name, top)
    people = str(column_specs.MAX_PEOPLE)

    def cities(frame):
        return frame.assign(population=people, households=people)

    def districts(frame):  # one district holding the whole city, so that they still add up
        return frame[~frame["city"].duplicated()].assign(population=people)

    def ownership(frame):
        per_city = frame["product"] == "wind_turbine"
        frame.loc[per_city, "units_per_driver"] = str(int(column_specs.MAX_UNITS_PER_CITY))
        frame.loc[~per_city, "units_per_driver"] = str(int(column_specs.MAX_UNITS_PER_PERSON))
        return frame
    edit("cities", cities)
    edit("districts", districts)
    edit("ownership", ownership)
    return data_dir


def test_every_value_that_passes_validation_can_be_published(tmp_path):
    data_dir = _at_maximum(write_small_data(tmp_path / "data"))
    tables = ingestion.read_project_tables(data_dir)  # passes validation
    assert int(tables["cities"]["population"].max()) == column_specs.MAX_PEOPLE
    assert float(tables["product_content"]["grams_per_unit"].max()) == column_specs.MAX_GRAMS_PER_UNIT
    db = tmp_path / "max.duckdb"
    assert storage.build_database(db, data_dir) == 1  # the model runs and every table is written
    with storage.Store.open(db) as store:
        population = store.cities(1).set_index("city")["population"]
        assert int(population["Ghent"]) == column_specs.MAX_PEOPLE
        stock = store.headline(1, "Ghent", 2030, "Co")["in_use_stock"].kg
        assert stock > 0 and stock < float("inf")


def test_many_rows_breaking_one_rule_are_one_sentence_with_the_first_20(current):
    rows = "".join(f"Atlantis {i},smartphone,2024,1,PROJECT_ASSUMPTION,low,x\n" for i in range(306))
    found = check("ownership", OWNERSHIP + rows, current).report
    assert found.problem_count == 306 and len(found.problems) == 1, found.problems
    sentence = found.problems[0]
    assert sentence.startswith("upload.csv, column 'geography': 306 rows: unknown geography (the first 20: "
                               "row 2 'Atlantis 0', row 3 'Atlantis 1'")
    assert "row 21 'Atlantis 19')" in sentence and "row 22" not in sentence
    # The fix hint lists every code the current version knows, not the first 12.
    known = {"EU"} | set(current["cities"]["city"]) | set(current["cities"]["country_iso3"])
    assert f"Fix: use one of the {len(known)} known: {', '.join(sorted(known))}" in sentence


def test_up_to_20_rows_are_named_one_by_one_more_are_grouped(current):
    def bad_numbers(count):
        rows = "".join(f"Ghent,smartphone,{1990 + i},lots,PROJECT_ASSUMPTION,low,x\n" for i in range(count))
        return check("ownership", OWNERSHIP + rows, current).report.problems

    twenty = bad_numbers(20)
    assert len(twenty) == 20
    assert twenty[0] == ("upload.csv, row 2, column 'units_per_driver': value 'lots': must be a number. Fix: "
                         + table_checks.HINT_NUMBER)
    grouped = bad_numbers(21)
    assert grouped == ["upload.csv, column 'units_per_driver': 21 rows: must be a number (the first 20: "
                       + ", ".join(f"row {r} 'lots'" for r in range(2, 22)) + "). Fix: " + table_checks.HINT_NUMBER]


def test_every_rule_gives_a_fix_hint(current):
    text = (COMPOSITION + "smartphone,Co,,SCRREEN,medium,x\n"  # required
            "smartphone,Ni,lots,SCRREEN,medium,x\n"  # number
            "smartphone,Cu,-1,SCRREEN,medium,x\n"  # minimum
            "smartphone,Ag,7,SCRREEN,sure,x\n"  # choice
            "smartphone,Ag,7,NOWHERE,low,x\n"  # duplicate key and unknown source
            "phone,Au,7,SCRREEN,low,x\n")  # unknown product
    found = check("composition", text, current).report.problems
    assert len(found) >= 6, found
    assert all(". Fix: " in p for p in found), found
    ownership = check("ownership", OWNERSHIP + "Ghent,smartphone,2024.5,1,PROJECT_ASSUMPTION,low,x\n", current)
    assert any("must be a whole number. Fix: " in p for p in ownership.report.problems), ownership.report.problems


def test_a_value_far_from_the_current_one_is_warned_about_not_refused(current):
    row = current["ownership"].query("geography == 'EU' and units_per_driver > 0").iloc[0]
    value = float(row["units_per_driver"])
    near = OWNERSHIP + f"EU,{row['product']},{int(row['year'])},{value * 2},PROJECT_ASSUMPTION,low,x\n"
    accepted = check("ownership", near, current)
    assert accepted.report.ok and accepted.warnings == []  # twice the value: no warning
    far = OWNERSHIP + f"EU,{row['product']},{int(row['year'])},{value * 20},PROJECT_ASSUMPTION,low,x\n"
    accepted = check("ownership", far, current)
    assert accepted.report.ok and accepted.tables is not None  # a warning never stops the upload
    assert accepted.warnings == [f"upload.csv, column 'units_per_driver', row 2 {value * 20:g} (now {value:g}): more than 10 "
                                 "times, or less than 1/10 of, the current version's value for the same key; check the "
                                 "unit and the decimal mark (published as it is if you go on)"]
    tenth = OWNERSHIP + f"EU,{row['product']},{int(row['year'])},{value / 20},PROJECT_ASSUMPTION,low,x\n"
    assert len(check("ownership", tenth, current).warnings) == 1


def test_the_cli_dry_run_prints_the_warnings(small_db, tmp_path, current, capsys):
    db = tmp_path / "copy.duckdb"
    db.write_bytes(small_db.read_bytes())
    row = current["product_content"].query("grams_per_unit > 0 and from_year == 1950").iloc[0]
    upload = tmp_path / "far.csv"
    upload.write_text(COMPOSITION + f"{row['product']},{row['material']},{float(row['grams_per_unit']) * 100},"
                      "SCRREEN,medium,x\n")
    # in this process through cli.main (a new interpreter costs seconds of imports)
    code = main(["ingest", str(upload), "--kind", "composition", "--db", str(db), "--dry-run"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Warning: far.csv, column 'grams_per_unit', row 2" in out


def test_a_grouped_sentence_counts_every_row_it_covers_also_past_the_limit(monkeypatch):
    monkeypatch.setenv(ValidationReport.MAX_PROBLEMS_ENV_VAR, "2")
    report = ValidationReport()
    report.add_rows("t", "a", list(range(2, 302)), ["x"] * 300, "must be a number", "write digits")
    report.add("t", 5, "b", "y", "must be true or false")
    report.add_rows("t", "c", list(range(2, 52)), None, "a value is required")
    assert report.problem_count == 351
    assert report.problems[:2] == [
        "t.csv, column 'a': 300 rows: must be a number (the first 20: "
        + ", ".join(f"row {r} 'x'" for r in range(2, 22)) + "). Fix: write digits",
        "t.csv, row 5, column 'b': value 'y': must be true or false"]
    assert report.problems[2] == "... and 50 more problems (351 in all) not listed; fix the ones listed and try again"
    again = pickle.loads(pickle.dumps(report))
    assert again.problems == report.problems and again.problem_count == 351
    again.add("t", 6, "b", "z", "must be true or false")
    assert again.problems[-1] == "... and 51 more problems (352 in all) not listed; fix the ones listed and try again"
