"""Faults: the server is killed in the middle of a publish; after a restart the previous version is
intact and served, and the file takes the next publish."""

import select
import time
from pathlib import Path

from decision_tools import storage, uploads
from tests.e2e.conftest import SERVER_WAIT_MS, frontend_errors, sign_in, start_server, stop_server, wait_ready

PAUSE_S = 60  # the fault-injection pause inside the publish transaction; the server is killed long before it ends
GOOD_UPLOAD = "product,material,grams_per_unit,source_id,confidence,basis\nsmartphone,Co,4,SCRREEN,medium,measured\n"


def upload_and_press_publish(page, csv: Path) -> None:
    """As a signed-in researcher on the Data page: upload a valid composition file and press publish."""
    page.locator('[data-testid="stSelectbox"]', has_text="What are you uploading?").click()
    page.get_by_role("option", name="composition: grams of a material per unit of product").click()
    wait_ready(page)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(csv))
    page.wait_for_function("() => document.body.innerText.includes('passed every check')", timeout=SERVER_WAIT_MS)
    wait_ready(page)
    page.get_by_label("Name of the new version").fill("Measured phone cobalt")
    page.get_by_role("button", name="Publish as a new version").click()


def wait_for_output(process, marker: str, timeout_s: float = SERVER_WAIT_MS / 1000) -> None:
    """Wait until the server prints ``marker``: the publish prints it inside its transaction, after the model ran
    and its rows were written, just before the fault-injection pause."""
    deadline = time.monotonic() + timeout_s
    seen = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 1.0)
        if ready:
            line = process.stdout.readline()
            seen.append(line)
            if marker in line:
                return
    raise AssertionError(f"the server never printed {marker!r} within {timeout_s:.0f} s; it printed: {''.join(seen)[-2000:]}")


def test_a_server_killed_mid_publish_restarts_on_the_previous_version(browser, small_db, tmp_path):
    db = tmp_path / "faults.duckdb"
    db.write_bytes(small_db.read_bytes())
    csv = tmp_path / "good.csv"
    csv.write_text(GOOD_UPLOAD)

    process, url = start_server(db, **{storage.PUBLISH_PAUSE_ENV_VAR: str(PAUSE_S)})
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.goto(f"{url}/data")
        wait_ready(page)
        sign_in(page, "rita")
        upload_and_press_publish(page, csv)
        page.wait_for_function("() => document.body.innerText.includes('Publishing: writing the new version')", timeout=SERVER_WAIT_MS)
        wait_for_output(process, "publish: inside the transaction of version 2")
        assert "Published version" not in page.inner_text("body")
    finally:
        process.kill()  # SIGKILL, as a crash or the OOM killer: no shutdown code runs. `streamlit run` is one process.
        process.wait(timeout=10)
        context.close()

    with storage.Store.open(db) as store:  # the killed transaction left nothing behind
        assert store.versions()["version_id"].tolist() == [1]
        assert store.current_version() == 1
        assert store.mass_balance()["relative_residual"].max() < 1e-9

    process, url = start_server(db)  # the same file, without the pause
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.goto(f"{url}/data?version=2")  # a link to the killed version opens the latest, 1
        wait_ready(page)
        assert page.get_by_text("The dashboards show version 1; the latest is 1.").is_visible()
        assert page.get_by_text("The link asked for dataset version '2', which does not exist").is_visible()
        page.locator('[data-testid="stSelectbox"]', has_text="Dataset version").click()
        assert page.get_by_role("option").all_inner_texts() == ["latest", "1"]
        assert frontend_errors(page) == []
    finally:
        stop_server(process)
        context.close()

    with storage.Store.open(db, read_only=False) as store:  # and the file takes the next publish
        check = uploads.check_upload("composition", GOOD_UPLOAD.encode(), "good.csv", store.input_tables(1))
        assert store.publish(check.tables, "After the crash", "", "rita") == 2
        assert store.mass_balance()["relative_residual"].max() < 1e-9
