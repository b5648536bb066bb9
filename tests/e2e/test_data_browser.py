"""Sign-in, roles and an upload in a real browser, on a server of its own (it publishes a version)."""

import pytest

from tests.e2e.conftest import SERVER_WAIT_MS, frontend_errors, sign_in, start_server, stop_server, wait_ready


@pytest.fixture(scope="module")
def own_server(small_db, tmp_path_factory):
    """One server for this file's tests: the viewer's test writes nothing, the researcher's publishes."""
    copy = tmp_path_factory.mktemp("data_page") / "data_page.duckdb"
    copy.write_bytes(small_db.read_bytes())
    process, url = start_server(copy)
    yield url
    stop_server(process)


def test_a_viewer_who_forges_the_upload_url_sees_a_prompt(page, own_server):
    page.goto(f"{own_server}/data")
    wait_ready(page)
    assert page.get_by_text("You are not signed in").is_visible()
    assert page.locator('[data-testid="stFileUploader"]').count() == 0
    sign_in(page, "vic")
    assert page.get_by_text("You are signed in as vic (viewer)").is_visible()
    assert page.locator('[data-testid="stFileUploader"]').count() == 0


def test_a_researcher_uploads_checks_and_publishes(page, own_server, tmp_path):
    page.goto(f"{own_server}/data")
    wait_ready(page)
    sign_in(page, "rita")
    # Every download button shows its whole label, also in the narrow column beside the data dictionary.
    clipped = page.eval_on_selector_all('[data-testid="stDownloadButton"] button, [data-testid="stDownloadButton"] button *',
                                        "nodes => nodes.filter(n => n.scrollWidth > n.clientWidth + 1).map(n => n.innerText)")
    assert clipped == []
    page.get_by_text("What are you uploading?").scroll_into_view_if_needed()
    page.locator('[data-testid="stSelectbox"]', has_text="What are you uploading?").click()
    page.get_by_role("option", name="composition: grams of a material per unit of product").click()
    wait_ready(page)
    bad = tmp_path / "bad.csv"
    bad.write_text("product,material,grams_per_unit,source_id,confidence,basis\nphone,Co,-4,SCRREEN,medium,x\n")
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(bad))
    page.wait_for_function("() => document.body.innerText.includes('was not accepted')", timeout=SERVER_WAIT_MS)
    wait_ready(page)
    assert page.get_by_text("Nothing was written").is_visible()

    # A large file shows its progress and can be cancelled: the check stops, nothing is reported or kept.
    large = tmp_path / "large.csv"
    large.write_text("product,material,grams_per_unit,source_id,confidence,basis\n" + "laptop,Co,4,X,low,\n" * 1_000_000)
    assert large.stat().st_size < 20 * 2**20  # under the upload limit: the check runs (for seconds)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(large))
    cancel = page.get_by_role("button", name="Cancel the check")
    cancel.wait_for(timeout=SERVER_WAIT_MS)
    assert page.locator('[data-testid="stProgress"]').count() == 1
    cancel.click()
    page.wait_for_function("() => document.body.innerText.includes('Checking was cancelled')", timeout=SERVER_WAIT_MS)
    wait_ready(page)
    assert not page.get_by_text("was not accepted").is_visible() and not page.get_by_text("passed every check").is_visible()

    good = tmp_path / "good.csv"
    good.write_text("product,material,grams_per_unit,source_id,confidence,basis\nsmartphone,Co,4,SCRREEN,medium,measured\n")
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(good))
    page.wait_for_function("() => document.body.innerText.includes('passed every check')", timeout=SERVER_WAIT_MS)
    wait_ready(page)
    page.get_by_label("Name of the new version").fill("Measured phone cobalt")
    page.get_by_role("button", name="Publish as a new version").click()
    page.wait_for_function("() => document.body.innerText.includes('Published version 2')", timeout=SERVER_WAIT_MS)
    assert frontend_errors(page) == []
