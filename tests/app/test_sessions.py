"""Discussion sessions: a link opens a session at a step; comments need signing in; the session
exports as one document; only partners and up create sessions."""

from decision_tools import exports, storage
from tests.app.conftest import open_page


def make_session(tmp_path):
    with storage.Store.open(tmp_path / "app.duckdb", read_only=False) as store:
        first = store.save_view("Cobalt today", "", {"city": "Ghent", "year": 2025, "material": "Co"}, 1, "pat")
        second = store.save_view("Levers for 2035", "policy", {"city": "Ghent", "year": 2035, "weee_collection": 0.3}, 1, "pat")
        session_id = store.create_session("Assignment market", [(first, "Where is cobalt lost?"), (second, "What if <we> collect more?")], "pat")
        store.add_comment(session_id, 2, "rita", "Collection alone is not enough: <b>recovery</b> matters")
        return session_id


def test_a_session_link_opens_the_step_with_its_note_and_comments(app, tmp_path):
    app()
    session_id = make_session(tmp_path)
    at = open_page(app, "pages/sessions.py", None, session=session_id, step="2")
    assert not at.exception
    assert any("Levers for 2035" in m.value for m in at.markdown)
    texts = [t.value for t in at.text]
    assert "What if <we> collect more?" in texts  # user text shown as text
    assert "Collection alone is not enough: <b>recovery</b> matters" in texts
    assert any("Sign in to comment" in c.value for c in at.caption)
    assert any("needs the admin or partner or researcher role" in w.value for w in at.warning)


def test_signed_in_participants_comment_and_partners_create(app, tmp_path):
    app()
    make_session(tmp_path)
    at = open_page(app, "pages/sessions.py", "vic")
    assert [f for f in at.text_area if f.label == "Your comment"]
    assert not [b for b in at.button if b.label == "Create the session"]
    partner = open_page(app, "pages/sessions.py", "pat")
    assert [b for b in partner.button if b.label == "Create the session"]


def test_the_session_exports_as_one_document(app, tmp_path):
    app()
    session_id = make_session(tmp_path)
    with storage.Store.open(tmp_path / "app.duckdb") as store:
        doc = exports.session_html(store.get_session(session_id), store.comments(session_id), "http://host/").decode()
    assert "Assignment market" in doc and "1. Cobalt today" in doc and "2. Levers for 2035" in doc
    assert "http://host/?view=" in doc and "&lt;b&gt;recovery&lt;/b&gt;" in doc and "<b>recovery" not in doc


def test_an_unknown_session_id_is_a_notice(app, tmp_path):
    app()
    make_session(tmp_path)
    at = open_page(app, "pages/sessions.py", None, session="nope1234")
    assert not at.exception
    assert any("does not exist" in w.value for w in at.warning)


def test_the_picker_shows_titles_and_the_step_shows_its_view_inline_pinned_to_its_version(app, tmp_path):
    app()
    session_id = make_session(tmp_path)
    at = open_page(app, "pages/sessions.py", None, session=session_id, step="1")
    assert not at.exception
    picker = at.selectbox(key="session")
    assert picker.format_func(session_id).startswith("Assignment market · ")  # a title, not an id
    with storage.Store.open(tmp_path / "app.duckdb", read_only=False) as store:  # the app's own configuration
        stock = store.headline(1, "Ghent", 2025, "Co")["in_use_stock"]
    from decision_tools.formatting import format_mass
    assert {m.label: m.value for m in at.metric}[stock.label] == format_mass(stock.kg)  # the view's number, inline
    assert any("dataset version 1 (pinned" in c.value for c in at.caption)
    links = [c.value for c in at.get("code")]
    assert any(link.endswith(f"/sessions?session={session_id}") and link.startswith("http") for link in links)
    assert at.get("image")  # the QR code


def test_a_partner_creates_a_session_and_it_opens_with_its_full_link(app, tmp_path):
    app()
    with storage.Store.open(tmp_path / "app.duckdb", read_only=False) as store:
        store.save_view("Cobalt today", "", {"city": "Ghent", "year": 2025, "material": "Co"}, 1, "pat")
    at = open_page(app, "pages/sessions.py", "pat")
    assert any("No discussion session yet" in i.value for i in at.info)
    at.text_input[0].input("Seminar 12 March")
    at.multiselect[0].select(at.multiselect[0].options[0])
    next(b for b in at.button if b.label == "Create the session").click().run()
    assert not at.exception
    assert not any("No discussion session yet" in i.value for i in at.info)
    assert any("Share its link with the participants: http" in s.value for s in at.success)
    assert at.subheader[0].value == "Seminar 12 March"


def test_participants_who_follow_move_to_the_presenters_step(app, tmp_path):
    app()
    session_id = make_session(tmp_path)
    presenter = open_page(app, "pages/sessions.py", "pat", session=session_id, step="1")
    presenter.toggle(key=f"present_{session_id}").set_value(True).run()
    assert not presenter.exception
    presenter.button(key="next").click().run()
    with storage.Store.open(tmp_path / "app.duckdb", read_only=False) as store:
        assert store.presented_step(session_id)["position"] == 2
    participant = open_page(app, "pages/sessions.py", None, session=session_id)
    assert not participant.exception
    assert participant.number_input(key="step").value == 2  # arrived on the presenter's step
    assert any("Levers for 2035" in m.value for m in participant.markdown)
    viewer = open_page(app, "pages/sessions.py", "vic", session=session_id)
    assert not [t for t in viewer.toggle if t.key == f"present_{session_id}"]  # viewers follow, never lead
    with storage.Store.open(tmp_path / "app.duckdb", read_only=False) as store:
        import pytest

        from decision_tools.accounts import PermissionDenied
        with pytest.raises(PermissionDenied):
            store.present_step(session_id, 1, "vic")  # refused on the server too


def test_the_address_bar_keeps_the_session_and_the_step(app, tmp_path):
    app()
    first = make_session(tmp_path)
    with storage.Store.open(tmp_path / "app.duckdb", read_only=False) as store:
        view = store.saved_views()["view_id"].iloc[0]
        second = store.create_session("Second seminar", [(view, "one"), (view, "two"), (view, "three")], "pat")
    at = open_page(app, "pages/sessions.py")
    assert not at.exception
    shown = at.selectbox(key="session").value
    assert at.query_params.get("session") == shown and at.query_params.get("step") == "1"  # the defaults too
    other = first if shown == second else second
    at.selectbox(key="session").set_value(other).run()
    at.number_input(key="step").set_value(2).run()
    assert not at.exception
    assert at.query_params.get("session") == other and at.query_params.get("step") == "2"
    # the copied address reopens the same session at the same step
    again = open_page(app, "pages/sessions.py", None, session=at.query_params["session"], step=at.query_params["step"])
    assert again.selectbox(key="session").value == other and again.number_input(key="step").value == 2
    # picking another session starts it at its first step
    again.selectbox(key="session").set_value(shown).run()
    assert again.number_input(key="step").value == 1 and again.query_params.get("step") == "1"


def test_a_participant_following_the_presenter_has_the_presenters_step_in_the_address(app, tmp_path):
    app()
    session_id = make_session(tmp_path)
    with storage.Store.open(tmp_path / "app.duckdb", read_only=False) as store:
        store.present_step(session_id, 2, "pat")
    participant = open_page(app, "pages/sessions.py", None, session=session_id)
    assert participant.query_params.get("session") == session_id and participant.query_params.get("step") == "2"


def test_each_step_shows_its_views_chart_inline(app, tmp_path):
    app()
    session_id = make_session(tmp_path)
    overview_step = open_page(app, "pages/sessions.py", None, session=session_id, step="1")
    assert not overview_step.exception
    assert [c for c in overview_step.get("plotly_chart")]  # an Overview view: its chain (Sankey)
    policy_step = open_page(app, "pages/sessions.py", None, session=session_id, step="2")
    charts = policy_step.get("vega_lite_chart")
    assert charts  # another page's view: its flows over time
    spec = charts[0].proto.spec
    assert "2035" in spec  # the view's year (left out of the view: the default material), marked on the chart
