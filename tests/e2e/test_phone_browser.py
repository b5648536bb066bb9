"""The phone layout in a real browser: at 390x844 (an iPhone) the Overview shows the chain as a list of
steps that fits the screen, hides the Sankey, collapses the sidebar and does not scroll sideways; at
1440x900 the Sankey shows and the list does not."""

from playwright.sync_api import expect

from tests.e2e.conftest import SERVER_WAIT_MS, frontend_errors, wait_ready

WIDE = '[class*="st-key-chain_wide_"]'
NARROW = '[class*="st-key-chain_narrow_"]'


def open_overview(browser, server_url, width: int, height: int):
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(SERVER_WAIT_MS)
    page = context.new_page()
    page.goto(f"{server_url}/?city=Ghent&year=2030&material=Co")
    wait_ready(page)
    return context, page


def test_a_phone_sees_the_chain_as_steps_that_fit_the_screen(browser, server_url):
    context, page = open_overview(browser, server_url, 390, 844)
    try:
        narrow = page.locator(NARROW).first
        narrow.wait_for(state="visible", timeout=SERVER_WAIT_MS)
        # Auto-waiting: while a run replaces the page's elements, both containers can be there for a moment.
        expect(page.locator(WIDE).first).to_be_hidden(timeout=SERVER_WAIT_MS)
        # Auto-waiting: the list is drawn step by step, and a run may still be adding its last rows.
        for expected in ("New products", "End of life", "Separately collected", "secondary supply", "Lost in total"):
            expect(narrow).to_contain_text(expected, timeout=SERVER_WAIT_MS)
        steps = narrow.locator('[data-testid="stProgress"], [data-testid="stMarkdownContainer"] p')
        texts = steps.all_inner_texts()
        for index in range(steps.count()):
            box = steps.nth(index).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, texts[index]
        # No sideways scrolling: neither the document nor Streamlit's own scrolling main area is wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
        assert page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollWidth") <= 390 + 1
        sidebar = page.locator('[data-testid="stSidebar"]').bounding_box()
        assert sidebar is None or sidebar["x"] + sidebar["width"] <= 0  # collapsed, off screen
        assert frontend_errors(page) == []
    finally:
        context.close()


def test_a_wide_screen_sees_the_sankey_and_not_the_steps(browser, server_url):
    context, page = open_overview(browser, server_url, 1440, 900)
    try:
        page.locator(f'{WIDE} [data-testid="stPlotlyChart"] g.sankey').first.wait_for(state="visible", timeout=SERVER_WAIT_MS)
        expect(page.locator(NARROW).first).to_be_hidden(timeout=SERVER_WAIT_MS)
        labels = page.locator(f'{WIDE} .sankey-node text').all_text_contents()
        assert any(label.startswith("Collected: ") for label in labels)
        assert frontend_errors(page) == []
    finally:
        context.close()
