"""Numbered schema migrations (decision_tools.migrations): a file of the previous release is upgraded in
place keeping every version, upload and workspace row; a migration is applied once and recorded; a
failing one leaves the file as it was; a read-only open of an outdated file says how to upgrade it."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from decision_tools import migrations, storage
from decision_tools.accounts import Actor

PREVIOUS_RELEASE = Path(__file__).resolve().parent.parent / "fixtures" / "previous_release" / "export"
ADMIN = Actor.cli("admin")


def import_previous_release(target: Path) -> Path:
    """The fixture (EXPORT DATABASE of a file made by release 3699ac5) imported into ``target``."""
    con = duckdb.connect(str(target))
    try:
        con.execute((PREVIOUS_RELEASE / "schema.sql").read_text())
        for statement in (PREVIOUS_RELEASE / "load.sql").read_text().split(";\n"):
            if statement.strip():
                con.execute(statement.replace("FROM '", f"FROM '{PREVIOUS_RELEASE}/", 1))
    finally:
        con.close()
    return target


def raw(db: Path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def row_counts(db: Path) -> dict[str, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [t for t, in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY table_name").fetchall()]
        return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        con.close()


def layout(db: Path) -> set[tuple[str, str, str]]:
    return set(raw(db, "SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE NOT internal"))


def with_migration(monkeypatch, *extra: migrations.Migration) -> None:
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, *extra])


def next_number(offset: int = 1) -> int:
    return migrations.MIGRATIONS[-1].number + offset


@pytest.fixture()
def previous(tmp_path) -> Path:
    return import_previous_release(tmp_path / "previous.duckdb")


@pytest.fixture()
def fresh(tmp_path, small_db) -> Path:
    copy = tmp_path / "fresh.duckdb"
    shutil.copy(small_db, copy)
    return copy


def test_the_fixture_is_a_file_of_the_previous_release(previous):
    counts = row_counts(previous)
    assert "schema_migrations" not in counts  # made before numbered migrations
    assert counts["dataset_versions"] == 2 and counts["saved_views"] == counts["session_comments"] == 1


def test_a_file_of_the_previous_release_is_upgraded_in_place_keeping_everything(previous, small_db, monkeypatch):
    before = row_counts(previous)
    versions_before = raw(previous, "SELECT * FROM dataset_versions ORDER BY version_id")
    # Read-only, it is refused in a sentence: the reference tables shipped since (REFERENCE_TABLES_ADDED_LATER, e.g. the
    # rules lens's product_regimes and eu_instruments) are pending until a read-write open adds them.
    with pytest.raises(storage.DatabaseOutdatedError, match="lacks .*product_regimes.*eu_instruments.*decision_tools upgrade --db"):
        storage.Store.open(previous)
    assert "schema_migrations" not in row_counts(previous)

    with storage.Store.open(previous, read_only=False) as store:
        assert store.versions()["status"].tolist() == ["published", "published"]
        assert store.versions()["name"].tolist() == ["Project demo data", "Delft population 160000"]  # the upload
        assert store.table("cities", 2).set_index("city").at["Delft", "population"] == 160000
        assert store.table("cities", 1).set_index("city").at["Delft", "population"] != 160000
        view = store.saved_views()["view_id"].iloc[0]
        assert store.get_view(view)["state"] == {"city": "Delft", "year": 2025, "material": "Co"}
        session = store.sessions()["session_id"].iloc[0]
        assert store.get_session(session)["items"]["view_id"].tolist() == [view]
        assert store.comments(session)["text"].tolist() == ["A comment kept across the upgrade."]
        assert store.saved_scenarios()["settings"].tolist() == [{"collection_push": 0.5}]
        assert store.interested(store.challenges()["challenge_id"].iloc[0]) == ["student"]
        assert {"publish", "save_view", "comment", "save_scenario"} <= set(store.audit_log(ADMIN)["action"])
        figures = store.headline(2, "Delft", 2025, "Co")  # queries over the kept results work
        assert figures["in_use_stock"].kg > 0
        assert not store.chain(2, "Delft", 2025, "Co").empty
        store.save_view("After the upgrade", "overview", {"city": "Delft"}, 2, ADMIN)  # and writing works

    assert raw(previous, "SELECT number, name FROM schema_migrations") == [
        (m.number, m.name) for m in migrations.MIGRATIONS if m.number <= migrations.BASELINE]
    after = row_counts(previous)
    assert after.pop("schema_migrations") == 1
    added = {t: after.pop(t) for t in migrations.REFERENCE_TABLES_ADDED_LATER if t not in before}
    assert added["product_regimes"] > 0 and added["eu_instruments"] > 0  # the project's rows, for every version
    assert after == {**before, "saved_views": 2, "audit_log": before["audit_log"] + 1}  # nothing lost
    assert raw(previous, "SELECT * FROM dataset_versions ORDER BY version_id") == versions_before
    assert layout(previous) == layout(small_db)  # the same layout as a fresh build

    def no_write(*args, **kwargs):
        raise AssertionError("an up-to-date file was written to")

    monkeypatch.setattr(migrations, "_in_transaction", no_write)
    recorded = raw(previous, "SELECT * FROM schema_migrations")
    storage.Store.open(previous, read_only=False).close()  # a second open is a no-op
    assert raw(previous, "SELECT * FROM schema_migrations") == recorded
    assert row_counts(previous) == {**after, **added, "schema_migrations": 1}


def test_a_fresh_build_is_at_the_latest_migration(fresh):
    assert [n for n, in raw(fresh, "SELECT number FROM schema_migrations ORDER BY number")] == [
        m.number for m in migrations.MIGRATIONS]


def test_a_new_migration_is_applied_once_and_recorded(fresh, monkeypatch):
    calls = []

    def add_probe(cursor):
        calls.append(1)
        cursor.execute("CREATE TABLE migration_probe (n INTEGER)")
        cursor.execute("INSERT INTO migration_probe VALUES (?)", [7])

    number = next_number()
    with_migration(monkeypatch, migrations.Migration(number, "test: a probe table", add_probe))
    with pytest.raises(storage.DatabaseOutdatedError,
                       match=rf"(?i)lacks the schema change\(s\) {number} “test: a probe table”.*upgrade it in place, keeping everything: python -m decision_tools upgrade --db"):
        storage.Store.open(fresh)  # read-only: says how to upgrade, changes nothing
    assert calls == []
    storage.Store.open(fresh, read_only=False).close()
    storage.Store.open(fresh, read_only=False).close()
    assert calls == [1]
    assert raw(fresh, "SELECT n FROM migration_probe") == [(7,)]
    assert raw(fresh, "SELECT name FROM schema_migrations WHERE number = ?", [number]) == [("test: a probe table",)]
    with storage.Store.open(fresh) as store:  # read-only works again
        assert store.current_version() == 1


def test_migrations_after_the_baseline_run_on_a_file_of_the_previous_release(previous, monkeypatch):
    number = next_number()
    with_migration(monkeypatch, migrations.Migration(
        number, "test: a note column", lambda cursor: cursor.execute("ALTER TABLE saved_views ADD COLUMN probe VARCHAR"),
        (migrations.WORKSPACE,)))
    with pytest.raises(storage.DatabaseOutdatedError, match=f"{previous}.*{number}.*decision_tools upgrade --db"):
        storage.Store.open(previous)
    storage.Store.open(previous, read_only=False).close()
    assert [n for n, in raw(previous, "SELECT number FROM schema_migrations ORDER BY number")] == [
        *(m.number for m in migrations.MIGRATIONS if m.number <= migrations.BASELINE), number]
    assert ("saved_views", "probe", "VARCHAR") in layout(previous)


def test_a_failing_migration_rolls_back_and_leaves_the_file_as_it_was(fresh, monkeypatch):
    def good(cursor):
        cursor.execute("CREATE TABLE migration_probe (n INTEGER)")

    def bad(cursor):
        cursor.execute("ALTER TABLE saved_views ADD COLUMN half_done VARCHAR")
        cursor.execute("DELETE FROM hub_events")
        raise RuntimeError("the probe failed")

    before = row_counts(fresh), layout(fresh), raw(fresh, "SELECT * FROM schema_migrations")
    number = next_number()
    with_migration(monkeypatch, migrations.Migration(number, "test: fine", good, (migrations.DATASETS,)),
                   migrations.Migration(number + 1, "test: fails halfway", bad, (migrations.WORKSPACE,)))
    with pytest.raises(storage.MigrationError, match=rf"{fresh} failed at migration {number + 1} “test: fails halfway” "
                                                     r"\(the probe failed\)\. Nothing was changed"):
        storage.Store.open(fresh, read_only=False)
    assert (row_counts(fresh), layout(fresh), raw(fresh, "SELECT * FROM schema_migrations")) == before
    with pytest.raises(storage.DatabaseOutdatedError):  # still outdated, still readable as it was
        storage.Store.open(fresh)
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:-1])  # the cause fixed
    storage.Store.open(fresh, read_only=False).close()
    assert raw(fresh, "SELECT count(*) FROM migration_probe") == [(0,)]


def test_the_replica_layouts_workspace_file_is_made_at_the_latest_migration(fresh, tmp_path):
    snapshots = tmp_path / "snapshots"
    with storage.Store.open(fresh, read_only=False, snapshot_dir=snapshots) as store:
        store.save_view("In the shared workspace", "overview", {}, 1, ADMIN)
    workspace = snapshots / "workspace.duckdb"
    assert [n for n, in raw(workspace, "SELECT number FROM schema_migrations ORDER BY number")] == [
        m.number for m in migrations.MIGRATIONS if migrations.WORKSPACE in m.scopes]
    assert {t for t, _, _ in layout(workspace)} == {*migrations.WORKSPACE_TABLES, "schema_migrations"}


def test_the_upgrade_command_applies_what_status_finds_pending(fresh, monkeypatch, capsys):
    from decision_tools.cli import main

    number = next_number()
    with_migration(monkeypatch, migrations.Migration(number, "test: a probe table",
                                                     lambda cursor: cursor.execute("CREATE TABLE migration_probe (n INTEGER)")))
    assert main(["status", "--db", str(fresh)]) == 4  # `make run` then calls upgrade
    assert f"decision_tools upgrade --db {fresh}" in capsys.readouterr().err
    assert main(["upgrade", "--db", str(fresh)]) == 0
    assert f"schema change {number} “test: a probe table”" in capsys.readouterr().out
    assert main(["status", "--db", str(fresh)]) == 0
    assert main(["upgrade", "--db", str(fresh)]) == 0  # nothing pending: says so and changes nothing
    assert raw(fresh, "SELECT count(*) FROM schema_migrations WHERE number = ?", [number]) == [(1,)]
