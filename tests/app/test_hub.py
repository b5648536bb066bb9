"""Symbiosis and hub page: renders the map and the ranked matches; roles decide who posts, who
registers interest and who records matches (checked on the server)."""

from decision_tools import storage
from tests.app.conftest import open_page


def buttons(at):
    return {b.label for b in at.button}


def test_renders_map_and_ranked_matches(app):
    at = open_page(app, "pages/hub.py", None, city="Ghent")
    assert not at.exception
    assert at.title[0].value == "Symbiosis and hub"
    assert len(at.get("deck_gl_json_chart")) == 1
    matches = next(df.value for df in at.dataframe if "Score (0-1)" in df.value.columns)  # shown as text, 3 figures
    scores = [float(score) for score in matches["Score (0-1)"]]
    assert scores == sorted(scores, reverse=True) and len(scores) > 1
    assert not matches["From"].str.contains("org_").any()  # organisations by name
    assert "Post the challenge" not in buttons(at) and "Register my interest" not in buttons(at)


def test_partners_post_students_register_viewers_neither(app, tmp_path):
    partner = open_page(app, "pages/hub.py", "pat", city="Ghent")
    assert "Post the challenge" in buttons(partner)
    assert "Save status" in buttons(partner)  # pat owns the Ghent campus organisation
    with storage.Store.open(tmp_path / "app.duckdb", read_only=False) as store:
        store.post_challenge("Magnets from campus laptops", "Design a take-back line", "org_uni_gnt", ["chemistry"],
                             "thesis", "Nd", None, None, "pat")
    student = open_page(app, "pages/hub.py", "sam", city="Ghent")
    assert "Register my interest" in buttons(student) and "Post the challenge" not in buttons(student)
    viewer = open_page(app, "pages/hub.py", "vic", city="Ghent")
    assert "Register my interest" not in buttons(viewer) and "Post the challenge" not in buttons(viewer)


def test_only_the_poster_moves_a_challenge_on(tmp_path, small_db):
    import pytest
    db = tmp_path / "hub.duckdb"
    db.write_bytes(small_db.read_bytes())
    with storage.Store.open(db, read_only=False) as store:
        cid = store.post_challenge("A", "B", "org_uni_gnt", ["chemistry"], "thesis", None, None, None, "pat")
        store.register_interest(cid, "sam")
        with pytest.raises(storage.AlreadyRegistered, match="You have already registered interest in this challenge"):
            store.register_interest(cid, "sam")  # twice is once, and said so
        assert store.interested(cid) == ["sam"]
        with pytest.raises(PermissionError):
            store.set_challenge_status(cid, "assigned", "", "dana")
        store.set_challenge_status(cid, "completed", "prototype built", "pat")
        assert store.challenges().set_index("challenge_id").at[cid, "status"] == "completed"


def test_events_link_challenges_and_sessions(tmp_path, small_db):
    import datetime as dt

    import pytest
    db = tmp_path / "events.duckdb"
    db.write_bytes(small_db.read_bytes())
    with storage.Store.open(db, read_only=False) as store:
        cid = store.post_challenge("A", "B", "org_uni_gnt", ["chemistry"], "thesis", None, None, None, "pat")
        view = store.save_view("v", "", {"city": "Ghent"}, 1, "pat")
        sid = store.create_session("S", [(view, "")], "pat")
        store.add_event("Assignment market", "assignment market", dt.date(2027, 3, 1), "Delft", cid, sid, "pat")
        events = store.events().set_index("title")
        assert events.at["Assignment market", "challenge_id"] == cid and events.at["Assignment market", "session_id"] == sid
        assert len(events) == 4  # three demo events and the new one
        with pytest.raises(ValueError, match="There is no challenge"):
            store.add_event("X", "seminar", dt.date(2027, 3, 1), "Delft", "nope1234", None, "pat")


def test_partners_offer_streams_only_for_their_own_organisation(app):
    partner = open_page(app, "pages/hub.py", "pat", city="Ghent")
    form_buttons = buttons(partner)
    assert "Publish the offer" in form_buttons
    org_choice = next(s for s in partner.selectbox if s.label == "Organisation")
    assert org_choice.options == ["Fictitious: Ghent Campus Facilities"]  # only pat's organisation
    student = open_page(app, "pages/hub.py", "sam", city="Ghent")
    assert "Publish the offer" not in buttons(student)


def test_an_offer_made_from_an_old_version_builds_on_the_latest(app, tmp_path):
    from decision_tools import uploads

    app()
    with storage.Store.open(tmp_path / "app.duckdb", read_only=False) as store:
        check = uploads.check_upload("composition", b"product,material,grams_per_unit,source_id,confidence,basis\n"
                                     b"smartphone,Co,4,SCRREEN,medium,measured\n", "c.csv", store.input_tables(1))
        assert store.publish(check.tables, "Measured phones", "", "rita") == 2
    partner = open_page(app, "pages/hub.py", "pat", city="Ghent", version="1")  # a link pinned to version 1
    next(t for t in partner.text_input if t.label == "Description").input("Retired lab laptops")
    next(b for b in partner.button if b.label == "Publish the offer").click().run()
    assert not partner.exception
    assert any("Published as dataset version 3" in s.value for s in partner.success)
    with storage.Store.open(tmp_path / "app.duckdb", read_only=False) as store:
        composition = store.table("product_content", 3)
        phones = composition[(composition["product"] == "smartphone") & (composition["material"] == "Co")]
        assert phones["grams_per_unit"].tolist() == [4]  # version 2's change is kept
        assert "Retired lab laptops" in set(store.table("offers", 3)["description"])


def test_an_offer_is_refused_when_a_version_landed_after_the_form_was_shown(app, tmp_path):
    from decision_tools import uploads

    partner = open_page(app, "pages/hub.py", "pat", city="Ghent")  # the form is drawn on version 1
    with storage.Store.open(tmp_path / "app.duckdb", read_only=False) as store:  # meanwhile a researcher publishes
        check = uploads.check_upload("composition", b"product,material,grams_per_unit,source_id,confidence,basis\n"
                                     b"smartphone,Co,4,SCRREEN,medium,measured\n", "c.csv", store.input_tables(1))
        assert store.publish(check.tables, "Measured phones", "", "rita") == 2
    next(t for t in partner.text_input if t.label == "Description").input("Retired lab laptops")
    next(b for b in partner.button if b.label == "Publish the offer").click().run()
    assert any("version 2 was published after these data were checked against version 1" in e.value for e in partner.error)
    with storage.Store.open(tmp_path / "app.duckdb", read_only=False) as store:
        assert store.current_version() == 2


def _table_with(at, column):
    return next(df.value for df in at.dataframe if column in df.value.columns)


def test_a_published_offer_is_listed_at_once_with_its_organisations_name_and_the_form_empties(app):
    partner = open_page(app, "pages/hub.py", "pat", city="Ghent")
    partner.text_input(key="offer_description").input("Cobalt scrap from lab batteries")
    partner.number_input(key="offer_kg").set_value(2500.0)
    next(b for b in partner.button if b.label == "Publish the offer").click().run()
    assert not partner.exception
    assert any("Published as dataset version 2" in s.value for s in partner.success)
    offers = _table_with(partner, "Stream code")  # drawn in the same run as the click
    new = offers[offers["Description"] == "Cobalt scrap from lab batteries"]
    assert list(new["Organisation"]) == ["Fictitious: Ghent Campus Facilities"]  # the name, not org_uni_gnt
    assert "Org id" not in offers.columns and "Org id" not in _table_with(partner, "Quality").columns
    assert partner.text_input(key="offer_description").value == ""  # the form is empty again
    assert partner.number_input(key="offer_kg").value == 1000.0


def test_a_posted_challenge_is_listed_at_once_and_the_form_empties(app):
    partner = open_page(app, "pages/hub.py", "pat", city="Ghent")
    partner.text_input(key="challenge_title").input("Cobalt scrap from campus labs")
    partner.text_area(key="challenge_description").input("Sort the scrap by chemistry")
    partner.multiselect(key="challenge_disciplines").select("chemistry")
    next(b for b in partner.button if b.label == "Post the challenge").click().run()
    assert not partner.exception
    assert any("Posted “Cobalt scrap from campus labs”" in s.value for s in partner.success)
    assert "Cobalt scrap from campus labs" in set(_table_with(partner, "Disciplines")["Title"])
    assert partner.text_input(key="challenge_title").value == ""
    assert partner.text_area(key="challenge_description").value == ""
    assert partner.multiselect(key="challenge_disciplines").value == []


def test_a_refused_post_keeps_what_was_typed(app):
    partner = open_page(app, "pages/hub.py", "pat", city="Ghent")
    partner.text_input(key="challenge_title").input("Cobalt scrap from campus labs")
    partner.text_area(key="challenge_description").input("Sort the scrap by chemistry")
    next(b for b in partner.button if b.label == "Post the challenge").click().run()  # no discipline picked
    assert any("Pick at least one discipline" in e.value for e in partner.error)
    assert partner.text_input(key="challenge_title").value == "Cobalt scrap from campus labs"
    assert partner.text_area(key="challenge_description").value == "Sort the scrap by chemistry"
    assert "Cobalt scrap from campus labs" not in set(_table_with(partner, "Disciplines")["Title"])


def test_a_refused_offer_keeps_what_was_typed(app, tmp_path):
    from decision_tools import uploads

    partner = open_page(app, "pages/hub.py", "pat", city="Ghent")  # the form is drawn on version 1
    with storage.Store.open(tmp_path / "app.duckdb", read_only=False) as store:
        check = uploads.check_upload("composition", b"product,material,grams_per_unit,source_id,confidence,basis\n"
                                     b"smartphone,Co,4,SCRREEN,medium,measured\n", "c.csv", store.input_tables(1))
        assert store.publish(check.tables, "Measured phones", "", "rita") == 2
    partner.text_input(key="offer_description").input("Retired lab laptops")
    next(b for b in partner.button if b.label == "Publish the offer").click().run()
    assert any("nothing was written" in e.value for e in partner.error)
    assert partner.text_input(key="offer_description").value == "Retired lab laptops"


def test_a_student_registers_once_and_the_poster_and_only_the_poster_is_told(app, tmp_path):
    with storage.Store.open(tmp_path / "app.duckdb", read_only=False) as store:
        store.post_challenge("Cobalt scrap from campus labs", "Sort it", "org_uni_gnt", ["chemistry"], "thesis", "Co",
                             None, None, "pat")
    student = open_page(app, "pages/hub.py", "sam", city="Ghent")
    register = next(b for b in student.button if b.label == "Register my interest")
    register.click().run()
    assert any("Your interest is registered in “Cobalt scrap from campus labs”" in s.value for s in student.success)
    assert _table_with(student, "Disciplines").set_index("Title").at["Cobalt scrap from campus labs", "Interested"] == "1"
    next(b for b in student.button if b.label == "Register my interest").click().run()
    assert not student.exception and not student.error
    assert any("You have already registered interest in this challenge, “Cobalt scrap from campus labs”" in i.value
               for i in student.info)
    assert _table_with(student, "Disciplines").set_index("Title").at["Cobalt scrap from campus labs", "Interested"] == "1"

    notice = "1 new expression of interest in ‘Cobalt scrap from campus labs’"
    other = open_page(app, "pages/hub.py", "dana", city="Ghent")  # another partner: nothing of pat's
    assert not any(notice in m.value for m in other.markdown)
    poster = open_page(app, "pages/hub.py", "pat", city="Ghent")
    assert any(notice in m.value for m in poster.markdown)
    assert any("1 new expression of interest in your challenges" in t.value for t in poster.toast)
    who = _table_with(poster, "Who")
    assert list(who["Who"]) == ["sam"] and who["When (UTC)"].notna().all()
    next(b for b in poster.button if b.label == "Mark as seen").click().run()
    assert not poster.exception
    assert not any(notice in m.value for m in poster.markdown)
    assert not open_page(app, "pages/hub.py", "pat", city="Ghent").toast  # seen stays seen


def test_an_added_event_is_listed_at_once_by_title_and_the_form_empties(app, tmp_path):
    with storage.Store.open(tmp_path / "app.duckdb", read_only=False) as store:
        store.post_challenge("Cobalt scrap from campus labs", "Sort it", "org_uni_gnt", ["chemistry"], "thesis", "Co",
                             None, None, "pat")
    partner = open_page(app, "pages/hub.py", "pat", city="Ghent")
    partner.text_input(key="event_place").input("Ghent")
    next(b for b in partner.button if b.label == "Add the event").click().run()  # no title: refused
    assert any("Give the event a title" in e.value for e in partner.error)
    assert partner.text_input(key="event_place").value == "Ghent"  # kept
    partner.text_input(key="event_title").input("Scrap fair")
    challenge = partner.selectbox(key="event_challenge")
    assert challenge.options == ["(none)", "Cobalt scrap from campus labs"]  # offered by title
    challenge.select_index(1)
    next(b for b in partner.button if b.label == "Add the event").click().run()
    assert not partner.exception and not partner.error, [e.value for e in partner.error]
    events = _table_with(partner, "Discussion session").set_index("Event")
    assert events.at["Scrap fair", "Challenge"] == "Cobalt scrap from campus labs"  # the title, not the id
    assert "00:00" not in events.at["Scrap fair", "Date"] and "None" not in events.to_csv()  # a day; empty cells as "—"
    assert partner.text_input(key="event_title").value == "" and partner.text_input(key="event_place").value == ""
