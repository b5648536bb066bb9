"""Who may do what: the action registry, roles read when the action runs, audit entries written in
the same transaction as the change, and ownership of challenges, matches and scenarios."""

import datetime as dt
import re
from pathlib import Path

import pytest

from decision_tools import accounts, storage
from decision_tools.accounts import Actor, PermissionDenied
from tests.conftest import PROJECT_DIR, TEST_USERS


@pytest.fixture()
def writable(writable_store):
    return writable_store


@pytest.fixture()
def own_credentials(tmp_path, monkeypatch, credentials):
    """A private copy of the test accounts, so a test may change roles and remove accounts."""
    path = tmp_path / "credentials.yaml"
    path.write_bytes(Path(credentials).read_bytes())
    monkeypatch.setenv(accounts.CREDENTIALS_ENV_VAR, str(path))
    return path


def _checked_actions() -> set[str]:
    """Every action name the pages, app.py and ui.py ask about (may, require, allowed, authorize)."""
    pattern = re.compile(r"""(?:\.may|require|allowed\([^,]+,|authorize\([^,]+,)\(?\s*["']([a-z_]+)["']""")
    found = set()
    for path in [PROJECT_DIR / "app.py", PROJECT_DIR / "ui.py", *sorted((PROJECT_DIR / "pages").glob("*.py"))]:
        found |= set(pattern.findall(path.read_text(encoding="utf-8")))
    return found


def test_every_action_the_pages_check_is_registered():
    checked = _checked_actions()
    assert {"upload", "comment", "save_scenario", "post_challenge", "clear_caches"} <= checked  # the scan finds them
    assert checked <= set(accounts.ACTIONS), f"unregistered: {checked - set(accounts.ACTIONS)}"


def test_every_registered_action_has_a_write_function_that_checks_it(writable):
    # _writes lists the store's protected writes; clear_caches is the app's (tests/app/test_caches.py)
    assert set(_writes(writable)) | {"clear_caches"} == set(accounts.ACTIONS)


def test_unknown_actions_and_anonymous_actors_are_refused():
    with pytest.raises(PermissionDenied, match="not a known action"):
        accounts.authorize("admin", "drop_everything")
    with pytest.raises(PermissionDenied, match="Sign in first"):
        accounts.authorize(None, "comment")
    assert accounts.authorize(Actor.cli(), "upload").command_line


def _writes(store):
    """One call per protected write of the store, each as ``actor`` (filled in by the test)."""
    view = store.save_view("v", "", {"city": "Ghent"}, 1, "pat")
    session = store.create_session("S", [(view, "")], "pat")
    challenge = store.post_challenge("A", "B", "org_uni_gnt", ["chemistry"], "thesis", None, None, None, "pat")
    tables = store.input_tables(1)
    tables["cities"] = tables["cities"].assign(population=tables["cities"]["population"] + 1)
    return {
        "save_view": lambda who: store.save_view("t", "", {"city": "Ghent"}, 1, who),
        "create_session": lambda who: store.create_session("t", [(view, "")], who),
        "comment": lambda who: store.add_comment(session, 1, who, "hello"),
        "present_session": lambda who: store.present_step(session, 1, who),
        "post_challenge": lambda who: store.post_challenge("t", "d", "org_uni_gnt", ["chemistry"], "thesis", None, None, None, who),
        "update_challenge": lambda who: store.set_challenge_status(challenge, "assigned", "", who),
        "register_interest": lambda who: store.register_interest(challenge, who),
        "read_notices": lambda who: store.mark_notices_seen(who),
        "update_match": lambda who: store.set_match_status("off_uni_laptops", "need_magnet_nd", "proposed", 1.0, who),
        "add_event": lambda who: store.add_event("t", "seminar", dt.date(2027, 1, 1), "Ghent", None, None, who),
        "save_scenario": lambda who: store.save_scenario("t", "Ghent", {}, 1, who),
        "upload": lambda who: store.publish(tables, "t", "", who),
        "offer_stream": lambda who: store.publish(tables, "t", "", who, action="offer_stream"),
        "rollback": lambda who: store.rollback_to(1, who),
        "read_audit_log": lambda who: store.audit_log(who),
    }


def _workspace_counts(store) -> dict[str, int]:
    return {t: int(store._workspace_frame(f"SELECT count(*) AS n FROM {t}").at[0, "n"]) for t in storage.WORKSPACE_TABLES} | {
        "versions": len(store.versions())}


def test_every_protected_write_refuses_the_wrong_role_and_writes_nothing(writable):
    calls = _writes(writable)
    before = _workspace_counts(writable)
    for action, call in calls.items():
        # a viewer where viewers may not; an account that does not exist (a forged session) everywhere
        for who in (["vic"] if not accounts.allowed(["viewer"], action) else []) + ["mallory"]:
            with pytest.raises(PermissionDenied):
                call(who)
    assert _workspace_counts(writable) == before


def test_roles_are_read_when_the_action_runs_not_at_sign_in(writable, own_credentials):
    tables = writable.input_tables(1)
    tables["cities"] = tables["cities"].assign(population=tables["cities"]["population"] + 1)
    accounts.set_role("rita", "viewer", own_credentials)  # an admin demotes rita while her session is open
    with pytest.raises(PermissionDenied, match="rita is viewer; this needs the admin or researcher role"):
        writable.publish(tables, "rita's data", "", "rita")
    accounts.set_role("rita", "researcher", own_credentials)
    assert writable.publish(tables, "rita's data", "", "rita") == 2
    accounts.remove_user("rita", own_credentials)
    with pytest.raises(PermissionDenied, match="no account 'rita'"):
        writable.save_view("t", "", {}, 1, "rita")
    assert writable.current_version() == 2


@pytest.mark.parametrize("action", ["comment", "register_interest", "update_challenge", "save_scenario", "save_view",
                                    "post_challenge", "add_event", "create_session", "update_match"])
def test_each_write_is_audited_in_its_own_transaction(writable, monkeypatch, action):
    calls = _writes(writable)
    who = {"register_interest": "sam", "comment": "rita"}.get(action, "pat")
    before = _workspace_counts(writable)

    def failing_audit(cursor, username, audit_action, detail):
        raise RuntimeError("the audit log is unavailable")

    monkeypatch.setattr(storage.Store, "_audit", staticmethod(failing_audit))
    with pytest.raises(RuntimeError):
        calls[action](who)
    assert _workspace_counts(writable) == before  # no change without its audit entry
    monkeypatch.undo()
    calls[action](who)
    assert len(writable.audit_log("admin")) > before["audit_log"]


def test_challenges_are_posted_only_for_ones_own_organisation(writable):
    with pytest.raises(PermissionDenied, match="your own organisations"):
        writable.post_challenge("Magnets", "d", "org_magnet_dlf", ["chemistry"], "thesis", None, None, None, "pat")  # dana's
    cid = writable.post_challenge("Magnets", "d", "org_magnet_dlf", ["chemistry"], "thesis", None, None, None, "dana")
    assert writable.challenges().set_index("challenge_id").at[cid, "organisation"] == "Fictitious: Delft Magnet Recovery"
    with pytest.raises(PermissionDenied, match="Only the partner who posted"):
        writable.set_challenge_status(cid, "assigned", "", "pat")
    with pytest.raises(ValueError, match="already posted"):  # a second click on Post
        writable.post_challenge("magnets", "d", "org_magnet_dlf", ["chemistry"], "thesis", None, None, None, "dana")
    assert len(writable.challenges()) == 1


def test_only_the_organisations_in_a_match_record_it(writable, own_credentials):
    accounts.add_user("olga", "Olga", "", "olga-pass-1234", "partner", own_credentials)  # a partner owning neither side
    with pytest.raises(PermissionDenied, match="Only the organisations in a match"):
        writable.set_match_status("off_uni_laptops", "need_magnet_nd", "proposed", 1.0, "olga")
    writable.set_match_status("off_uni_laptops", "need_magnet_nd", "proposed", 1.0, "pat")  # pat's offer
    writable.set_match_status("off_uni_laptops", "need_magnet_nd", "accepted", 1.0, "dana")  # dana's need
    assert writable.matches()["status"].tolist() == ["accepted"]


def test_scenario_names_belong_to_their_owner_and_reserved_names_are_refused(writable):
    writable.save_scenario("Collection push", "Ghent", {"weee_collection": 0.3}, 1, "pat")
    with pytest.raises(PermissionDenied, match="belongs to pat"):
        writable.save_scenario("collection PUSH", "Ghent", {"weee_collection": 0.1}, 1, "dana")
    saved = writable.saved_scenarios().set_index("name")
    assert saved.at["Collection push", "settings"] == {"weee_collection": 0.3} and saved.at["Collection push", "created_by"] == "pat"
    for reserved in ("baseline", "Baseline", "(none)"):
        with pytest.raises(ValueError, match="reserved name"):
            writable.save_scenario(reserved, "Ghent", {"weee_collection": 0.4}, 1, "pat")
    # a row saved under a reserved name before the rule existed is kept but never listed
    with writable._transaction(workspace=True) as cursor:
        cursor.execute("INSERT INTO saved_scenarios VALUES ('baseline', 'Ghent', '{}', '', now(), 'mallory', 1)")
    assert "baseline" not in set(writable.saved_scenarios()["name"])


def test_test_accounts_match_the_fixture():
    assert {u["username"] for u in accounts.list_users()} == set(TEST_USERS)


def test_the_credentials_file_is_created_private_with_hashes_only(tmp_path, monkeypatch):
    import stat
    import subprocess

    monkeypatch.setenv(accounts.ADMIN_PASSWORD_ENV_VAR, "first-admin-pass")
    path = tmp_path / "config" / "credentials.yaml"
    config, generated = accounts.ensure_credentials(path)
    assert generated is None and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "first-admin-pass" not in path.read_text() and config["credentials"]["usernames"]["admin"]["password"].startswith("$2")
    ignored = subprocess.run(["git", "check-ignore", "config/credentials.yaml"], cwd=PROJECT_DIR, capture_output=True, text=True)
    assert ignored.stdout.strip() == "config/credentials.yaml"
