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
