"""A discussion session in a room: a presenter (signed in, across a reload) leads it in one browser, a
participant who opened the session's link in another browser follows to the presenter's step by itself;
each step shows its view's numbers inline, and the saved view opens with the same numbers."""

from decision_tools import storage
from tests.e2e.conftest import SERVER_WAIT_MS, frontend_errors, sign_in, start_server, stop_server, wait_ready


def test_a_presenter_leads_a_participant_in_another_browser(browser, small_db, tmp_path):
    db = tmp_path / "sessions.duckdb"
    db.write_bytes(small_db.read_bytes())
    with storage.Store.open(db, read_only=False) as store:
        first = store.save_view("Cobalt in Ghent 2030", "", {"city": "Ghent", "year": 2030, "material": "Co"}, 1, "pat")
        second = store.save_view("Platinum in Ghent 2035", "", {"city": "Ghent", "year": 2035, "material": "Pt"}, 1, "pat")
        session = store.create_session("Hub seminar", [(first, "Where is cobalt lost?"), (second, "And platinum?")], "pat")
    process, url = start_server(db)
    presenter_context, participant_context = browser.new_context(), browser.new_context()
    try:
        presenter = presenter_context.new_page()
        presenter.set_default_timeout(SERVER_WAIT_MS)
        presenter.goto(f"{url}/sessions?session={session}")
        wait_ready(presenter)
        sign_in(presenter, "pat")
        presenter.get_by_text("Present: everyone following this session moves").click()
        wait_ready(presenter)

        participant = participant_context.new_page()
        participant.set_default_timeout(SERVER_WAIT_MS)
        participant.goto(f"{url}/sessions?session={session}")  # the link the presenter shared
        wait_ready(participant)
        assert participant.get_by_text("1. Cobalt in Ghent 2030").is_visible()
        assert participant.get_by_text("Where is cobalt lost?").is_visible()
        numbers = participant.locator('[data-testid="stMetricValue"]')
        numbers.nth(3).wait_for(state="visible")  # the view's numbers, inline (drawn after its title and note)
        assert numbers.count() == 4

        presenter.get_by_role("button", name="Next").click()
        wait_ready(presenter)
        participant.wait_for_function("() => document.body.innerText.includes('2. Platinum in Ghent 2035')",
                                      timeout=SERVER_WAIT_MS)
        wait_ready(participant)
        assert participant.get_by_text("And platinum?").is_visible()

        presenter.reload()  # still signed in, still on the step shown
        wait_ready(presenter)
        assert "Signed in as pat" in presenter.locator('[data-testid="stSidebar"]').inner_text()
        assert frontend_errors(presenter) == [] and frontend_errors(participant) == []

        participant.goto(f"{url}/?view={second}")
        wait_ready(participant)
        assert participant.locator("h1").first.inner_text() == "Ghent · Platinum (Pt) · 2035"
    finally:
        presenter_context.close()
        participant_context.close()
        stop_server(process)
