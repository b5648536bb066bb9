"""The publish hand-off (issue 15, item 5): the command line checks an upload against a copy of a database the
running dashboard holds, writes a request into ``<db>.inbox/``, and the dashboard's watcher publishes it and
answers. Each request is claimed, published and answered once; one nobody takes is withdrawn."""

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from decision_tools import publish_inbox, storage, uploads
from decision_tools.cli import main
from tests.conftest import PROJECT_DIR

COMPOSITION = "product,material,grams_per_unit,source_id,confidence,basis\n"


def checked(store, grams: int, version: int = 1) -> dict:
    """The tables of a small composition upload, checked against ``version`` as the CLI does."""
    content = f"{COMPOSITION}smartphone,Co,{grams},SCRREEN,medium,measured\n".encode()
    check = uploads.check_upload("composition", content, "phones.csv", store.input_tables(version))
    assert check.report.ok, check.report.problems
    return check.tables


@pytest.fixture()
def db(writable_store, tmp_path):
    return writable_store, tmp_path / "writable.duckdb"


def submit(db_path, tables, base_version=1, name="Measured phone cobalt"):
    return publish_inbox.submit(db_path, tables, name, "from the lab", "rita", {"kind": "composition", "file": "phones.csv"},
                                base_version)


def states(db_path) -> list[str]:
    return sorted(p.suffix for p in publish_inbox.inbox_path(db_path).iterdir() if p.is_dir())


def test_a_request_is_published_once_and_answered(db):
    store, db_path = db
    request = submit(db_path, checked(store, 4))
    inbox = publish_inbox.inbox_path(db_path)
    assert request.parent == inbox and inbox.name == "writable.duckdb.inbox"
    assert inbox.stat().st_mode & 0o777 == 0o700  # whatever lands here is published: owner only
    assert request.suffix == ".request" and (request / "request.json").is_file()
    payload = json.loads((request / "request.json").read_text())
    assert {"name", "note", "username", "detail", "base_version", "submitted_at"} <= set(payload)

    assert publish_inbox.process_pending(store, db_path) == [{"version_id": 2}]
    assert store.current_version() == 2
    row = store.versions().set_index("version_id").loc[2]
    assert (row["name"], row["note"], row["created_by"]) == ("Measured phone cobalt", "from the lab", "rita")
    content = store.table("product_content", 2)
    cobalt = content[(content["product"] == "smartphone") & (content["material"] == "Co")]
    assert float(cobalt["grams_per_unit"].iloc[0]) == 4  # the upload's figure, not the old one
    assert states(db_path) == [".done"]
    assert publish_inbox.wait_for_result(request, 1) == {"version_id": 2}
    assert publish_inbox.process_pending(store, db_path) == []  # answered: never published again


def test_tables_checked_against_an_older_version_are_refused_in_a_sentence(db):
    store, db_path = db
    stale = checked(store, 4)  # checked against version 1 ...
    store.publish(checked(store, 5), "Published in the app meanwhile", "", "rita", base_version=1)  # ... then 2 lands
    request = submit(db_path, stale, base_version=1)
    [answer] = publish_inbox.process_pending(store, db_path)
    assert answer == {"error": "Dataset version 2 was published after these data were checked against version 1; nothing "
                               "was written. Check the data again, so that nothing published since is lost."}
    assert store.current_version() == 2
    assert publish_inbox.wait_for_result(request, 1) == answer


def test_the_same_data_again_is_already_published(db):
    store, db_path = db
    request = submit(db_path, store.input_tables(1), base_version=1)
    assert publish_inbox.process_pending(store, db_path) == [
        {"already": 1, "message": "These data are already dataset version 1; nothing new was published."}]
    assert store.versions()["version_id"].tolist() == [1]
    assert publish_inbox.wait_for_result(request, 1)["already"] == 1


def test_any_other_failure_is_answered_with_a_sentence_not_a_traceback(db, capsys):
    store, db_path = db

    class Broken:
        def publish(self, *args, **kwargs):
            raise RuntimeError("the model ran out of memory\nTraceback (most recent call last): ...")

    submit(db_path, checked(store, 4))
    [answer] = publish_inbox.process_pending(Broken(), db_path)
    assert answer == {"error": "The running dashboard could not publish these data (the model ran out of memory). Nothing "
                               "new is shown; check the data with ingest --dry-run and try again."}
    assert "a publish handed over from the command line failed: RuntimeError" in capsys.readouterr().err


def test_a_request_nobody_takes_is_withdrawn_after_the_timeout(db):
    store, db_path = db
    request = submit(db_path, checked(store, 4))
    started = time.monotonic()
    assert publish_inbox.wait_for_result(request, 0.5, unwatched_s=60) is None
    assert 0.5 <= time.monotonic() - started < 5
    assert states(db_path) == [".withdrawn"]
    assert publish_inbox.process_pending(store, db_path) == []  # a dashboard started later does not publish it
    assert store.versions()["version_id"].tolist() == [1]


def test_with_no_watcher_running_the_wait_ends_early(db):
    store, db_path = db
    request = submit(db_path, checked(store, 4))
    started = time.monotonic()
    assert publish_inbox.wait_for_result(request, 60, unwatched_s=0.3) is None
    assert time.monotonic() - started < 5  # not the whole minute: nobody listens
    assert states(db_path) == [".withdrawn"]


def test_a_request_claimed_before_the_withdrawal_is_waited_for(db):
    store, db_path = db
    request = submit(db_path, checked(store, 4))
    claimed = request.with_suffix(".claimed")
    os.rename(request, claimed)  # the dashboard took it just before the timeout

    def answer_later():
        time.sleep(0.8)
        (claimed / "result.json").write_text('{"version_id": 2}')
        os.rename(claimed, request.with_suffix(".done"))

    thread = threading.Thread(target=answer_later)
    thread.start()
    answer = publish_inbox.wait_for_result(request, 0.2, unwatched_s=0.1, claimed_wait_s=10)
    thread.join()
    assert answer == {"version_id": 2}
    assert publish_inbox.withdraw(request) is False  # nothing left to take back


def test_a_half_written_request_is_never_processed(db):
    store, db_path = db
    request = submit(db_path, checked(store, 4))
    partial = request.with_suffix(".tmp")
    os.rename(request, partial)  # as the CLI leaves it while (or if it died while) writing
    (partial / "request.json").unlink()
    assert publish_inbox.process_pending(store, db_path) == []
    assert states(db_path) == [".tmp"]
    assert store.versions()["version_id"].tolist() == [1]


def test_two_processors_racing_claim_each_request_once(db):
    store, db_path = db
    tables = checked(store, 4)
    requests = [submit(db_path, tables, name=f"request {i}") for i in range(4)]
    published = []
    lock = threading.Lock()

    class Counting:
        def publish(self, tables, name, note, actor, detail=None, base_version=None):
            time.sleep(0.05)  # long enough for the other processor to reach the same folders
            with lock:
                published.append(name)
                return len(published) + 1

    start = threading.Barrier(3)
    answers = []

    def processor():
        start.wait()
        answers.extend(publish_inbox.process_pending(Counting(), db_path))

    threads = [threading.Thread(target=processor) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(published) == [f"request {i}" for i in range(4)]  # each once, none twice
    assert len(answers) == 4
    assert states(db_path) == [".done"] * 4
    assert all("version_id" in publish_inbox.wait_for_result(r, 1) for r in requests)


def test_answered_and_withdrawn_folders_are_removed_after_a_day(db):
    store, db_path = db
    old, fresh = submit(db_path, store.input_tables(1)), submit(db_path, store.input_tables(1))
    publish_inbox.process_pending(store, db_path)
    a_day_ago = time.time() - 25 * 3600
    os.utime(old.with_suffix(".done"), (a_day_ago, a_day_ago))
    publish_inbox.process_pending(store, db_path)
    assert not old.with_suffix(".done").exists() and fresh.with_suffix(".done").exists()


def test_an_inbox_others_may_write_to_is_not_read(db):
    store, db_path = db
    submit(db_path, checked(store, 4))
    publish_inbox.inbox_path(db_path).chmod(0o777)
    with pytest.raises(PermissionError, match="others may write to it"):
        publish_inbox.process_pending(store, db_path)
    assert store.versions()["version_id"].tolist() == [1]


def test_the_watcher_answers_beats_and_survives_errors(db, capsys):
    store, db_path = db
    watcher = publish_inbox.start_watcher(store, db_path)
    try:
        assert publish_inbox.start_watcher(store, db_path) is watcher  # once per process and database
        # The current data again: answered without the cost of a publish (publishing is tested above).
        request = submit(db_path, store.input_tables(1))
        assert publish_inbox.wait_for_result(request, 30)["already"] == 1
        assert publish_inbox.watcher_alive(db_path)
        publish_inbox.inbox_path(db_path).chmod(0o770)  # now the inbox cannot be trusted: said once, thread goes on
        time.sleep(2.5)
        assert watcher.alive()
        err = capsys.readouterr().err
        assert err.count("the publish inbox could not be read") == 1 and "Traceback" not in err
        publish_inbox.inbox_path(db_path).chmod(0o700)
        request = submit(db_path, store.input_tables(1))
        assert publish_inbox.wait_for_result(request, 30)["already"] == 1
    finally:
        watcher.stop()
    assert not watcher.alive()


# --- the command line beside a running app ------------------------------------------------------------------------

# Like the app: opens the database read-write through the store, keeps it open and, unless told "old", runs the
# publish watcher as ui.get_store does (an app of an older version does not).
HOLDER = """
import sys, time
from pathlib import Path
from decision_tools import publish_inbox, storage
store = storage.Store.open(sys.argv[1], read_only=False)
if sys.argv[2] != "old":
    publish_inbox.start_watcher(store, Path(sys.argv[1]))
print("ready", flush=True)
time.sleep(120)
"""


@pytest.fixture()
def app_db(small_db, tmp_path):
    db_path = tmp_path / "app.duckdb"
    db_path.write_bytes(small_db.read_bytes())
    return db_path


def hold(db_path, kind="watching") -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(db_path), kind], cwd=PROJECT_DIR, stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline().strip() == "ready"
    return holder


def release(holder) -> None:
    holder.kill()
    holder.wait()
    time.sleep(0.1)


def test_a_cli_publish_is_published_by_the_running_app(app_db, capsys):
    upload = app_db.parent / "phones.csv"
    upload.write_text(f"{COMPOSITION}smartphone,Co,4,SCRREEN,medium,measured\n")
    holder = hold(app_db)
    try:
        code = main(["ingest", str(upload), "--kind", "composition", "--name", "Measured phone cobalt", "--user", "rita",
                     "--db", str(app_db)])
        out, err = capsys.readouterr()
        assert code == 0, err
        assert "Published dataset version 2 (Measured phone cobalt) through the running dashboard." in out
        assert "Changes against version 1" in out  # checked as before, against a copy
        assert "hands the publish to that process" in err and "Traceback" not in err
        # Publishing the same file again: the app says it is the current version already.
        assert main(["ingest", str(upload), "--kind", "composition", "--db", str(app_db)]) == 0
        assert "These data are already dataset version 2; nothing new was published." in capsys.readouterr().out
    finally:
        release(holder)
    with storage.Store.open(app_db) as store:
        versions = store.versions().set_index("version_id")
        assert versions.index.tolist() == [1, 2]
        assert versions.at[2, "created_by"] == "rita"


def test_a_cli_publish_refused_by_the_app_says_why(app_db, capsys, monkeypatch):
    upload = app_db.parent / "phones.csv"
    upload.write_text(f"{COMPOSITION}smartphone,Co,4,SCRREEN,medium,measured\n")
    holder = hold(app_db)
    real_submit = publish_inbox.submit

    def submit_stale(db_path, tables, name, note, username, detail, base_version):
        return real_submit(db_path, tables, name, note, username, detail, base_version - 1)  # as if checked long ago

    monkeypatch.setattr(publish_inbox, "submit", submit_stale)
    try:
        assert main(["ingest", str(upload), "--kind", "composition", "--db", str(app_db)]) == 1
    finally:
        release(holder)
    err = capsys.readouterr().err
    assert "error: Dataset version 1 was published after these data were checked against version 0; nothing was written." in err
    assert "Traceback" not in err


def test_an_app_that_takes_no_publish_is_said_quickly(app_db, capsys):
    upload = app_db.parent / "phones.csv"
    upload.write_text(f"{COMPOSITION}smartphone,Co,4,SCRREEN,medium,measured\n")
    holder = hold(app_db, "old")
    try:
        started = time.monotonic()
        assert main(["ingest", str(upload), "--kind", "composition", "--db", str(app_db)]) == 1
        assert time.monotonic() - started < 30  # not the whole --wait of 60 s: no watcher beats
    finally:
        release(holder)
    err = capsys.readouterr().err
    assert "which did not take the publish handed to it: is it a dashboard of this version" in err
    assert "Nothing was written." in err
    assert states(app_db) == [".withdrawn"]
    with storage.Store.open(app_db) as store:
        assert store.versions()["version_id"].tolist() == [1]


def test_wait_must_be_positive(app_db, capsys):
    upload = app_db.parent / "phones.csv"
    upload.write_text(f"{COMPOSITION}smartphone,Co,4,SCRREEN,medium,measured\n")
    assert main(["ingest", str(upload), "--kind", "composition", "--wait", "0", "--db", str(app_db)]) == 2
    assert "--wait takes a number of seconds above 0" in capsys.readouterr().err
