"""The CLI beside the running dashboard (issue 15, item 5): the dashboard holds the database read-write, so
DuckDB lets no other process open it; reading commands and ``ingest --dry-run`` read a copy taken at that
moment (and say so), and a publish from the CLI is refused in a sentence."""

import subprocess
import sys
import tempfile
import time

import pytest

from decision_tools import storage
from decision_tools.cli import main
from tests.conftest import PROJECT_DIR

COMPOSITION = "product,material,grams_per_unit,source_id,confidence,basis\n"

# Like the app: opens the database read-write through the store and keeps it open. With "publish", it first
# publishes a second version, as a researcher on the Data page would.
HOLDER = """
import sys, time
from decision_tools import storage, uploads
store = storage.Store.open(sys.argv[1], read_only=False)
if sys.argv[2] == "publish":
    check = uploads.check_upload("composition", b"product,material,grams_per_unit,source_id,confidence,basis\\n"
                                 b"smartphone,Co,4,SCRREEN,medium,measured\\n", "c.csv", store.input_tables(1))
    store.publish(check.tables, "Published in the app", "", "rita")
print("ready", flush=True)
time.sleep(120)
"""


def hold(db, action="hold") -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(db), action], cwd=PROJECT_DIR, stdout=subprocess.PIPE,
                              text=True)
    line = holder.stdout.readline().strip()
    if line != "ready":
        holder.kill()
        raise AssertionError(f"the holding process did not start: {line!r}")
    return holder


@pytest.fixture()
def held(small_db, tmp_path, monkeypatch):
    """A copy of the small database held read-write by another process (the dashboard), and a private
    temporary folder, to see that the CLI's copies are removed."""
    db = tmp_path / "app.duckdb"
    db.write_bytes(small_db.read_bytes())
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    holder = hold(db)
    try:
        yield db, temp
    finally:
        holder.kill()
        holder.wait()


def test_the_database_is_really_held(held):
    db, _ = held
    with pytest.raises(storage.DatabaseBusyError, match="held by another process"):
        storage.Store.open(db)


def test_a_dry_run_works_while_the_dashboard_holds_the_database(held, capsys):
    db, temp = held
    upload = db.parent / "phones.csv"
    upload.write_text(COMPOSITION + "smartphone,Co,4,SCRREEN,medium,measured\n")
    assert main(["ingest", str(upload), "--kind", "composition", "--dry-run", "--db", str(db)]) == 0
    out, err = capsys.readouterr()
    assert "Changes against version 1" in out and "Dry run: nothing was written." in out
    assert "is held by another process (probably the running dashboard), so this reads a copy" in err
    assert list(temp.iterdir()) == []  # the copy is removed when the command ends


def test_reading_commands_work_beside_the_dashboard(held, capsys):
    db, temp = held
    assert main(["flows", "--db", str(db), "--city", "Ghent", "--year", "2030", "--material", "Co"]) == 0
    assert "Ghent, 2030: flows in kg per year (dataset version 1)" in capsys.readouterr().out
    assert main(["levers", "--db", str(db), "--format", "json"]) == 0
    capsys.readouterr()
    assert main(["validate", "--db", str(db), "--format", "json"]) == 0
    assert '"dataset_version": 1' in capsys.readouterr().out
    assert main(["check", "--db", str(db)]) == 0
    assert "All residuals are within" in capsys.readouterr().out
    assert list(temp.iterdir()) == []


def test_status_still_exits_5_but_says_which_version_is_current(held, capsys):
    db, _ = held
    assert main(["status", "--db", str(db)]) == 5  # `make run` must not start a second app on a held database
    out, err = capsys.readouterr()
    assert "dataset version 1 is current (read from a copy taken just now)" in out
    assert "held by another process" in err and "ingest --dry-run work beside it" in err


def test_a_publish_nobody_takes_is_refused_in_a_sentence_and_writes_nothing(held, capsys):
    # The holder here is not a dashboard (no watcher on the inbox): the hand-off is taken back after a few seconds.
    db, _ = held
    upload = db.parent / "phones.csv"
    upload.write_text(COMPOSITION + "smartphone,Co,4,SCRREEN,medium,measured\n")
    assert main(["ingest", str(upload), "--kind", "composition", "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert "DuckDB lets one process write to a database at a time" in err and "publish on the app's Data page" in err
    assert "Traceback" not in err


def test_the_copy_holds_what_the_app_published(small_db, tmp_path, capsys):
    # The app published version 2 and still holds the file (the new version may sit in the write-ahead log).
    db = tmp_path / "app.duckdb"
    db.write_bytes(small_db.read_bytes())
    holder = hold(db, "publish")
    try:
        with storage.Store.open(db, copy_when_busy=True) as store:
            assert store.copied_from == db
            assert store.current_version() == 2
            folder = store._copy_folder
            assert folder.is_dir() and folder != db.parent
        assert not folder.exists()
        assert main(["flows", "--db", str(db), "--city", "Ghent", "--year", "2030", "--material", "Co"]) == 0
        assert "(dataset version 2)" in capsys.readouterr().out
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    with storage.Store.open(db) as store:  # the original is untouched by the reads
        assert store.versions()["version_id"].tolist() == [1, 2]
