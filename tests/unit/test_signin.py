"""Signing in: back-off and temporary locks (hand-worked cases and through the store), sign-in
sessions that survive a reload and end with sign-out, expiry or account removal, and the audit log."""

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from decision_tools import accounts, signin, storage
from tests.conftest import TEST_USERS

T0 = datetime(2026, 12, 1, 12, 0, 0)


@pytest.fixture()
def store(writable_store):
    return writable_store


@pytest.fixture()
def clock(monkeypatch):
    """A controllable clock for the sign-in rules and the store's timestamps."""
    now = [T0]
    monkeypatch.setattr(signin, "_now", lambda: now[0])
    monkeypatch.setattr(storage, "_now", lambda: now[0])

    def advance(seconds: float) -> None:
        now[0] += timedelta(seconds=seconds)

    return advance


def failures(*seconds_before: float) -> list[datetime]:
    return [T0 - timedelta(seconds=s) for s in seconds_before]


def test_wait_before_attempt_hand_worked():
    assert signin.wait_before_attempt([], [], T0) == (timedelta(0), None)
    assert signin.wait_before_attempt(failures(30, 20), [], T0) == (timedelta(0), None)  # two: no wait
    # three in a row, the last 2 s ago: wait 5 s from it, so 3 s more
    assert signin.wait_before_attempt(failures(9, 5, 2), [], T0) == (timedelta(seconds=3), "backoff")
    # five in a row, the last 3 s ago: 5 x 2**2 = 20 s from it, 17 s more
    assert signin.wait_before_attempt(failures(60, 50, 40, 30, 3), [], T0) == (timedelta(seconds=17), "backoff")
    # nine in a row: 5 x 2**6 = 320 s, capped at 60 s
    assert signin.wait_before_attempt(failures(*range(90, 9, -10)), [], T0)[0] == timedelta(seconds=50)
    # ten in a row on the account: locked 15 minutes from the last
    wait, reason = signin.wait_before_attempt(failures(*range(100, 0, -10)), [], T0)
    assert reason == "locked" and wait == timedelta(minutes=15) - timedelta(seconds=10)
    # per client: 30 failures across accounts lock the client
    wait, reason = signin.wait_before_attempt([], failures(*range(300, 0, -10)), T0)
    assert reason == "locked"


def test_wrong_passwords_back_off_then_lock_and_are_audited(store, clock):
    for _ in range(3):
        assert signin.attempt(store, "rita", "wrong", "10.0.0.1").message == "Username or password is wrong."
    # the fourth comes at once: refused without checking the password, even the right one
    refused = signin.attempt(store, "rita", TEST_USERS["rita"][1], "10.0.0.1")
    assert not refused.ok and "wait" in refused.message
    for _ in range(7):
        clock(61)
        assert not signin.attempt(store, "rita", "wrong", "10.0.0.1").ok
    locked = signin.attempt(store, "rita", TEST_USERS["rita"][1], "10.0.0.2")  # another client: the account is locked
    assert not locked.ok and "locked" in locked.message
    clock(15 * 60 + 1)
    assert signin.attempt(store, "rita", TEST_USERS["rita"][1], "10.0.0.2").ok
    log = store.audit_log("admin")
    actions = log["action"].tolist()
    assert actions.count("sign_in_failed") == 9 and actions.count("sign_in_locked") == 1 and actions[0] == "sign_in"


def test_one_client_guessing_many_accounts_is_throttled(store, clock):
    for index in range(signin.BACKOFF_AFTER):
        signin.attempt(store, f"guess{index}", "wrong", "10.0.0.9")
    refused = signin.attempt(store, "pat", TEST_USERS["pat"][1], "10.0.0.9")
    assert not refused.ok and "wait" in refused.message
    assert signin.attempt(store, "pat", TEST_USERS["pat"][1], "10.0.0.10").ok  # other clients are not held up


def test_a_sign_in_session_survives_until_sign_out(store):
    result = signin.attempt(store, "pat", TEST_USERS["pat"][1], "10.0.0.1")
    assert result.ok and result.max_age_seconds == 7 * 86400
    assert signin.resume(store, result.token) == "pat"  # a reload or a link: the cookie's token
    assert signin.resume(store, result.token + "x") is None and signin.resume(store, None) is None
    signin.sign_out(store, result.token, "pat")
    assert signin.resume(store, result.token) is None
    assert store._workspace_frame("SELECT count(*) AS n FROM sign_in_sessions WHERE token_sha256 = ?",
                                  [result.token]).at[0, "n"] == 0  # only its hash is stored


def test_a_sign_in_expires_after_the_configured_days(store, clock, monkeypatch):
    monkeypatch.setenv(signin.SIGN_IN_DAYS_ENV_VAR, "0.5")
    result = signin.attempt(store, "pat", TEST_USERS["pat"][1], "10.0.0.1")
    assert result.max_age_seconds == 43200
    clock(43199)
    assert signin.resume(store, result.token) == "pat"
    clock(2)
    assert signin.resume(store, result.token) is None


def test_removing_the_account_ends_its_sign_in(store, tmp_path, monkeypatch, credentials):
    path = tmp_path / "credentials.yaml"
    path.write_bytes(Path(credentials).read_bytes())
    monkeypatch.setenv(accounts.CREDENTIALS_ENV_VAR, str(path))
    result = signin.attempt(store, "rita", TEST_USERS["rita"][1], "10.0.0.1")
    accounts.set_role("rita", "viewer", path)
    assert signin.resume(store, result.token) == "rita"  # still signed in, with the new role
    assert accounts.current_roles("rita") == ("viewer",)
    accounts.remove_user("rita", path)
    assert signin.resume(store, result.token) is None
    accounts.add_user("rita", "Rita again", "", "another-pass-123", "admin", path)  # a new account of the same name
    assert signin.resume(store, result.token) is None  # the old session stays ended
    assert "sign_in_ended_account_removed" in store.audit_log("admin")["action"].tolist()
