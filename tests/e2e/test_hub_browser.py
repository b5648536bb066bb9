"""A partner posts a challenge and a student registers interest, in a real browser."""

from tests.e2e.conftest import SERVER_WAIT_MS, frontend_errors, sign_in, start_server, stop_server, wait_ready



def test_partner_posts_and_student_registers(browser, small_db, tmp_path):
    db = tmp_path / "hub.duckdb"
    db.write_bytes(small_db.read_bytes())
    process, url = start_server(db)
    try:
        partner = browser.new_context().new_page()
        partner.goto(f"{url}/hub?city=Ghent&prefill_material=Nd&prefill_title=Magnets+from+campus+laptops")
        wait_ready(partner)
        sign_in(partner, "pat")
        form = partner.locator('[data-testid="stForm"]', has_text="Post a challenge")
        assert form.get_by_role("textbox", name="Title").input_value() == "Magnets from campus laptops"
        form.get_by_role("textbox", name="Description").fill("Design a take-back and dismantling line for laptop magnets.")
        # a partner posts only for an organisation of its own: pat has one in Ghent, already chosen
        organisation = form.locator('[data-testid="stSelectbox"]', has_text="For your organisation").locator("input")
        assert organisation.input_value() == "Fictitious: Ghent Campus Facilities"
        form.locator('[data-testid="stMultiSelect"]').click()
        partner.get_by_role("option", name="chemistry").click()
        partner.keyboard.press("Escape")
        form.get_by_role("button", name="Post the challenge").click()
        partner.wait_for_function("() => document.body.innerText.includes('Posted')", timeout=SERVER_WAIT_MS)

        student = browser.new_context().new_page()
        student.goto(f"{url}/hub?city=Ghent")
        wait_ready(student)
        sign_in(student, "sam")
        interest = student.locator('[data-testid="stForm"]', has_text="Register my interest")
        assert interest.locator("input").first.input_value() == "Magnets from campus laptops"
        interest.get_by_role("button", name="Register my interest").click()
        student.wait_for_function("() => document.body.innerText.includes('Your interest is registered')", timeout=SERVER_WAIT_MS)
        assert frontend_errors(student) == []
    finally:
        stop_server(process)
