"""Signing in: the password check with back-off and temporary locks, and the sign-in sessions that
let a sign-in survive a reload or a shared link.

The browser keeps only a random token in a cookie; the store keeps its SHA-256 with the account, the
client and an expiry. A token counts only while its session is open, unexpired, and the account
still exists in the credentials file, so signing out, an expiry or `users remove` ends it, and
`users set-role` applies on the next click (roles are never stored with the session).

Throttling, per account and per client (IP address): after BACKOFF_AFTER failed attempts in a row
each further attempt must wait twice as long as the one before (5, 10, 20 ... up to MAX_BACKOFF s); after
LOCK_AFTER_ACCOUNT failures on an account, or LOCK_AFTER_CLIENT from a client, within WINDOW, no
password is even checked until LOCK_DURATION has passed since the last failure. While waiting or
locked, the password is not checked at all. Failures, locks and sign-ins go to the audit log.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import bcrypt

from . import accounts

BACKOFF_AFTER = 3
FIRST_BACKOFF = timedelta(seconds=5)
MAX_BACKOFF = timedelta(seconds=60)
LOCK_AFTER_ACCOUNT = 10
LOCK_AFTER_CLIENT = 30
WINDOW = timedelta(minutes=15)
LOCK_DURATION = timedelta(minutes=15)
SIGN_IN_DAYS_ENV_VAR = "URBAN_SYMBIOSIS_SIGN_IN_DAYS"
COOKIE_NAME = "urban_symbiosis_session"
# A bcrypt hash of a random string: checked for unknown usernames too, so timing does not tell which exist.
_DUMMY_HASH = bcrypt.hashpw(b"no such account", bcrypt.gensalt()).decode("ascii")


@dataclass(frozen=True)
class SignInResult:
    ok: bool
    message: str  # a sentence for the person at the form
    token: str | None = None  # for the browser's cookie when ok
    max_age_seconds: int = 0


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def sign_in_days() -> float:
    """How long a sign-in lasts: $URBAN_SYMBIOSIS_SIGN_IN_DAYS, else the credentials file's cookie expiry (7 days)."""
    raw = os.environ.get(SIGN_IN_DAYS_ENV_VAR)
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            pass
    config, _ = accounts.ensure_credentials()
    return float(config.get("cookie", {}).get("expiry_days", 7))


def wait_before_attempt(account_failures: list[datetime], client_failures: list[datetime],
                        now: datetime) -> tuple[timedelta, str | None]:
    """How long the next attempt must wait (zero: go ahead), and why. Failures are times in a row
    (since the last success) within WINDOW, oldest first."""
    def lock_left(failures: list[datetime], limit: int) -> timedelta:
        if len(failures) >= limit:
            return max(timedelta(0), failures[-1] + LOCK_DURATION - now)
        return timedelta(0)

    locked = max(lock_left(account_failures, LOCK_AFTER_ACCOUNT), lock_left(client_failures, LOCK_AFTER_CLIENT))
    if locked > timedelta(0):
        return locked, "locked"
    waits = []
    for failures in (account_failures, client_failures):
        if len(failures) >= BACKOFF_AFTER:
            backoff = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (len(failures) - BACKOFF_AFTER))
            waits.append(max(timedelta(0), failures[-1] + backoff - now))
    wait = max(waits, default=timedelta(0))
    return wait, ("backoff" if wait > timedelta(0) else None)


def _minutes(wait: timedelta) -> str:
    seconds = int(wait.total_seconds()) + 1
    return f"{seconds} seconds" if seconds < 120 else f"{seconds // 60 + 1} minutes"


def attempt(store, username: str, password: str, client: str) -> SignInResult:
    """Check a password, unless the account or client must wait; record the attempt and audit it."""
    username = (username or "").strip().lower()[:40]
    client = (client or "unknown")[:64]
    if not username or not password:
        return SignInResult(False, "Enter your username and password.")
    now = _now()
    account_failures, client_failures = store.sign_in_failures(username, client, now - WINDOW)
    wait, reason = wait_before_attempt(account_failures, client_failures, now)
    if reason == "locked":
        return SignInResult(False, f"Too many wrong passwords: signing in is locked for {_minutes(wait)}. "
                                   "Ask an admin if you have forgotten your password.")
    if reason == "backoff":
        return SignInResult(False, f"Too many wrong passwords in a row; wait {_minutes(wait)} before trying again.")
    config, _ = accounts.ensure_credentials()
    user = config["credentials"]["usernames"].get(username)
    hashed = (user or {}).get("password") or _DUMMY_HASH
    valid = bcrypt.checkpw(password.encode("utf-8"), hashed.encode("ascii")) and user is not None
    if not valid:
        failures = max(len(account_failures), len(client_failures)) + 1
        locks_now = len(account_failures) + 1 >= LOCK_AFTER_ACCOUNT or len(client_failures) + 1 >= LOCK_AFTER_CLIENT
        store.record_sign_in_attempt(username, client, False, "sign_in_locked" if locks_now else "sign_in_failed",
                                     {"failures_in_a_row": failures})
        return SignInResult(False, "Username or password is wrong.")
    store.record_sign_in_attempt(username, client, True, "sign_in")
    token = secrets.token_urlsafe(32)
    days = sign_in_days()
    store.start_sign_in_session(token_hash(token), username, client, now + timedelta(days=days))
    return SignInResult(True, f"Signed in as {username}.", token, int(days * 86400))


def resume(store, token: str | None) -> str | None:
    """The username behind a browser's sign-in token, or None when the token is unknown, ended,
    expired, or its account no longer exists (that session is then ended)."""
    if not isinstance(token, str) or not token or len(token) > 200:
        return None
    session = store.sign_in_session(token_hash(token))
    if session is None:
        return None
    if not accounts.current_roles(session["username"]):
        store.end_sign_in_sessions(username=session["username"], audit_action="sign_in_ended_account_removed")
        return None
    return session["username"]


def sign_out(store, token: str | None, username: str | None) -> None:
    """End this sign-in session (the browser's cookie is deleted by the app)."""
    if token:
        store.end_sign_in_sessions(token_sha256=token_hash(token))
    if username:
        store.audit(username, "sign_out", {})
