"""The replica layout: immutable snapshots opened read-only, the CURRENT pointer, the shared workspace."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import pytest

from decision_tools import snapshots, storage


@pytest.fixture()
def layout(small_db, tmp_path):
    """A writer's database (a copy of the small one) and its snapshot directory with a first snapshot."""
    db = tmp_path / "writer.duckdb"
    shutil.copy(small_db, db)
    directory = tmp_path / "snapshots"
    with storage.Store.open(db, read_only=False, snapshot_dir=directory) as writer:
        writer.export_snapshot()
    return db, directory


def replica(directory):
    return storage.Store.open_replica(snapshots.current_snapshot(directory))


def test_a_replica_reads_the_same_numbers_as_the_writer_and_gets_its_workspace(layout, store):
    db, directory = layout
    with replica(directory) as reader:
        assert reader.versions()["version_id"].tolist() == store.versions()["version_id"].tolist()
        assert reader.chain(1, "Ghent", 2030, "Co").equals(store.chain(1, "Ghent", 2030, "Co"))
        assert reader.events()["event_id"].tolist() == store.events()["event_id"].tolist()  # seeded from the writer


def test_a_publish_moves_current_and_old_readers_keep_their_whole_version(layout):
    db, directory = layout
    old = replica(directory)
    with storage.Store.open(db, read_only=False, snapshot_dir=directory) as writer:
        tables = writer.input_tables(1)
        tables["cities"].loc[tables["cities"]["city"] == "Ghent", "population"] *= 2
        new_version = writer.publish(tables, "Ghent doubled", "", "rita")
    assert new_version == 2
    with replica(directory) as new:
        assert new.current_version() == 2
        assert new.metric_table(2, "Ghent", "Co", 2030)["kg"].sum() > new.metric_table(1, "Ghent", "Co", 2030)["kg"].sum()
        assert new.audit_log("admin")["action"].tolist()[0] == "publish"  # in the shared workspace
    assert old.current_version() == 1  # the file it opened never changes
    old.close()


def test_a_replica_refuses_to_publish_with_a_sentence(layout):
    _, directory = layout
    with replica(directory) as reader:
        with pytest.raises(storage.StoreError, match="read-only replica"):
            reader.publish(reader.input_tables(1), "nope", "", "rita")
        with pytest.raises(storage.StoreError, match="read-only replica"):
            reader.rollback_to(1, "admin")


def test_views_saved_on_one_replica_open_on_another_and_on_the_writer(layout):
    db, directory = layout
    with replica(directory) as first:
        view_id = first.save_view("Cobalt in Ghent", "indicators", {"city": "Ghent"}, 1, "pat")
    with replica(directory) as second:
        assert second.get_view(view_id)["state"] == {"city": "Ghent"}
    with storage.Store.open(db, read_only=False, snapshot_dir=directory) as writer:
        assert writer.get_view(view_id)["title"] == "Cobalt in Ghent"


def test_old_snapshots_are_pruned_but_the_newest_few_kept(layout):
    db, directory = layout
    with storage.Store.open(db, read_only=False, snapshot_dir=directory) as writer:
        for _ in range(snapshots.KEEP_SNAPSHOTS + 1):
            writer.export_snapshot()
    kept = sorted(p.name for p in directory.glob("snapshot-*.duckdb"))
    assert len(kept) == snapshots.KEEP_SNAPSHOTS
    assert (directory / snapshots.POINTER).read_text() == kept[-1]
    assert not list(directory.glob("*.partial"))


def test_no_snapshot_yet_is_said_in_a_sentence(tmp_path):
    with pytest.raises(FileNotFoundError, match="no published snapshot"):
        snapshots.current_snapshot(tmp_path)


def test_the_workspace_waits_for_another_process_then_says_it_is_busy(layout):
    _, directory = layout
    workspace = directory / snapshots.WORKSPACE_FILE
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, sys, time
        con = duckdb.connect({str(workspace)!r})
        print("holding", flush=True)
        sys.stdin.readline()  # holds until the test says "let go" (instead of a fixed sleep)
        time.sleep(float(sys.argv[1]))
        con.close()
    """), "0.3"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(TimeoutError, match="stayed busy"):
            snapshots.open_workspace(workspace, wait_s=0.2)
        holder.stdin.write("let go\n")
        holder.stdin.close()
        snapshots.open_workspace(workspace, wait_s=10).close()  # gets it once the other process lets go
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)


def test_an_unusable_snapshot_says_what_to_do_on_the_writer(layout):
    _, directory = layout
    snapshot = snapshots.current_snapshot(directory)
    snapshot.write_bytes(b"not a database")
    with pytest.raises(storage.DatabaseCorruptError, match="On the writer, .* python -m decision_tools snapshot --dir"):
        replica(directory)
