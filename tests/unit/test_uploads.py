"""Uploads: every class of bad input is rejected with row and column and the database is unchanged;
a good upload publishes a version that changes the numbers; rollback; a publish killed halfway."""

import io
import os
import signal
import subprocess
import sys
import threading

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from decision_tools import storage, upload_kinds, upload_limits, uploads
from decision_tools.cli import main
from tests.conftest import PROJECT_DIR

COMPOSITION = "product,material,grams_per_unit,source_id,confidence,basis\n"


def problems(kind, text, current, name="upload.csv"):
    content = text.encode("utf-8") if isinstance(text, str) else text
    return uploads.check_upload(kind, content, name, current).report.problems


@pytest.mark.parametrize("kind, text, expected", [
    ("composition", "product,material,grams,source_id,confidence,basis\nsmartphone,Co,7,SCRREEN,medium,x\n",
     "missing column(s) grams_per_unit"),
    ("composition", COMPOSITION + "smartphone,Co,lots,SCRREEN,medium,x\n",
     "upload.csv, row 2, column 'grams_per_unit': value 'lots': must be a number"),
    ("composition", COMPOSITION + "smartphone,Co,-7,SCRREEN,medium,x\n",
     "upload.csv, row 2, column 'grams_per_unit': value '-7': must be at least 0"),
    ("collection_rates", "product,from_year,hibernation_share,export_reuse_share,collection_rate,source_id,confidence,basis\n"
                         "smartphone,2026,0.5,0.1,1.4,PROJECT_ASSUMPTION,low,x\n",
     "row 2, column 'collection_rate': value '1.4': must be at most 1"),
    ("supplier_shares", "material,stage,country_iso3,share,year,source_id,confidence,note\nGa,processing,CHN,0.9,2024,WMD_2024,medium,\n",
     "the shares of Ga at processing must sum to 1"),
    ("composition", COMPOSITION + "phone,Co,7,SCRREEN,medium,x\n", "row 2, column 'product': value 'phone': unknown product"),
    ("composition", COMPOSITION + "smartphone,Xx,7,SCRREEN,medium,x\n", "row 2, column 'material': value 'Xx': unknown material"),
    ("measured_flows", "city,year,category,flow,kg,source_id,confidence,note\nAtlantis,2024,phones,collected,10,PROJECT_ASSUMPTION,low,\n",
     "row 2, column 'city': value 'Atlantis': unknown city"),
    ("composition", COMPOSITION + "smartphone,Co,7,SCRREEN,medium,x\nsmartphone,Co,8,SCRREEN,medium,y\n",
     "upload.csv, row 3: duplicate key (product=smartphone, material=Co, from_year=1950)"),
    ("ownership", "geography,product,year,units_per_driver,source_id,confidence,basis\nGhent,smartphone,1800,1.2,PROJECT_ASSUMPTION,low,x\n",
     "row 2, column 'year': value '1800': must be at least 1950"),
    ("composition", "", "upload.csv: the file is empty"),
    ("composition", COMPOSITION, "the table has a header but no rows"),
    ("composition", "product:material:grams_per_unit\nsmartphone:Co:7\n", "missing column(s)"),
    ("composition", b"\x89PNG\r\n\x1a\n\x00\x00binary", "not UTF-8 text"),
])
def test_bad_input_is_rejected_naming_row_and_column(kind, text, expected, current):
    found = problems(kind, text, current)
    assert found and any(expected in p for p in found), found


def test_wrong_encoding_and_not_a_table(current):
    # UTF-16 with a BOM (Excel's "Unicode text") is read since issue 15: this one is a header without rows.
    assert problems("composition", COMPOSITION.encode("utf-16"), current) == ["upload.csv: the table has a header but no rows"]
    assert any("not UTF-8" in p for p in problems("composition", COMPOSITION.encode("utf-16-le"), current))  # no BOM
    assert any("cannot be read as a XLSX table" in p for p in problems("composition", b"PK\x03\x04 junk", current, "x.xlsx"))
    assert any("not accepted; use CSV, XLSX or Parquet" in p for p in problems("composition", b"%PDF-1.4", current, "x.pdf"))


def test_size_limit_is_a_setting(current, monkeypatch):
    monkeypatch.setenv(upload_limits.MAX_UPLOAD_MB_ENV_VAR, "0.0001")
    assert any("the limit is" in p for p in problems("composition", COMPOSITION + "smartphone,Co,7,SCRREEN,medium,x\n" * 20, current))


def test_every_problem_is_reported_at_once(current):
    text = COMPOSITION + "phone,Co,-1,NOPE,sure,x\n"
    found = problems("composition", text, current)
    assert len(found) >= 4  # negative mass, bad confidence, unknown product, unknown source


def test_semicolon_csv_xlsx_and_parquet_are_accepted(current, tmp_path):
    rows = pd.DataFrame({"product": ["smartphone"], "material": ["Co"], "grams_per_unit": ["7"], "source_id": ["SCRREEN"],
                         "confidence": ["medium"], "basis": ["measured"]})
    assert problems("composition", rows.to_csv(index=False, sep=";"), current) == []
    xlsx = io.BytesIO()
    rows.to_excel(xlsx, index=False)
    assert problems("composition", xlsx.getvalue(), current, "c.xlsx") == []
    parquet = tmp_path / "c.parquet"
    import duckdb
    duckdb.connect().execute(f"COPY (SELECT * FROM rows) TO '{parquet}' (FORMAT parquet)")
    assert problems("composition", parquet.read_bytes(), current, "c.parquet") == []


def test_formulas_and_markup_are_neutralised(current):
    text = COMPOSITION + 'smartphone,Co,7,SCRREEN,medium,"=HYPERLINK(""http://x"")"\nlaptop,Co,60,OEKO_2012,low,<script>alert(1)</script>\n'
    check = uploads.check_upload("composition", text.encode(), "c.csv", current)
    assert check.report.ok and check.neutralised_cells == 2
    basis = check.tables["product_content"].set_index(["product", "material"])["basis"]
    assert basis[("smartphone", "Co")].startswith("'=")
    assert "<" not in basis[("laptop", "Co")] and ">" not in basis[("laptop", "Co")]


def test_a_new_city_with_districts(current):
    # Antwerp is in Belgium, whose ownership figures the small test data keeps (with Ghent's).
    text = ("city,country_iso3,district,population,households,lat,lon,source_id,confidence,note\n"
            "Antwerp,BEL,,250000,125000,51.22,4.40,PROJECT_ASSUMPTION,medium,\n"
            "Antwerp,BEL,Centre,150000,,51.22,4.40,PROJECT_ASSUMPTION,low,\nAntwerp,BEL,East,100000,,51.21,4.45,PROJECT_ASSUMPTION,low,\n")
    check = uploads.check_upload("city", text.encode(), "t.csv", current)
    assert check.report.ok, check.report.problems
    assert check.affected_cities == ["Antwerp"]
    assert set(check.changes["table"]) == {"cities", "districts"}


def test_a_new_city_in_a_country_without_ownership_figures_is_accepted_with_a_warning(current):
    # The small test data keeps only Belgian, Dutch and EU ownership rows; heat pumps, tablets and TVs have no EU
    # row, so a Finnish city has no figure for them: accepted, and the check says its model does not count them.
    text = ("city,country_iso3,district,population,households,lat,lon,source_id,confidence,note\n"
            "Tampere,FIN,,250000,125000,61.5,23.76,PROJECT_ASSUMPTION,medium,\n")
    check = uploads.check_upload("city", text.encode(), "t.csv", current)
    assert check.report.ok, check.report.problems
    warning = next(w for w in check.report.warnings if "product 'heat_pump'" in w)
    assert "1 city has no ownership figure for this product" in warning and "(Tampere)" in warning
    assert "does not count it" in warning


@pytest.fixture()
def writable(small_db, tmp_path):
    path = tmp_path / "writable.duckdb"
    path.write_bytes(small_db.read_bytes())
    return path


def test_good_upload_publishes_a_version_that_changes_the_numbers_then_rollback(writable):
    with storage.Store.open(writable, read_only=False) as store:
        before = store.headline(1, "Ghent", 2030, "Co")["in_use_stock"].kg
        check = uploads.check_upload("composition", (COMPOSITION + "smartphone,Co,4,SCRREEN,medium,measured\n").encode(),
                                     "c.csv", store.input_tables(1))
        version = store.publish(check.tables, "Phone cobalt measured", "test", "rita")
        assert version == 2 and store.current_version() == 2
        after = store.headline(2, "Ghent", 2030, "Co")["in_use_stock"].kg
        assert after < before
        assert store.headline(1, "Ghent", 2030, "Co")["in_use_stock"].kg == before  # version 1 untouched
        assert store.mass_balance(2)["relative_residual"].max() < 1e-9
        store.rollback_to(1, "admin")
        assert store.current_version() == 1
        assert store.versions().set_index("version_id").at[2, "status"] == "withdrawn"
        assert list(store.audit_log("admin")["action"]) == ["rollback", "publish"]


def test_rejected_upload_leaves_the_database_unchanged(writable, capsys, monkeypatch):
    # in this process through cli.main (a new interpreter costs seconds of imports); `-` is a path, not stdin
    monkeypatch.chdir(PROJECT_DIR)
    assert main(["ingest", "-", "--kind", "composition", "--db", str(writable)]) == 2
    assert "there is no file" in capsys.readouterr().err
    bad = writable.parent / "bad.csv"
    bad.write_text(COMPOSITION + "phone,Co,-1,SCRREEN,medium,x\n")
    assert main(["ingest", str(bad), "--kind", "composition", "--db", str(writable)]) == 1
    assert "bad.csv, row 2, column 'grams_per_unit'" in capsys.readouterr().err
    with storage.Store.open(writable) as store:
        assert store.versions()["version_id"].tolist() == [1]


def test_a_publish_killed_halfway_leaves_the_previous_version(writable):
    good = writable.parent / "good.csv"
    good.write_text(COMPOSITION + "smartphone,Co,4,SCRREEN,medium,measured\n")
    env = dict(os.environ, **{storage.PUBLISH_PAUSE_ENV_VAR: "30"})
    process = subprocess.Popen([sys.executable, "-m", "decision_tools", "ingest", str(good), "--kind", "composition",
                                "--db", str(writable)], cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, text=True)
    watchdog = threading.Timer(120, process.kill)  # a child that never gets there ends, and the loop below with it
    watchdog.start()
    try:
        # storage.publish prints this marker inside the transaction (the model has run, the rows are written),
        # right before the pause: kill it there
        paused = any(line.startswith("publish: inside the transaction of version 2") for line in process.stdout)
    finally:
        watchdog.cancel()
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert paused, "the publish never reached its pause inside the transaction"
    with storage.Store.open(writable) as store:
        assert store.versions()["version_id"].tolist() == [1]
        assert store.current_version() == 1
        flows = store._frame("SELECT count(*) AS n FROM flows WHERE version_id <> 1")
        assert int(flows.at[0, "n"]) == 0
        assert store.mass_balance(1)["relative_residual"].max() < 1e-9


cells = st.one_of(st.text(max_size=12), st.integers(-10**6, 10**6).map(str), st.floats(allow_nan=True).map(str),
                  st.sampled_from(["", "=1+1", "<b>", "Co", "smartphone", "SCRREEN", "medium", "-1", "1e309", "NaN"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(columns=st.lists(st.sampled_from(["product", "material", "grams_per_unit", "source_id", "confidence", "basis", "x", ""]),
                        min_size=0, max_size=7),
       rows=st.lists(st.lists(cells, min_size=7, max_size=7), max_size=6),
       kind=st.sampled_from(list(upload_kinds.UPLOAD_KINDS)),
       delimiter=st.sampled_from([",", ";", "\t"]))
def test_random_malformed_tables_never_raise(current, columns, rows, kind, delimiter):
    header = delimiter.join(columns)
    body = "\n".join(delimiter.join(row[: max(1, len(columns))]) for row in rows)
    check = uploads.check_upload(kind, (header + "\n" + body).encode("utf-8", "surrogatepass"), "random.csv", current)
    assert check.report.ok or check.tables is None  # a rejected upload never yields tables to publish


def test_partners_change_only_their_own_organisation(current):
    mine = ("offer_id,org_id,description,stream_code,kg_per_year,availability,hide_quantity,hide_location,source_id,confidence\n"
            "off_new,org_uni_gnt,more laptops,20 01 36,100,once,false,false,PROJECT_ASSUMPTION,low\n")
    check = uploads.check_upload("offers", mine.encode(), "o.csv", current)
    uploads.check_ownership(check, "offers", current, "pat", ["partner"])
    assert check.report.ok and check.tables is not None
    theirs = mine.replace("org_uni_gnt", "org_cat_gnt").replace("off_new", "off_other")
    check = uploads.check_upload("offers", theirs.encode(), "o.csv", current)
    uploads.check_ownership(check, "offers", current, "pat", ["partner"])
    assert not check.report.ok and check.tables is None
    assert "row 2, column 'org_id': value 'org_cat_gnt': you can change only your own organisation's rows" in check.report.problems[0]
    check = uploads.check_upload("offers", theirs.encode(), "o.csv", current)
    uploads.check_ownership(check, "offers", current, "root", ["admin"])
    assert check.report.ok


def test_a_check_reports_its_steps_and_stops_when_the_progress_callback_raises(current):
    content = (b"product,material,grams_per_unit,source_id,confidence,basis\n"
               b"smartphone,Co,4,SCRREEN,medium,measured\n")
    seen = []
    check = uploads.check_upload("composition", content, "c.csv", current, progress=lambda share, text: seen.append((share, text)))
    assert check.report.ok
    shares = [share for share, _ in seen]
    assert shares == sorted(shares) and shares[0] == 0.0 and shares[-1] == 1.0
    assert [text for _, text in seen] == [text for _, text in uploads.CHECK_STEPS.values()]  # every step, in order

    class Cancelled(Exception):
        pass

    def cancel_at_validation(share, text):
        if text == uploads.CHECK_STEPS["validating"][1]:
            raise Cancelled

    with pytest.raises(Cancelled):
        uploads.check_upload("composition", content, "c.csv", current, progress=cancel_at_validation)


def test_neutralising_counts_every_cell_and_keeps_missing_cells_missing():
    frame = pd.DataFrame({"note": ["=1+1", None, "x<y>", "=1+1", "ok"], "count": ["1", "2", "3", "4", "5"]})
    out, changed = uploads.neutralise(frame, ["note", "count"])
    assert changed == 3  # the repeated formula counts twice
    assert out["note"].tolist() == ["'=1+1", None, "x‹y›", "'=1+1", "ok"]
    assert out["count"].tolist() == ["1", "2", "3", "4", "5"]
