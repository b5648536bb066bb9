"""A discussion-session link opened in two fresh browsers shows the same step; the saved view it
points to opens with the same numbers."""

from decision_tools import storage
from tests.e2e.conftest import frontend_errors, start_server, stop_server, wait_ready


def test_session_link_in_fresh_browsers(browser, small_db, tmp_path):
    db = tmp_path / "sessions.duckdb"
    db.write_bytes(small_db.read_bytes())
    with storage.Store.open(db, read_only=False) as store:
        view = store.save_view("Cobalt in Ghent 2030", "", {"city": "Ghent", "year": 2030, "material": "Co"}, 1, "pat")
        session = store.create_session("Hub seminar", [(view, "Where is cobalt lost?")], "pat")
    process, url = start_server(db)
    try:
        for _ in range(2):
            context = browser.new_context()
            try:
                page = context.new_page()
                page.goto(f"{url}/sessions?session={session}&step=1")
                wait_ready(page)
                assert page.get_by_text("1. Cobalt in Ghent 2030").is_visible()
                assert page.get_by_text("Where is cobalt lost?").is_visible()
                assert frontend_errors(page) == []
                page.goto(f"{url}/?view={view}")
                wait_ready(page)
                assert page.locator("h1").first.inner_text() == "Ghent · Cobalt (Co) · 2030"
            finally:
                context.close()
    finally:
        stop_server(process)
