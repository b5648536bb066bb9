"""A publish from the command line while the dashboard runs (issue 15, item 5): the dashboard holds the database,
so the CLI hands the checked upload to it, the dashboard publishes it, and its next run shows the new version."""

import subprocess
import sys

import pytest

from decision_tools import publish_inbox, storage
from tests.conftest import PROJECT_DIR
from tests.e2e.conftest import SERVER_WAIT_MS, frontend_errors, start_server, stop_server, wait_ready

UPLOAD = "product,material,grams_per_unit,source_id,confidence,basis\nsmartphone,Co,4,SCRREEN,medium,measured\n"


@pytest.fixture()
def app(small_db, tmp_path):
    db = tmp_path / "app.duckdb"
    db.write_bytes(small_db.read_bytes())
    process, url = start_server(db)
    yield db, url
    stop_server(process)


def test_a_cli_publish_is_picked_up_by_the_running_app(page, app, tmp_path):
    db, url = app
    page.goto(f"{url}/data")  # the first visit opens the database read-write (and starts the publish watcher)
    wait_ready(page)
    assert page.get_by_text("The dashboards show version 1; the latest is 1.").is_visible()
    with pytest.raises(storage.DatabaseBusyError):  # the app holds the file: nobody else may write it
        storage.Store.open(db, read_only=False).close()

    upload = tmp_path / "phones.csv"
    upload.write_text(UPLOAD)
    publish = subprocess.run([sys.executable, "-m", "decision_tools", "ingest", str(upload), "--kind", "composition",
                              "--name", "Measured phone cobalt", "--user", "rita", "--db", str(db)],
                             cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300)
    assert publish.returncode == 0, publish.stderr
    assert "Published dataset version 2 (Measured phone cobalt) through the running dashboard." in publish.stdout
    assert "Traceback" not in publish.stderr
    assert sorted(p.suffix for p in publish_inbox.inbox_path(db).iterdir() if p.is_dir()) == [".done"]

    page.keyboard.press("r")  # the same browser session's next run (Streamlit's rerun key)
    page.wait_for_function("() => document.body.innerText.includes('The dashboards show version 2; the latest is 2.')",
                           timeout=SERVER_WAIT_MS)
    wait_ready(page)
    page.locator('[data-testid="stSelectbox"]', has_text="Dataset version").click()
    assert page.get_by_role("option").all_inner_texts() == ["latest", "1", "2"]
    assert frontend_errors(page) == []
