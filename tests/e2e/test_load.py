"""Several people at once: chromium sessions open the pages together on one server, and every page
renders without errors. Timings belong to bench/load.py, not here."""

from tests.e2e.conftest import frontend_errors, wait_ready

# URL path -> text of the page's title for Ghent, cobalt, 2030
PAGE_TITLES = {
    "": "Ghent · Cobalt (Co) · 2030",
    "indicators": "Circularity indicators · Ghent · 2030",
    "policy": "Policy intervention points · Ghent · 2030",
    "exposure": "Supply chain exposure · Ghent · 2030",
    "hub": "Symbiosis and hub",
}
SESSIONS, ROUNDS = 3, 2


def test_sessions_opening_pages_at_the_same_time_all_render(browser, server_url):
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in range(SESSIONS)]
    sessions = [context.new_page() for context in contexts]
    paths = list(PAGE_TITLES)
    try:
        for round_ in range(ROUNDS):
            # Each session opens a different page, all requested before any is waited for: the server runs them together.
            visits = [(page, paths[(i + round_ * SESSIONS) % len(paths)]) for i, page in enumerate(sessions)]
            for page, path in visits:
                page.goto(f"{server_url}/{path}?city=Ghent&year=2030&material=Co")
            for page, path in visits:
                wait_ready(page)
                assert page.locator("h1").first.inner_text() == PAGE_TITLES[path]
                assert frontend_errors(page) == [], path
    finally:
        for context in contexts:
            context.close()
