"""The Circularity indicators page in a real browser: indicators with ranges, the Sankey, the district
map (drawn without any basemap tiles), and a direct link as the first request to a fresh server."""

from decision_tools.indicators import INDICATORS
from tests.e2e.conftest import SERVER_WAIT_MS, frontend_errors, start_server, stop_server, wait_ready

LAST_CARD = len(INDICATORS) - 1


def assert_indicators_page(page, title: str) -> None:
    assert page.locator("h1").first.inner_text() == title
    page.locator('[data-testid="stMetricValue"]').nth(LAST_CARD).wait_for(state="visible", timeout=SERVER_WAIT_MS)
    page.locator('[data-testid="stPlotlyChart"] g.sankey').first.wait_for(state="visible", timeout=SERVER_WAIT_MS)
    deck = page.locator('[data-testid="stDeckGlJsonChart"] canvas').first
    deck.scroll_into_view_if_needed()
    deck.wait_for(state="visible", timeout=SERVER_WAIT_MS)
    box = deck.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 200
    assert page.get_by_text("5-95 %:").first.is_visible()
    assert frontend_errors(page) == []


def test_indicators_page_shows_map_sankey_and_ranges(page, server_url):
    page.goto(f"{server_url}/indicators?city=Ghent&year=2030&material=Co")
    wait_ready(page)
    assert_indicators_page(page, "Circularity indicators · Ghent · 2030")
    labels = page.locator('[data-testid="stMetricLabel"]').all_inner_texts()
    assert any("End-of-life recycling rate" in label for label in labels)


def test_all_crms_toggle_is_in_the_link(browser, page, server_url):
    page.goto(f"{server_url}/indicators?city=Ghent&year=2030&all_crms=true")
    wait_ready(page)
    assert page.get_by_text("For all critical raw materials, rates weighted by mass.").first.is_visible()
    values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
    fresh = browser.new_context()
    try:
        other = fresh.new_page()
        other.goto(page.url)
        wait_ready(other)
        other.locator('[data-testid="stMetricValue"]').nth(LAST_CARD).wait_for(state="visible", timeout=SERVER_WAIT_MS)
        assert other.locator('[data-testid="stMetricValue"]').all_inner_texts() == values
    finally:
        fresh.close()


def test_a_page_link_works_as_the_first_request_to_a_fresh_server(page, small_db, tmp_path):
    # Streamlit runs a pages/ file directly when it is the very first request of the process; the
    # app must recover and still run app.py first.
    copy = tmp_path / "fresh.duckdb"
    copy.write_bytes(small_db.read_bytes())
    process, url = start_server(copy)
    try:
        page.goto(f"{url}/indicators?city=Delft&year=2031&material=Co")
        wait_ready(page)
        assert_indicators_page(page, "Circularity indicators · Delft · 2031")
    finally:
        stop_server(process)
