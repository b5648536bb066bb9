"""The exposure page in a real browser: the criticality chart, the world map (no basemap tiles) and
the disruption's shortfall are drawn without errors."""

from tests.e2e.conftest import SERVER_WAIT_MS, frontend_errors, wait_ready


def test_exposure_page_draws_map_and_shortfall(page, server_url):
    page.goto(f"{server_url}/exposure?city=Ghent&year=2030&material=Ga&preset=Custom&cut=0.5&duration=1")
    wait_ready(page)
    assert page.locator("h1").first.inner_text() == "Supply chain exposure · Ghent · 2030"
    deck = page.locator('[data-testid="stDeckGlJsonChart"] canvas').first
    deck.scroll_into_view_if_needed()
    deck.wait_for(state="visible", timeout=SERVER_WAIT_MS)
    assert page.get_by_text("Shortfall over 1 year(s) from 2030").is_visible()
    assert page.locator('[data-testid="stVegaLiteChart"]').count() >= 4
    assert frontend_errors(page) == []
