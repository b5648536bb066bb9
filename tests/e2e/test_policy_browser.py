"""The Policy page in a real browser: a lever moved with the keyboard changes the URL and the
scenario number, and the tornado chart is drawn."""

from tests.e2e.conftest import frontend_errors, wait_ready


def scenario_value(page) -> str:
    metric = page.locator('[data-testid="stMetric"]', has_text="Secondary supply, 2035")
    return metric.locator('[data-testid="stMetricValue"]').inner_text()


def test_moving_a_lever_updates_url_and_numbers(page, server_url):
    page.goto(f"{server_url}/policy?city=Ghent&year=2035&material=Co")
    wait_ready(page)
    assert page.locator("h1").first.inner_text() == "Policy intervention points · Ghent · 2035"
    before = scenario_value(page)
    slider = page.locator('[data-testid="stSlider"]', has_text="More WEEE collection points and campaigns")
    slider.get_by_role("slider").focus()
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("() => window.location.search.includes('weee_collection=')")
    wait_ready(page)
    assert "weee_collection=0.2" in page.url
    assert scenario_value(page) != before
    charts = page.locator('[data-testid="stVegaLiteChart"]')
    assert charts.count() >= 5
    page.get_by_text("Which lever moves it most").scroll_into_view_if_needed()
    assert page.get_by_text("Leverage ranking: 13 levers").is_visible()
    assert frontend_errors(page) == []


def test_a_scenario_link_reopens_the_same_numbers(browser, server_url):
    url = f"{server_url}/policy?city=Ghent&year=2035&material=Co&weee_collection=0.3&pcb_contracts=0.1"
    values = []
    for _ in range(2):
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(url)
            wait_ready(page)
            values.append(scenario_value(page))
        finally:
            context.close()
    assert values[0] == values[1]
