"""The DuckDB store: build into a temp folder, versions, provenance, errors said in sentences."""

import json
import subprocess
import sys
import time

import duckdb
import pandas as pd
import pytest

from decision_tools import storage
from decision_tools.validation_report import DataValidationError
from decision_tools.provenance import join_sources, weakest
from tests.conftest import write_small_data


def test_build_records_a_dataset_version(store):
    versions = store.versions()
    assert versions["version_id"].tolist() == [1]
    row = versions.iloc[0]
    assert row["status"] == "published" and len(row["checksum"]) == 64
    counts = json.loads(row["row_counts"])
    assert counts["cities"] == 2 and counts["flows"] > 10_000
    assert store.current_version() == 1


def test_mass_balance_closes_in_the_store(store):
    report = store.mass_balance(1)
    assert len(report) > 10_000
    assert report["relative_residual"].max() < 1e-9


def test_headline_matches_the_chain(store):
    figures = store.headline(1, "Ghent", 2030, "Co")
    chain = store.chain(1, "Ghent", 2030, "Co").set_index(["from_process", "to_process"])["kg"]
    assert figures["new_products"].kg == pytest.approx(chain[("market", "use")])
    assert figures["separately_collected"].kg == pytest.approx(chain[("end_of_life", "separate_collection")])
    assert figures["secondary_supply"].kg == pytest.approx(chain[("recycling", "secondary_supply")])
    lost = chain[("end_of_life", "residual_waste")] + chain[("end_of_life", "export_reuse_abroad")] + chain[("recycling", "recycling_loss")]
    assert figures["lost"].kg == pytest.approx(lost)
    assert figures["end_of_life"].kg == pytest.approx(chain[("use", "end_of_life")] + chain[("hibernation", "end_of_life")])
    for figure in figures.values():
        assert figure.confidence == "illustrative" and figure.downscaled
        assert "GENT_POP_2023" in figure.source_ids.split(";")
    assert "BATT_REG_2023" in figures["secondary_supply"].source_ids


def test_metric_table_groups_only_by_known_columns(store):
    by_district = store.metric_table(1, "Ghent", "Co", 2030, ("district",))
    in_use = by_district[by_district["metric"] == "in_use_stock"]
    assert in_use["district"].nunique() == len(store.table("districts", 1)) == 20
    assert in_use["kg"].sum() == pytest.approx(store.headline(1, "Ghent", 2030, "Co")["in_use_stock"].kg)
    with pytest.raises(ValueError, match="Cannot group by"):
        store.metric_table(1, "Ghent", "Co", 2030, ("kg; DROP TABLE flows",))


@pytest.mark.parametrize("city, year, by", [("Ghent", 2030, ()), ("Ghent", None, ("year",)), (None, 2030, ("city",)),
                                             (None, None, ("city", "year", "route"))])
def test_the_stored_metric_totals_equal_the_sums_over_the_model_rows(store, city, year, by):
    """Groupings of city, year and route read metric_totals; adding product reads the model rows.
    Summed over products, the second must give the same kg, confidence, sources and flag."""
    materials = ["Co", "Li", "Nd"]
    totals = store.metric_table(1, city, materials, year, by)
    from_rows = store.metric_table(1, city, materials, year, (*by, "product"))
    keys = ["metric", *by]
    regrouped = from_rows.groupby(keys, dropna=False).agg(
        kg=("kg", "sum"), confidence=("confidence", weakest), source_ids=("source_ids", join_sources),
        downscaled=("downscaled", "any")).reset_index()
    merged = totals.merge(regrouped, on=keys, how="outer", suffixes=("", "_rows"), indicator=True)
    assert (merged["_merge"] == "both").all() and len(totals) > 0
    assert merged["kg"].to_numpy() == pytest.approx(merged["kg_rows"].to_numpy(), rel=1e-12)
    assert (merged["confidence"] == merged["confidence_rows"]).all()
    assert (merged["source_ids"] == merged["source_ids_rows"]).all()
    assert (merged["downscaled"] == merged["downscaled_rows"]).all()


def test_user_values_are_bound_not_interpolated(store):
    hostile = "Ghent' OR '1'='1"
    assert store.chain(1, hostile, 2030, "Co").empty
    assert store.metric_table(1, hostile, "Co", 2030).empty


def test_sources_list_every_cited_source(store):
    sources = store.sources(1)
    assert {"EC_CRM_2023", "PROJECT_ASSUMPTION", "GENT_POP_2023"} <= set(sources["source_id"])
    # (that every source is cited is checked on the project data: the small copy drops cities and their sources' rows)
    ghent = sources.set_index("source_id").at["GENT_POP_2023", "rows_citing"]
    assert ghent > 0


def test_failed_build_leaves_previous_database_intact(tmp_path):
    data_dir = write_small_data(tmp_path / "data")
    db_path = tmp_path / "kept.duckdb"
    storage.build_database(db_path, data_dir)
    before = db_path.read_bytes()
    content = pd.read_csv(data_dir / "product_content.csv", dtype=str)
    content.loc[0, "grams_per_unit"] = "-1"
    content.to_csv(data_dir / "product_content.csv", index=False)
    with pytest.raises(DataValidationError):
        storage.build_database(db_path, data_dir)
    assert db_path.read_bytes() == before
    assert not (tmp_path / "kept.duckdb.building").exists()


def test_missing_and_corrupt_database_are_sentences(tmp_path):
    with pytest.raises(storage.DatabaseMissingError, match="There is no database at .*python -m decision_tools build"):
        storage.Store.open(tmp_path / "absent.duckdb")
    broken = tmp_path / "broken.duckdb"
    broken.write_bytes(b"this is not a database" * 100)
    with pytest.raises(storage.DatabaseCorruptError, match="cannot be"):
        storage.Store.open(broken)
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(storage.DatabaseCorruptError, match="not a complete build"):
        storage.Store.open(empty)


def test_database_held_by_another_process_is_a_sentence(small_db, tmp_path):
    copy = tmp_path / "held.duckdb"
    copy.write_bytes(small_db.read_bytes())
    holder = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('ready', flush=True); time.sleep(30)"
    ), str(copy)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(storage.DatabaseBusyError, match="held by another process"):
            storage.Store.open(copy)
        with pytest.raises(storage.DatabaseBusyError, match="in use by another process"):
            storage.build_database(copy, write_small_data(tmp_path / "data"))
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    storage.Store.open(copy).close()


def test_saved_scenarios_roundtrip_and_names_are_checked(small_db, tmp_path):
    copy = tmp_path / "writer.duckdb"
    copy.write_bytes(small_db.read_bytes())
    with storage.Store.open(copy, read_only=False) as store:
        store.save_scenario("  Collection push ", "Ghent", {"weee_collection": 0.3}, 1, "pat", note="first")
        store.save_scenario("Collection push", "Ghent", {"weee_collection": 0.4}, 1, "pat")  # replaces
        saved = store.saved_scenarios()
        assert saved["name"].tolist() == ["Collection push"]
        assert saved.at[0, "settings"] == {"weee_collection": 0.4}
        with pytest.raises(ValueError, match="Give the scenario a name"):
            store.save_scenario("   ", "Ghent", {}, 1, "pat")
        with pytest.raises(ValueError, match="at most 80 characters"):
            store.save_scenario("x" * 81, "Ghent", {}, 1, "pat")
    with storage.Store.open(copy) as reader:  # the saved scenario outlives the writer
        assert reader.saved_scenarios()["name"].tolist() == ["Collection push"]


def test_a_database_from_an_older_version_asks_for_a_rebuild(small_db, tmp_path):
    old = tmp_path / "old.duckdb"
    old.write_bytes(small_db.read_bytes())
    import duckdb as db
    con = db.connect(str(old))
    con.execute("DROP TABLE measured_flows")
    con.close()
    with pytest.raises(storage.DatabaseOutdatedError, match="built by an older version .* lacks measured_flows.*make db"):
        storage.Store.open(old)


def test_a_column_added_later_is_added_to_an_older_database(small_db, tmp_path, monkeypatch):
    # A database built before a column existed keeps its versions: opened read-write, it gains the
    # column with the declared default; opened read-only, it says how to add it instead of failing
    # later in a query.
    from dataclasses import replace

    from decision_tools import column_specs, table_specs
    old = tmp_path / "old.duckdb"
    old.write_bytes(small_db.read_bytes())
    spec = table_specs.TABLES["measured_flows"]
    newer = replace(spec, columns=spec.columns + (column_specs.Column("method", "str", required=False, default="unknown"),))
    monkeypatch.setitem(table_specs.TABLES, "measured_flows", newer)
    with pytest.raises(storage.DatabaseOutdatedError, match="lacks the column.*measured_flows.method.*decision_tools upgrade --db"):
        storage.Store.open(old)
    storage.Store.open(old, read_only=False).close()
    con = duckdb.connect(str(old), read_only=True)
    columns = {name for name, in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = 'measured_flows'").fetchall()}
    con.close()
    assert "method" in columns
    with storage.Store.open(old) as store:  # read-only now works
        assert store is not None


def test_an_older_database_gets_the_reference_tables_added_since(small_db, tmp_path):
    # Built before the published figures existed: opened read-write it gains them for every version,
    # keeping what it holds; a read-only open still asks for the update.
    old = tmp_path / "old.duckdb"
    old.write_bytes(small_db.read_bytes())
    con = duckdb.connect(str(old))
    con.execute("DROP TABLE external_figures")
    con.close()
    with pytest.raises(storage.DatabaseOutdatedError, match="lacks external_figures"):
        storage.Store.open(old)
    with storage.Store.open(old, read_only=False) as store:
        assert len(store.table("external_figures", 1)) > 0
