"""The Overview in a real browser: the Sankey and the numbers are visible, picking a city changes
them and the URL, and the link reopens the same view in a fresh browser context."""

from decision_tools import storage
from decision_tools.formatting import format_mass
from tests.e2e.conftest import SERVER_WAIT_MS, frontend_errors, sign_in, wait_ready


def shown_metrics(page) -> dict[str, str]:
    page.locator('[data-testid="stMetricValue"]').nth(6).wait_for(state="visible", timeout=SERVER_WAIT_MS)
    labels = page.locator('[data-testid="stMetricLabel"]').all_inner_texts()
    values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
    return {label.strip(): value.strip() for label, value in zip(labels, values)}


def expected_metrics(small_db, city: str, year: int, material: str) -> dict[str, str]:
    with storage.Store.open(small_db) as store:
        figures = store.headline(1, city, year, material)
    return {
        "In-use stock": format_mass(figures["in_use_stock"].kg),
        "Recovered (secondary supply)": format_mass(figures["secondary_supply"].kg) + "/yr",
        "Lost": format_mass(figures["lost"].kg) + "/yr",
    }


def test_overview_shows_sankey_and_numbers(page, server_url, small_db):
    page.goto(f"{server_url}/?city=Ghent&year=2030&material=Co")
    wait_ready(page)
    assert page.locator("h1").first.inner_text().startswith("Ghent · Cobalt (Co) · 2030")
    sankey = page.locator('[data-testid="stPlotlyChart"] g.sankey')
    sankey.first.wait_for(state="visible", timeout=SERVER_WAIT_MS)
    node_labels = page.locator('[data-testid="stPlotlyChart"] .sankey-node text').all_text_contents()
    assert any("Secondary supply" in label for label in node_labels)
    assert any("Residual waste" in label for label in node_labels)
    shown = shown_metrics(page)
    for label, value in expected_metrics(small_db, "Ghent", 2030, "Co").items():
        assert shown[label] == value
    assert page.get_by_text("Confidence: illustrative").first.is_visible()


def test_picking_a_city_updates_numbers_and_url(page, server_url, small_db):
    # The test data has no Helsinki, so Delft (its first city) is the default and stays out of the URL.
    page.goto(f"{server_url}/?year=2030")
    wait_ready(page)
    assert page.locator("h1").first.inner_text().startswith("Delft")
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]', has_text="City").click()
    page.get_by_role("option", name="Ghent").click()
    page.wait_for_function("() => document.querySelector('h1') && document.querySelector('h1').innerText.startsWith('Ghent')")
    wait_ready(page)
    assert "city=Ghent" in page.url and "year=2030" in page.url
    shown = shown_metrics(page)
    assert shown["In-use stock"] == expected_metrics(small_db, "Ghent", 2030, "Co")["In-use stock"]


def test_shared_link_reopens_the_same_numbers(browser, page, server_url):
    page.goto(f"{server_url}/?city=Ghent&year=2041&material=Nd")
    wait_ready(page)
    first = shown_metrics(page)
    fresh = browser.new_context()
    try:
        other = fresh.new_page()
        other.goto(page.url)
        wait_ready(other)
        assert shown_metrics(other) == first
    finally:
        fresh.close()


def test_methods_page_keeps_the_selection_in_the_url(page, server_url):
    page.goto(f"{server_url}/?city=Ghent&year=2031&material=Pt")
    wait_ready(page)
    # let the reruns that follow a first load settle (the bound widgets rewrite the address): a click that
    # lands in one of them can switch pages before the pickers are drawn again
    page.wait_for_timeout(1500)
    wait_ready(page)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Methods and sources").click()
    page.wait_for_function("() => document.querySelector('h1') && document.querySelector('h1').innerText === 'Methods and sources'")
    wait_ready(page)
    # the address settles as the page's widgets register: wait for it (fails if it never holds all three)
    page.wait_for_function("() => ['city=Ghent', 'year=2031', 'material=Pt'].every(p => location.href.includes(p))",
                           timeout=SERVER_WAIT_MS)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Overview").click()
    page.wait_for_function("() => document.querySelector('h1') && document.querySelector('h1').innerText.startsWith('Ghent')")
    assert page.locator("h1").first.inner_text() == "Ghent · Platinum (Pt) · 2031"


def test_a_saved_view_link_shows_the_same_numbers_in_a_fresh_browser(browser, page, server_url):
    original = f"{server_url}/?city=Ghent&year=2037&material=Pt"
    page.goto(original)
    wait_ready(page)
    shown = shown_metrics(page)
    # A signed-in partner saves the view through the share popover; a fresh browser opens the short link.
    sign_in(page, "pat")
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_role("button", name="Share this view").click()
    page.get_by_role("textbox", name="Title").fill("Platinum in Ghent")
    page.get_by_role("button", name="Save and get the link").click()
    page.wait_for_function("() => document.body.innerText.includes('?view=')", timeout=SERVER_WAIT_MS)
    link = page.locator("code").filter(has_text="?view=").first.inner_text().strip()
    assert "?view=" in link
    fresh = browser.new_context()
    try:
        other = fresh.new_page()
        other.goto(f"{server_url}/?view={link.split('?view=')[1]}")
        wait_ready(other)
        assert other.locator("h1").first.inner_text() == "Ghent · Platinum (Pt) · 2037"
        assert shown_metrics(other) == shown
        assert other.get_by_text("Saved view “Platinum in Ghent”").is_visible()
    finally:
        fresh.close()


def test_a_bad_link_value_shows_a_notice_until_another_choice_is_made(page, server_url):
    """Bound widgets drop a bad value from the URL and Streamlit reruns at once: the notice must
    survive that rerun, and go once the visitor picks something else."""
    page.goto(f"{server_url}/indicators?city=Atlantis&year=1800&version=99")
    wait_ready(page)
    alerts = " ".join(page.locator('[data-testid="stAlert"]').all_inner_texts())
    assert "city 'Atlantis', which is not in the data" in alerts
    assert "year 1800, outside the modelled" in alerts
    assert "dataset version '99', which does not exist" in alerts
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]', has_text="City").click()
    other = "Ghent" if "showing Delft" in alerts else "Delft"  # not the city shown instead
    page.get_by_role("option", name=other).click()
    page.wait_for_function("() => !document.body.innerText.includes('Atlantis')", timeout=SERVER_WAIT_MS)
    wait_ready(page)
    assert frontend_errors(page) == []
