"""Attacks on the running app: a saved view carrying someone's identity, a flood of comments, a
visitor clearing every cache, a database error showing server paths."""

import json
import secrets
from datetime import datetime, timedelta

import pytest

from decision_tools import signin, storage
from decision_tools.views import view_state
from tests.app.conftest import open_page

IDENTITY = {"username": "admin", "roles": ["admin"], "authentication_status": True, "name": "Administrator",
            "_sign_in_token": "stolen"}


def test_saving_a_view_keeps_only_declared_view_settings(tmp_path, app):
    app()
    session = {"city": "Ghent", "year": 2030, "weee_collection": 0.3, **IDENTITY}
    assert view_state(list(session), session, {"weee_collection"}) == {"city": "Ghent", "year": 2030, "weee_collection": 0.3}
    with storage.Store.open(tmp_path / "app.duckdb", read_only=False) as store:
        view_id = store.save_view("Crafted", "", {"city": "Ghent", **IDENTITY}, 1, "pat")  # whatever a page passes
        stored = json.loads(store._workspace_frame("SELECT state FROM saved_views WHERE view_id = ?", [view_id]).at[0, "state"])
    assert stored == {"city": "Ghent"}


def test_an_old_view_holding_an_identity_does_not_sign_anyone_in(app, tmp_path):
    app()
    with storage.Store.open(tmp_path / "app.duckdb", read_only=False) as store, store._transaction(workspace=True) as cursor:
        cursor.execute("INSERT INTO saved_views VALUES ('AdminVw1', 'Old view', 'data', ?, 1, 'admin', now())",
                       [json.dumps({"city": "Ghent", **IDENTITY})])
    at = app(view="AdminVw1").run()
    assert not at.exception
    assert not any("Signed in as" in c.value for c in at.sidebar.caption)
    for key in IDENTITY:
        assert key not in at.session_state or key == "_sign_in_token" and at.session_state[key] is None
    assert at.session_state["city"] == "Ghent"  # the view itself still opens
    data = at.switch_page("pages/data.py").run()
    assert not any(s.value.startswith("Audit log") for s in data.subheader)
    assert not any(b.label == "Roll back" for b in data.button)


def test_a_flood_of_comments_is_paginated(app, tmp_path):
    app()
    with storage.Store.open(tmp_path / "app.duckdb", read_only=False) as store:
        view = store.save_view("v", "", {"city": "Ghent"}, 1, "pat")
        session_id = store.create_session("Flooded", [(view, "")], "pat")
        with store._transaction(workspace=True) as cursor:
            cursor.execute("INSERT INTO session_comments SELECT ?, 1, 'rita', TIMESTAMP '2026-01-01' + INTERVAL (i) SECOND, "
                           "'comment ' || i FROM range(10000) t(i)", [session_id])
    at = open_page(app, "pages/sessions.py", "rita", session=session_id)
    assert not at.exception
    assert any(m.value.startswith("**Comments on this view** (10000)") for m in at.markdown)
    texts = [t.value for t in at.text if t.value.startswith("comment ")]
    assert len(texts) == storage.Store.COMMENTS_PER_PAGE and texts[-1] == "comment 9999"  # the newest page
    assert at.number_input(key=f"comment_page_{session_id}_1").value == 500


def test_comments_per_minute_are_limited(tmp_path, small_db):
    db = tmp_path / "comments.duckdb"
    db.write_bytes(small_db.read_bytes())
    with storage.Store.open(db, read_only=False) as store:
        view = store.save_view("v", "", {"city": "Ghent"}, 1, "pat")
        session_id = store.create_session("S", [(view, "")], "pat")
        for index in range(storage.MAX_COMMENTS_PER_MINUTE):
            store.add_comment(session_id, 1, "rita", f"point {index}")
        with pytest.raises(ValueError, match="wait .* seconds before sending the next"):
            store.add_comment(session_id, 1, "rita", "one too many")
        store.add_comment(session_id, 1, "pat", "others may still comment")
        assert store.comment_count(session_id) == storage.MAX_COMMENTS_PER_MINUTE + 1


def _cached_calls():
    """A cached function and a counter of its real calls, to see whether a cache was cleared."""
    import streamlit as st

    calls = []

    @st.cache_data
    def cached(value: int) -> int:
        calls.append(value)
        return value

    return cached, calls


def test_only_an_admin_browser_session_can_clear_the_caches(app, tmp_path):
    from streamlit.runtime.app_session import AppSession

    import ui

    app()
    cached, calls = _cached_calls()
    cached(1)

    class Browser:  # what Streamlit's handler uses of an AppSession
        def __init__(self, token):
            self._session_state = {"_sign_in_token": token} if token else {}

    def token_for(username: str) -> str:
        token = secrets.token_urlsafe(32)
        with storage.Store.open(tmp_path / "app.duckdb", read_only=False) as store:
            store.start_sign_in_session(signin.token_hash(token), username, "test", datetime.now() + timedelta(days=1))
        return token

    for visitor in (Browser(None), Browser("forged-token"), Browser(token_for("rita"))):
        AppSession._handle_clear_cache_request(visitor)  # the websocket's "clear_cache" message
        cached(1)
        assert calls == [1], "a visitor cleared the caches"
    AppSession._handle_clear_cache_request(Browser(token_for("admin")))
    cached(1)
    assert calls == [1, 1]
    assert ui.store().audit_log("admin")["action"].tolist()[0] == "clear_caches"


def test_the_admin_clear_button_and_its_server_check(app):
    admin = open_page(app, "pages/data.py", "admin")
    assert any(b.label == "Clear every cached result" for b in admin.button)
    researcher = open_page(app, "pages/data.py", "rita")
    assert not any(b.label == "Clear every cached result" for b in researcher.button)
    import ui
    from decision_tools.accounts import Actor, PermissionDenied
    with pytest.raises(PermissionDenied):
        ui.clear_caches(Actor("rita"))


def test_a_database_error_does_not_show_server_paths(app, tmp_path, monkeypatch):
    missing = tmp_path / "nowhere" / "secret-location.duckdb"
    monkeypatch.setenv(storage.DB_ENV_VAR, str(missing))
    at = app().run()
    assert not at.exception
    shown = " ".join(e.value for e in at.error)
    assert "cannot open its database" in shown and "secret-location" not in shown and str(tmp_path) not in shown
